// The validity window of a playlist item: from and until dates, start and
// end times, days of the week, edited in place on the item.

import { $, h } from '../dom.js';
import { ALL_DAYS, daysList, WEEKDAY_NAMES, WEEKDAYS } from '../content-common.js';
import { validBody, validText } from './model.js';

/**
 * The "Plays:" editor of one item's validity window (dates, times, days).
 * base: the id prefix of its fields; path: the item's JSON path; ok: whether
 * the caller may change it; onChange() after every change to it.valid.
 */
export function validityEditor(it, { base, path, ok, onChange }) {
  const v = it.valid || {};
  const summary = h('summary', {}, h('span', { class: 'valid-label', text: 'Plays: ' }), h('span', { id: `${base}-valid-text`, text: validText(it.valid) }));
  const input = (key, type, label) => {
    const el = h('input', {
      id: `${base}-${key}`, type, value: v[key] || '', disabled: !ok, dataset: { path: `${path}.valid.${key}` },
    });
    el.addEventListener('input', () => { edit((w) => { if (el.value) w[key] = el.value; else delete w[key]; }); });
    return h('div', { class: 'field' }, h('label', { for: el.id, text: label }), el);
  };
  const days = Array.isArray(v.days) ? daysList(v.days) : ALL_DAYS;
  const boxes = ALL_DAYS.map((d) => {
    const cb = h('input', { type: 'checkbox', id: `${base}-day-${d}`, checked: days.includes(d), disabled: !ok });
    cb.addEventListener('change', () => {
      edit((w) => {
        const list = ALL_DAYS.filter((x) => $(`#${base}-day-${x}`).checked);
        if (list.length === 7 || !list.length) delete w.days;
        else w.days = list;
      });
    });
    return h('label', { class: 'day', for: cb.id, title: WEEKDAY_NAMES[d - 1] }, cb, h('span', { text: WEEKDAYS[d - 1] }));
  });
  const daysSet = h('fieldset', { class: 'days', dataset: { path: `${path}.valid.days` } },
    h('legend', { text: 'Days (none or all: every day)' }), ...boxes);
  const clear = ok ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: `${base}-valid-clear`, text: 'Always play' }) : null;
  const details = h('details', { class: 'validity', id: `${base}-valid`, dataset: { path: `${path}.valid` } },
    summary,
    h('div', { class: 'validity-grid' },
      input('from', 'date', 'From'),
      input('until', 'date', 'Until'),
      input('start', 'time', 'Start time'),
      input('end', 'time', 'End time'),
      daysSet,
      h('p', { class: 'hint validity-hint', text: 'On the screen’s clock. An end before the start crosses midnight.' }),
      clear));
  function edit(fn) {
    const w = it.valid && typeof it.valid === 'object' ? it.valid : {};
    fn(w);
    it.valid = Object.keys(w).length ? w : undefined;
    it.validEdited = true;
    $(`#${base}-valid-text`, details).textContent = validText(validBody(it.valid));
    onChange();
  }
  if (clear) {
    clear.addEventListener('click', () => {
      for (const el of details.querySelectorAll('input[type="date"], input[type="time"]')) el.value = '';
      for (const el of details.querySelectorAll('input[type="checkbox"]')) el.checked = true;
      edit((w) => { for (const k of Object.keys(w)) delete w[k]; });
    });
  }
  return details;
}
