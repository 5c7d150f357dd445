// The Updates page (#/updates, admins): signed releases, and rollouts of a
// release to a group in phases, each with its progress per phase and per
// screen, followed live (every report of a screen touches it on the
// console's stream) — with pause, resume and cancel.

import * as api from '../api.js';
import { state } from '../session.js';
import {
  busy,
  card,
  debounce,
  emptyRow,
  errorText,
  field,
  h,
  headRow,
  labelledRow,
  pageHeader,
  setError,
  tableWrap,
  toast,
} from '../dom.js';
import { fmtTime } from '../format.js';
import { fmtBytes } from '../content-common.js';
import { liveIndicator, liveOn } from '../live.js';

const STATE_TEXT = { running: 'Running', paused: 'Paused', cancelled: 'Cancelled', done: 'Done' };

function progressBar(c) {
  const total = c.total || 0;
  const pct = (n) => (total ? `${(100 * n) / total}%` : '0');
  return h('div', { class: 'progress', role: 'img', 'aria-label': `${c.committed} of ${total} updated, ${c.failed} failed` },
    h('span', { class: 'progress-ok', dataset: { width: pct(c.committed) } }),
    h('span', { class: 'progress-bad', dataset: { width: pct(c.failed) } }),
    h('span', { class: 'progress-busy', dataset: { width: pct(c.in_progress + c.sent) } }));
}

/** Sets the bars' widths from data-width (the CSP forbids inline style attributes, not CSSOM). */
function sizeBars(root) {
  for (const el of root.querySelectorAll('[data-width]')) el.style.width = el.dataset.width;
}

function countsText(c) {
  return `${c.committed}/${c.total} updated · ${c.failed} failed · ${c.in_progress + c.sent} under way · ${c.waiting} waiting`;
}

export async function renderUpdates(stale) {
  const [{ releases }, { groups }] = await Promise.all([api.listReleases(), api.listScreenGroups()]);
  if (stale()) return h('div');

  // ---- releases
  const RCOLS = ['Release', 'Version', 'Size', 'Signed by', 'Uploaded'];
  const rbody = h('tbody');
  for (const r of releases) {
    rbody.append(labelledRow(RCOLS, { dataset: { releaseId: r.id } },
      h('td', { class: 'cell-strong', text: r.name }), h('td', { class: 'mono', text: r.version }),
      h('td', { text: fmtBytes(r.size) }), h('td', { text: r.key_name || r.key_id || '—' }),
      h('td', { class: 'nowrap', text: fmtTime(r.created_at) })));
  }
  if (!releases.length) rbody.append(emptyRow(RCOLS.length, 'No releases yet: sign one with “vitrine release sign” and upload it with “vitrine release upload”.'));

  // ---- a new rollout
  const release = h('select', { id: 'rollout-release', required: true },
    releases.map((r) => h('option', { value: r.id, text: `${r.name} ${r.version}` })));
  const group = h('select', { id: 'rollout-group', required: true },
    groups.map((g) => h('option', { value: g.id, text: `${g.name} (${g.members} screens)` })));
  const phases = h('input', { id: 'rollout-phases', type: 'text', value: '1, 10, 100', autocomplete: 'off' });
  const threshold = h('input', { id: 'rollout-threshold', type: 'number', min: '0', max: '100', value: '10' });
  const health = h('input', { id: 'rollout-health', type: 'number', min: '5', max: '3600', value: '120' });
  const err = h('p', { id: 'rollout-error', class: 'form-error', role: 'alert', hidden: true });
  const start = h('button', { id: 'rollout-start', type: 'submit', class: 'btn btn-primary', text: 'Start rollout' });
  const form = h('form', { id: 'rollout-form', class: 'form-grid' },
    field('Release', release), field('Group', group, 'A dynamic group (Screens → Groups); its maintenance window applies.'),
    field('Phases', phases, 'Cumulative percentages of the group’s screens, ending with 100.'),
    field('Failure threshold (%)', threshold, 'The rollout pauses itself when more of a phase’s screens fail.'),
    field('Health check (s)', health, 'How long a new version has to reach the server and play its content before it rolls back.'),
    h('div', { class: 'form-footer' }, err, start));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(err, null);
    const list = phases.value.split(/[\s,]+/).filter(Boolean).map(Number);
    busy(start, async () => {
      try {
        const { rollout } = await api.createRollout({
          release_id: release.value, target: { group_id: group.value }, phases: list,
          failure_threshold: Number(threshold.value), health_s: Number(health.value),
        });
        toast(`Rollout started to ${rollout.counts.total} screens.`);
        shown = rollout.id;
        await refresh();
      } catch (e) {
        setError(err, e);
      }
    });
  });

  // ---- rollouts, and the one shown in detail
  const list = h('div', { id: 'rollouts' });
  const detail = h('div', { id: 'rollout-detail', 'aria-live': 'polite' });
  let shown = null;

  function commandButton(ro, command, text, cls = '') {
    const b = h('button', { type: 'button', id: `rollout-${command}`, class: `btn btn-small ${cls}`.trim(), text });
    b.addEventListener('click', () => busy(b, async () => {
      if (command === 'cancel' && !window.confirm('Cancel this rollout? Screens not yet sent the update keep their version.')) return;
      try {
        await api.rolloutCommand(ro.id, command);
        await refresh();
      } catch (e) {
        toast(errorText(e), 'error');
      }
    }));
    return b;
  }

  async function paintDetail() {
    if (!shown) return;
    const { rollout: ro } = await api.getRollout(shown);
    if (stale()) return;
    const PCOLS = ['Phase', 'Screens', 'Progress', ''];
    const pbody = h('tbody');
    ro.phase_progress.forEach((c, i) => {
      pbody.append(labelledRow(PCOLS, { dataset: { phase: String(i), committed: String(c.committed), failed: String(c.failed) },
        class: i === ro.phase && ro.state !== 'done' ? 'row-highlight' : '' },
      h('td', { text: `${i + 1} (${c.percent} %)` }), h('td', { text: String(c.total) }),
      h('td', {}, progressBar(c)), h('td', { class: 'phase-counts', text: countsText(c) })));
    });
    const SCOLS = ['Screen', 'Phase', 'Step', 'Detail', 'At'];
    const sbody = h('tbody');
    for (const s of ro.screens) {
      sbody.append(labelledRow(SCOLS, { dataset: { screenId: s.screen_id, status: s.status } },
        h('td', {}, h('a', { href: `#/screens/${encodeURIComponent(s.screen_id)}`, text: s.name })),
        h('td', { text: String(s.phase + 1) }), h('td', { class: `status-${s.status}`, text: s.status }),
        h('td', { class: 'detail', text: s.detail || '' }), h('td', { class: 'nowrap', text: fmtTime(s.updated_at) })));
    }
    const actions = h('div', { class: 'actions' },
      ro.state === 'running' ? commandButton(ro, 'pause', 'Pause') : null,
      ro.state === 'paused' ? commandButton(ro, 'resume', 'Resume', 'btn-primary') : null,
      ro.state === 'running' || ro.state === 'paused' ? commandButton(ro, 'cancel', 'Cancel', 'btn-danger') : null);
    const el = card(`${ro.release.name} ${ro.release.version}`,
      h('p', { id: 'rollout-state', class: 'summary', dataset: { state: ro.state },
        text: `${STATE_TEXT[ro.state] || ro.state}${ro.reason ? ` — ${ro.reason}` : ''}` }),
      actions,
      tableWrap(h('table', { id: 'rollout-phases-table', class: 'table table-dense table-stack' }, headRow(PCOLS), pbody), 'Phases'),
      tableWrap(h('table', { id: 'rollout-screens', class: 'table table-dense table-stack' }, headRow(SCOLS), sbody), 'Screens'));
    detail.replaceChildren(el);
    sizeBars(detail);
  }

  async function paintList() {
    const { rollouts } = await api.listRollouts();
    if (stale()) return;
    const COLS = ['Started', 'Release', 'State', 'Progress', ''];
    const tbody = h('tbody');
    for (const ro of rollouts) {
      const open = h('button', { type: 'button', class: 'btn btn-small', text: 'Show' });
      open.addEventListener('click', () => { shown = ro.id; paintDetail().catch((e) => toast(errorText(e), 'error')); });
      tbody.append(labelledRow(COLS, { dataset: { rolloutId: ro.id, state: ro.state } },
        h('td', { class: 'nowrap', text: fmtTime(ro.created_at) }),
        h('td', { text: `${ro.release.name} ${ro.release.version}` }),
        h('td', { text: STATE_TEXT[ro.state] || ro.state }),
        h('td', { text: countsText(ro.counts) }), h('td', {}, open)));
    }
    if (!rollouts.length) tbody.append(emptyRow(COLS.length, 'No rollouts yet.'));
    list.replaceChildren(tableWrap(h('table', { id: 'rollouts-table', class: 'table table-stack' }, headRow(COLS), tbody), 'Rollouts'));
    if (!shown && rollouts.length) shown = rollouts[0].id;
  }

  async function refresh() {
    await paintList();
    await paintDetail();
  }
  const refreshLater = debounce(() => { refresh().catch(() => {}); }, 400);
  state.cleanup.push(() => refreshLater.cancel());
  liveOn(stale, 'screen', () => refreshLater()); // a screen's report touches it
  const poll = setInterval(() => refreshLater(), 10000);
  state.cleanup.push(() => clearInterval(poll));
  await refresh();
  if (stale()) return h('div');

  return h('div', { class: 'page' },
    pageHeader('Updates', liveIndicator(stale, 'updates-live')),
    detail,
    card('Rollouts', list),
    releases.length && groups.length ? card('New rollout', form)
      : card('New rollout', h('p', { class: 'hint', text: 'A rollout needs a release and a group of screens.' })),
    card('Releases', tableWrap(h('table', { id: 'releases-table', class: 'table table-stack' }, headRow(RCOLS), rbody), 'Releases')));
}
