// The Screens page (the landing page): the screens of the account with their
// live status, a page at a time (sorted, filtered and paged by the server),
// patched by id from the live stream.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
import { debounce, h, pageHeader, setError, tableWrap } from '../dom.js';
import { ago, timeEl } from '../format.js';
import { liveIndicator, liveOn, pageTimers } from '../live.js';
import { isOnline, nowPlaying, screenshotBox, statusBadge, tagList } from '../screens-common.js';
import { pagedTable } from '../paged-table.js';
import { renderScreenDetail } from './screen-detail.js';
import { RULE_HELP } from './screen-groups.js';

export async function renderScreensRoute(stale, route) {
  return route.param ? renderScreenDetail(stale, route.param) : renderScreens(stale);
}

async function renderScreens(stale) {
  const summary = h('p', { id: 'screens-summary', class: 'summary', 'aria-live': 'polite' });
  const filter = h('input', {
    id: 'screens-filter', type: 'search', placeholder: 'Filter by name, group, tag or hostname', autocomplete: 'off',
    spellcheck: 'false', 'aria-label': 'Filter screens',
  });
  const ruleInput = h('input', {
    id: 'screens-rule', type: 'search', placeholder: 'Rule, e.g. version < 1.5 and tag = lobby', autocomplete: 'off',
    spellcheck: 'false', 'aria-label': 'Screens matching a rule', 'aria-describedby': 'screens-rule-error', title: RULE_HELP,
  });
  const ruleError = h('p', { id: 'screens-rule-error', class: 'form-error', role: 'alert', hidden: true });
  const fresh = new Set(); // ids the stream announced: their rows are highlighted once shown
  const table = pagedTable({
    id: 'screens-table',
    caption: 'Screens of this account, with their live status',
    columns: [
      { label: 'Screen', sort: 'name' }, { label: 'Status' }, { label: 'Last seen', sort: 'last_seen' },
      { label: 'Now playing' }, { label: 'Version' }, { label: 'Group', sort: 'group' }, { label: 'Tags' },
    ],
    sort: 'name',
    load: async (page) => {
      const rule = ruleInput.value.trim();
      try {
        const res = await api.listScreens({ ...page, q: filter.value.trim(), ...(rule ? { rule } : {}) });
        setError(ruleError, null);
        return { ...res, items: res.screens || [] };
      } catch (err) {
        if (err.code !== 'invalid_rule') throw err;
        setError(ruleError, err); // the list keeps what it showed
        return { screens: [], items: [], total: 0, online: 0 };
      }
    },
    key: (s) => s.id,
    makeRow,
    empty: () => (filter.value.trim() || ruleInput.value.trim()
      ? h('tr', { class: 'empty', id: 'screens-no-match' },
        h('td', { colspan: '7', text: 'No screen matches this filter.' }))
      : h('tr', { class: 'empty', id: 'screens-empty' }, h('td', { colspan: '7' },
        h('p', { class: 'empty-title', text: 'No screens yet' }),
        h('p', { class: 'hint', text: isAdmin()
          ? 'Start vitrine-player on a screen: it shows an 8-character code. Then choose “Pair a screen” and type that code.'
          : 'An administrator adds screens by pairing them.' })))),
    onPage: (res) => {
      const total = Number(res.total) || 0;
      const online = Number(res.online) || 0;
      summary.textContent = !total ? ''
        : `${total.toLocaleString()} screen${total === 1 ? '' : 's'} · ${online.toLocaleString()} online · ` +
          `${(total - online).toLocaleString()} offline${filter.value.trim() || ruleInput.value.trim() ? ' (filtered)' : ''}`;
    },
  });
  table.table.classList.add('screens-table');

  function makeRow(screen) {
    const link = h('a', { class: 'screen-link' });
    const sub = h('span', { class: 'screen-sub' });
    const shot = screenshotBox(screen, { cls: 'shot-thumb' });
    const cells = table.labels.map(() => h('td'));
    cells[0].className = 'cell-screen';
    cells[0].append(h('div', { class: 'screen-cell' }, shot.el, h('div', { class: 'screen-names' }, link, sub)));
    cells[2].className = 'nowrap';
    const tr = table.row({ dataset: { screenId: screen.id } }, ...cells);
    if (fresh.delete(screen.id)) tr.classList.add('row-new');
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
      tick();
    }
    update(screen);
    return row;
  }

  // what a change may move: the row's place in the sort, or whether it matches the filter
  const placeOf = (s) => JSON.stringify([s.name, s.group, s.tags, s.info && s.info.hostname,
    table.view.sort.includes('last_seen') ? s.last_seen : 0]);

  // one reload at a time, at most one a second however fast the stream runs
  let soon = null;
  function reloadSoon() {
    if (soon) return;
    soon = setTimeout(() => {
      soon = null;
      // rows of announced screens are highlighted by this load; the others are not on this page
      if (!stale()) table.reload().then(() => fresh.clear(), () => {});
    }, 1000);
  }
  state.cleanup.push(() => clearTimeout(soon));

  /** One screen from the live stream: its row is patched by id; anything else reloads the page. */
  function apply(s) {
    const row = table.rows.get(s.id);
    if (s.deleted) {
      table.remove(s.id);
      reloadSoon(); // the page moves up by one, the counts change
    } else if (row) {
      const moved = placeOf(row.screen) !== placeOf(s);
      table.patch(s);
      if (moved) reloadSoon();
    } else {
      fresh.add(s.id);
      reloadSoon(); // new, or changed elsewhere: it may belong on this page now
    }
  }

  // The stream starts "from now": subscribe first, then load. Events that
  // arrive while a page loads may be older than it: load it once more.
  let queued = false;
  liveOn(stale, 'screen', (s) => {
    if (table.loading()) {
      queued = true;
      fresh.add(s.id);
      return;
    }
    apply(s);
  });

  async function reload() {
    for (let round = 0; round < 3; round++) {
      queued = false;
      await table.reload();
      if (stale() || !queued) return;
    }
  }
  await reload();
  if (stale()) return h('div');

  let flipCheck = 0;
  liveOn(stale, 'reopen', () => { reload().catch(() => {}); });
  const resynced = pageTimers(stale, () => {
    let flipped = false;
    for (const row of table.rows.values()) {
      const was = row.tr.dataset.online === 'true';
      row.tick();
      if (was && row.tr.dataset.online !== 'true') flipped = true;
    }
    // a screen that looks offline may just not have changed: check with the server
    if (flipped && Date.now() - flipCheck > 10000) {
      flipCheck = Date.now();
      if (resynced) resynced();
      reload().catch(() => {});
    }
  }, () => { reload().catch(() => {}); });

  const filterLater = debounce(() => { table.first().catch(() => {}); }, 250);
  state.cleanup.push(() => filterLater.cancel());
  filter.addEventListener('input', filterLater);
  ruleInput.addEventListener('input', filterLater);

  const pair = isAdmin()
    ? h('a', { id: 'pair-button', class: 'btn btn-primary', href: '#/pair', text: 'Pair a screen' })
    : null;
  const groups = h('a', { id: 'groups-button', class: 'btn', href: '#/screen-groups', text: 'Groups' });
  const syncGroups = h('a', { id: 'sync-groups-button', class: 'btn', href: '#/sync-groups', text: 'Sync groups' });
  return h('div', { class: 'page' },
    pageHeader('Screens', liveIndicator(stale, 'screens-live'), groups, syncGroups, pair),
    h('section', { class: 'card', 'aria-label': 'All screens' },
      h('div', { class: 'toolbar' }, summary, h('div', { class: 'toolbar-filter' }, filter, ruleInput)),
      ruleError,
      tableWrap(table.table, 'Screens'),
      table.pager));
}
