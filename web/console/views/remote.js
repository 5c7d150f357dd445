// The remote control page, #/remote/{screen id} (admins and support users):
// asks the server for a session (POST /api/v1/screens/{id}/remote), reaches
// the screen through the relay's WebSocket with the end-to-end layer in the
// page (remote/relay-channel.js, remote/e2e.js on libsodium.js) and shows it
// with noVNC (vendored from npm by scripts/vendor-js). Clipboard both ways,
// Ctrl-Alt-Del, scaling, a view-only toggle and full screen. The host key
// fingerprint is shown to compare with the screen's diagnostics. Any failure
// of the relay or of the end-to-end layer ends the session with its code:
// there is no unencrypted mode and no "continue anyway".
//
// The vendored modules are imported when the page opens, so that a server
// built without them (scripts/vendor-js not run) still serves the console.

import * as api from '../api.js';
import { state } from '../session.js';
import { errorText, h, pageHeader } from '../dom.js';
import { fingerprint } from '../remote/fingerprint.js';

async function loadModules() {
  try {
    const [channel, rfb] = await Promise.all([import('../remote/relay-channel.js'),
      import('../vendor/novnc/core/rfb.js')]);
    return { openRemote: channel.openRemote, describeCode: channel.describeCode, RFB: rfb.default };
  } catch {
    return null;
  }
}

export async function renderRemote(stale, route) {
  const id = route.param;
  let screen;
  try {
    ({ screen } = await api.getScreen(id));
  } catch (err) {
    if (err.status !== 404) throw err;
    return h('div', { class: 'card' }, pageHeader('Screen not found'),
      h('p', { text: 'This screen does not exist (any more) in this account.' }),
      h('a', { class: 'btn', href: '#/screens', text: 'Back to the screens' }));
  }
  if (stale()) return h('div');

  const status = h('p', { id: 'remote-status', class: 'remote-status', role: 'status', 'aria-live': 'polite' });
  const error = h('div', { id: 'remote-error', class: 'notice notice-error', role: 'alert', hidden: true });
  const fp = h('code', { id: 'remote-fingerprint', class: 'mono', text: fingerprint(screen.public_key) || 'no key registered' });
  const target = h('div', { id: 'remote-screen', class: 'remote-screen', tabindex: '-1' });
  const cad = h('button', { type: 'button', id: 'remote-cad', class: 'btn btn-small', text: 'Ctrl-Alt-Del', disabled: true });
  const scale = h('input', { type: 'checkbox', id: 'remote-scale', checked: true });
  const viewOnly = h('input', { type: 'checkbox', id: 'remote-view-only' });
  const full = h('button', { type: 'button', id: 'remote-fullscreen', class: 'btn btn-small', text: 'Full screen', disabled: true });
  const disconnect = h('button', { type: 'button', id: 'remote-disconnect', class: 'btn btn-small btn-danger', text: 'End session', disabled: true });
  const reconnect = h('button', { type: 'button', id: 'remote-reconnect', class: 'btn btn-small btn-primary', text: 'Connect again', hidden: true });
  const clip = h('textarea', { id: 'remote-clipboard', rows: '2', spellcheck: 'false', placeholder: 'Text to paste on the screen; what is copied there appears here' });
  const clipSend = h('button', { type: 'button', id: 'remote-clipboard-send', class: 'btn btn-small', text: 'Send to the screen', disabled: true });
  const sessionInfo = h('p', { id: 'remote-session', class: 'hint' });

  let rfb = null;
  let channel = null;
  let ended = false;

  function say(text) {
    status.textContent = text;
  }

  function showError(code, message) {
    error.dataset.code = code;
    error.replaceChildren(h('strong', { text: 'Remote control ended: ' }), h('span', { text: message }),
      h('span', { class: 'mono', text: ` (${code})` }));
    error.hidden = false;
  }

  function setConnected(on) {
    for (const b of [cad, full, disconnect, clipSend]) b.disabled = !on;
    reconnect.hidden = on;
  }

  function finish(code, message) {
    if (ended) return;
    ended = true;
    setConnected(false);
    if (code) {
      showError(code, message);
      say('Not connected.');
    } else {
      say(message || 'The session ended.');
    }
  }

  async function connect() {
    ended = false;
    error.hidden = true;
    reconnect.hidden = true;
    target.replaceChildren();
    const mods = await loadModules();
    if (stale()) return;
    if (!mods) {
      finish('not_built', 'this server was built without the remote control libraries (scripts/vendor-js, then rebuild)');
      return;
    }
    say(screen.remote_consent ? 'Asking the person at the screen for consent…' : 'Asking the server for a session…');
    let session;
    try {
      session = await api.startRemote(id);
    } catch (err) {
      if (stale()) return;
      finish(err.code || 'error', errorText(err));
      return;
    }
    if (stale()) return;
    const shown = fingerprint(session.host_public_key);
    fp.textContent = shown || 'not a valid key';
    sessionInfo.textContent = `Session ${session.session_id} through relay ${session.relay ? session.relay.host : '?'}` +
      (session.view_only ? ' · view only: someone else controls this screen' : '');
    try {
      channel = await mods.openRemote(session, { onStatus: (text) => { if (!stale()) say(text); } });
    } catch (err) {
      if (stale()) return;
      finish(err.code || 'error', err.message);
      return;
    } finally {
      session.ticket = session.session_secret = null;
    }
    if (stale()) {
      channel.close();
      return;
    }
    say('End-to-end encrypted; starting the viewer…');
    channel.onend = (code) => {
      if (code) finish(code, mods.describeCode(code));
    };
    rfb = new mods.RFB(target, channel, { shared: true });
    rfb.scaleViewport = scale.checked;
    rfb.viewOnly = viewOnly.checked || !!session.view_only;
    if (session.view_only) {
      viewOnly.checked = true;
      viewOnly.disabled = true;
    }
    rfb.addEventListener('connect', () => {
      setConnected(true);
      say(`Connected to “${screen.name}”, end-to-end encrypted.`);
      target.dataset.connected = 'true';
    });
    rfb.addEventListener('disconnect', () => {
      delete target.dataset.connected;
      const code = channel && channel.failure;
      rfb = null;
      if (code) finish(code, mods.describeCode(code));
      else finish(null, 'The session ended.');
    });
    rfb.addEventListener('securityfailure', (ev) => {
      finish('vnc_security', `the screen's VNC server refused: ${(ev.detail && ev.detail.reason) || 'no reason given'}`);
    });
    rfb.addEventListener('credentialsrequired', () => {
      // the host answers the VNC password itself: a password prompt here is a bug of the host
      finish('vnc_credentials', 'the screen asked for a VNC password (the host should have answered it)');
      if (rfb) rfb.disconnect();
    });
    rfb.addEventListener('clipboard', (ev) => {
      clip.value = (ev.detail && ev.detail.text) || '';
    });
  }

  cad.addEventListener('click', () => { if (rfb) rfb.sendCtrlAltDel(); });
  scale.addEventListener('change', () => { if (rfb) rfb.scaleViewport = scale.checked; });
  viewOnly.addEventListener('change', () => { if (rfb) rfb.viewOnly = viewOnly.checked; });
  full.addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (target.requestFullscreen) target.requestFullscreen().catch(() => {});
  });
  clipSend.addEventListener('click', () => { if (rfb) rfb.clipboardPasteFrom(clip.value); });
  disconnect.addEventListener('click', () => { if (rfb) rfb.disconnect(); });
  reconnect.addEventListener('click', () => { connect(); });
  state.cleanup.push(() => {
    ended = true;
    if (rfb) rfb.disconnect();
    else if (channel) channel.close();
  });

  connect();

  return h('div', { class: 'page remote-page', dataset: { screenId: id } },
    h('div', {}, h('a', { class: 'back-link', href: `#/screens/${encodeURIComponent(id)}`, text: `← ${screen.name}` })),
    pageHeader(`Remote control · ${screen.name}`),
    h('dl', { class: 'kv kv-compact' },
      h('dt', { text: 'Host key fingerprint' }), h('dd', {}, fp,
        h('span', { class: 'hint', text: ' · compare it with the one the screen shows in its diagnostics' }))),
    status, error, sessionInfo,
    h('div', { class: 'remote-toolbar', role: 'toolbar', 'aria-label': 'Remote control' },
      cad,
      h('label', { class: 'check', for: 'remote-scale' }, scale, h('span', { text: 'Scale to fit' })),
      h('label', { class: 'check', for: 'remote-view-only' }, viewOnly, h('span', { text: 'View only' })),
      full, disconnect, reconnect),
    target,
    h('div', { class: 'field remote-clipboard' },
      h('label', { for: 'remote-clipboard', text: 'Clipboard' }), clip, h('div', {}, clipSend)));
}
