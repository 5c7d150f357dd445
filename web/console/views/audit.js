// The Audit log page (admins): newest first, live, a page at a time, sorted
// and filtered by the server.

import * as api from '../api.js';
import { state } from '../session.js';
import { debounce, emptyRow, h, pageHeader, tableWrap } from '../dom.js';
import { fmtTime, isoTime } from '../format.js';
import { liveIndicator, liveOn } from '../live.js';
import { pagedTable } from '../paged-table.js';

export async function renderAudit(stale) {
  const filter = h('input', {
    id: 'audit-filter', type: 'search', placeholder: 'Filter by actor, action, target, IP or detail', autocomplete: 'off',
    spellcheck: 'false', 'aria-label': 'Filter the audit log',
  });
  const summary = h('p', { id: 'audit-summary', class: 'summary', 'aria-live': 'polite' });
  const table = pagedTable({
    id: 'audit-table',
    caption: 'Audit log, newest first',
    columns: [
      { label: 'Time', sort: 'seq' }, { label: 'Actor', sort: 'actor' }, { label: 'IP' },
      { label: 'Action', sort: 'action' }, { label: 'Target' }, { label: 'Detail' },
    ],
    sort: '-seq',
    load: async (page) => {
      const res = await api.listAudit({ ...page, q: filter.value.trim() });
      return { ...res, items: res.entries || [] };
    },
    key: (e) => e.seq,
    makeRow: (e) => ({ tr: row(e), update: () => {} }),
    empty: () => emptyRow(6, filter.value.trim() ? 'No event matches this filter.' : 'No events yet.'),
    onPage: (res) => paintSummary(Number(res.total) || 0),
  });
  table.table.classList.add('table-dense');

  function paintSummary(total) {
    summary.textContent = total ? `${total.toLocaleString()} event${total === 1 ? '' : 's'}${filter.value.trim() ? ' (filtered)' : ''}` : '';
  }

  function row(e) {
    const detail = e.detail === null || e.detail === undefined ? ''
      : (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail));
    return table.row({ dataset: { seq: String(e.seq), action: e.action || '' } },
      h('td', { class: 'nowrap' }, h('time', { datetime: isoTime(e.at), text: fmtTime(e.at) })),
      h('td', { text: e.actor || '—' }),
      h('td', { class: 'mono nowrap', text: e.ip || '—' }),
      h('td', {}, h('code', { class: 'action', text: e.action || '' })),
      h('td', { text: e.target || '—' }),
      h('td', { class: 'detail', text: detail || '—' }));
  }

  // one reload at a time, at most one a second however fast events come
  let soon = null;
  function reloadSoon() {
    if (soon) return;
    soon = setTimeout(() => {
      soon = null;
      if (!stale()) table.reload().catch(() => {});
    }, 1000);
  }
  state.cleanup.push(() => clearTimeout(soon));

  /** A new event: first on the newest-first first page; elsewhere only the count moves. */
  function addNewest(e) {
    if (!e || table.rows.has(e.seq)) return;
    const newestFirst = table.view.offset === 0 && table.view.sort === '-seq';
    if (newestFirst && !filter.value.trim()) {
      table.prepend(e, { fresh: true });
      paintSummary(table.view.total);
    } else if (newestFirst) {
      reloadSoon(); // the filter may match it
    }
  }

  liveOn(stale, 'audit', (e) => {
    if (table.loading()) reloadSoon();
    else addNewest(e);
  });
  await table.reload();
  if (stale()) return h('div');
  // after a reconnection, load the page again (events may have been missed)
  liveOn(stale, 'reopen', () => { table.reload().catch(() => {}); });

  const filterLater = debounce(() => { table.first().catch(() => {}); }, 250);
  state.cleanup.push(() => filterLater.cancel());
  filter.addEventListener('input', filterLater);

  const liveBadge = liveIndicator(stale, 'audit-live');
  const csv = h('a', { id: 'audit-csv', class: 'btn', href: api.AUDIT_CSV_URL, download: 'audit.csv', text: 'Export CSV' });
  return h('div', { class: 'page' },
    pageHeader('Audit log', liveBadge, csv),
    h('section', { class: 'card' },
      h('p', { class: 'hint', text: 'Every security-relevant action in this account, newest first. New events appear as they happen.' }),
      h('div', { class: 'toolbar' }, summary, h('div', { class: 'toolbar-filter' }, filter)),
      tableWrap(table.table, 'Audit log'),
      table.pager));
}
