// The Screen groups page (#/screen-groups): dynamic groups whose members are
// the screens their rule matches now ("version < 1.5 and tag = lobby"), and
// actions sent to every screen of a group at once, with each screen's
// acknowledgement followed live until all have answered.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
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
import { liveIndicator, liveOn } from '../live.js';
import { INSTRUCTION_LABELS } from '../screens-common.js';

// what a group may be sent, and the payload each takes
const ACTIONS = [
  { type: 'identify' },
  { type: 'screenshot' },
  { type: 'set_volume', level: true },
  { type: 'set_brightness', level: true },
  { type: 'display_power', value: 'on', payload: { on: true }, label: 'Display on' },
  { type: 'display_power', value: 'off', payload: { on: false }, label: 'Display off' },
  { type: 'collect_logs' },
  { type: 'restart_player', confirm: true },
  { type: 'reboot', confirm: true },
];

export const RULE_HELP = 'Fields: name, group, tag, online, ip, version, model, os, kernel, arch, cpu, cores, memory_mb, '
  + 'disk_free_mb, interface, address, mac, display, resolution, hostname. Operators: = != < <= > >= ~ (contains) !~, '
  + 'joined by and, or, not and parentheses; quote values with spaces.';

/** "N screens" of a rule, or the rule's error: for the live preview under a rule field. */
export async function rulePreview(rule) {
  const res = await api.listScreens({ rule, limit: 1 });
  return `${Number(res.total).toLocaleString()} screen${res.total === 1 ? '' : 's'} match (${Number(res.online).toLocaleString()} online).`;
}

const COUNT_WORDS = [['ok', 'done'], ['failed', 'failed'], ['delivered', 'delivered'], ['pending', 'waiting'], ['expired', 'expired']];

function countsText(counts) {
  return COUNT_WORDS.filter(([k]) => counts[k]).map(([k, w]) => `${counts[k]} ${w}`).join(' · ') || 'nothing yet';
}

export async function renderScreenGroups(stale) {
  const GCOLS = ['Group', 'Rule', 'Screens', 'Actions'];
  const gbody = h('tbody');
  const gtable = h('table', { id: 'groups-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Dynamic groups of screens' }), headRow(GCOLS, true), gbody);
  const progress = h('div', { id: 'action-progress', 'aria-live': 'polite' });
  const ACOLS = ['Sent', 'Action', 'Target', 'Screens', 'Progress'];
  const abody = h('tbody');
  const atable = h('table', { id: 'actions-table', class: 'table table-dense table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Actions sent to many screens, newest first' }), headRow(ACOLS), abody);

  // ---- the action being followed
  let followed = null; // batch id
  async function paintFollowed() {
    if (!followed) return;
    const { action } = await api.getScreenAction(followed);
    if (stale()) return;
    const COLS = ['Screen', 'Status', 'Result'];
    const tbody = h('tbody');
    for (const i of action.instructions) {
      const r = i.result || {};
      tbody.append(labelledRow(COLS, { dataset: { screenId: i.screen_id, status: i.status } },
        h('td', {}, h('a', { href: `#/screens/${encodeURIComponent(i.screen_id)}`, text: i.name })),
        h('td', { class: `status-${i.status}`, text: i.status }),
        h('td', { class: 'detail', text: r.reason || (i.status === 'ok' ? 'Done' : '') })));
    }
    progress.replaceChildren(card(`${INSTRUCTION_LABELS[action.type] || action.type} to ${action.screens} screens`,
      h('p', { id: 'action-counts', class: 'summary', dataset: { done: String((action.counts.ok || 0) + (action.counts.failed || 0)) },
        text: countsText(action.counts) }),
      tableWrap(h('table', { id: 'action-screens', class: 'table table-dense table-stack' }, headRow(COLS), tbody), 'Screens of the action')));
    if (!(action.counts.pending || action.counts.delivered)) followed = null;
  }
  const followLater = debounce(() => { paintFollowed().catch(() => {}); loadActions().catch(() => {}); }, 300);
  state.cleanup.push(() => followLater.cancel());
  // each acknowledgement touches its screen: the stream says so
  liveOn(stale, 'screen', () => { if (followed) followLater(); });
  const poll = setInterval(() => { if (followed) followLater(); }, 5000);
  state.cleanup.push(() => clearInterval(poll));

  async function sendTo(group, choice, level, button) {
    const def = ACTIONS[Number(choice)];
    const label = def.label || INSTRUCTION_LABELS[def.type] || def.type;
    if (def.confirm && !window.confirm(`${label} every screen of “${group.name}” (${group.members} now)?`)) return;
    const payload = def.payload || (def.level ? { level: Number(level) } : {});
    await busy(button, async () => {
      try {
        const res = await api.sendScreenAction({ target: { group_id: group.id }, type: def.type, payload });
        toast(`${label} sent to ${res.batch.screens} screens.`);
        followed = res.batch.id;
        await paintFollowed();
        await loadActions();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    });
  }

  function actionForm(group) {
    const select = h('select', { class: 'action-type', 'aria-label': `Action for ${group.name}` },
      ACTIONS.map((a, i) => h('option', { value: String(i), text: a.label || INSTRUCTION_LABELS[a.type] || a.type })));
    const level = h('input', { type: 'number', min: '0', max: '100', value: '50', class: 'action-level', hidden: true,
      'aria-label': 'Level (0-100)' });
    select.addEventListener('change', () => { level.hidden = !ACTIONS[Number(select.value)].level; });
    const go = h('button', { type: 'button', class: 'btn btn-small btn-primary action-send', text: 'Send' });
    go.addEventListener('click', () => sendTo(group, select.value, level.value, go));
    return h('div', { class: 'inline-form' }, select, level, go);
  }

  function fill(groups) {
    gbody.replaceChildren();
    if (!groups.length) gbody.append(emptyRow(GCOLS.length, 'No groups yet.'));
    for (const g of groups) {
      const del = isAdmin() ? h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete' }) : null;
      if (del) {
        del.addEventListener('click', () => busy(del, async () => {
          if (!window.confirm(`Delete the group “${g.name}”? Its screens are not changed.`)) return;
          try {
            await api.deleteScreenGroup(g.id);
            await load();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }));
      }
      gbody.append(labelledRow(GCOLS, { dataset: { groupId: g.id, name: g.name } },
        h('td', { class: 'cell-strong', text: g.name }),
        h('td', {}, h('code', { text: g.rule })),
        h('td', { class: 'group-members', text: `${g.members} (${g.online} online)` }),
        h('td', { class: 'col-actions' }, isAdmin() ? actionForm(g) : null, del)));
    }
  }

  async function load() {
    const { groups } = await api.listScreenGroups();
    if (!stale()) fill(groups || []);
  }

  async function loadActions() {
    const { actions } = await api.listScreenActions();
    if (stale()) return;
    abody.replaceChildren();
    if (!actions.length) abody.append(emptyRow(ACOLS.length, 'No actions sent to groups yet.'));
    for (const a of actions.slice(0, 20)) {
      const target = a.target.group_id ? 'a group' : a.target.rule ? `rule ${a.target.rule}` : 'chosen screens';
      abody.append(labelledRow(ACOLS, { dataset: { actionId: a.id } },
        h('td', { class: 'nowrap', text: fmtTime(a.created_at) }),
        h('td', { text: INSTRUCTION_LABELS[a.type] || a.type }),
        h('td', { text: target }),
        h('td', { text: String(a.screens) }),
        h('td', { text: countsText(a.counts) })));
    }
  }

  // ---- a new group (admins)
  let form = null;
  if (isAdmin()) {
    const name = h('input', { id: 'group-name', type: 'text', required: true, maxlength: '128', autocomplete: 'off' });
    const rule = h('input', { id: 'group-rule', type: 'text', required: true, maxlength: '1000', autocomplete: 'off',
      spellcheck: 'false', placeholder: 'e.g. tag = lobby and version < 1.5' });
    const preview = h('p', { id: 'group-rule-preview', class: 'hint', 'aria-live': 'polite' });
    const err = h('p', { id: 'group-error', class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'group-create', type: 'submit', class: 'btn btn-primary', text: 'Create group' });
    const previewLater = debounce(async () => {
      if (!rule.value.trim()) { preview.textContent = ''; return; }
      try {
        preview.textContent = await rulePreview(rule.value.trim());
        preview.classList.remove('text-danger');
      } catch (e) {
        preview.textContent = errorText(e);
        preview.classList.add('text-danger');
      }
    }, 300);
    state.cleanup.push(() => previewLater.cancel());
    rule.addEventListener('input', previewLater);
    form = h('form', { id: 'group-form', class: 'form-grid' },
      field('Name', name), field('Rule', rule, RULE_HELP), preview, h('div', { class: 'form-footer' }, err, save));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      busy(save, async () => {
        try {
          await api.createScreenGroup({ name: name.value.trim(), rule: rule.value.trim() });
          toast(`Group “${name.value.trim()}” created.`);
          name.value = '';
          rule.value = '';
          preview.textContent = '';
          await load();
        } catch (e) {
          setError(err, e);
        }
      });
    });
  }

  await Promise.all([load(), loadActions()]);
  if (stale()) return h('div');
  return h('div', { class: 'page' },
    h('div', {}, h('a', { class: 'back-link', href: '#/screens', text: '← Screens' })),
    pageHeader('Screen groups', liveIndicator(stale, 'groups-live')),
    h('section', { class: 'card', 'aria-label': 'Groups' }, tableWrap(gtable, 'Groups')),
    progress,
    form ? card('New group', form) : null,
    card('Recent actions', tableWrap(atable, 'Recent actions')));
}
