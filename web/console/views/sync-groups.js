// The Sync groups pages (#/sync-groups, #/sync-groups/{id}): screens on one
// LAN that play in step. Their players find each other on the LAN, the
// member of the lowest number that is online leads, and the others follow
// its clock. The list shows each group and its leader; admins create a
// group from a name and the screens they tick (numbered in the order they
// are ticked) and delete groups. A group's page shows each member's number,
// status and what its player last reported (state, clock offset and delay
// to the leader), refreshed every few seconds, and lets admins rename the
// group or change its screens. The group's secret key is never shown: only
// its members get it, in their manifests.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
import {
  badge,
  busy,
  card,
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
import { ago, fmtTime, timeEl } from '../format.js';

const MIN_SCREENS = 2; // the server's SYNC_GROUP_MIN_SCREENS
const MAX_SCREENS = 64; // SYNC_GROUP_MAX_SCREENS
const NAME_MAX = 100; // SYNC_GROUP_NAME_MAX
const REFRESH_MS = 3000;
const STATE_LABELS = { leader: 'Leading', member: 'Following', alone: 'Alone', locking: 'Locking on' };

export async function renderSyncGroupsRoute(stale, route) {
  return route.param ? renderSyncGroup(stale, route.param) : renderSyncGroups(stale);
}

function onlineBadge(online, id) {
  return h('span', {
    id, class: `badge status-badge ${online ? 'badge-ok online' : 'badge-muted offline'}`, text: online ? 'Online' : 'Offline',
  });
}

function msText(v) {
  return v === null || v === undefined ? '—' : `${Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 })} ms`;
}

/** The leader's name ("—" when none is online and leading). */
function leaderName(group) {
  const lead = group.members.find((m) => m.leader);
  return lead ? `${lead.member}. ${lead.name}` : '—';
}

function back(href, text) {
  return h('div', {}, h('a', { class: 'back-link', href, text }));
}

/**
 * The screens a group may have, as checkboxes: the members of group (if any)
 * ticked, the screens of other groups disabled. With numbered, each ticked
 * screen shows the number it will get (the order of ticking).
 */
function screenChoices(id, screens, groups, group, numbered) {
  const groupOf = new Map();
  for (const g of groups) for (const m of g.members) groupOf.set(m.screen_id, g);
  const order = group ? [...group.members].sort((a, b) => a.member - b.member).map((m) => m.screen_id) : [];
  const marks = new Map();
  const list = h('div', { class: 'check-list', id: `${id}-list` });
  for (const s of screens) {
    const other = groupOf.get(s.id);
    const elsewhere = !!other && (!group || other.id !== group.id);
    const box = h('input', {
      type: 'checkbox', value: s.id, id: `${id}-${s.id}`, checked: order.includes(s.id), disabled: elsewhere,
    });
    const mark = h('span', { class: 'hint sync-pick' });
    marks.set(s.id, mark);
    box.addEventListener('change', () => {
      const at = order.indexOf(s.id);
      if (box.checked && at < 0) order.push(s.id);
      if (!box.checked && at >= 0) order.splice(at, 1);
      paint();
    });
    list.append(h('label', { class: 'check', for: box.id }, box, ` ${s.name}`, mark,
      elsewhere ? h('span', { class: 'hint', text: ` (in “${other.name}”)` }) : null));
  }
  if (!screens.length) list.append(h('p', { class: 'hint', text: 'No screens yet: pair some first.' }));
  const current = new Map((group ? group.members : []).map((m) => [m.screen_id, m.member]));
  function paint() {
    for (const [sid, mark] of marks) {
      const at = order.indexOf(sid);
      if (at < 0) mark.textContent = '';
      else if (numbered) mark.textContent = ` #${at + 1}`;
      else mark.textContent = current.has(sid) ? ` #${current.get(sid)}` : ' (new)';
    }
  }
  paint();
  const hint = numbered
    ? `Tick ${MIN_SCREENS} to ${MAX_SCREENS} screens on the same LAN. They are numbered in the order you tick them; the lowest number online leads.`
    : 'Members keep their numbers; a screen you add takes the lowest number free. Changing the members gives the group a new key.';
  const fieldset = h('fieldset', { class: 'field form-wide', id, 'aria-describedby': `${id}-hint` },
    h('legend', { text: 'Screens' }), list, h('p', { class: 'hint', id: `${id}-hint`, text: hint }));
  return { fieldset, chosen: () => [...order] };
}

async function loadChoices() {
  const [{ screens }, { sync_groups: groups }] = await Promise.all([api.listScreens(), api.listSyncGroups()]);
  return { screens: screens || [], groups: groups || [] };
}

// ---- the list (#/sync-groups)

async function renderSyncGroups(stale) {
  const COLS = ['Group', 'Members', 'Online', 'Leader', 'Actions'];
  const tbody = h('tbody');
  const table = h('table', { id: 'sync-groups-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Sync groups of screens' }), headRow(COLS, true), tbody);
  let groups = [];

  function fill() {
    tbody.replaceChildren();
    if (!groups.length) tbody.append(emptyRow(COLS.length, 'No sync groups yet.'));
    for (const g of groups) {
      let del = null;
      if (isAdmin()) {
        del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', 'aria-label': `Delete the sync group ${g.name}` });
        del.addEventListener('click', () => busy(del, async () => {
          if (!window.confirm(`Delete the sync group “${g.name}”? Its screens then play on their own.`)) return;
          try {
            await api.deleteSyncGroup(g.id);
            toast(`Sync group “${g.name}” deleted.`);
            await load();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }));
      }
      const online = g.members.filter((m) => m.online).length;
      tbody.append(labelledRow(COLS, { dataset: { syncGroupId: g.id, name: g.name } },
        h('td', { class: 'cell-strong' }, h('a', { href: `#/sync-groups/${encodeURIComponent(g.id)}`, text: g.name })),
        h('td', { class: 'sync-members num', text: String(g.members.length) }),
        h('td', { class: 'sync-online num', text: String(online) }),
        h('td', { class: 'sync-leader', text: leaderName(g) }),
        h('td', { class: 'col-actions' }, del)));
    }
  }

  async function load() {
    const res = await api.listSyncGroups();
    if (stale()) return;
    groups = res.sync_groups || [];
    fill();
  }

  // ---- a new group (admins)
  let form = null;
  if (isAdmin()) {
    const { screens, groups: all } = await loadChoices();
    if (stale()) return h('div');
    const name = h('input', { id: 'sync-group-name', type: 'text', required: true, maxlength: String(NAME_MAX), autocomplete: 'off' });
    const choices = screenChoices('sync-group-screens', screens, all, null, true);
    const err = h('p', { id: 'sync-group-error', class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'sync-group-create', type: 'submit', class: 'btn btn-primary', text: 'Create sync group' });
    form = h('form', { id: 'sync-group-form', class: 'form-grid' },
      field('Name', name), choices.fieldset, h('div', { class: 'form-footer' }, err, save));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      busy(save, async () => {
        try {
          const res = await api.createSyncGroup({ name: name.value.trim(), screens: choices.chosen() });
          toast(`Sync group “${res.sync_group.name}” created.`);
          location.hash = `#/sync-groups/${encodeURIComponent(res.sync_group.id)}`;
        } catch (e) {
          setError(err, e);
        }
      });
    });
  }

  await load();
  if (stale()) return h('div');
  return h('div', { class: 'page' },
    back('#/screens', '← Screens'),
    pageHeader('Sync groups'),
    h('p', { class: 'hint', text: 'The screens of a sync group play in step: they must share one LAN that passes multicast (see the firewall rules).' }),
    h('section', { class: 'card', 'aria-label': 'Sync groups' }, tableWrap(table, 'Sync groups')),
    form ? card('New sync group', form) : null);
}

// ---- one group (#/sync-groups/{id})

async function renderSyncGroup(stale, id) {
  let group;
  try {
    ({ sync_group: group } = await api.getSyncGroup(id));
  } catch (err) {
    if (err.status !== 404) throw err;
    return h('div', { class: 'page' },
      back('#/sync-groups', '← Sync groups'),
      pageHeader('Sync group not found'),
      h('div', { class: 'card' }, h('p', { id: 'sync-group-missing', text: 'This sync group does not exist in your account, or it was deleted.' })));
  }
  if (stale()) return h('div');

  const title = h('h1', { id: 'page-title', tabindex: '-1', text: group.name });
  const summary = h('dl', { class: 'kv', id: 'sync-group-summary' });
  const COLS = ['No.', 'Screen', 'Status', 'Sync', 'Offset', 'Delay', 'Peers', 'Reported'];
  const tbody = h('tbody');
  const table = h('table', { id: 'sync-members-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Members of the sync group, with what their players report' }),
    headRow(COLS), tbody);

  let shown = '';
  function paint() {
    // the table is built again only when something changed (focus and selection stay otherwise)
    const now = JSON.stringify(group);
    if (now === shown) return;
    shown = now;
    title.textContent = group.name;
    document.title = `${group.name} · Sync groups · Vitrine`;
    const online = group.members.filter((m) => m.online).length;
    summary.replaceChildren(
      h('dt', { text: 'Members' }), h('dd', { id: 'sync-group-count', text: `${group.members.length} (${online} online)` }),
      h('dt', { text: 'Leader' }), h('dd', { id: 'sync-group-leader', text: leaderName(group) }),
      h('dt', { text: 'Created' }), h('dd', { text: `${fmtTime(group.created_at)} by ${group.created_by || '—'}` }));
    tbody.replaceChildren();
    if (!group.members.length) tbody.append(emptyRow(COLS.length, 'No members: its screens were deleted.'));
    for (const m of group.members) {
      tbody.append(labelledRow(COLS, { dataset: { screenId: m.screen_id, member: String(m.member), state: m.state || '' } },
        h('td', { class: 'sync-number num', text: String(m.member) }),
        h('td', { class: 'cell-strong' }, h('a', { href: `#/screens/${encodeURIComponent(m.screen_id)}`, text: m.name })),
        h('td', {}, onlineBadge(m.online)),
        h('td', { class: 'sync-state' },
          m.leader ? badge('Leader', 'ok') : (m.state && STATE_LABELS[m.state]) || m.state || '—'),
        h('td', { class: 'sync-offset num', text: msText(m.offset_ms) }),
        h('td', { class: 'sync-delay num', text: msText(m.delay_ms) }),
        h('td', { class: 'sync-peers num', text: m.peers === null ? '—' : String(m.peers) }),
        h('td', { class: 'nowrap sync-reported' }, m.reported_at ? timeEl(m.reported_at, ago(m.reported_at)) : '—')));
    }
  }
  paint();
  // "12 s ago" moves on between repaints
  function tickAges() {
    for (const m of group.members) {
      const el = m.reported_at && tbody.querySelector(`tr[data-screen-id="${m.screen_id}"] .sync-reported time`);
      if (el) el.textContent = ago(m.reported_at);
    }
  }

  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const res = await api.getSyncGroup(id);
      if (stale()) return;
      group = res.sync_group;
      paint();
    } catch (err) {
      if (err.status === 404 && !stale()) location.hash = '#/sync-groups';
    } finally {
      refreshing = false;
    }
  }
  const timer = setInterval(() => { tickAges(); refresh(); }, REFRESH_MS);
  state.cleanup.push(() => clearInterval(timer));

  // ---- admins: delete, rename, change the members
  let del = null;
  let edit = null;
  if (isAdmin()) {
    del = h('button', { id: 'sync-group-delete', type: 'button', class: 'btn btn-danger', text: 'Delete' });
    del.addEventListener('click', () => busy(del, async () => {
      if (!window.confirm(`Delete the sync group “${group.name}”? Its screens then play on their own.`)) return;
      try {
        await api.deleteSyncGroup(id);
        toast(`Sync group “${group.name}” deleted.`);
        location.hash = '#/sync-groups';
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    const { screens, groups } = await loadChoices();
    if (stale()) return h('div');
    const name = h('input', { id: 'sync-edit-name', type: 'text', required: true, maxlength: String(NAME_MAX), autocomplete: 'off', value: group.name });
    const choices = screenChoices('sync-edit-screens', screens, groups, group, false);
    const err = h('p', { id: 'sync-edit-error', class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'sync-edit-save', type: 'submit', class: 'btn btn-primary', text: 'Save' });
    edit = h('form', { id: 'sync-edit-form', class: 'form-grid' },
      field('Name', name), choices.fieldset, h('div', { class: 'form-footer' }, err, save));
    edit.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      busy(save, async () => {
        try {
          const res = await api.updateSyncGroup(id, { name: name.value.trim(), screens: choices.chosen() });
          group = res.sync_group;
          paint();
          toast(`Sync group “${group.name}” saved.`);
        } catch (e) {
          setError(err, e);
        }
      });
    });
  }

  return h('div', { class: 'page' },
    back('#/sync-groups', '← Sync groups'),
    h('div', { class: 'page-header' }, title, del ? h('div', { class: 'page-actions' }, del) : null),
    h('section', { class: 'card', 'aria-label': 'Summary' }, summary),
    card('Members', tableWrap(table, 'Members'),
      h('p', { class: 'hint', text: 'Offset: the screen’s clock minus the leader’s; delay: the network delay to the leader, as each player last reported them.' })),
    edit ? card('Change the group', edit) : null);
}
