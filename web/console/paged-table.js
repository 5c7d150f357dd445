// One page of a list that the server pages, sorts and filters (limit,
// offset, sort, q on GET /api/v1/screens, /media, /channels, /audit), so a
// list page shows its first rows at once whatever the fleet's size.
//
// pagedTable() builds the table with sort buttons in its column headers
// (aria-sort), and the page controls below it; the page owns its filter
// fields and calls reload(). Rows are kept in a Map by id: a live update
// patches its row in place (patch), never by scanning the table.

import { h, labelledRow } from './dom.js';

/**
 * columns: [{ label, sort?: 'name', className? }]; the first sort given
 *   (e.g. 'name' or '-created_at') is the initial one.
 * load({ limit, offset, sort }) resolves to { items, total } (or rejects);
 * key(item) is the row's id; makeRow(item) returns { tr, update(item) }.
 * empty(total) returns the row shown when the page has no items.
 * onPage(res) sees every answer (for summaries).
 */
export function pagedTable({ id, caption, columns, pageSize = 50, sort: initialSort, load, key, makeRow, empty, onPage }) {
  const labels = columns.map((c) => c.label);
  const rows = new Map(); // key -> { item, tr, update }
  const view = { offset: 0, sort: initialSort || '', total: 0 };
  const tbody = h('tbody');
  const heads = columns.map((c) => {
    const th = h('th', { scope: 'col', class: c.className || null });
    if (!c.sort) {
      th.textContent = c.label;
      return th;
    }
    const button = h('button', {
      type: 'button', class: 'sort-button', id: `${id}-sort-${c.sort}`, dataset: { sort: c.sort },
      onclick: () => {
        const current = view.sort.replace(/^-/, '');
        view.sort = current === c.sort && !view.sort.startsWith('-') ? `-${c.sort}` : c.sort;
        view.offset = 0;
        reload();
      },
    }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
    th.append(button);
    return th;
  });
  const table = h('table', { id, class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: caption }),
    h('thead', {}, h('tr', {}, heads)),
    tbody);

  const range = h('span', { id: `${id}-range`, class: 'pager-range', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', id: `${id}-prev`, class: 'btn btn-small', text: '← Previous' });
  const next = h('button', { type: 'button', id: `${id}-next`, class: 'btn btn-small', text: 'Next →' });
  prev.addEventListener('click', () => { view.offset = Math.max(0, view.offset - pageSize); reload(); });
  next.addEventListener('click', () => { view.offset += pageSize; reload(); });
  const pager = h('div', { class: 'pager', id: `${id}-pager`, role: 'navigation', 'aria-label': `Pages of ${caption}` },
    prev, range, next);

  function paintHeads() {
    const field = view.sort.replace(/^-/, '');
    const desc = view.sort.startsWith('-');
    columns.forEach((c, i) => {
      if (!c.sort) return;
      const on = c.sort === field;
      if (on) heads[i].setAttribute('aria-sort', desc ? 'descending' : 'ascending');
      else heads[i].removeAttribute('aria-sort');
      heads[i].querySelector('.sort-mark').textContent = on ? (desc ? ' ▾' : ' ▴') : '';
    });
  }

  function paintPager() {
    const shown = rows.size;
    range.textContent = view.total
      ? `${(view.offset + (shown ? 1 : 0)).toLocaleString()}–${(view.offset + shown).toLocaleString()} of ${view.total.toLocaleString()}`
      : '';
    prev.disabled = view.offset === 0;
    next.disabled = view.offset + shown >= view.total;
    pager.hidden = view.total <= pageSize && view.offset === 0;
  }

  function fill(items) {
    rows.clear();
    tbody.replaceChildren();
    for (const item of items) {
      const row = makeRow(item);
      row.item = item;
      rows.set(key(item), row);
      tbody.append(row.tr);
    }
    if (!items.length && empty) tbody.append(empty(view.total));
  }

  let loadSeq = 0;
  let loading = null;
  /** Loads the current page again (sort, offset, the page's filters). */
  function reload() {
    const mine = ++loadSeq;
    paintHeads();
    loading = (async () => {
      const res = await load({ limit: pageSize, offset: view.offset, sort: view.sort });
      if (mine !== loadSeq) return null;
      view.total = Number(res.total) || 0;
      if (!res.items.length && view.offset > 0 && view.total > 0) {
        // the page emptied under us (rows deleted): show the last one there is
        view.offset = Math.max(0, Math.floor((view.total - 1) / pageSize) * pageSize);
        return reload();
      }
      fill(res.items);
      paintPager();
      if (onPage) onPage(res);
      return res;
    })().finally(() => {
      if (mine === loadSeq) loading = null;
    });
    return loading;
  }

  /** Updates the row of this item if the page shows it; true if it did. */
  function patch(item) {
    const row = rows.get(key(item));
    if (!row) return false;
    row.item = item;
    row.update(item);
    return true;
  }

  /** Removes the row of this id if shown; true if it was. */
  function remove(id) {
    const row = rows.get(id);
    if (!row) return false;
    row.tr.remove();
    rows.delete(id);
    return true;
  }

  /** Puts a new item first (the newest-first page of a live list), keeping the page size. */
  function prepend(item, attrs = {}) {
    if (rows.has(key(item))) return;
    const row = makeRow(item);
    row.item = item;
    if (attrs.fresh) row.tr.classList.add('row-new');
    const emptyRow = tbody.querySelector('tr.empty');
    if (emptyRow) emptyRow.remove();
    tbody.prepend(row.tr);
    rows.set(key(item), row);
    view.total += 1;
    if (rows.size > pageSize) {
      const last = tbody.rows[tbody.rows.length - 1];
      for (const [k, r] of rows) if (r.tr === last) { rows.delete(k); break; }
      last.remove();
    }
    paintPager();
  }

  /** Restarts at the first page (after a filter changed). */
  function first() {
    view.offset = 0;
    return reload();
  }

  paintHeads();
  return {
    table, pager, tbody, rows, view, reload, first, patch, remove, prepend, labels,
    /** A row whose cells carry their column name (for the phone layout). */
    row: (attrs, ...cells) => labelledRow(labels, attrs, ...cells),
    loading: () => loading,
  };
}
