// The Audit log page (admins): newest first, live, with older pages on demand.

import * as api from '../api.js';
import { $, busy, emptyRow, errorText, h, headRow, labelledRow, pageHeader, tableWrap, toast } from '../dom.js';
import { fmtTime, isoTime } from '../format.js';
import { liveIndicator, liveOn } from '../live.js';

export async function renderAudit(stale) {
  const PAGE = 50;
  const { entries } = await api.listAudit({ limit: PAGE });
  const seen = new Set();
  let oldest = null;

  const tbody = h('tbody');
  const COLS = ['Time', 'Actor', 'IP', 'Action', 'Target', 'Detail'];
  const table = h('table', { id: 'audit-table', class: 'table table-dense table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Audit log, newest first' }),
    headRow(COLS),
    tbody);

  function row(e, fresh) {
    const detail = e.detail === null || e.detail === undefined ? ''
      : (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail));
    return labelledRow(COLS, { dataset: { seq: String(e.seq), action: e.action || '' }, class: fresh ? 'row-new' : '' },
      h('td', { class: 'nowrap' }, h('time', { datetime: isoTime(e.at), text: fmtTime(e.at) })),
      h('td', { text: e.actor || '—' }),
      h('td', { class: 'mono nowrap', text: e.ip || '—' }),
      h('td', {}, h('code', { class: 'action', text: e.action || '' })),
      h('td', { text: e.target || '—' }),
      h('td', { class: 'detail', text: detail || '—' }));
  }

  function addOlder(list) {
    const empty = $('tr.empty', tbody);
    if (empty && list.length) empty.remove();
    for (const e of list) {
      if (seen.has(e.seq)) continue;
      seen.add(e.seq);
      tbody.append(row(e, false));
      if (oldest === null || e.seq < oldest) oldest = e.seq;
    }
  }

  function addNewest(e) {
    if (!e || seen.has(e.seq)) return;
    seen.add(e.seq);
    const empty = $('tr.empty', tbody);
    if (empty) empty.remove();
    // keep newest-first order even if events arrive out of order
    let before = null;
    for (const tr of tbody.rows) {
      if (Number(tr.dataset.seq) < e.seq) { before = tr; break; }
    }
    tbody.insertBefore(row(e, true), before);
    if (oldest === null) oldest = e.seq;
  }

  if (!entries || !entries.length) tbody.append(emptyRow(6, 'No events yet.'));
  addOlder(entries || []);

  const more = h('button', { id: 'audit-more', type: 'button', class: 'btn', text: 'Load more', hidden: !entries || entries.length < PAGE });
  more.addEventListener('click', () => busy(more, async () => {
    try {
      const res = await api.listAudit({ limit: PAGE, before: oldest });
      addOlder(res.entries || []);
      if (!res.entries || res.entries.length < PAGE) more.hidden = true;
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }));

  const liveBadge = liveIndicator(stale, 'audit-live');
  const csv = h('a', { id: 'audit-csv', class: 'btn', href: api.AUDIT_CSV_URL, download: 'audit.csv', text: 'Export CSV' });
  liveOn(stale, 'audit', addNewest);
  // after a reconnection, fetch the newest page again (entries already shown are skipped)
  liveOn(stale, 'reopen', async () => {
    try {
      const res = await api.listAudit({ limit: PAGE });
      for (const e of (res.entries || []).slice().reverse()) addNewest(e);
    } catch {
      // the next event or reconnection tries again
    }
  });

  return h('div', { class: 'page' },
    pageHeader('Audit log', liveBadge, csv),
    h('section', { class: 'card' },
      h('p', { class: 'hint', text: 'Every security-relevant action in this account, newest first. New events appear as they happen.' }),
      tableWrap(table, 'Audit log'),
      h('div', { class: 'table-footer' }, more)));
}
