// The page of one screen: its status, screenshot, remote-control
// instructions and their history, where it is, settings and what it plays.

import * as api from '../api.js';
import { canControl, isAdmin, isEditor, state } from '../session.js';
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
import { ago, duration, fmtTime, timeEl } from '../format.js';
import { liveIndicator, liveOn, pageTimers } from '../live.js';
import {
  INSTRUCTION_LABELS,
  nowPlaying,
  screenshotBox,
  statusBadge,
  tagList,
} from '../screens-common.js';
import { screenContentCard } from './screen-content.js';
import { screenDeviceCards } from './screen-device.js';
import { screenLocationCard } from './screen-location.js';
import { fingerprint as hostKeyFingerprint } from '../remote/fingerprint.js';

function instructionResult(ins) {
  const r = ins.result && typeof ins.result === 'object' ? ins.result : {};
  if (ins.status === 'failed') {
    const reason = r.reason || r.error || 'failed';
    return r.exit_status !== undefined ? `${reason} (exit status ${r.exit_status})` : String(reason);
  }
  if (ins.status === 'pending') return 'Waiting for the screen…';
  if (ins.status === 'delivered') return 'Delivered, waiting for the result…';
  const parts = [];
  for (const [k, v] of Object.entries(r)) {
    if (k === 'note') parts.unshift(String(v));
    else if (k === 'seconds') parts.push(`shown for ${v} s`);
    else if (k === 'bytes') parts.push(`${Number(v).toLocaleString()} bytes`);
    else if (k === 'level') parts.push(`level ${v}`);
    else parts.push(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
  return parts.join(' · ') || 'Done';
}

const STATUS_BADGE = { pending: 'muted', delivered: 'info', ok: 'ok', failed: 'danger' };

export async function renderScreenDetail(stale, id) {
  let screen;
  try {
    ({ screen } = await api.getScreen(id));
  } catch (err) {
    if (err.status !== 404) throw err;
    return h('div', { class: 'page' },
      h('div', {}, h('a', { class: 'back-link', href: '#/screens', text: '← Screens' })),
      pageHeader('Screen not found'),
      h('div', { class: 'card' }, h('p', { id: 'screen-missing', text: 'This screen does not exist in your account, or it was deleted.' })));
  }
  if (stale()) return h('div');

  const channels = isAdmin() || isEditor()
    ? ((await api.listChannels().catch(() => ({ channels: [] }))).channels || []) : [];
  if (stale()) return h('div');
  const history = new Map(); // instruction id -> instruction
  const controller = new AbortController();
  state.cleanup.push(() => controller.abort());

  // ---- header
  const title = h('h1', { id: 'page-title', tabindex: '-1', text: screen.name });
  const headBadge = h('span', { id: 'screen-status' });
  const headSeen = h('span', { class: 'hint', id: 'screen-seen' });
  const header = h('div', { class: 'page-header' },
    h('div', { class: 'title-row' }, title, headBadge, headSeen),
    h('div', { class: 'page-actions' }, liveIndicator(stale, 'screen-live')));

  // ---- screenshot
  const shot = screenshotBox(screen, { id: 'screen-screenshot', cls: 'shot-large' });
  const shotTime = h('p', { class: 'hint', id: 'screenshot-time' });
  const shotButton = canControl()
    ? h('button', { type: 'button', id: 'screenshot-refresh', class: 'btn btn-small', text: 'Take a new one' })
    : null;

  // ---- status and device
  const statusList = h('dl', { class: 'kv kv-compact', id: 'screen-state' });
  const deviceList = h('dl', { class: 'kv', id: 'screen-info' });
  // the host key fingerprint, as the CLI and the player's diagnostics show it
  const fingerprint = h('span', { id: 'screen-fingerprint', class: 'mono' });
  const paintFingerprint = (key) => {
    fingerprint.textContent = key ? hostKeyFingerprint(key) || 'not a valid key' : 'no key registered';
  };

  // ---- instruction history
  const HCOLS = ['#', 'Instruction', 'Status', 'Result', 'Time', 'By'];
  const hbody = h('tbody');
  const htable = h('table', { id: 'instructions-table', class: 'table table-dense table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Instructions sent to this screen, newest first' }),
    headRow(HCOLS),
    hbody);

  function paintHistory() {
    const list = [...history.values()].sort((a, b) => b.seq - a.seq).slice(0, 50);
    hbody.replaceChildren();
    if (!list.length) hbody.append(emptyRow(HCOLS.length, 'No instructions sent yet.'));
    for (const ins of list) {
      const label = INSTRUCTION_LABELS[ins.type] || ins.type;
      const level = ins.payload && ins.payload.level !== undefined ? ` ${ins.payload.level}` : '';
      hbody.append(labelledRow(HCOLS, {
        dataset: { instructionId: ins.id, type: ins.type, status: ins.status },
        class: ins.status === 'failed' ? 'row-failed' : '',
      },
      h('td', { class: 'mono', text: String(ins.seq) }),
      h('td', {}, h('code', { class: 'action', text: ins.type }), level ? h('span', { class: 'hint', text: level }) : null,
        h('span', { class: 'visually-hidden', text: ` (${label})` })),
      h('td', {}, badge(ins.status, STATUS_BADGE[ins.status] || 'muted')),
      h('td', { class: `detail result${ins.status === 'failed' ? ' text-danger' : ''}`, text: instructionResult(ins) }),
      h('td', { class: 'nowrap' }, timeEl(ins.created_at, fmtTime(ins.created_at))),
      h('td', { text: ins.created_by || '—' })));
    }
  }

  /** Records what we learnt of an instruction; announces the result of one sent from this page. */
  function learn(ins) {
    const known = history.get(ins.id);
    // keep what we know beyond the list's fields (the payload of our own instructions)
    const merged = known ? { ...known, ...ins } : { ...ins };
    if (merged.local && (merged.status === 'ok' || merged.status === 'failed')) {
      merged.local = false;
      const label = INSTRUCTION_LABELS[merged.type] || merged.type;
      if (merged.status === 'ok') toast(`${label}: done on “${screen.name}”.`);
      else toast(`${label} failed: ${instructionResult(merged)}`, 'error');
      if (merged.type === 'screenshot') setTimeout(() => reload(), 0);
    }
    history.set(ins.id, merged);
  }

  function mergeHistory(list) {
    for (const ins of list || []) learn(ins);
    paintHistory();
  }

  // ---- what it plays
  const content = screenContentCard(id, channels, () => screen, () => reload());
  // ---- inventory, logs, display power
  const device = screenDeviceCards(id, () => screen, send);

  // ---- where it is
  const place = screenLocationCard(stale, id, () => screen, (s) => paint({ ...screen, ...s }));

  // ---- painting the screen
  let deleting = false;
  let shownFields = null; // the name, group and tags last written into the settings form
  const settings = isAdmin() ? settingsForm() : null;

  function paint(s) {
    paintFingerprint(s.public_key);
    screen = s;
    title.textContent = s.name;
    document.title = `${s.name} · Screens · Vitrine`;
    tick();
    shot.update(s);
    const st = s.state || {};
    const info = s.info || {};
    const kv = (label, value, attrs = {}) => [h('dt', { text: label }), h('dd', attrs, value === undefined || value === null || value === '' ? '—' : value)];
    const offset = typeof st.clock_offset_ms === 'number' ? st.clock_offset_ms : null;
    statusList.replaceChildren(
      ...kv('Now playing', nowPlaying(s), { id: 'screen-now-playing' }),
      ...kv('Uptime', typeof st.uptime_s === 'number' ? duration(st.uptime_s) : null, { id: 'screen-uptime' }),
      ...kv('Clock offset', offset === null ? null
        : h('span', { class: Math.abs(offset) > 2000 ? 'text-warn' : '' },
          `${offset > 0 ? '+' : ''}${offset} ms`, Math.abs(offset) > 2000 ? ' — check the screen’s time settings' : ''),
      { id: 'screen-clock-offset' }),
      ...kv('Last error', st.last_error ? h('span', { class: 'text-danger', text: st.last_error }) : 'None', { id: 'screen-last-error' }),
      ...kv('Player version', s.version || st.version, { id: 'screen-version' }),
      ...kv('Address', s.last_ip, { class: 'mono' }),
      ...kv('Group', s.group),
      ...kv('Tags', tagList(s.tags)));
    deviceList.replaceChildren(
      ...kv('Hostname', info.hostname, { id: 'screen-hostname' }),
      ...kv('Operating system', st.os || info.os, { id: 'screen-os' }),
      ...(info.model ? kv('Model', info.model) : []),
      ...kv('Version at pairing', info.version),
      ...kv('Hardware id', s.hardware_id, { class: 'mono' }),
      ...kv('Paired', `${fmtTime(s.created_at)}${s.created_by ? ` by ${s.created_by}` : ''}`),
      ...kv('Host key fingerprint', fingerprint),
      ...kv('Public key', h('code', { id: 'screen-public-key', class: 'secret-text', text: s.public_key || '' })));
    content.sync(s);
    device.sync(s);
    place.sync(s);
    if (settings) settings.sync(s);
  }

  function tick() {
    headBadge.replaceChildren(statusBadge(screen));
    headSeen.textContent = screen.last_seen ? `Last seen ${ago(screen.last_seen)}` : 'Never seen yet';
    shotTime.textContent = screen.screenshot_at ? `Taken ${ago(screen.screenshot_at)} · ${fmtTime(screen.screenshot_at)}` : 'No screenshot yet.';
  }

  // ---- reloading (coalesced: one request at a time, one more if asked meanwhile)
  let reloading = null;
  let again = false;
  async function reload() {
    if (reloading) {
      again = true;
      return reloading;
    }
    reloading = (async () => {
      do {
        again = false;
        try {
          const res = await api.getScreen(id);
          if (stale()) return;
          paint(res.screen);
          mergeHistory(res.screen.instructions);
        } catch (err) {
          if (err.status === 404 && !stale()) gone();
          return;
        }
      } while (again && !stale());
    })();
    try {
      await reloading;
    } finally {
      reloading = null;
    }
  }

  let left = false;
  function gone(byUs) {
    if (left || stale()) return;
    left = true;
    if (!byUs) toast(`“${screen.name}” was deleted.`, 'info');
    location.hash = '#/screens';
  }

  liveOn(stale, 'screen', (s) => {
    if (s.id !== id) return;
    if (s.deleted) {
      gone(deleting);
      return;
    }
    paint({ ...screen, ...s });
    reload(); // the event has no instruction history
  });
  liveOn(stale, 'reopen', () => reload());
  pageTimers(stale, tick, () => reload());

  // ---- instructions
  let waiter = null;
  function waitForResults() {
    if (waiter) return;
    waiter = (async () => {
      for (let rounds = 0; rounds < 12 && !stale(); rounds++) {
        const open = [...history.values()].filter((i) => i.local && (i.status === 'pending' || i.status === 'delivered'))
          .sort((a, b) => a.seq - b.seq)[0];
        if (!open) break;
        try {
          const { instruction } = await api.getInstruction(id, open.id, 20, controller.signal);
          if (stale()) break;
          learn(instruction);
          paintHistory();
        } catch (err) {
          if (err.code === 'aborted' || stale()) break;
          await new Promise((resolve) => { setTimeout(resolve, 2000); });
        }
      }
    })().finally(() => { waiter = null; });
  }

  function send(type, payload, button) {
    return busy(button, async () => {
      try {
        const res = await api.sendInstruction(id, type, payload);
        if (stale()) return;
        if (!history.has(res.id)) {
          history.set(res.id, {
            id: res.id, seq: res.seq, type, payload, status: res.status || 'pending', created_at: Math.floor(api.serverNow()),
            acked_at: 0, result: {}, created_by: state.user.login, local: true,
          });
        } else {
          learn({ id: res.id, payload, local: true }); // a screen event was faster than this answer
        }
        paintHistory();
        waitForResults();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    });
  }

  function actionButton(type, text, opts = {}) {
    const b = h('button', { type: 'button', id: `action-${type}`, class: `btn ${opts.cls || ''}`.trim(), text });
    b.addEventListener('click', () => {
      if (opts.confirm && !window.confirm(opts.confirm())) return;
      send(type, {}, b);
    });
    return b;
  }

  function levelControl(type, label, initial) {
    const input = h('input', {
      id: type === 'set_volume' ? 'volume' : 'brightness', type: 'range', min: '0', max: '100', step: '1',
      value: String(initial), class: 'range',
    });
    const out = h('output', { for: input.id, class: 'range-value', text: `${initial} %` });
    input.addEventListener('input', () => { out.textContent = `${input.value} %`; });
    const b = h('button', { type: 'button', id: `action-${type}`, class: 'btn', text: `Set ${label.toLowerCase()}` });
    b.addEventListener('click', () => send(type, { level: Number(input.value) }, b));
    return h('div', { class: 'level' },
      h('label', { for: input.id, text: label }),
      h('div', { class: 'level-row' }, input, out, b));
  }

  function lastLevel(type) {
    const ok = (screen.instructions || []).find((i) => i.type === type && i.status === 'ok' && i.result && typeof i.result.level === 'number');
    return ok ? ok.result.level : 50;
  }

  const control = canControl() ? h('section', { class: 'card', 'aria-labelledby': 'card-remote-control', id: 'screen-control' },
    h('h2', { id: 'card-remote-control', text: 'Remote control' }),
    h('p', { class: 'hint', text: 'Instructions reach an online screen within a second; an offline one gets them when it comes back (within an hour).' }),
    h('div', { class: 'actions' },
      actionButton('identify', 'Identify'),
      actionButton('screenshot', 'Screenshot'),
      actionButton('restart_player', 'Restart player', { confirm: () => `Restart the player on “${screen.name}”? The screen goes blank for a few seconds.` }),
      actionButton('reboot', 'Reboot', { cls: 'btn-danger', confirm: () => `Reboot “${screen.name}” now? It is off the air until it has restarted.` })),
    h('div', { class: 'levels' },
      levelControl('set_volume', 'Volume', lastLevel('set_volume')),
      levelControl('set_brightness', 'Brightness', lastLevel('set_brightness'))),
    h('div', { class: 'actions remote-open' },
      screen.public_key
        ? h('a', { id: 'screen-remote-open', class: 'btn btn-primary', href: `#/remote/${encodeURIComponent(id)}`,
          text: 'Remote control' })
        : h('p', { class: 'hint', text: 'Remote control needs the key the screen registers at pairing: pair it again with a current player.' }),
      h('p', { class: 'hint', text: 'See and control the screen in this page, end-to-end encrypted through a relay (the relay cannot read it). Compare the host key fingerprint with the one the screen shows in its diagnostics.' }))) : null;

  if (shotButton) shotButton.addEventListener('click', () => send('screenshot', {}, shotButton));

  // ---- settings (admins)
  function settingsForm() {
    const nameInput = h('input', { id: 'screen-name', type: 'text', required: true, maxlength: '128', autocomplete: 'off' });
    const groupInput = h('input', { id: 'screen-group', type: 'text', maxlength: '128', autocomplete: 'off', placeholder: 'e.g. Ground floor' });
    const tagsInput = h('input', { id: 'screen-tags', type: 'text', autocomplete: 'off', placeholder: 'e.g. lobby, portrait' });
    const consentInput = h('input', { id: 'screen-remote-consent', type: 'checkbox', 'aria-describedby': 'screen-remote-consent-hint' });
    // shown when the server knows the setting (it refuses unknown fields)
    const hasConsent = Object.prototype.hasOwnProperty.call(screen, 'remote_consent');
    const consentField = hasConsent ? h('div', { class: 'field' },
      h('label', { class: 'check', for: 'screen-remote-consent' }, consentInput,
        h('span', { text: 'Ask the person at the screen before remote control' })),
      h('p', { class: 'hint', id: 'screen-remote-consent-hint', text: 'The screen shows “Allow remote control by NAME?” with a 30 s countdown; a session starts only if they allow it.' })) : null;
    const err = h('p', { id: 'screen-settings-error', class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'screen-save', type: 'submit', class: 'btn btn-primary', text: 'Save' });
    const form = h('form', { id: 'screen-settings', class: 'form-grid' },
      field('Name', nameInput),
      field('Group', groupInput),
      field('Tags', tagsInput, 'Separated by commas.'),
      consentField,
      h('div', { class: 'form-footer' }, err, save));
    const parseTags = (text) => [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const body = { name: nameInput.value.trim(), group: groupInput.value.trim(), tags: parseTags(tagsInput.value) };
      if (hasConsent) body.remote_consent = consentInput.checked;
      if (!body.name) { setError(err, 'Give the screen a name.'); nameInput.focus(); return; }
      if (body.tags.length > 32) { setError(err, 'A screen has at most 32 tags.'); tagsInput.focus(); return; }
      if (body.tags.some((t) => t.length > 64)) { setError(err, 'A tag has at most 64 characters.'); tagsInput.focus(); return; }
      busy(save, async () => {
        try {
          const res = await api.updateScreen(id, body);
          shownFields = null; // take the saved values
          paint({ ...screen, ...res.screen });
          toast('Screen saved.');
        } catch (e) {
          setError(err, e);
        }
      });
    });
    // a change made elsewhere updates a field only if it was not edited here
    function sync(s) {
      const next = { name: s.name, group: s.group || '', tags: (s.tags || []).join(', '), consent: !!s.remote_consent };
      const inputs = { name: nameInput, group: groupInput, tags: tagsInput };
      for (const [k, input] of Object.entries(inputs)) {
        if (!shownFields || input.value === shownFields[k]) input.value = next[k];
      }
      if (!shownFields || consentInput.checked === shownFields.consent) consentInput.checked = next.consent;
      shownFields = next;
    }

    const del = h('button', { id: 'screen-delete', type: 'button', class: 'btn btn-danger', text: 'Delete screen' });
    del.addEventListener('click', () => busy(del, async () => {
      if (!window.confirm(`Delete “${screen.name}”? Its access token is revoked at once: the player is disconnected and can never reconnect with it.`)) return;
      deleting = true;
      try {
        await api.deleteScreen(id);
        toast(`“${screen.name}” deleted. Its token no longer works.`);
        gone(true);
      } catch (e) {
        deleting = false;
        toast(errorText(e), 'error');
      }
    }));
    return {
      sync,
      card: card('Settings', form),
      danger: h('section', { class: 'card card-danger', 'aria-labelledby': 'card-delete' },
        h('h2', { id: 'card-delete', text: 'Delete this screen' }),
        h('p', { class: 'hint', text: 'Deleting revokes the screen’s access token at once: the player is disconnected immediately and cannot reconnect with that token, so a stolen or retired device is useless. To use the device again, pair it anew.' }),
        h('div', {}, del)),
    };
  }

  paint(screen);
  mergeHistory(screen.instructions);

  return h('div', { class: 'page screen-page', dataset: { screenId: id } },
    h('div', {}, h('a', { class: 'back-link', href: '#/screens', text: '← Screens' })),
    header,
    h('div', { class: 'detail-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'card-screenshot' },
        h('div', { class: 'card-head' }, h('h2', { id: 'card-screenshot', text: 'Screenshot' }), shotButton),
        shot.el, shotTime),
      card('Status', statusList)),
    content.el,
    control,
    h('section', { class: 'card', 'aria-labelledby': 'card-history' },
      h('h2', { id: 'card-history', text: 'Instruction history' }),
      tableWrap(htable, 'Instruction history')),
    device.el,
    place.el,
    h('div', { class: 'grid-2' },
      card('Device', deviceList),
      settings ? settings.card : null),
    settings ? settings.danger : null);
}
