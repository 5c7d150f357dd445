// The remote sessions page, #/sessions (admins): who controlled which
// screen, through which relay, when, how many bytes each way and why it
// ended (GET /api/v1/remote-sessions, newest first), with an End button on
// the sessions still open (DELETE /api/v1/remote-sessions/{id}: the relay
// cuts both sides).

import * as api from '../api.js';
import { busy, emptyRow, errorText, h, headRow, labelledRow, pageHeader, tableWrap, toast } from '../dom.js';
import { fmtTime, timeEl } from '../format.js';
import { state } from '../session.js';

const COLS = ['User', 'Screen', 'Relay', 'Asked', 'Started', 'Ended', 'Guest → screen', 'Screen → guest', 'End reason', ''];
const REFRESH_MS = 5000;

function bytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 * 1024 * 1024) return `${(v / 1024 / 1024).toFixed(1)} MiB`;
  return `${(v / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function when(t) {
  return t ? timeEl(t, fmtTime(t)) : '—';
}

export async function renderRemoteSessions(stale) {
  const tbody = h('tbody');
  const table = h('table', { id: 'remote-sessions-table', class: 'table table-dense table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Remote control sessions of this account, newest first' }),
    headRow(COLS, true), tbody);
  const names = new Map(); // screen id -> name

  async function screenNames(list) {
    const missing = [...new Set(list.map((s) => s.screen_id))].filter((sid) => !names.has(sid));
    await Promise.all(missing.map(async (sid) => {
      try {
        names.set(sid, (await api.getScreen(sid)).screen.name);
      } catch {
        names.set(sid, sid);
      }
    }));
  }

  function row(s) {
    const open = !s.ended_at;
    const end = open ? h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'End', dataset: { sessionId: s.id } }) : null;
    if (end) {
      end.addEventListener('click', () => busy(end, async () => {
        if (!window.confirm(`End the session of ${s.user} on “${names.get(s.screen_id) || s.screen_id}”? The relay cuts both sides at once.`)) return;
        try {
          await api.endRemoteSession(s.id);
          toast('Session ended.');
          await load();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
    }
    const relay = s.relay ? `${s.relay.host}:${s.relay.port}` : '—';
    return labelledRow(COLS, { dataset: { sessionId: s.id }, class: open ? 'row-open' : null },
      h('td', { text: s.user }),
      h('td', {}, h('a', { href: `#/screens/${encodeURIComponent(s.screen_id)}`, text: names.get(s.screen_id) || s.screen_id })),
      h('td', { class: 'mono', text: relay }),
      h('td', {}, when(s.created_at)),
      h('td', {}, when(s.started_at)),
      h('td', {}, open ? 'open' : when(s.ended_at)),
      h('td', { class: 'num', text: bytes(s.bytes_guest_to_host) }),
      h('td', { class: 'num', text: bytes(s.bytes_host_to_guest) }),
      h('td', { class: 'mono', text: s.end_reason || '' }),
      h('td', { class: 'col-actions' }, end));
  }

  async function load() {
    const { sessions = [] } = await api.listRemoteSessions();
    await screenNames(sessions);
    if (stale()) return;
    tbody.replaceChildren(...(sessions.length ? sessions.map(row)
      : [emptyRow(COLS.length, 'No remote control session yet. Start one from a screen’s page.')]));
  }

  await load();
  const timer = setInterval(() => {
    if (!stale() && document.visibilityState !== 'hidden') load().catch(() => {});
  }, REFRESH_MS);
  state.cleanup.push(() => clearInterval(timer));

  return h('div', { class: 'page' },
    pageHeader('Remote sessions'),
    h('p', { class: 'hint', text: 'Sessions of the last days, newest first (at most 200). Bytes are end-to-end encrypted traffic as the relay counted it; the relay never sees the content.' }),
    tableWrap(table, 'Remote sessions'));
}
