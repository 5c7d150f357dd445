// The Editors card of the channel editor (admins): which editors may change
// which zones of the channel.

import * as api from '../api.js';
import { $, busy, h, headRow, labelledRow, setError, tableWrap, toast } from '../dom.js';

/** inForce: the grants read from the server (GET .../grants), or null when they could not be read. */
export function grantsCard(channel, editors, inForce) {
  let saved = inForce;
  const body = h('div', { class: 'stack' });
  const section = h('section', { class: 'card', id: 'channel-grants', 'aria-labelledby': 'card-grants' },
    h('h2', { id: 'card-grants', text: 'Editors' }),
    body);
  let zones = (channel.zones || []).map((z) => z.name);
  function paint() {
    if (!editors.length) {
      body.replaceChildren(h('p', { class: 'hint', text: 'No user has the editor role. Add editors on the Users page, then choose here which zones they may change.' }));
      return;
    }
    const has = (uid, zone) => !!saved && saved.some((g) => g.user_id === uid && (g.zones || []).includes(zone));
    const COLS = ['Editor', 'May change'];
    const tbody = h('tbody');
    for (const u of editors) {
      const all = h('input', { type: 'checkbox', id: `grant-${u.id}-all`, checked: has(u.id, '*'), dataset: { zone: '*' } });
      const boxes = zones.map((z, k) => h('label', { class: 'check', for: `grant-${u.id}-zone-${k}` },
        h('input', { type: 'checkbox', id: `grant-${u.id}-zone-${k}`, checked: has(u.id, z) || has(u.id, '*'), disabled: has(u.id, '*'), dataset: { zone: z } }),
        h('span', { text: z })));
      all.addEventListener('change', () => {
        for (const b of tbody.querySelectorAll(`input[id^="grant-${u.id}-zone-"]`)) {
          b.disabled = all.checked;
          if (all.checked) b.checked = true;
        }
      });
      tbody.append(labelledRow(COLS, { dataset: { userId: u.id, login: u.login } },
        h('td', { class: 'cell-strong' }, u.name ? `${u.name} ` : '', h('span', { class: 'screen-sub', text: u.login })),
        h('td', {}, h('div', { class: 'checks' },
          h('label', { class: 'check check-all', for: all.id }, all, h('span', { text: 'Every zone and the layout' })),
          ...boxes))));
    }
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'grants-save', type: 'button', class: 'btn btn-primary', text: 'Save editors' });
    save.addEventListener('click', () => busy(save, async () => {
      setError(err, null);
      const list = [];
      for (const tr of tbody.rows) {
        const uid = tr.dataset.userId;
        const allBox = $(`#grant-${uid}-all`);
        const chosen = allBox.checked ? ['*']
          : [...tr.querySelectorAll('input[id*="-zone-"]')].filter((b) => b.checked).map((b) => b.dataset.zone);
        if (chosen.length) list.push({ user_id: uid, zones: chosen });
      }
      try {
        const res = await api.putGrants(channel.id, list);
        saved = res.grants || list;
        toast(list.length ? `Editors saved: ${list.length} editor${list.length === 1 ? '' : 's'} may change this channel.` : 'No editor may change this channel now.');
      } catch (e) {
        setError(err, e);
      }
    }));
    body.replaceChildren(
      h('p', { id: 'grants-hint', class: 'hint', text: saved
        ? 'The grants in force. Saving replaces every grant of this channel with what is ticked here.'
        : 'The grants in force could not be read, so the boxes start empty: saving replaces every grant of this channel with what is ticked here.' }),
      tableWrap(h('table', { id: 'grants-table', class: 'table table-stack' },
        h('caption', { class: 'visually-hidden', text: 'Which editors may change which zones' }),
        headRow(COLS), tbody), 'Editors of this channel'),
      err,
      h('div', {}, save));
  }
  paint();
  return {
    card: section,
    sync(ch) {
      const next = (ch.zones || []).map((z) => z.name);
      if (next.join('\n') !== zones.join('\n')) {
        zones = next;
        paint();
      }
    },
  };
}
