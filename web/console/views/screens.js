// The Screens page (the landing page): every screen of the account with its
// live status.

import * as api from '../api.js';
import { isAdmin } from '../session.js';
import { $, h, headRow, labelledRow, pageHeader, tableWrap } from '../dom.js';
import { ago, timeEl } from '../format.js';
import { liveIndicator, liveOn, pageTimers } from '../live.js';
import { isOnline, nowPlaying, screenshotBox, statusBadge, tagList } from '../screens-common.js';
import { renderScreenDetail } from './screen-detail.js';

export async function renderScreensRoute(stale, route) {
  return route.param ? renderScreenDetail(stale, route.param) : renderScreens(stale);
}

async function renderScreens(stale) {
  const COLS = ['Screen', 'Status', 'Last seen', 'Now playing', 'Version', 'Group', 'Tags'];
  const rows = new Map(); // id -> { screen, tr, update }
  const tbody = h('tbody');
  const table = h('table', { id: 'screens-table', class: 'table table-stack screens-table' },
    h('caption', { class: 'visually-hidden', text: 'Screens of this account, with their live status' }),
    headRow(COLS),
    tbody);
  const summary = h('p', { id: 'screens-summary', class: 'summary', 'aria-live': 'polite' });
  const filter = h('input', {
    id: 'screens-filter', type: 'search', placeholder: 'Filter by name, group or tag', autocomplete: 'off',
    spellcheck: 'false', 'aria-label': 'Filter screens',
  });

  const byName = (a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id);

  function matches(s) {
    const q = filter.value.trim().toLowerCase();
    if (!q) return true;
    return [s.name, s.group, ...(s.tags || []), s.info && s.info.hostname]
      .some((v) => typeof v === 'string' && v.toLowerCase().includes(q));
  }

  function makeRow(screen) {
    const link = h('a', { class: 'screen-link' });
    const sub = h('span', { class: 'screen-sub' });
    const shot = screenshotBox(screen, { cls: 'shot-thumb' });
    const cells = COLS.map(() => h('td'));
    cells[0].className = 'cell-screen';
    cells[0].append(h('div', { class: 'screen-cell' }, shot.el, h('div', { class: 'screen-names' }, link, sub)));
    cells[2].className = 'nowrap';
    const tr = labelledRow(COLS, { dataset: { screenId: screen.id } }, ...cells);
    const row = { screen, tr, tick, update };
    function tick() {
      const s = row.screen;
      const on = isOnline(s);
      tr.dataset.online = on ? 'true' : 'false';
      cells[1].replaceChildren(statusBadge(s));
      cells[2].replaceChildren(timeEl(s.last_seen, ago(s.last_seen)));
    }
    function update(s) {
      row.screen = s;
      tr.dataset.name = s.name;
      link.textContent = s.name;
      link.href = `#/screens/${encodeURIComponent(s.id)}`;
      sub.textContent = (s.info && s.info.hostname) || '';
      sub.hidden = !sub.textContent;
      shot.update(s);
      cells[3].textContent = nowPlaying(s);
      cells[4].textContent = s.version || '—';
      cells[5].textContent = s.group || '—';
      cells[6].replaceChildren(tagList(s.tags));
      tr.hidden = !matches(s);
      tick();
    }
    update(screen);
    return row;
  }

  function placeRow(row) {
    let before = null;
    for (const other of rows.values()) {
      if (other !== row && byName(row.screen, other.screen) < 0 && (!before || byName(other.screen, before.screen) < 0)) before = other;
    }
    tbody.insertBefore(row.tr, before ? before.tr : null);
  }

  function refreshSummary() {
    const all = [...rows.values()].map((r) => r.screen);
    const online = all.filter(isOnline).length;
    const shown = [...rows.values()].filter((r) => !r.tr.hidden).length;
    summary.textContent = !all.length ? ''
      : `${all.length} screen${all.length === 1 ? '' : 's'} · ${online} online · ${all.length - online} offline` +
        (shown < all.length ? ` · ${shown} shown` : '');
    const empty = $('tr.empty', tbody);
    if (!all.length && !empty) {
      tbody.append(h('tr', { class: 'empty', id: 'screens-empty' }, h('td', { colspan: String(COLS.length) },
        h('p', { class: 'empty-title', text: 'No screens yet' }),
        h('p', { class: 'hint', text: isAdmin()
          ? 'Start vitrine-player on a screen: it shows an 8-character code. Then choose “Pair a screen” and type that code.'
          : 'An administrator adds screens by pairing them.' }))));
    } else if (all.length && empty) {
      empty.remove();
    }
    const none = $('#screens-no-match', tbody);
    if (all.length && !shown && !none) {
      tbody.append(h('tr', { class: 'empty', id: 'screens-no-match' },
        h('td', { colspan: String(COLS.length), text: 'No screen matches this filter.' })));
    } else if ((shown || !all.length) && none) {
      none.remove();
    }
  }

  /** Applies one screen (from the list or the live stream). */
  function apply(screen, fresh) {
    const row = rows.get(screen.id);
    if (screen.deleted) {
      if (row) {
        row.tr.remove();
        rows.delete(screen.id);
      }
    } else if (row) {
      const renamed = row.screen.name !== screen.name;
      row.update(screen);
      if (renamed) placeRow(row);
    } else {
      const created = makeRow(screen);
      if (fresh) created.tr.classList.add('row-new');
      rows.set(screen.id, created);
      placeRow(created);
    }
  }

  function fill(list) {
    const ids = new Set(list.map((s) => s.id));
    for (const [id, row] of rows) {
      if (!ids.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    for (const s of list) apply(s, false);
    refreshSummary();
  }

  // The stream starts "from now": subscribe first, then load. Events that
  // arrive while the list loads may be older than it: load once more instead
  // (and apply them only if the screens keep changing that fast).
  let loading = null;
  let queued = [];
  liveOn(stale, 'screen', (s) => {
    if (loading) {
      queued.push(s);
      return;
    }
    apply(s, true);
    refreshSummary();
  });

  let flipCheck = 0;
  function reload() {
    if (loading) return loading;
    loading = (async () => {
      for (let round = 0; round < 3; round++) {
        queued = [];
        const res = await api.listScreens();
        if (stale()) return;
        fill(res.screens || []);
        if (!queued.length) return;
      }
      for (const s of queued) apply(s, true);
      refreshSummary();
    })().finally(() => {
      loading = null;
      queued = [];
    });
    return loading;
  }
  await reload();
  if (stale()) return h('div');

  liveOn(stale, 'reopen', () => { reload().catch(() => {}); });
  const resynced = pageTimers(stale, () => {
    let flipped = false;
    for (const row of rows.values()) {
      const was = row.tr.dataset.online === 'true';
      row.tick();
      if (was && row.tr.dataset.online !== 'true') flipped = true;
    }
    refreshSummary();
    // a screen that looks offline may just not have changed: check with the server
    if (flipped && Date.now() - flipCheck > 10000) {
      flipCheck = Date.now();
      if (resynced) resynced();
      reload().catch(() => {});
    }
  }, () => { reload().catch(() => {}); });

  filter.addEventListener('input', () => {
    for (const row of rows.values()) row.tr.hidden = !matches(row.screen);
    refreshSummary();
  });

  const pair = isAdmin()
    ? h('a', { id: 'pair-button', class: 'btn btn-primary', href: '#/pair', text: 'Pair a screen' })
    : null;
  return h('div', { class: 'page' },
    pageHeader('Screens', liveIndicator(stale, 'screens-live'), pair),
    h('section', { class: 'card', 'aria-label': 'All screens' },
      h('div', { class: 'toolbar' }, summary, h('div', { class: 'toolbar-filter' }, filter)),
      tableWrap(table, 'Screens')));
}
