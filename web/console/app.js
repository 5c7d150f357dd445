// The Vitrine admin console: a small single-page app with hash routing.
//
// Views: login, #/screens (the landing page), #/screens/{id}, #/pair (admins),
// #/media, #/channels, #/channels/new, #/channels/{id}, #/schedules, #/reports
// (admins and editors), #/users, #/audit, #/account (admins), #/profile,
// #/tokens; and, when the page is served at /firewall, the firewall rules for
// the network team. One EventSource (/api/v1/events) is shared by the pages
// that show live data.
// The DOM is built with createElement/textContent only (never innerHTML with
// data), there are no inline scripts or styles (the server's CSP forbids
// them), and every control is a real button, link, label or form field.

import * as api from './api.js';
import { Sha256, sha256, solveChallenge } from './pow.js';

const ROLES = ['admin', 'editor', 'operator', 'support'];
const ROLE_HELP = {
  admin: 'Everything in the account, including users and security settings.',
  editor: 'Content of the channels and zones granted to them.',
  operator: 'Live chat with the visitors of your web sites.',
  support: 'Remote control of the screens granted to them.',
};
const CONTENT_ROLES = ['admin', 'editor'];
const ROUTES = {
  screens: { title: 'Screens', admin: false, render: renderScreensRoute },
  pair: { title: 'Pair a screen', admin: true, nav: 'screens', render: renderPair },
  media: { title: 'Media library', roles: CONTENT_ROLES, render: renderMedia },
  channels: { title: 'Channels', roles: CONTENT_ROLES, render: renderChannelsRoute },
  schedules: { title: 'Schedules', roles: CONTENT_ROLES, render: renderSchedules },
  reports: { title: 'Reports', roles: CONTENT_ROLES, render: renderReports },
  users: { title: 'Users', admin: true, render: renderUsers },
  audit: { title: 'Audit log', admin: true, render: renderAudit },
  account: { title: 'Account', admin: true, render: renderAccount },
  profile: { title: 'Profile', admin: false, render: renderProfile },
  tokens: { title: 'API tokens', admin: false, render: renderTokens },
};

const state = {
  user: null,
  renderSeq: 0,
  cleanup: [], // functions run when leaving the current view (EventSource etc.)
  leaveGuard: null, // () => false keeps the current page (unsaved changes)
};

// ---------------------------------------------------------------- helpers

/** Builds an element. attrs: class, text, dataset, on<event>, props (value, checked, ...), other attributes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'for') el.htmlFor = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'readOnly'].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);
const isAdmin = () => state.user && state.user.role === 'admin';
const isEditor = () => state.user && state.user.role === 'editor';
/** May the signed-in user open this route? */
const routeAllowed = (def) => !!def && (def.admin ? isAdmin() : !def.roles || (!!state.user && def.roles.includes(state.user.role)));
/** The console served at /firewall shows the firewall rules for the network team. */
const isFirewallPath = () => /^\/firewall\/?$/.test(location.pathname);

function pad2(n) {
  return String(n).padStart(2, '0');
}

/** Formats unix seconds (or an ISO string) as local "YYYY-MM-DD HH:MM:SS". */
function fmtTime(value) {
  if (value === null || value === undefined || value === 0 || value === '') return '—';
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function isoTime(value) {
  if (typeof value !== 'number' || !value) return undefined;
  return new Date(value * 1000).toISOString();
}

let toastTimer = null;
/** Shows a short message in #toast. kind: 'ok' | 'error' | 'info'. */
function toast(message, kind = 'ok') {
  const el = $('#toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast show toast-${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; el.textContent = ''; }, kind === 'error' ? 8000 : 4000);
}

function errorText(err) {
  return err && err.message ? err.message : String(err);
}

/** Sets or clears an inline error paragraph. */
function setError(el, err) {
  if (!el) return;
  if (err) {
    el.textContent = typeof err === 'string' ? err : errorText(err);
    el.hidden = false;
  } else {
    el.textContent = '';
    el.hidden = true;
  }
}

/** Runs fn while the button is disabled and marked busy. */
async function busy(button, fn) {
  const buttons = Array.isArray(button) ? button : [button];
  for (const b of buttons) if (b) { b.disabled = true; b.setAttribute('aria-busy', 'true'); }
  try {
    return await fn();
  } finally {
    for (const b of buttons) if (b) { b.disabled = false; b.removeAttribute('aria-busy'); }
  }
}

function field(label, input, hint) {
  const id = input.id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl);
}

function card(title, ...children) {
  const headingId = `card-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId, text: title }), ...children);
}

function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}`, text });
}

function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' },
    h('h1', { id: 'page-title', tabindex: '-1', text: title }),
    actions.length ? h('div', { class: 'page-actions' }, ...actions) : null);
}

async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** A panel that shows a secret exactly once (token, temporary password), with a copy button. */
function secretPanel({ id, title, value, note, onDismiss }) {
  const input = h('input', {
    id: `${id}-value`, class: 'secret-value', type: 'text', value, readOnly: true,
    'aria-label': title, spellcheck: 'false', autocomplete: 'off',
  });
  const copyBtn = h('button', {
    type: 'button', class: 'btn', id: `${id}-copy`, text: 'Copy',
    onclick: async () => {
      const ok = await copyText(value, input);
      copyBtn.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(() => { copyBtn.textContent = 'Copy'; }, 2000);
    },
  });
  const panel = h('div', { class: 'secret-panel', id, role: 'region', 'aria-label': title },
    h('div', { class: 'secret-head' },
      h('strong', { text: title }),
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-small', text: 'Dismiss',
        onclick: () => { panel.remove(); if (onDismiss) onDismiss(); },
      })),
    h('div', { class: 'secret-row' }, input, copyBtn),
    note ? h('p', { class: 'hint', text: note }) : null);
  return panel;
}

/** A table row whose cells carry their column name (data-label) for the stacked phone layout. */
function labelledRow(labels, attrs, ...cells) {
  cells.forEach((td, i) => { if (labels[i]) td.dataset.label = labels[i]; });
  return h('tr', attrs, ...cells);
}

function headRow(labels, actionsLast = false) {
  return h('thead', {}, h('tr', {}, labels.map((l, i) =>
    h('th', { scope: 'col', class: actionsLast && i === labels.length - 1 ? 'col-actions' : null, text: l }))));
}

function emptyRow(colspan, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: String(colspan), text }));
}

function tableWrap(table, label) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' }, table);
}

// ---------------------------------------------------------------- live stream

// One EventSource for the whole console, opened by the first page that wants
// live data and kept across pages until sign-out. Pages subscribe with
// liveOn(stale, type, fn); their subscriptions end when they are left.
const live = {
  es: null,
  status: 'off', // connecting | live | reconnecting | offline | off
  everOpen: false,
  retryTimer: null,
  handlers: { audit: new Set(), screen: new Set(), reopen: new Set(), status: new Set() },
};

function liveSetStatus(status) {
  live.status = status;
  for (const fn of [...live.handlers.status]) fn(status);
}

function liveStart() {
  if (live.es || !state.user || state.user.must_change_password || typeof EventSource !== 'function') return;
  clearTimeout(live.retryTimer);
  const es = new EventSource(api.EVENTS_URL);
  live.es = es;
  liveSetStatus(live.everOpen ? 'reconnecting' : 'connecting');
  es.addEventListener('open', () => {
    if (live.es !== es) return;
    const again = live.everOpen;
    live.everOpen = true;
    liveSetStatus('live');
    // after a reconnection the pages reload what they show, in case the
    // stream could not resume where it stopped
    if (again) for (const fn of [...live.handlers.reopen]) fn();
  });
  es.addEventListener('error', () => {
    if (live.es !== es) return;
    if (es.readyState !== EventSource.CLOSED) {
      liveSetStatus('reconnecting');
      return;
    }
    // refused for good (session ended, server gone): check, then try again
    es.close();
    live.es = null;
    liveSetStatus('offline');
    live.retryTimer = setTimeout(async () => {
      if (!state.user) return;
      try {
        await api.getSession();
      } catch (err) {
        if (err.status === 401) {
          signedOut('Your session has ended. Please sign in again.');
          return;
        }
      }
      if (state.user && live.handlers.status.size + live.handlers.screen.size + live.handlers.audit.size > 0) liveStart();
    }, 5000);
  });
  for (const type of ['audit', 'screen']) {
    es.addEventListener(type, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return; // ignore a malformed event
      }
      for (const fn of [...live.handlers[type]]) fn(data);
    });
  }
}

function liveStop() {
  clearTimeout(live.retryTimer);
  if (live.es) live.es.close();
  live.es = null;
  live.everOpen = false;
  live.status = 'off';
}

/** Subscribes the current page to 'audit', 'screen', 'reopen' or 'status' (until the page is left). */
function liveOn(stale, type, fn) {
  if (stale()) return;
  live.handlers[type].add(fn);
  state.cleanup.push(() => live.handlers[type].delete(fn));
  if (type === 'status') fn(live.status);
  liveStart();
}

const LIVE_TEXT = {
  connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline', off: 'Not live',
};

/** A "Live" indicator that follows the shared stream. */
function liveIndicator(stale, id) {
  const el = h('span', { id, class: 'live live-off', role: 'status', text: LIVE_TEXT.off });
  if (typeof EventSource !== 'function') return el;
  liveOn(stale, 'status', (status) => {
    el.textContent = LIVE_TEXT[status] || status;
    el.className = `live ${status === 'live' ? 'live-on' : 'live-off'}`;
  });
  return el;
}

// ---------------------------------------------------------------- shell

function runCleanup() {
  const fns = state.cleanup;
  state.cleanup = [];
  for (const fn of fns) {
    try { fn(); } catch { /* ignore */ }
  }
}

/** The hash route: #/name[/param][?query]. */
function parseHash() {
  const m = /^#\/([a-z]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(location.hash || '');
  let param = '';
  try {
    param = m && m[2] ? decodeURIComponent(m[2]) : '';
  } catch {
    param = '';
  }
  return { name: m ? m[1] : '', param, query: new URLSearchParams(m && m[3] ? m[3] : '') };
}

function currentRoute() {
  return parseHash().name;
}

function defaultRoute() {
  return 'screens';
}

function updateHeader() {
  const header = $('#topbar');
  const loggedIn = !!state.user;
  header.hidden = !loggedIn;
  if (!loggedIn) return;
  const forced = !!state.user.must_change_password;
  const route = currentRoute();
  const navRoute = (ROUTES[route] && ROUTES[route].nav) || route;
  for (const [name, def] of Object.entries(ROUTES)) {
    const link = $(`#nav-${name}`);
    if (!link) continue;
    const item = link.closest('li') || link;
    item.hidden = !routeAllowed(def) || (forced && name !== 'profile');
    if (name === navRoute && !isFirewallPath()) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const who = $('#current-user');
  who.textContent = '';
  append(who, [
    h('span', { class: 'who-name', text: state.user.name || state.user.login }),
    h('span', { class: 'who-role', text: state.user.role }),
  ]);
  who.title = `Signed in as ${state.user.login} (${state.user.role})`;
}

function setUser(user, csrf) {
  state.user = user || null;
  if (csrf !== undefined) api.setCsrfToken(csrf);
  if (!user) api.setCsrfToken(null);
}

function signedOut(message) {
  runCleanup();
  liveStop();
  setUser(null);
  render();
  if (message) toast(message, 'info');
}

api.onUnauthorized(() => {
  if (state.user) signedOut('Your session has ended. Please sign in again.');
});

async function render() {
  const seq = ++state.renderSeq;
  runCleanup();
  const main = $('#main');
  updateHeader();
  if (!state.user) {
    document.title = 'Sign in · Vitrine';
    main.replaceChildren(renderLogin());
    $('#login').focus();
    return;
  }
  const parsed = parseHash();
  const route = parsed.name;
  if (isFirewallPath()) {
    // the firewall page stands alone; the console's pages (any #/… link) live at /
    const hash = location.hash && location.hash !== '#' ? location.hash : '';
    if (hash || state.user.must_change_password) {
      location.assign(`/${state.user.must_change_password ? '#/profile' : hash}`);
      return;
    }
    document.title = 'Firewall rules · Vitrine';
    main.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    try {
      const view = await renderFirewall(() => seq !== state.renderSeq);
      if (seq !== state.renderSeq) return;
      main.replaceChildren(view);
      const title = $('#page-title');
      if (title && document.activeElement === document.body) title.focus({ preventScroll: true });
    } catch (err) {
      if (seq !== state.renderSeq || err.status === 401) return;
      main.replaceChildren(h('div', { class: 'card' },
        pageHeader('Firewall rules'),
        h('p', { class: 'form-error', role: 'alert', text: errorText(err) }),
        h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => render() })));
    }
    return;
  }
  const def = ROUTES[route];
  if (state.user.must_change_password && route !== 'profile') {
    location.replace('#/profile');
    return; // hashchange renders
  }
  if (!routeAllowed(def)) {
    if (def && route === 'pair') toast('Only administrators can pair screens.', 'info');
    location.replace(`#/${defaultRoute()}`);
    return;
  }
  document.title = `${def.title} · Vitrine`;
  main.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
  try {
    const view = await def.render(() => seq !== state.renderSeq, parsed);
    if (seq !== state.renderSeq) return;
    main.replaceChildren(view);
    const title = $('#page-title');
    if (title && document.activeElement === document.body) title.focus({ preventScroll: true });
  } catch (err) {
    if (seq !== state.renderSeq) return;
    if (err instanceof api.ApiError && err.code === 'password_change_required') {
      state.user.must_change_password = true;
      location.replace('#/profile');
      render();
      return;
    }
    if (err instanceof api.ApiError && err.status === 401) return; // onUnauthorized took over
    main.replaceChildren(h('div', { class: 'card' },
      pageHeader(def.title),
      h('p', { class: 'form-error', role: 'alert', text: errorText(err) }),
      h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => render() })));
  }
}

// ---------------------------------------------------------------- login

function renderLogin() {
  const loginInput = h('input', {
    id: 'login', name: 'login', type: 'text', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false', maxlength: '128',
  });
  const passwordInput = h('input', {
    id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    maxlength: '256',
  });
  const totpInput = h('input', {
    id: 'totp', name: 'totp', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6', placeholder: '123456',
  });
  const totpField = field('Authentication code', totpInput, 'The 6-digit code from your authenticator app.');
  totpField.hidden = true;
  totpField.id = 'totp-field';
  const status = h('p', { id: 'login-status', class: 'login-status', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { id: 'login-error', class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-primary btn-block', text: 'Sign in' });

  const form = h('form', { id: 'login-form', class: 'stack', novalidate: false },
    field('Login', loginInput), field('Password', passwordInput), totpField, status, error, submit);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError(error, null);
    if (!loginInput.value.trim() || !passwordInput.value) {
      setError(error, 'Enter your login and password.');
      (loginInput.value.trim() ? passwordInput : loginInput).focus();
      return;
    }
    const body = { login: loginInput.value.trim(), password: passwordInput.value };
    if (!totpField.hidden) {
      const code = totpInput.value.replace(/\s+/g, '');
      if (!/^[0-9]{6}$/.test(code)) {
        setError(error, 'Enter the 6-digit code from your authenticator app.');
        totpInput.focus();
        return;
      }
      body.totp = code;
    }
    await busy([submit], () => attemptLogin(body, { status, error, totpField, totpInput, passwordInput }));
  });

  return h('div', { class: 'auth-wrap' },
    h('section', { class: 'auth-card', 'aria-labelledby': 'login-title' },
      h('div', { class: 'brand brand-large' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Vitrine'),
      h('h1', { id: 'login-title', text: 'Sign in to the console' }),
      form));
}

async function attemptLogin(body, ui) {
  const { status, error, totpField, totpInput, passwordInput } = ui;
  status.textContent = 'Signing in…';
  // A login may need a proof of work first (after repeated failures); the
  // server answers 429 with a fresh challenge, which we solve and resend.
  for (let round = 0; round < 4; round++) {
    try {
      const res = await api.login(body);
      status.textContent = '';
      setUser(res.user, res.csrf_token);
      if (res.user && res.user.must_change_password) location.hash = '#/profile';
      else if (!isFirewallPath() && !ROUTES[currentRoute()]) location.hash = `#/${defaultRoute()}`;
      render();
      return;
    } catch (err) {
      if (err.status === 429 && err.code === 'challenge_required' && err.detail.challenge && round < 3) {
        const ch = err.detail.challenge;
        if (ch.algorithm && ch.algorithm !== 'sha256-leading-zero-bits') {
          status.textContent = '';
          setError(error, `Unsupported challenge algorithm ${ch.algorithm}.`);
          return;
        }
        status.textContent = 'Too many failed attempts — verifying your browser…';
        try {
          body.challenge = ch.challenge;
          body.solution = await solveChallenge(ch.challenge, Number(ch.difficulty));
        } catch (powErr) {
          status.textContent = '';
          setError(error, `Browser verification failed: ${errorText(powErr)}`);
          return;
        }
        status.textContent = 'Verified. Signing in…';
        continue;
      }
      status.textContent = '';
      if (err.code === 'totp_required') {
        totpField.hidden = false;
        status.textContent = 'Two-factor authentication is on for this account.';
        totpInput.focus();
        return;
      }
      setError(error, err);
      if (err.code === 'invalid_totp') {
        totpInput.value = '';
        totpInput.focus();
      } else if (err.code === 'invalid_credentials') {
        passwordInput.select();
        passwordInput.focus();
      }
      return;
    }
  }
  status.textContent = '';
  setError(error, 'Browser verification did not succeed. Please try again.');
}

async function doLogout() {
  try {
    await api.logout();
  } catch {
    // the session may already be gone; the cookie is cleared either way
  }
  signedOut('You are signed out.');
}

// ---------------------------------------------------------------- users

async function renderUsers() {
  const { users } = await api.listUsers();
  const secretSlot = h('div', { class: 'secret-slot', id: 'user-secret-slot' });
  const tbody = h('tbody');
  const COLS = ['Login', 'Name', 'Role', 'Status', '2FA', 'Actions'];
  const table = h('table', { id: 'users-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Users of this account' }),
    headRow(COLS, true),
    tbody);

  async function reload() {
    const res = await api.listUsers();
    fill(res.users || []);
  }

  function fill(list) {
    tbody.replaceChildren();
    if (!list.length) tbody.append(emptyRow(6, 'No users yet.'));
    for (const u of list) tbody.append(userRow(u));
  }

  function userRow(u) {
    const self = state.user && u.id === state.user.id;
    const roleSelect = h('select', {
      id: `role-${u.id}`, class: 'select-compact', 'aria-label': `Role of ${u.login}`, disabled: self,
    }, ROLES.map((r) => h('option', { value: r, text: r, selected: r === u.role })));
    const roleSave = h('button', { type: 'button', class: 'btn btn-small btn-primary', text: 'Save', hidden: true });
    roleSelect.addEventListener('change', () => { roleSave.hidden = roleSelect.value === u.role; });
    roleSave.addEventListener('click', () => busy([roleSave, roleSelect], async () => {
      try {
        await api.updateUser(u.id, { role: roleSelect.value });
        toast(`${u.login} is now ${roleSelect.value}.`);
        await reload();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));

    const status = [];
    status.push(u.disabled ? badge('Disabled', 'muted') : badge('Active', 'ok'));
    if (u.must_change_password) status.push(badge('Must change password', 'warn'));

    const actions = h('div', { class: 'row-actions' });
    actions.append(h('button', {
      type: 'button', class: 'btn btn-small', text: u.disabled ? 'Enable' : 'Disable', disabled: self,
      'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.login}`,
      onclick: (ev) => busy(ev.currentTarget, async () => {
        try {
          await api.updateUser(u.id, { disabled: !u.disabled });
          toast(`${u.login} ${u.disabled ? 'enabled' : 'disabled'}.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }),
    }));
    actions.append(h('button', {
      type: 'button', class: 'btn btn-small', text: 'Reset password', disabled: self,
      'aria-label': `Reset the password of ${u.login}`,
      onclick: (ev) => busy(ev.currentTarget, async () => {
        if (!window.confirm(`Reset the password of ${u.login}? Their sessions end and they must choose a new password at next sign-in.`)) return;
        try {
          const res = await api.resetUserPassword(u.id);
          secretSlot.replaceChildren(secretPanel({
            id: 'reset-password',
            title: `Temporary password for ${u.login}`,
            value: res.password || '',
            note: 'Shown only once. Give it to the user over a safe channel; they must change it at next sign-in.',
          }));
          $('#reset-password-value').focus();
          $('#reset-password-value').select();
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }),
    }));
    if (u.totp_enabled) {
      actions.append(h('button', {
        type: 'button', class: 'btn btn-small', text: 'Reset 2FA', 'aria-label': `Reset two-factor login of ${u.login}`,
        onclick: (ev) => busy(ev.currentTarget, async () => {
          if (!window.confirm(`Turn off two-factor login for ${u.login}? They can enrol again from their profile.`)) return;
          try {
            await api.resetUserTotp(u.id);
            toast(`Two-factor login reset for ${u.login}.`);
            await reload();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }),
      }));
    }
    actions.append(h('button', {
      type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', disabled: self,
      'aria-label': `Delete ${u.login}`,
      onclick: (ev) => busy(ev.currentTarget, async () => {
        if (!window.confirm(`Delete the user ${u.login}? This cannot be undone.`)) return;
        try {
          await api.deleteUser(u.id);
          toast(`${u.login} deleted.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }),
    }));

    return labelledRow(COLS, { dataset: { login: u.login, id: u.id }, class: u.disabled ? 'row-disabled' : '' },
      h('td', { class: 'cell-strong' }, h('span', {}, u.login, self ? h('span', { class: 'you', text: ' (you)' }) : null)),
      h('td', { text: u.name || '—' }),
      h('td', {}, h('div', { class: 'inline' }, roleSelect, roleSave)),
      h('td', {}, h('div', { class: 'inline' }, status)),
      h('td', {}, u.totp_enabled ? badge('On', 'ok') : badge('Off', 'muted')),
      h('td', { class: 'col-actions' }, actions));
  }

  fill(users || []);

  // create form
  const loginInput = h('input', {
    id: 'new-login', name: 'login', type: 'text', required: true, autocomplete: 'off', autocapitalize: 'none',
    spellcheck: 'false', maxlength: '128',
  });
  const nameInput = h('input', { id: 'new-name', name: 'name', type: 'text', autocomplete: 'off', maxlength: '128' });
  const pwInput = h('input', {
    id: 'new-password', name: 'password', type: 'password', required: true, minlength: '10', maxlength: '256',
    autocomplete: 'new-password',
  });
  const roleSelect = h('select', { id: 'new-role', name: 'role' },
    ROLES.map((r) => h('option', { value: r, text: r, selected: r === 'editor' })));
  const roleHint = () => ROLE_HELP[roleSelect.value];
  const submit = h('button', { id: 'user-create-submit', type: 'submit', class: 'btn btn-primary', text: 'Create user' });
  const formError = h('p', { id: 'user-create-error', class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { id: 'user-create-form', class: 'form-grid' },
    field('Login', loginInput),
    field('Name', nameInput),
    field('Password', pwInput, 'At least 10 characters. The user can change it later.'),
    field('Role', roleSelect, roleHint()),
    h('div', { class: 'form-footer' }, formError, submit));
  roleSelect.addEventListener('change', () => { $('#new-role-hint', form).textContent = roleHint(); });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(formError, null);
    const login = loginInput.value.trim();
    if (!login) { setError(formError, 'Enter a login.'); loginInput.focus(); return; }
    if (pwInput.value.length < 10) { setError(formError, 'The password must have at least 10 characters.'); pwInput.focus(); return; }
    busy(submit, async () => {
      try {
        const body = { login, password: pwInput.value, role: roleSelect.value };
        if (nameInput.value.trim()) body.name = nameInput.value.trim();
        const res = await api.createUser(body);
        form.reset();
        roleSelect.value = 'editor';
        $('#new-role-hint', form).textContent = roleHint();
        toast(`User ${(res.user && res.user.login) || login} created.`);
        await reload();
      } catch (err) {
        setError(formError, err);
      }
    });
  });

  return h('div', { class: 'page' },
    pageHeader('Users'),
    card('Add a user', form),
    secretSlot,
    card('All users', tableWrap(table, 'Users')));
}

// ---------------------------------------------------------------- audit

async function renderAudit(stale) {
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

  const live = liveIndicator(stale, 'audit-live');
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
    pageHeader('Audit log', live, csv),
    h('section', { class: 'card' },
      h('p', { class: 'hint', text: 'Every security-relevant action in this account, newest first. New events appear as they happen.' }),
      tableWrap(table, 'Audit log'),
      h('div', { class: 'table-footer' }, more)));
}

// ---------------------------------------------------------------- account

async function renderAccount() {
  const [{ account }, allow] = await Promise.all([api.getAccount(), api.getAllowlist()]);

  const info = h('dl', { class: 'kv' },
    h('dt', { text: 'Name' }), h('dd', { id: 'account-name', text: account.name || '—' }),
    h('dt', { text: 'Account id' }), h('dd', { class: 'mono', id: 'account-id', text: account.id || '—' }),
    account.created_at ? [h('dt', { text: 'Created' }), h('dd', { text: fmtTime(account.created_at) })] : null);

  const consoleArea = h('textarea', {
    id: 'allow-console', name: 'console', rows: '5', spellcheck: 'false', autocomplete: 'off',
    value: (allow.console || []).join('\n'), placeholder: '203.0.113.0/24',
  });
  const operatorArea = h('textarea', {
    id: 'allow-operator', name: 'operator', rows: '5', spellcheck: 'false', autocomplete: 'off',
    value: (allow.operator || []).join('\n'), placeholder: '198.51.100.7/32',
  });
  const formError = h('p', { id: 'allowlist-error', class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'allowlist-save', type: 'submit', class: 'btn btn-primary', text: 'Save allowlists' });
  const parse = (text) => text.split(/[\n,]+/).map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
  const form = h('form', { id: 'allowlist-form', class: 'stack' },
    h('p', {},
      'Your address as the server sees it: ',
      h('code', { id: 'your-ip', text: allow.your_ip || 'unknown' })),
    h('div', { class: 'form-grid form-grid-2' },
      field('Admin console (all roles except operator)', consoleArea, 'One CIDR per line. Empty: every address is allowed.'),
      field('Operator console (live chat)', operatorArea, 'One CIDR per line. Empty: every address is allowed.')),
    h('div', { class: 'form-footer' }, formError, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(formError, null);
    busy(submit, async () => {
      try {
        await api.putAllowlist({ console: parse(consoleArea.value), operator: parse(operatorArea.value) });
        const fresh = await api.getAllowlist();
        consoleArea.value = (fresh.console || []).join('\n');
        operatorArea.value = (fresh.operator || []).join('\n');
        toast('Allowlists saved.');
      } catch (err) {
        setError(formError, err);
      }
    });
  });

  return h('div', { class: 'page' },
    pageHeader('Account'),
    card('Organisation', info),
    card('IP allowlists', form),
    card('Network',
      h('p', { class: 'hint', text: 'The hosts, ports and protocols that screens and browsers need, from the server’s configuration, on a page to print for the network team.' }),
      h('p', {}, h('a', { id: 'firewall-link', class: 'btn', href: '/firewall', text: 'What the network must allow' }))));
}

// ---------------------------------------------------------------- profile

function passwordCard({ forced }) {
  const current = h('input', { id: 'pw-current', type: 'password', required: true, autocomplete: 'current-password', maxlength: '256' });
  const next = h('input', { id: 'pw-new', type: 'password', required: true, minlength: '10', autocomplete: 'new-password', maxlength: '256' });
  const confirm = h('input', { id: 'pw-confirm', type: 'password', required: true, minlength: '10', autocomplete: 'new-password', maxlength: '256' });
  const formError = h('p', { id: 'pw-error', class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'pw-submit', type: 'submit', class: 'btn btn-primary', text: 'Change password' });
  const form = h('form', { id: 'password-form', class: 'stack narrow' },
    field(forced ? 'Temporary or current password' : 'Current password', current),
    field('New password', next, 'At least 10 characters. A passphrase of several words is easiest to remember.'),
    field('Confirm new password', confirm),
    formError, h('div', {}, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(formError, null);
    if (!current.value) { setError(formError, 'Enter your current password.'); current.focus(); return; }
    if (next.value.length < 10) { setError(formError, 'The new password must have at least 10 characters.'); next.focus(); return; }
    if (next.value !== confirm.value) { setError(formError, 'The two new passwords differ.'); confirm.focus(); return; }
    busy(submit, async () => {
      try {
        await api.changePassword(current.value, next.value);
        form.reset();
        const res = await api.getSession();
        setUser(res.user, res.csrf_token);
        toast('Password changed. Your other sessions were signed out.');
        if (forced) location.hash = `#/${defaultRoute()}`;
        render();
      } catch (err) {
        if (err.status === 401) { signedOut('Password changed. Please sign in again.'); return; }
        setError(formError, err);
        if (err.code === 'wrong_password') current.focus();
        else next.focus();
      }
    });
  });
  return h('section', { class: 'card', 'aria-labelledby': 'card-password' },
    h('h2', { id: 'card-password', text: forced ? 'Choose a new password' : 'Change password' }),
    forced ? h('p', { class: 'notice notice-warn', id: 'must-change-notice', text: 'An administrator reset your password. Choose a new one to continue.' }) : null,
    form);
}

function totpCard() {
  const body = h('div', { class: 'stack' });
  const section = card('Two-factor authentication', body);

  const codeInput = (id) => h('input', {
    id, type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6',
    required: true, class: 'input-code', placeholder: '123456',
  });
  const validCode = (v) => /^[0-9]{6}$/.test(v.replace(/\s+/g, ''));

  function showOff() {
    const start = h('button', { id: 'totp-enable', type: 'button', class: 'btn btn-primary', text: 'Turn on two-factor login' });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    start.addEventListener('click', () => busy(start, async () => {
      setError(err, null);
      try {
        const res = await api.totpBegin();
        showEnrol(res);
      } catch (e) {
        setError(err, e);
      }
    }));
    body.replaceChildren(
      h('p', {}, 'Status: ', badge('Off', 'muted')),
      h('p', { class: 'hint', text: 'Protect your account with a 6-digit code from an authenticator app (FreeOTP, Aegis, Google Authenticator, 1Password…) in addition to your password.' }),
      err, h('div', {}, start));
  }

  function showEnrol({ secret, otpauth_uri: uri }) {
    const code = codeInput('totp-confirm-code');
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { id: 'totp-confirm', type: 'submit', class: 'btn btn-primary', text: 'Confirm' });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel', onclick: showOff });
    const form = h('form', { id: 'totp-confirm-form', class: 'stack narrow' },
      field('Code from the app', code), err, h('div', { class: 'inline' }, submit, cancel));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      if (!validCode(code.value)) { setError(err, 'Enter the 6-digit code shown by the app.'); code.focus(); return; }
      busy(submit, async () => {
        try {
          await api.totpConfirm(code.value.replace(/\s+/g, ''));
          state.user.totp_enabled = true;
          toast('Two-factor login is on.');
          showOn();
        } catch (e) {
          setError(err, e);
          code.select();
        }
      });
    });
    body.replaceChildren(
      h('ol', { class: 'steps' },
        h('li', {}, 'In your authenticator app, add an account with this secret key (or open the link on your phone):',
          h('dl', { class: 'kv kv-wide' },
            h('dt', { text: 'Secret key' }), h('dd', {}, h('code', { id: 'totp-secret', class: 'secret-text', text: secret })),
            h('dt', { text: 'otpauth URI' }), h('dd', {}, h('code', { id: 'totp-uri', class: 'secret-text', text: uri })))),
        h('li', { text: 'Enter the 6-digit code the app shows to finish.' })),
      form);
    code.focus();
  }

  function showOn() {
    const code = codeInput('totp-disable-code');
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { id: 'totp-disable', type: 'submit', class: 'btn btn-danger', text: 'Turn off' });
    const form = h('form', { id: 'totp-disable-form', class: 'stack narrow' },
      field('Current code (to turn it off)', code), err, h('div', {}, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      if (!validCode(code.value)) { setError(err, 'Enter the current 6-digit code.'); code.focus(); return; }
      busy(submit, async () => {
        try {
          await api.totpDisable(code.value.replace(/\s+/g, ''));
          state.user.totp_enabled = false;
          toast('Two-factor login is off.');
          showOff();
        } catch (e) {
          setError(err, e);
          code.select();
        }
      });
    });
    body.replaceChildren(h('p', {}, 'Status: ', badge('On', 'ok')), form);
  }

  if (state.user.totp_enabled) showOn(); else showOff();
  return section;
}

async function renderProfile() {
  const { user } = await api.getMe();
  state.user = { ...state.user, ...user };
  updateHeader();
  const forced = !!user.must_change_password;
  if (forced) {
    return h('div', { class: 'page' }, pageHeader('Profile'), passwordCard({ forced: true }));
  }
  const everywhere = h('button', { id: 'logout-everywhere', type: 'button', class: 'btn btn-danger', text: 'Log out everywhere' });
  everywhere.addEventListener('click', () => busy(everywhere, async () => {
    if (!window.confirm('Sign out of every browser and device, including this one?')) return;
    try {
      const res = await api.logoutEverywhere();
      const n = res && typeof res.sessions_ended === 'number' ? res.sessions_ended : null;
      signedOut(n === null ? 'Signed out everywhere.' : `Signed out everywhere (${n} session${n === 1 ? '' : 's'} ended).`);
    } catch (err) {
      if (err.status === 401) signedOut('Signed out.');
      else toast(errorText(err), 'error');
    }
  }));
  return h('div', { class: 'page' },
    pageHeader('Profile'),
    card('You',
      h('dl', { class: 'kv' },
        h('dt', { text: 'Login' }), h('dd', { id: 'profile-login', text: user.login }),
        h('dt', { text: 'Name' }), h('dd', { text: user.name || '—' }),
        h('dt', { text: 'Role' }), h('dd', {}, h('span', { id: 'profile-role', text: user.role }), h('div', { class: 'hint', text: ROLE_HELP[user.role] || '' })),
        h('dt', { text: 'Member since' }), h('dd', { text: fmtTime(user.created_at) }))),
    h('div', { class: 'grid-2' }, passwordCard({ forced: false }), totpCard()),
    card('Sessions',
      h('p', { class: 'hint', text: 'Signs out every browser and API session of your user, including this one. API tokens stay valid; revoke them on the API tokens page.' }),
      h('div', {}, everywhere)));
}

// ---------------------------------------------------------------- tokens

async function renderTokens() {
  const { tokens } = await api.listTokens();
  const secretSlot = h('div', { class: 'secret-slot', id: 'token-secret-slot' });
  const tbody = h('tbody');
  const COLS = ['Name', 'Created', 'Last used', 'Actions'];
  const table = h('table', { id: 'tokens-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Your API tokens' }),
    headRow(COLS, true),
    tbody);

  function fill(list) {
    tbody.replaceChildren();
    if (!list.length) tbody.append(emptyRow(4, 'No API tokens yet.'));
    for (const t of list) {
      const revoke = h('button', {
        type: 'button', class: 'btn btn-small btn-danger', text: 'Revoke', 'aria-label': `Revoke token ${t.name}`,
      });
      revoke.addEventListener('click', () => busy(revoke, async () => {
        if (!window.confirm(`Revoke the token "${t.name}"? Programs using it stop working at once.`)) return;
        try {
          await api.deleteToken(t.id);
          toast(`Token "${t.name}" revoked.`);
          await reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      tbody.append(labelledRow(COLS, { dataset: { id: t.id, name: t.name } },
        h('td', { class: 'cell-strong', text: t.name }),
        h('td', { class: 'nowrap', text: fmtTime(t.created_at) }),
        h('td', { class: 'nowrap', text: t.last_used ? fmtTime(t.last_used) : 'Never' }),
        h('td', { class: 'col-actions' }, revoke)));
    }
  }
  async function reload() {
    const res = await api.listTokens();
    fill(res.tokens || []);
  }
  fill(tokens || []);

  const nameInput = h('input', { id: 'token-name', type: 'text', required: true, maxlength: '128', autocomplete: 'off', placeholder: 'e.g. deploy script' });
  const submit = h('button', { id: 'token-create-submit', type: 'submit', class: 'btn btn-primary', text: 'Create token' });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { id: 'token-create-form', class: 'form-inline' },
    field('Token name', nameInput), h('div', { class: 'field field-button' }, submit), formError);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(formError, null);
    const name = nameInput.value.trim();
    if (!name) { setError(formError, 'Give the token a name.'); nameInput.focus(); return; }
    busy(submit, async () => {
      try {
        const res = await api.createToken(name);
        form.reset();
        secretSlot.replaceChildren(secretPanel({
          id: 'new-token',
          title: `Token "${res.name || name}"`,
          value: res.token,
          note: 'Copy it now: it is shown only once. Send it as "Authorization: Bearer <token>".',
        }));
        $('#new-token-value').focus();
        $('#new-token-value').select();
        await reload();
      } catch (err) {
        setError(formError, err);
      }
    });
  });

  return h('div', { class: 'page' },
    pageHeader('API tokens'),
    card('Create a token',
      h('p', { class: 'hint', text: 'API tokens let scripts and the vitrine command-line tool act as you, with your role.' }),
      form),
    secretSlot,
    card('Your tokens', tableWrap(table, 'API tokens')));
}

// ---------------------------------------------------------------- screens

const ONLINE_GRACE_S = 75; // the server's SCREENS_ONLINE_GRACE_S
const TICK_MS = 5000; // relative times and online badges are recomputed this often
const RESYNC_MS = 30000; // the stream reports changes, not heartbeats: reload last_seen this often
const PAIR_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const INSTRUCTION_LABELS = {
  identify: 'Identify',
  screenshot: 'Screenshot',
  reboot: 'Reboot',
  restart_player: 'Restart player',
  set_volume: 'Set volume',
  set_brightness: 'Set brightness',
  change_channel: 'Change channel',
  manifest_changed: 'Content update',
};
const canControl = () => state.user && (state.user.role === 'admin' || state.user.role === 'support');

function isOnline(s) {
  return !s.deleted && s.last_seen > 0 && api.serverNow() - s.last_seen <= ONLINE_GRACE_S;
}

/** "12 s ago", "3 min ago", "never". */
function ago(t) {
  if (!t) return 'never';
  const d = Math.max(0, Math.round(api.serverNow() - t));
  if (d < 2) return 'just now';
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

/** "2 d 3 h", "3 h 12 min", "4 min", "35 s". */
function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function timeEl(t, text) {
  return h('time', { datetime: isoTime(t), title: t ? fmtTime(t) : null, text });
}

function statusBadge(screen, id) {
  const on = isOnline(screen);
  return h('span', {
    id, class: `badge status-badge ${on ? 'badge-ok online' : 'badge-muted offline'}`, text: on ? 'Online' : 'Offline',
  });
}

function nowPlaying(screen) {
  const np = screen.now_playing;
  if (np === null || np === undefined || np === '') return '—';
  if (typeof np === 'string') return np;
  if (typeof np === 'object' && (np.name || np.title)) return String(np.name || np.title);
  return JSON.stringify(np);
}

function tagList(tags) {
  if (!Array.isArray(tags) || !tags.length) return '—';
  return h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag', text: t })));
}

function normalizeCode(value) {
  return String(value || '').toUpperCase().replace(/[\s-]+/g, '');
}

function validCode(code) {
  return code.length === 8 && [...code].every((c) => PAIR_ALPHABET.includes(c));
}

function showCode(code) {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** First 16 hex digits of the SHA-256 of the decoded public key, in groups of 4. */
async function keyFingerprint(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  // crypto.subtle exists only in secure contexts (HTTPS, localhost): fall back to pow.js
  const digest = globalThis.crypto && crypto.subtle
    ? new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
    : sha256(bytes);
  const hex = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
  return hex.replace(/(.{4})(?=.)/g, '$1 ');
}

/** A screenshot <img>, or a placeholder when there is none (or it cannot be loaded). */
function screenshotBox(screen, { id, cls }) {
  const box = h('div', { class: `shot ${cls}` });
  let shownAt = -1;
  function update(s) {
    const at = s.screenshot_at || 0;
    if (at === shownAt) return;
    shownAt = at;
    if (!at) {
      box.replaceChildren(h('span', { class: 'shot-empty', text: 'No screenshot' }));
      return;
    }
    const img = h('img', {
      id, src: api.screenshotUrl(s.id, at), alt: `Screenshot of ${s.name}`, decoding: 'async',
      width: cls === 'shot-thumb' ? '96' : null, height: cls === 'shot-thumb' ? '54' : null,
    });
    img.addEventListener('error', () => {
      if (img.isConnected) img.replaceWith(h('span', { class: 'shot-empty', text: 'Screenshot unavailable' }));
    });
    box.replaceChildren(img);
  }
  update(screen);
  return { el: box, update };
}

/** Runs fn every TICK_MS while the page is shown; reloads the data every RESYNC_MS. */
function pageTimers(stale, tick, resync) {
  if (stale()) return;
  let last = Date.now();
  const timer = setInterval(() => {
    tick();
    if (Date.now() - last >= RESYNC_MS && document.visibilityState !== 'hidden') {
      last = Date.now();
      resync();
    }
  }, TICK_MS);
  state.cleanup.push(() => clearInterval(timer));
  return () => { last = Date.now(); };
}

async function renderScreensRoute(stale, route) {
  return route.param ? renderScreenDetail(stale, route.param) : renderScreens(stale);
}

// ---------------------------------------------------------------- screens list

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

// ---------------------------------------------------------------- pairing

async function renderPair(stale, route) {
  const codeInput = h('input', {
    id: 'pair-code', name: 'code', type: 'text', class: 'input-code input-pair', required: true, maxlength: '12',
    autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', placeholder: 'ABCD-EFGH',
  });
  const nameInput = h('input', {
    id: 'pair-name', name: 'name', type: 'text', required: true, maxlength: '128', autocomplete: 'off',
    placeholder: 'e.g. Lobby, Cafeteria left',
  });
  const codeHint = h('p', { class: 'hint', id: 'pair-code-hint', text: 'The 8 characters shown on the screen; the dash is optional.' });
  codeInput.setAttribute('aria-describedby', codeHint.id);
  const preview = h('div', { id: 'pair-preview', class: 'pair-preview', role: 'region', 'aria-label': 'The screen waiting with this code', hidden: true });
  const formError = h('p', { id: 'pair-error', class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { id: 'pair-submit', type: 'submit', class: 'btn btn-primary', text: 'Add screen', disabled: true });
  const nameField = field('Name of the screen', nameInput, 'How the screen appears in the console. You can change it later.');

  let previewed = null; // { code, pairing } once the server showed what waits behind the code
  let lookup = 0;
  let expiryEl = null;

  function capital(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  function updateSubmit() {
    const expired = previewed && previewed.pairing.expires_at <= api.serverNow();
    submit.disabled = !previewed || expired;
  }

  function showExpiry() {
    if (!expiryEl || !previewed) return;
    const left = Math.round(previewed.pairing.expires_at - api.serverNow());
    expiryEl.textContent = left <= 0 ? 'expired: the screen shows a new code'
      : `in ${left < 60 ? `${left} s` : `${Math.ceil(left / 60)} min`} (${fmtTime(previewed.pairing.expires_at)})`;
    expiryEl.className = left <= 60 ? 'text-warn' : '';
    updateSubmit();
  }

  function showPreview(code, pairing) {
    const info = pairing.info || {};
    const row = (label, value, opts = {}) => [h('dt', { text: label }), h('dd', { id: opts.id, class: opts.cls, text: value || '—' })];
    expiryEl = h('span', { id: 'pair-expiry' });
    preview.replaceChildren(
      h('div', { class: 'pair-preview-head' },
        h('span', { class: 'pair-preview-icon', 'aria-hidden': 'true' }),
        h('div', {},
          h('strong', { text: `A screen is waiting with code ${showCode(code)}` }),
          h('p', { class: 'hint', text: 'Check that this is the screen in front of you before you add it.' }))),
      h('dl', { class: 'kv kv-compact' },
        row('Hostname', info.hostname, { id: 'pair-hostname' }),
        row('Operating system', info.os, { id: 'pair-os' }),
        row('Player version', info.version, { id: 'pair-version' }),
        info.model ? row('Model', info.model) : null,
        row('Hardware id', pairing.hardware_id, { cls: 'mono' }),
        row('Asked from', pairing.ip, { id: 'pair-ip', cls: 'mono' }),
        h('dt', { text: 'Code expires' }), h('dd', {}, expiryEl)));
    preview.hidden = false;
    if (info.hostname) nameInput.placeholder = `e.g. ${info.hostname}`;
    showExpiry();
  }

  function clearPreview() {
    previewed = null;
    expiryEl = null;
    preview.hidden = true;
    preview.replaceChildren();
    updateSubmit();
  }

  async function look(code) {
    const mine = ++lookup;
    clearPreview();
    setError(formError, null);
    preview.hidden = false;
    preview.replaceChildren(h('p', { class: 'loading', text: `Looking for a screen with code ${showCode(code)}…` }));
    try {
      const { pairing } = await api.previewPairing(code);
      if (mine !== lookup || stale()) return;
      previewed = { code, pairing };
      showPreview(code, pairing);
      const active = document.activeElement;
      if (active === codeInput || active === document.body || (active && active.id === 'page-title')) nameInput.focus();
    } catch (err) {
      if (mine !== lookup || stale()) return;
      clearPreview();
      setError(formError, capital(errorText(err)) + (err.code === 'too_many_attempts' ? '.' : ''));
    }
  }

  function onCode() {
    // upper-case as the user types, keeping the caret where it is
    const start = codeInput.selectionStart;
    const end = codeInput.selectionEnd;
    const upper = codeInput.value.toUpperCase();
    if (upper !== codeInput.value) {
      codeInput.value = upper;
      if (start !== null) codeInput.setSelectionRange(start, end);
    }
    const code = normalizeCode(codeInput.value);
    // 8 valid characters typed without the dash: show them as the screen does
    if (validCode(code) && codeInput.value === code && document.activeElement === codeInput) {
      codeInput.value = showCode(code);
      codeInput.setSelectionRange(9, 9);
    }
    const bad = [...code].filter((c) => !PAIR_ALPHABET.includes(c));
    codeHint.className = bad.length ? 'hint text-warn' : 'hint';
    codeHint.textContent = bad.length
      ? `Codes never contain ${[...new Set(bad)].join(', ')}: they use 2–9 and A–Z without I and O.`
      : 'The 8 characters shown on the screen; the dash is optional.';
    if (validCode(code)) {
      // each code is looked up once (a wrong one counts towards the limit of guesses)
      if (codeInput.dataset.looked !== code) {
        codeInput.dataset.looked = code;
        look(code);
      }
    } else {
      lookup++;
      delete codeInput.dataset.looked;
      clearPreview();
      setError(formError, null);
    }
  }
  codeInput.addEventListener('input', onCode);

  const codeField = field('Code shown on the screen', codeInput);
  codeField.append(codeHint);
  const form = h('form', { id: 'pair-form', class: 'stack pair-form' },
    codeField,
    preview,
    nameField,
    h('div', { class: 'form-footer' }, formError, submit));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setError(formError, null);
    const code = normalizeCode(codeInput.value);
    const name = nameInput.value.trim();
    if (!validCode(code)) { setError(formError, 'Type the 8-character code shown on the screen.'); codeInput.focus(); return; }
    if (!previewed || previewed.code !== code) { setError(formError, 'Wait for the screen to be found before adding it.'); return; }
    if (!name) { setError(formError, 'Give the screen a name.'); nameInput.focus(); return; }
    busy(submit, async () => {
      try {
        const { screen } = await api.confirmPairing(code, name);
        toast(`“${screen.name}” paired. It comes online within a few seconds.`);
        location.hash = `#/screens/${encodeURIComponent(screen.id)}`;
      } catch (err) {
        setError(formError, capital(errorText(err)));
        if (err.code === 'unknown_code' || err.code === 'already_paired') clearPreview();
      }
    });
  });

  pageTimers(stale, showExpiry, () => {});

  const initial = route.query.get('code');
  if (initial) {
    codeInput.value = initial;
    onCode();
  }

  return h('div', { class: 'page' },
    h('div', {}, h('a', { class: 'back-link', href: '#/screens', text: '← Screens' })),
    pageHeader('Pair a screen'),
    h('div', { class: 'pair-layout' },
      card('Code and name', form),
      h('section', { class: 'card card-muted', 'aria-labelledby': 'card-how' },
        h('h2', { id: 'card-how', text: 'How pairing works' }),
        h('ol', { class: 'steps' },
          h('li', { text: 'Start vitrine-player on the screen. While it is not paired it shows an 8-character code and a QR code.' }),
          h('li', { text: 'Type the code here, or scan the QR code with your phone to open this page with the code filled in.' }),
          h('li', { text: 'Check what the screen reported about itself, give it a name, and add it.' }),
          h('li', { text: 'The screen receives its own access token within a few seconds and appears online.' })),
        h('p', { class: 'hint', text: 'Codes expire after 10 minutes. After 10 wrong codes, pairing is blocked for 10 minutes.' }))));
}

// ---------------------------------------------------------------- screen detail

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

async function renderScreenDetail(stale, id) {
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
  const fingerprint = h('span', { id: 'screen-fingerprint', class: 'mono', text: '…' });
  keyFingerprint(screen.public_key).then((fp) => { fingerprint.textContent = fp; })
    .catch(() => { fingerprint.textContent = 'not a valid key'; });

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

  // ---- painting the screen
  let deleting = false;
  let shownFields = null; // the name, group and tags last written into the settings form
  const settings = isAdmin() ? settingsForm() : null;

  function paint(s) {
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
      ...kv('Key fingerprint', fingerprint),
      ...kv('Public key', h('code', { id: 'screen-public-key', class: 'secret-text', text: s.public_key || '' })));
    content.sync(s);
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
      levelControl('set_brightness', 'Brightness', lastLevel('set_brightness')))) : null;

  if (shotButton) shotButton.addEventListener('click', () => send('screenshot', {}, shotButton));

  // ---- settings (admins)
  function settingsForm() {
    const nameInput = h('input', { id: 'screen-name', type: 'text', required: true, maxlength: '128', autocomplete: 'off' });
    const groupInput = h('input', { id: 'screen-group', type: 'text', maxlength: '128', autocomplete: 'off', placeholder: 'e.g. Ground floor' });
    const tagsInput = h('input', { id: 'screen-tags', type: 'text', autocomplete: 'off', placeholder: 'e.g. lobby, portrait' });
    const err = h('p', { id: 'screen-settings-error', class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'screen-save', type: 'submit', class: 'btn btn-primary', text: 'Save' });
    const form = h('form', { id: 'screen-settings', class: 'form-grid' },
      field('Name', nameInput),
      field('Group', groupInput),
      field('Tags', tagsInput, 'Separated by commas.'),
      h('div', { class: 'form-footer' }, err, save));
    const parseTags = (text) => [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const body = { name: nameInput.value.trim(), group: groupInput.value.trim(), tags: parseTags(tagsInput.value) };
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
      const next = { name: s.name, group: s.group || '', tags: (s.tags || []).join(', ') };
      const inputs = { name: nameInput, group: groupInput, tags: tagsInput };
      for (const [k, input] of Object.entries(inputs)) {
        if (!shownFields || input.value === shownFields[k]) input.value = next[k];
      }
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
    h('div', { class: 'grid-2' },
      card('Device', deviceList),
      settings ? settings.card : null),
    settings ? settings.danger : null);
}

// ---------------------------------------------------------------- content helpers

const KIND_LABELS = { image: 'Image', video: 'Video', html: 'HTML page', web: 'Web page', text: 'Text' };
const KIND_BADGES = { image: 'info', video: 'ok', html: 'warn', web: 'muted', text: 'muted' };
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];
const ZONE_COLOURS = ['#2f5bea', '#e0642b', '#16a36b', '#9b4dd6', '#d1366b', '#0f97b5', '#b58a00', '#56627a'];
const ACCEPTED_FILES = 'image/png,image/jpeg,image/webp,image/gif,video/mp4,video/webm,text/html,' +
  '.png,.jpg,.jpeg,.webp,.gif,.mp4,.webm,.html,.htm';
const SUBTLE_MAX_BYTES = 512 * 1024 * 1024; // larger files are hashed in chunks (not read whole)
const HASH_CHUNK = 4 * 1024 * 1024;

/** "512 B", "1.4 MiB", "10 GiB". */
function fmtBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${x >= 100 ? Math.round(x) : x.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** Milliseconds as "12 s", "3 min 05 s", "2 h 04 min". */
function fmtMs(ms) {
  const s = Math.round((Number(ms) || 0) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad2(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad2(Math.floor((s % 3600) / 60))} min`;
}

/** Seconds of a playlist as "45 s", "2 min 30 s". */
function fmtSeconds(total) {
  return fmtMs(total * 1000).replace(/ 00 s$/, '');
}

/** ISO weekdays from a list ([1,2]) or a string of digits ("12"). */
function daysList(days) {
  const raw = Array.isArray(days) ? days : typeof days === 'string' ? [...days] : [];
  return [...new Set(raw.map(Number).filter((d) => Number.isInteger(d) && d >= 1 && d <= 7))].sort((a, b) => a - b);
}

/** "Every day", "Mon–Fri", "Mon, Wed, Sat–Sun". */
function daysText(days) {
  const list = daysList(days);
  if (list.length === 7) return 'Every day';
  if (!list.length) return 'No day';
  const parts = [];
  for (let i = 0; i < list.length;) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    if (j - i >= 2) parts.push(`${WEEKDAYS[list[i] - 1]}–${WEEKDAYS[list[j] - 1]}`);
    else for (let k = i; k <= j; k++) parts.push(WEEKDAYS[list[k] - 1]);
    i = j + 1;
  }
  return parts.join(', ');
}

function capital(text) {
  const t = String(text || '');
  return t ? t.charAt(0).toUpperCase() + t.slice(1) : t;
}

function parseTagList(text) {
  return [...new Set(String(text).split(',').map((t) => t.trim()).filter(Boolean))];
}

function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** An integer when the text is one, else the text itself (the server then names the field at fault). */
function intOrRaw(value) {
  if (typeof value === 'number') return value;
  const t = String(value === undefined || value === null ? '' : value).trim();
  const n = Number(t);
  return t !== '' && Number.isInteger(n) ? n : t;
}

/** A local date as YYYY-MM-DD (the value of an <input type="date">). */
function dateValue(d) {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** Lower-case hex SHA-256 of a File: crypto.subtle where it exists (secure
 * contexts), else pow.js in chunks (plain-HTTP origins). */
async function fileSha256(file, onProgress) {
  let digest;
  if (globalThis.crypto && crypto.subtle && file.size <= SUBTLE_MAX_BYTES) {
    digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
  } else {
    const hasher = new Sha256();
    for (let off = 0; off < file.size; off += HASH_CHUNK) {
      hasher.update(new Uint8Array(await file.slice(off, off + HASH_CHUNK).arrayBuffer()));
      if (onProgress) onProgress(Math.min(off + HASH_CHUNK, file.size), file.size);
      await new Promise((resolve) => { setTimeout(resolve, 0); }); // keep the page responsive
    }
    digest = hasher.digest();
  }
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A thumbnail for a medium (the server's thumbnail of an image, else the
 * image itself, else a label of its kind). */
function mediaThumb(m, cls = 'shot-thumb') {
  const kind = m ? m.kind : 'missing';
  const box = h('div', { class: `shot ${cls} thumb-${kind}` });
  const label = () => h('span', { class: 'shot-empty', text: m ? (KIND_LABELS[m.kind] || m.kind) : 'Missing' });
  if (m && m.kind === 'image') {
    const src = m.thumbnail ? api.mediaThumbnailUrl(m.sha256) : api.mediaContentUrl(m.sha256);
    const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => { if (img.isConnected) img.replaceWith(label()); });
    box.append(img);
  } else {
    box.append(label());
  }
  return box;
}

function kindBadge(kind) {
  return badge(KIND_LABELS[kind] || kind || '?', KIND_BADGES[kind] || 'muted');
}

// ---------------------------------------------------------------- media library

function uploadErrorText(err) {
  const d = err.detail || {};
  if (err.code === 'quota_exceeded') {
    const size = Number(d.size) || 0;
    return `Over the storage quota: this file needs ${fmtBytes(size)} and ${fmtBytes(d.used)} of ` +
      `${fmtBytes(d.quota)} are already used. Delete unused media first.`;
  }
  if (err.code === 'unsupported_type') return `Not accepted: ${err.message}.`;
  if (err.code === 'body_too_large') return 'Too large: a file can have at most 4 GiB.';
  if (err.code === 'hash_mismatch') return 'The file changed while it was being sent. Try again.';
  if (err.status === 507) return 'The server has no space left for this file.';
  return capital(errorText(err));
}

async function renderMedia(stale) {
  const filters = { q: '', tag: '', kind: '' };
  const knownTags = new Set();
  let library = await api.listMedia();
  if (stale()) return h('div');

  // ---- storage
  const quotaFill = h('div', { class: 'quota-fill' });
  const quotaBar = h('div', {
    id: 'media-quota', class: 'quota-bar', role: 'progressbar', 'aria-label': 'Storage used', 'aria-valuemin': '0',
  }, quotaFill);
  const quotaText = h('p', { id: 'media-quota-text', class: 'quota-text' });
  function paintQuota() {
    const used = Number(library.used_bytes) || 0;
    const quota = Number(library.quota_bytes) || 0;
    const pct = quota > 0 ? Math.min(100, (used / quota) * 100) : 0;
    quotaFill.style.width = `${pct}%`;
    quotaBar.className = `quota-bar${pct >= 90 ? ' quota-high' : ''}`;
    quotaBar.setAttribute('aria-valuemax', String(quota));
    quotaBar.setAttribute('aria-valuenow', String(used));
    quotaBar.setAttribute('aria-valuetext', `${fmtBytes(used)} of ${fmtBytes(quota)}`);
    quotaBar.dataset.used = String(used);
    quotaBar.dataset.quota = String(quota);
    const shown = used > 0 && pct < 1 ? '< 1' : String(Math.round(pct));
    quotaText.replaceChildren(h('strong', { text: fmtBytes(used) }),
      quota > 0 ? ` of ${fmtBytes(quota)} used (${shown} %)` : ' used');
  }

  // ---- the library table
  const COLS = ['Preview', 'File', 'Kind', 'Size', 'Tags', 'Added', 'Actions'];
  const tbody = h('tbody');
  const table = h('table', { id: 'media-table', class: 'table table-stack media-table' },
    h('caption', { class: 'visually-hidden', text: 'Media of this account, newest first' }),
    headRow(COLS, true),
    tbody);
  const summary = h('p', { id: 'media-summary', class: 'summary', 'aria-live': 'polite' });
  const search = h('input', {
    id: 'media-search', type: 'search', placeholder: 'Search by file name', autocomplete: 'off', spellcheck: 'false',
    'aria-label': 'Search media by file name',
  });
  const kindSelect = h('select', { id: 'media-kind', class: 'select-compact', 'aria-label': 'Kind' },
    h('option', { value: '', text: 'All kinds' }),
    ['image', 'video', 'html'].map((k) => h('option', { value: k, text: `${KIND_LABELS[k]}s` })));
  const tagSelect = h('select', { id: 'media-tag', class: 'select-compact', 'aria-label': 'Tag' });

  function paintTags() {
    const current = tagSelect.value || filters.tag;
    tagSelect.replaceChildren(h('option', { value: '', text: 'All tags' }),
      ...[...knownTags].sort((a, b) => a.localeCompare(b)).map((t) => h('option', { value: t, text: t })));
    tagSelect.value = knownTags.has(current) ? current : '';
    tagSelect.disabled = knownTags.size === 0;
  }

  function mediaRow(m) {
    const key = m.sha256.slice(0, 12);
    const edit = h('button', {
      type: 'button', class: 'btn btn-small media-edit-button', id: `media-edit-${key}`, text: 'Edit',
      'aria-expanded': 'false', 'aria-label': `Edit ${m.filename}`,
    });
    const del = h('button', {
      type: 'button', class: 'btn btn-small btn-danger', id: `media-delete-${key}`, text: 'Delete',
      'aria-label': `Delete ${m.filename}`,
    });
    const tr = labelledRow(COLS, { dataset: { sha256: m.sha256, filename: m.filename, kind: m.kind } },
      h('td', { class: 'cell-preview' },
        h('a', { class: 'thumb-link', href: api.mediaContentUrl(m.sha256), target: '_blank', rel: 'noopener', 'aria-label': `Open ${m.filename}` },
          mediaThumb(m))),
      h('td', { class: 'cell-file' },
        h('div', { class: 'file-cell' },
          h('span', { class: 'media-name', text: m.filename }),
          h('span', { class: 'screen-sub mono', title: m.sha256, text: `${key}…` }))),
      h('td', {}, kindBadge(m.kind)),
      h('td', { class: 'nowrap', title: `${Number(m.size).toLocaleString()} bytes`, text: fmtBytes(m.size) }),
      h('td', {}, tagList(m.tags)),
      h('td', { class: 'nowrap cell-added' }, h('div', { class: 'stamp' }, timeEl(m.created_at, fmtTime(m.created_at).slice(0, 16)),
        m.created_by ? h('span', { class: 'screen-sub', text: `by ${m.created_by}` }) : null)),
      h('td', { class: 'col-actions' }, h('div', { class: 'row-actions' }, edit, del)));
    edit.addEventListener('click', () => openEditor(m, tr, edit));
    del.addEventListener('click', () => busy(del, async () => {
      if (!window.confirm(`Delete “${m.filename}” from the library? Screens that already downloaded it keep their copy until their content changes.`)) return;
      try {
        await api.deleteMedia(m.sha256);
        toast(`“${m.filename}” deleted.`);
        await reload();
      } catch (err) {
        toast(err.code === 'media_in_use' ? `Not deleted: ${err.message}.` : errorText(err), 'error');
      }
    }));
    return tr;
  }

  function openEditor(m, tr, editBtn) {
    const open = tbody.querySelector('tr.edit-row');
    if (open && open.dataset.sha256 === m.sha256) {
      $('input', open).focus();
      return;
    }
    if (open) open.remove();
    for (const b of tbody.querySelectorAll('.media-edit-button')) b.setAttribute('aria-expanded', 'false');
    const key = m.sha256.slice(0, 12);
    const nameInput = h('input', {
      id: `media-name-${key}`, type: 'text', value: m.filename, required: true, maxlength: '200', autocomplete: 'off',
    });
    const tagsInput = h('input', {
      id: `media-tags-${key}`, type: 'text', value: (m.tags || []).join(', '), autocomplete: 'off',
      placeholder: 'e.g. lobby, summer',
    });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', id: `media-save-${key}`, class: 'btn btn-primary', text: 'Save' });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel' });
    const form = h('form', { class: 'form-inline media-edit', 'aria-label': `Edit ${m.filename}` },
      field('File name', nameInput),
      field('Tags', tagsInput, 'Separated by commas.'),
      h('div', { class: 'field field-button inline' }, save, cancel),
      err);
    const editRow = h('tr', { class: 'edit-row', dataset: { sha256: m.sha256 } },
      h('td', { colspan: String(COLS.length) }, form));
    tr.after(editRow);
    editBtn.setAttribute('aria-expanded', 'true');
    const close = () => {
      editRow.remove();
      editBtn.setAttribute('aria-expanded', 'false');
      editBtn.focus();
    };
    cancel.addEventListener('click', close);
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        close();
      }
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const filename = nameInput.value.trim();
      const tags = parseTagList(tagsInput.value);
      if (!filename) { setError(err, 'Give the file a name.'); nameInput.focus(); return; }
      if (tags.length > 32) { setError(err, 'A medium has at most 32 tags.'); tagsInput.focus(); return; }
      if (tags.some((t) => t.length > 64 || t.includes('"'))) {
        setError(err, 'A tag has at most 64 characters and no double quotes.');
        tagsInput.focus();
        return;
      }
      busy(save, async () => {
        try {
          await api.updateMedia(m.sha256, { filename, tags });
          toast(`“${filename}” saved.`);
          await reload();
          const again = tbody.querySelector(`tr[data-sha256="${m.sha256}"] .media-edit-button`);
          if (again) again.focus();
        } catch (e) {
          setError(err, e);
        }
      });
    });
    nameInput.focus();
    nameInput.select();
  }

  function fill() {
    const list = library.media || [];
    for (const m of list) for (const t of m.tags || []) knownTags.add(t);
    paintTags();
    tbody.replaceChildren();
    const filtered = !!(filters.q || filters.tag || filters.kind);
    if (!list.length) {
      tbody.append(h('tr', { class: 'empty', id: 'media-empty' }, h('td', { colspan: String(COLS.length) },
        h('p', { class: 'empty-title', text: filtered ? 'Nothing matches these filters' : 'No media yet' }),
        h('p', { class: 'hint', text: filtered ? 'Clear the search or choose another kind or tag.'
          : 'Upload images, videos or HTML pages above; then add them to the playlists of your channels.' }))));
    }
    for (const m of list) tbody.append(mediaRow(m));
    const total = list.reduce((sum, m) => sum + (Number(m.size) || 0), 0);
    summary.textContent = list.length
      ? `${list.length} file${list.length === 1 ? '' : 's'} · ${fmtBytes(total)}${filtered ? ' (filtered)' : ''}` : '';
  }

  let loadSeq = 0;
  async function reload() {
    const mine = ++loadSeq;
    try {
      const res = await api.listMedia(filters);
      if (mine !== loadSeq || stale()) return;
      library = res;
      fill();
      paintQuota();
    } catch (err) {
      if (!stale()) toast(errorText(err), 'error');
    }
  }

  const searchLater = debounce(() => { filters.q = search.value.trim(); reload(); }, 250);
  state.cleanup.push(() => searchLater.cancel());
  search.addEventListener('input', searchLater);
  kindSelect.addEventListener('change', () => { filters.kind = kindSelect.value; reload(); });
  tagSelect.addEventListener('change', () => { filters.tag = tagSelect.value; reload(); });

  // ---- uploads: one file at a time, each hashed, asked for, then sent
  const fileInput = h('input', {
    id: 'media-file', type: 'file', multiple: true, accept: ACCEPTED_FILES, class: 'visually-hidden',
    'aria-describedby': 'media-drop-hint',
  });
  const drop = h('div', { id: 'media-drop', class: 'dropzone' },
    fileInput,
    h('span', { class: 'dropzone-icon', 'aria-hidden': 'true' }),
    h('p', { class: 'dropzone-title' },
      h('label', { for: 'media-file', class: 'btn btn-primary', text: 'Choose files' }),
      h('span', { text: ' or drop them here' })),
    h('p', { class: 'hint', id: 'media-drop-hint', text: 'PNG, JPEG, WebP and GIF images, MP4 and WebM videos, HTML pages. A file the library already has is not sent again.' }));
  const uploads = h('ul', { id: 'upload-progress', class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
  const queue = [];
  let running = null;
  let current = null;

  function uploadItem(file) {
    const progress = h('progress', { max: '100', value: '0', dataset: { filename: file.name }, 'aria-label': `Upload of ${file.name}` });
    const status = h('span', { class: 'upload-status', text: 'Waiting…' });
    const cancel = h('button', {
      type: 'button', class: 'btn btn-ghost btn-small', text: 'Cancel', 'aria-label': `Cancel the upload of ${file.name}`,
    });
    const li = h('li', { class: 'upload', dataset: { filename: file.name, state: 'queued' } },
      h('div', { class: 'upload-head' },
        h('span', { class: 'upload-name', text: file.name }),
        h('span', { class: 'upload-size', text: fmtBytes(file.size) }),
        status,
        cancel),
      progress);
    let cancelled = false;
    let abort = null;
    const item = { li, run, cancel: () => cancelUpload() };
    function set(name, text) {
      li.dataset.state = name;
      status.textContent = text;
    }
    function finish(name, text) {
      set(name, text);
      cancel.hidden = true;
      li.classList.add(`upload-${name}`);
    }
    function cancelUpload() {
      cancelled = true;
      if (abort) abort();
      const i = queue.indexOf(item);
      if (i >= 0) {
        queue.splice(i, 1);
        finish('cancelled', 'Cancelled');
      }
    }
    cancel.addEventListener('click', cancelUpload);
    async function run() {
      if (cancelled) return;
      try {
        set('hashing', 'Computing the checksum…');
        const sha = await fileSha256(file, (done, total) => {
          set('hashing', `Computing the checksum… ${Math.floor((done / total) * 100)} %`);
        });
        if (cancelled) throw new api.ApiError(0, 'aborted', 'cancelled');
        li.dataset.sha256 = sha;
        set('checking', 'Checking the library…');
        if (await api.hasMedia(sha)) {
          progress.value = 100;
          finish('exists', 'Already in the library');
          await reload();
          return;
        }
        if (cancelled) throw new api.ApiError(0, 'aborted', 'cancelled');
        const used = Number(library.used_bytes) || 0;
        const quota = Number(library.quota_bytes) || 0;
        if (quota > 0 && used + file.size > quota) {
          throw new api.ApiError(413, 'quota_exceeded', 'over quota', { size: file.size, used, quota });
        }
        set('uploading', 'Uploading… 0 %');
        const up = api.uploadMedia(sha, file, {
          onProgress: (sent, total) => {
            const pct = total > 0 ? Math.min(100, (sent / total) * 100) : 100;
            progress.value = pct;
            set('uploading', pct >= 100 ? 'Processing…' : `Uploading… ${Math.floor(pct)} %`);
          },
        });
        abort = up.abort;
        const res = await up.promise;
        abort = null;
        progress.value = 100;
        finish('done', res.status === 201 ? 'Uploaded' : 'Already in the library');
        await reload();
      } catch (err) {
        abort = null;
        if (cancelled || err.code === 'aborted') {
          finish('cancelled', 'Cancelled');
          return;
        }
        finish('failed', uploadErrorText(err));
        status.setAttribute('role', 'alert');
      }
    }
    return item;
  }

  function enqueue(files) {
    for (const file of files) {
      const item = uploadItem(file);
      uploads.append(item.li);
      queue.push(item);
    }
    if (!running) {
      running = (async () => {
        while (queue.length && !stale()) {
          current = queue.shift();
          await current.run();
        }
        current = null;
      })().finally(() => { running = null; });
    }
  }

  fileInput.addEventListener('change', () => {
    const files = [...fileInput.files];
    fileInput.value = '';
    if (files.length) enqueue(files);
  });
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    drop.classList.add('dropzone-over');
  });
  drop.addEventListener('dragleave', (ev) => {
    if (!drop.contains(ev.relatedTarget)) drop.classList.remove('dropzone-over');
  });
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('dropzone-over');
    const files = ev.dataTransfer ? [...ev.dataTransfer.files] : [];
    if (files.length) enqueue(files);
  });
  // a file dropped next to the zone must not make the browser leave the console
  const guard = (ev) => {
    if (ev.dataTransfer && [...ev.dataTransfer.types].includes('Files')) ev.preventDefault();
  };
  const beforeUnload = (ev) => {
    if (running) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  };
  window.addEventListener('dragover', guard);
  window.addEventListener('drop', guard);
  window.addEventListener('beforeunload', beforeUnload);
  state.cleanup.push(() => {
    window.removeEventListener('dragover', guard);
    window.removeEventListener('drop', guard);
    window.removeEventListener('beforeunload', beforeUnload);
    queue.length = 0;
    if (current) current.cancel();
  });

  fill();
  paintQuota();

  return h('div', { class: 'page media-page' },
    pageHeader('Media library'),
    h('div', { class: 'media-top' },
      h('section', { class: 'card', 'aria-labelledby': 'card-upload' },
        h('h2', { id: 'card-upload', text: 'Upload' }),
        drop,
        uploads),
      h('section', { class: 'card', 'aria-labelledby': 'card-storage' },
        h('h2', { id: 'card-storage', text: 'Storage' }),
        quotaBar,
        quotaText,
        h('p', { class: 'hint', text: 'Each file counts once, however many channels play it.' }))),
    h('section', { class: 'card', 'aria-labelledby': 'card-library' },
      h('div', { class: 'card-head' }, h('h2', { id: 'card-library', text: 'Library' }), summary),
      h('div', { class: 'toolbar filters' },
        h('div', { class: 'toolbar-search' }, search),
        kindSelect,
        tagSelect),
      tableWrap(table, 'Media library')));
}
// ---------------------------------------------------------------- channels

const knownGrants = new Map(); // channel id -> the grants saved from this tab (the API cannot read them back)

async function renderChannelsRoute(stale, route) {
  if (route.param === 'new') {
    if (!isAdmin()) {
      toast('Only administrators create channels.', 'info');
      location.replace('#/channels');
      return h('div');
    }
    return renderChannelEditor(stale, null);
  }
  return route.param ? renderChannelEditor(stale, route.param) : renderChannels(stale);
}

function itemCount(ch) {
  return (ch.zones || []).reduce((n, z) => n + (z.items || []).length, 0);
}

async function renderChannels(stale) {
  const [{ channels }, screensRes] = await Promise.all([
    api.listChannels(),
    api.listScreens().catch(() => ({ screens: [] })),
  ]);
  if (stale()) return h('div');
  const screens = screensRes.screens || [];
  const COLS = ['Channel', 'Canvas', 'Zones', 'Items', 'Default on', 'Version', 'Updated', 'Actions'];
  const tbody = h('tbody');
  const table = h('table', { id: 'channels-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: isAdmin() ? 'Channels of this account' : 'The channels you may edit' }),
    headRow(COLS, true),
    tbody);

  function fill(list) {
    tbody.replaceChildren();
    if (!list.length) {
      tbody.append(h('tr', { class: 'empty', id: 'channels-empty' }, h('td', { colspan: String(COLS.length) },
        h('p', { class: 'empty-title', text: 'No channels yet' }),
        h('p', { class: 'hint', text: isAdmin()
          ? 'A channel is a canvas of zones, each with a playlist. Create one, then assign it to screens.'
          : 'An administrator has not given you any channel to edit yet.' }))));
    }
    for (const c of list) {
      const on = screens.filter((s) => s.channel_id === c.id);
      const actions = h('div', { class: 'row-actions' },
        h('a', { class: 'btn btn-small', href: `#/channels/${encodeURIComponent(c.id)}`, text: 'Edit', 'aria-label': `Edit ${c.name}` }));
      if (isAdmin()) {
        const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', 'aria-label': `Delete ${c.name}` });
        del.addEventListener('click', () => busy(del, async () => {
          if (!window.confirm(`Delete the channel “${c.name}”? Screens that play it by default get none, its schedules and “play now” overrides end.`)) return;
          try {
            await api.deleteChannel(c.id);
            toast(`Channel “${c.name}” deleted.`);
            const res = await api.listChannels();
            if (!stale()) fill(res.channels || []);
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }));
        actions.append(del);
      }
      tbody.append(labelledRow(COLS, { dataset: { channelId: c.id, name: c.name } },
        h('td', { class: 'cell-strong' }, h('a', { class: 'screen-link', href: `#/channels/${encodeURIComponent(c.id)}`, text: c.name })),
        h('td', { class: 'nowrap', text: `${c.width} × ${c.height}` }),
        h('td', { text: String((c.zones || []).length) }),
        h('td', { text: String(itemCount(c)) }),
        h('td', { title: on.map((s) => s.name).join(', '), text: on.length ? `${on.length} screen${on.length === 1 ? '' : 's'}` : '—' }),
        h('td', { text: String(c.version) }),
        h('td', { class: 'nowrap' }, h('div', { class: 'stamp' }, timeEl(c.updated_at, ago(c.updated_at)),
          c.updated_by ? h('span', { class: 'screen-sub', text: `by ${c.updated_by}` }) : null)),
        h('td', { class: 'col-actions' }, actions)));
    }
  }
  fill(channels || []);

  const create = isAdmin() ? h('a', { id: 'channel-new', class: 'btn btn-primary', href: '#/channels/new', text: 'New channel' }) : null;
  return h('div', { class: 'page' },
    pageHeader('Channels', create),
    h('section', { class: 'card', 'aria-label': 'All channels' },
      h('p', { class: 'hint', text: 'What screens play: a canvas divided into zones, each zone with its own playlist of images, videos, web pages and texts.' }),
      tableWrap(table, 'Channels')));
}

// ---- the channel editor

/** An item as the editor keeps it: the fields a body may carry. */
function editorItem(it) {
  const out = {};
  if (it.media !== undefined) out.media = it.media;
  else if (it.url !== undefined) out.url = it.url;
  else out.text = it.text === undefined ? '' : it.text;
  out.duration = it.duration === undefined ? 10 : it.duration;
  out.transition = it.transition || 'fade';
  if (it.valid && typeof it.valid === 'object') out.valid = JSON.parse(JSON.stringify(it.valid));
  return out;
}

function editorModel(ch) {
  return {
    name: ch.name || '',
    width: ch.width,
    height: ch.height,
    zones: (ch.zones || []).map((z, i) => ({
      name: z.name, x: z.x, y: z.y, w: z.w, h: z.h, z: z.z === undefined ? i : z.z,
      items: (z.items || []).map(editorItem),
    })),
  };
}

/** The validity window as sent: only the members that restrict something. */
function validBody(v) {
  if (!v) return null;
  const out = {};
  for (const k of ['from', 'until', 'start', 'end']) if (v[k]) out[k] = v[k];
  if (Array.isArray(v.days)) {
    const days = daysList(v.days);
    if (days.length && days.length < 7) out.days = days;
  }
  return Object.keys(out).length ? out : null;
}

function itemBody(it) {
  const out = {};
  if (it.media !== undefined) out.media = it.media;
  else if (it.url !== undefined) out.url = it.url.trim();
  else out.text = it.text;
  out.duration = intOrRaw(it.duration);
  out.transition = it.transition;
  // an untouched window goes back as it came (an editor must not change zones not granted)
  const valid = it.validEdited ? validBody(it.valid) : it.valid;
  if (valid) out.valid = valid;
  return out;
}

function validText(v) {
  const parts = [];
  if (!v) return 'Always';
  const days = Array.isArray(v.days) ? daysList(v.days) : ALL_DAYS;
  if (days.length < 7) parts.push(daysText(days));
  if (v.start || v.end) parts.push(`${v.start || '00:00'}–${v.end || '24:00'}`);
  if (v.from && v.until) parts.push(`${v.from} to ${v.until}`);
  else if (v.from) parts.push(`from ${v.from}`);
  else if (v.until) parts.push(`until ${v.until}`);
  return parts.length ? parts.join(' · ') : 'Always';
}

const CANVAS_PRESETS = [
  { w: 1920, h: 1080, label: 'Full HD landscape (1920 × 1080)' },
  { w: 1080, h: 1920, label: 'Full HD portrait (1080 × 1920)' },
  { w: 3840, h: 2160, label: '4K landscape (3840 × 2160)' },
  { w: 2160, h: 3840, label: '4K portrait (2160 × 3840)' },
  { w: 1280, h: 720, label: 'HD landscape (1280 × 720)' },
];

async function renderChannelEditor(stale, id) {
  let channel = null;
  let lib;
  try {
    const [chRes, libRes] = await Promise.all([
      id ? api.getChannel(id) : Promise.resolve(null),
      api.listMedia().catch(() => ({ media: [] })),
    ]);
    channel = chRes ? chRes.channel : null;
    lib = libRes;
  } catch (err) {
    if (err.status !== 404 && !(err.status === 403 && err.code === 'forbidden')) throw err;
    return h('div', { class: 'page' },
      h('div', {}, h('a', { class: 'back-link', href: '#/channels', text: '← Channels' })),
      pageHeader(err.status === 404 ? 'Channel not found' : 'Not yours to edit'),
      h('div', { class: 'card' }, h('p', { id: 'channel-missing', text: err.status === 404
        ? 'This channel does not exist in your account, or it was deleted.'
        : 'You have no zone of this channel to edit. An administrator can grant you some.' })));
  }
  if (stale()) return h('div');

  const media = lib.media || [];
  const mediaBy = new Map(media.map((m) => [m.sha256, m]));
  let editable = channel ? channel.editable_zones || [] : ['*'];
  let layoutOk = editable.includes('*');
  let model = channel ? editorModel(channel) : {
    name: '', width: 1920, height: 1080,
    zones: [{ name: 'main', x: 0, y: 0, w: 1920, h: 1080, z: 0, items: [] }],
  };
  let dirty = false;
  const zoneOk = (zone) => layoutOk || editable.includes(zone.name);

  // ---- header and status
  const title = h('h1', { id: 'page-title', tabindex: '-1', text: channel ? channel.name : 'New channel' });
  const meta = h('span', { class: 'hint', id: 'channel-meta' });
  const errorBanner = h('p', { id: 'channel-error', class: 'form-error', role: 'alert', hidden: true });
  const announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const dirtyText = h('span', { id: 'channel-dirty', class: 'savebar-status', text: channel ? 'All changes saved' : 'Not created yet' });
  const saveBtn = h('button', { id: 'channel-save', type: 'button', class: 'btn btn-primary', text: channel ? 'Save changes' : 'Create channel' });

  function paintMeta() {
    meta.textContent = channel
      ? `Version ${channel.version} · saved ${fmtTime(channel.updated_at)}${channel.updated_by ? ` by ${channel.updated_by}` : ''}`
      : '';
  }
  function markDirty() {
    if (dirty) return;
    dirty = true;
    dirtyText.textContent = 'Unsaved changes';
    dirtyText.classList.add('savebar-dirty');
  }
  function markClean(text) {
    dirty = false;
    dirtyText.textContent = text;
    dirtyText.classList.remove('savebar-dirty');
  }

  // ---- canvas fields
  const nameInput = h('input', {
    id: 'channel-name', type: 'text', required: true, maxlength: '128', autocomplete: 'off', value: model.name,
    placeholder: 'e.g. Lobby', disabled: !layoutOk, dataset: { path: 'name' },
  });
  const widthInput = h('input', {
    id: 'channel-width', type: 'number', min: '1', max: '16384', step: '1', value: String(model.width), disabled: !layoutOk,
    inputmode: 'numeric', dataset: { path: 'width' },
  });
  const heightInput = h('input', {
    id: 'channel-height', type: 'number', min: '1', max: '16384', step: '1', value: String(model.height), disabled: !layoutOk,
    inputmode: 'numeric', dataset: { path: 'height' },
  });
  const preset = h('select', { id: 'channel-preset', disabled: !layoutOk },
    h('option', { value: '', text: 'Custom size' }),
    CANVAS_PRESETS.map((p) => h('option', { value: `${p.w}x${p.h}`, text: p.label })));
  function syncPreset() {
    const v = `${model.width}x${model.height}`;
    preset.value = CANVAS_PRESETS.some((p) => `${p.w}x${p.h}` === v) ? v : '';
  }
  syncPreset();
  nameInput.addEventListener('input', () => { model.name = nameInput.value; markDirty(); });
  for (const [input, key] of [[widthInput, 'width'], [heightInput, 'height']]) {
    input.addEventListener('input', () => {
      model[key] = intOrRaw(input.value);
      syncPreset();
      markDirty();
      paintPreview();
    });
  }
  preset.addEventListener('change', () => {
    if (!preset.value) return;
    const [w, hh] = preset.value.split('x').map(Number);
    const ow = Number(model.width) || w;
    const oh = Number(model.height) || hh;
    // the zones keep their place on the new canvas
    for (const z of model.zones) {
      const x = Math.round(((Number(z.x) || 0) * w) / ow);
      const y = Math.round(((Number(z.y) || 0) * hh) / oh);
      z.x = Math.min(x, w - 1);
      z.y = Math.min(y, hh - 1);
      z.w = Math.max(1, Math.min(Math.round(((Number(z.w) || 1) * w) / ow), w - z.x));
      z.h = Math.max(1, Math.min(Math.round(((Number(z.h) || 1) * hh) / oh), hh - z.y));
    }
    model.width = w;
    model.height = hh;
    widthInput.value = String(w);
    heightInput.value = String(hh);
    markDirty();
    paintZones();
    paintPreview();
    announce.textContent = `Canvas set to ${w} by ${hh}; the zones were scaled with it.`;
  });

  const canvasCard = h('section', { class: 'card', 'aria-labelledby': 'card-canvas' },
    h('h2', { id: 'card-canvas', text: 'Channel' }),
    h('div', { class: 'stack' },
      field('Name', nameInput),
      h('div', { class: 'form-grid canvas-size' }, field('Width (px)', widthInput), field('Height (px)', heightInput)),
      field('Preset', preset, 'A preset scales the zones with the canvas.'),
      layoutOk ? null : h('p', { class: 'notice notice-warn', id: 'channel-layout-locked', text: 'You may change the playlists of the zones granted to you. The name, size and zones need an administrator.' })));

  // ---- preview
  const preview = h('div', { id: 'channel-preview', class: 'canvas-preview', role: 'group', 'aria-label': 'Layout preview' });
  const previewWrap = h('div', { class: 'canvas-wrap' }, preview);
  const previewCaption = h('p', { class: 'hint', id: 'channel-preview-caption' });

  function zoneColour(i) {
    return ZONE_COLOURS[i % ZONE_COLOURS.length];
  }

  function paintPreview() {
    const W = Math.max(1, Number(model.width) || 1);
    const H = Math.max(1, Number(model.height) || 1);
    preview.style.aspectRatio = `${W} / ${H}`;
    preview.style.width = `min(100%, ${Math.round((300 * W) / H)}px)`;
    const order = model.zones.map((z, i) => ({ i, z: Number(z.z) || 0 })).sort((a, b) => a.z - b.z || a.i - b.i);
    const boxes = model.zones.map((z, i) => {
      const first = (z.items || [])[0];
      const box = h('button', {
        type: 'button', class: 'zone-box', dataset: { zone: z.name, index: String(i) },
        'aria-label': `Zone ${z.name}: ${z.w} × ${z.h} at ${z.x}, ${z.y}. Go to its settings.`,
      });
      box.style.setProperty('--zone', zoneColour(i));
      box.style.left = `${((Number(z.x) || 0) / W) * 100}%`;
      box.style.top = `${((Number(z.y) || 0) / H) * 100}%`;
      box.style.width = `${((Number(z.w) || 0) / W) * 100}%`;
      box.style.height = `${((Number(z.h) || 0) / H) * 100}%`;
      box.style.zIndex = String(order.findIndex((o) => o.i === i) + 1);
      if (first && first.media && mediaBy.get(first.media) && mediaBy.get(first.media).kind === 'image') {
        box.append(h('img', { class: 'zone-box-img', src: api.mediaContentUrl(first.media), alt: '' }));
      } else if (first && first.text !== undefined) {
        box.append(h('span', { class: 'zone-box-text', text: first.text }));
      }
      box.append(h('span', { class: 'zone-box-label', text: z.name || `Zone ${i + 1}` }));
      box.addEventListener('click', () => {
        const target = $(`#zone-${i}`);
        if (!target) return;
        target.scrollIntoView({ behavior: 'smooth', block: 'start' });
        const input = $(`#zone-${i}-name`);
        if (input && !input.disabled) input.focus({ preventScroll: true });
        else target.focus({ preventScroll: true });
      });
      return box;
    });
    preview.replaceChildren(...boxes);
    previewCaption.textContent = `${W} × ${H} px · ${model.zones.length} zone${model.zones.length === 1 ? '' : 's'}`;
  }

  const previewCard = h('section', { class: 'card', 'aria-labelledby': 'card-preview' },
    h('h2', { id: 'card-preview', text: 'Layout' }),
    previewWrap,
    previewCaption);

  // ---- zones
  const zonesBox = h('div', { id: 'zones', class: 'zones', dataset: { path: 'zones' } });
  const addZone = layoutOk ? h('button', { id: 'zone-add', type: 'button', class: 'btn', text: 'Add a zone' }) : null;
  if (addZone) {
    addZone.addEventListener('click', () => {
      if (model.zones.length >= 32) {
        toast('A channel has at most 32 zones.', 'error');
        return;
      }
      let n = model.zones.length + 1;
      const names = new Set(model.zones.map((z) => z.name));
      while (names.has(`zone${n}`)) n++;
      const W = Number(model.width) || 1920;
      const H = Number(model.height) || 1080;
      const zh = Math.max(1, Math.round(H / 5));
      model.zones.push({
        name: `zone${n}`, x: 0, y: H - zh, w: W, h: zh,
        z: Math.max(0, ...model.zones.map((z) => Number(z.z) || 0)) + 1, items: [],
      });
      markDirty();
      paintZones();
      paintPreview();
      const input = $(`#zone-${model.zones.length - 1}-name`);
      if (input) {
        input.focus();
        input.select();
      }
      announce.textContent = `Zone zone${n} added along the bottom of the canvas.`;
    });
  }

  function numberField(zi, key, label, min, max) {
    const zone = model.zones[zi];
    const input = h('input', {
      id: `zone-${zi}-${key}`, type: 'number', step: '1', min: String(min), max: max === null ? null : String(max),
      value: String(zone[key]), inputmode: 'numeric', disabled: !layoutOk, dataset: { path: `zones[${zi}].${key}` },
    });
    input.addEventListener('input', () => {
      zone[key] = intOrRaw(input.value);
      markDirty();
      paintPreview();
    });
    return field(label, input);
  }

  function zoneSection(zi) {
    const zone = model.zones[zi];
    const ok = zoneOk(zone);
    const heading = h('h2', { id: `zone-${zi}-title`, text: `Zone ${zone.name}` });
    const swatch = h('span', { class: 'zone-swatch', 'aria-hidden': 'true' });
    const nameIn = h('input', {
      id: `zone-${zi}-name`, type: 'text', value: zone.name, maxlength: '64', required: true, autocomplete: 'off',
      disabled: !layoutOk, dataset: { path: `zones[${zi}].name` },
    });
    nameIn.addEventListener('input', () => {
      zone.name = nameIn.value;
      heading.textContent = `Zone ${zone.name}`;
      markDirty();
      paintPreview();
    });
    const remove = layoutOk ? h('button', {
      id: `zone-${zi}-remove`, type: 'button', class: 'btn btn-small btn-danger', text: 'Remove zone',
      'aria-label': `Remove zone ${zone.name}`, disabled: model.zones.length <= 1,
    }) : null;
    if (remove) {
      remove.addEventListener('click', () => {
        if (zone.items.length && !window.confirm(`Remove the zone “${zone.name}” and its ${zone.items.length} item${zone.items.length === 1 ? '' : 's'}?`)) return;
        model.zones.splice(zi, 1);
        markDirty();
        paintZones();
        paintPreview();
        announce.textContent = `Zone ${zone.name} removed.`;
        const next = $(`#zone-${Math.min(zi, model.zones.length - 1)}-name`);
        if (next) next.focus();
      });
    }
    const list = h('ol', { id: `zone-${zi}-items`, class: 'playlist', 'aria-label': `Playlist of zone ${zone.name}` });
    const listSummary = h('p', { class: 'hint playlist-summary', id: `zone-${zi}-summary` });
    const section = h('section', {
      id: `zone-${zi}`, class: `card zone-card${ok ? '' : ' zone-locked'}`, tabindex: '-1',
      'aria-labelledby': heading.id, dataset: { path: `zones[${zi}]`, zone: zone.name },
    },
    h('div', { class: 'card-head' },
      h('div', { class: 'zone-title' }, swatch, heading,
        ok ? null : badge('Read only', 'muted')),
      remove),
    h('div', { class: 'form-grid zone-geometry' },
      field('Name', nameIn),
      numberField(zi, 'x', 'X (px)', 0, null),
      numberField(zi, 'y', 'Y (px)', 0, null),
      numberField(zi, 'w', 'Width (px)', 1, null),
      numberField(zi, 'h', 'Height (px)', 1, null),
      numberField(zi, 'z', 'Layer', -1000, 1000)),
    h('div', { class: 'playlist-head' }, h('h3', { text: 'Playlist' }), listSummary),
    list,
    ok ? addItemForm(zi) : null);
    section.style.setProperty('--zone', zoneColour(zi));

    function paintItems(focus) {
      list.replaceChildren();
      if (!zone.items.length) {
        list.append(h('li', { class: 'playlist-empty', text: ok ? 'Empty: add an image, a video, a web page or a text below.' : 'Empty.' }));
      }
      zone.items.forEach((it, ii) => list.append(itemRow(zi, ii, ok, paintItems)));
      const total = zone.items.reduce((s, it) => s + (Number(it.duration) || 0), 0);
      listSummary.textContent = zone.items.length
        ? `${zone.items.length} item${zone.items.length === 1 ? '' : 's'} · one loop ${fmtSeconds(total)}${zone.items.some((it) => Number(it.duration) === 0) ? ' plus videos to their end' : ''}`
        : '';
      if (focus) {
        const el = $(focus, list);
        if (el) el.focus();
      }
      paintPreview();
    }
    section.paintItems = paintItems;
    paintItems();
    return section;
  }

  function itemRow(zi, ii, ok, repaint) {
    const zone = model.zones[zi];
    const it = zone.items[ii];
    const base = `zone-${zi}-item-${ii}`;
    const path = `zones[${zi}].items[${ii}]`;
    const m = it.media !== undefined ? mediaBy.get(it.media) : null;
    const kind = it.media !== undefined ? (m ? m.kind : 'missing') : it.url !== undefined ? 'web' : 'text';

    let main;
    if (it.media !== undefined) {
      main = h('div', { class: 'item-main' },
        h('span', { class: 'item-title', text: m ? m.filename : 'Not in the library any more' }),
        h('span', { class: 'item-sub' }, m ? kindBadge(m.kind) : badge('Missing', 'danger'),
          m ? ` ${fmtBytes(m.size)}` : ` ${String(it.media).slice(0, 12)}…`));
    } else if (it.url !== undefined) {
      const url = h('input', {
        id: `${base}-url`, type: 'url', value: it.url, maxlength: '2048', disabled: !ok, spellcheck: 'false',
        autocomplete: 'off', dataset: { path: `${path}.url` }, 'aria-label': `Address of item ${ii + 1}`,
      });
      url.addEventListener('input', () => { it.url = url.value; markDirty(); });
      main = h('div', { class: 'item-main' }, url);
    } else {
      const text = h('textarea', {
        id: `${base}-text`, rows: '2', maxlength: '2000', disabled: !ok, value: it.text,
        dataset: { path: `${path}.text` }, 'aria-label': `Text of item ${ii + 1}`,
      });
      text.addEventListener('input', () => { it.text = text.value; markDirty(); paintPreview(); });
      main = h('div', { class: 'item-main' }, text);
    }

    const durMin = kind === 'video' ? 0 : 1;
    const duration = h('input', {
      id: `${base}-duration`, type: 'number', min: String(durMin), max: '86400', step: '1', value: String(it.duration),
      inputmode: 'numeric', disabled: !ok, class: 'input-short', dataset: { path: `${path}.duration` },
    });
    duration.addEventListener('input', () => {
      it.duration = intOrRaw(duration.value);
      markDirty();
    });
    const transition = h('select', {
      id: `${base}-transition`, disabled: !ok, class: 'select-compact', dataset: { path: `${path}.transition` },
    }, [['fade', 'Fade'], ['slide', 'Slide'], ['none', 'Cut']].map(([v, t]) => h('option', { value: v, text: t, selected: v === it.transition })));
    transition.addEventListener('change', () => { it.transition = transition.value; markDirty(); });

    const settings = h('div', { class: 'item-settings' },
      h('div', { class: 'field' }, h('label', { for: duration.id, text: kind === 'video' ? 'Seconds (0 = to the end)' : 'Seconds' }), duration),
      h('div', { class: 'field' }, h('label', { for: transition.id, text: 'Transition' }), transition));

    const actions = ok ? h('div', { class: 'item-actions' },
      moveButton('up', '↑', `Move item ${ii + 1} up`, ii === 0),
      moveButton('down', '↓', `Move item ${ii + 1} down`, ii === zone.items.length - 1),
      (() => {
        const b = h('button', { type: 'button', id: `${base}-remove`, class: 'btn btn-small btn-ghost btn-remove', 'aria-label': `Remove item ${ii + 1}`, title: 'Remove', text: '✕' });
        b.addEventListener('click', () => {
          zone.items.splice(ii, 1);
          markDirty();
          announce.textContent = `Item ${ii + 1} removed.`;
          const n = zone.items.length;
          repaint(n ? `#zone-${zi}-item-${Math.min(ii, n - 1)}-remove` : null);
          if (!n) { const k = $(`#zone-${zi}-add-kind`); if (k) k.focus(); }
        });
        return b;
      })()) : null;

    function moveButton(dir, text, label, disabled) {
      const b = h('button', {
        type: 'button', id: `${base}-${dir}`, class: 'btn btn-small btn-ghost', text, title: label, 'aria-label': label, disabled,
      });
      b.addEventListener('click', () => {
        const to = dir === 'up' ? ii - 1 : ii + 1;
        const [moved] = zone.items.splice(ii, 1);
        zone.items.splice(to, 0, moved);
        markDirty();
        announce.textContent = `Item moved to position ${to + 1}.`;
        const first = to === 0 || to === zone.items.length - 1;
        repaint(`#zone-${zi}-item-${to}-${first ? (dir === 'up' ? 'down' : 'up') : dir}`);
      });
      return b;
    }

    return h('li', { id: base, class: `item item-${kind}`, tabindex: '-1', dataset: { path, kind } },
      h('span', { class: 'item-index', 'aria-hidden': 'true', text: String(ii + 1) }),
      it.media !== undefined ? mediaThumb(m, 'shot-item') : h('div', { class: `shot shot-item thumb-${kind}` }, h('span', { class: 'shot-empty', text: KIND_LABELS[kind] })),
      main,
      settings,
      validityEditor(it, base, path, ok),
      actions);
  }

  function validityEditor(it, base, path, ok) {
    const v = it.valid || {};
    const summary = h('summary', {}, h('span', { class: 'valid-label', text: 'Plays: ' }), h('span', { id: `${base}-valid-text`, text: validText(it.valid) }));
    const input = (key, type, label) => {
      const el = h('input', {
        id: `${base}-${key}`, type, value: v[key] || '', disabled: !ok, dataset: { path: `${path}.valid.${key}` },
      });
      el.addEventListener('input', () => { edit((w) => { if (el.value) w[key] = el.value; else delete w[key]; }); });
      return h('div', { class: 'field' }, h('label', { for: el.id, text: label }), el);
    };
    const days = Array.isArray(v.days) ? daysList(v.days) : ALL_DAYS;
    const boxes = ALL_DAYS.map((d) => {
      const cb = h('input', { type: 'checkbox', id: `${base}-day-${d}`, checked: days.includes(d), disabled: !ok });
      cb.addEventListener('change', () => {
        edit((w) => {
          const list = ALL_DAYS.filter((x) => $(`#${base}-day-${x}`).checked);
          if (list.length === 7 || !list.length) delete w.days;
          else w.days = list;
        });
      });
      return h('label', { class: 'day', for: cb.id, title: WEEKDAY_NAMES[d - 1] }, cb, h('span', { text: WEEKDAYS[d - 1] }));
    });
    const daysSet = h('fieldset', { class: 'days', dataset: { path: `${path}.valid.days` } },
      h('legend', { text: 'Days (none or all: every day)' }), ...boxes);
    const clear = ok ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: `${base}-valid-clear`, text: 'Always play' }) : null;
    const details = h('details', { class: 'validity', id: `${base}-valid`, dataset: { path: `${path}.valid` } },
      summary,
      h('div', { class: 'validity-grid' },
        input('from', 'date', 'From'),
        input('until', 'date', 'Until'),
        input('start', 'time', 'Start time'),
        input('end', 'time', 'End time'),
        daysSet,
        h('p', { class: 'hint validity-hint', text: 'On the screen’s clock. An end before the start crosses midnight.' }),
        clear));
    function edit(fn) {
      const w = it.valid && typeof it.valid === 'object' ? it.valid : {};
      fn(w);
      it.valid = Object.keys(w).length ? w : undefined;
      it.validEdited = true;
      $(`#${base}-valid-text`, details).textContent = validText(validBody(it.valid));
      markDirty();
    }
    if (clear) {
      clear.addEventListener('click', () => {
        for (const el of details.querySelectorAll('input[type="date"], input[type="time"]')) el.value = '';
        for (const el of details.querySelectorAll('input[type="checkbox"]')) el.checked = true;
        edit((w) => { for (const k of Object.keys(w)) delete w[k]; });
      });
    }
    return details;
  }

  function addItemForm(zi) {
    const zone = model.zones[zi];
    const kind = h('select', { id: `zone-${zi}-add-kind`, class: 'select-compact' },
      h('option', { value: 'media', text: 'From the library' }),
      h('option', { value: 'url', text: 'Web page' }),
      h('option', { value: 'text', text: 'Text' }));
    const groups = ['image', 'video', 'html'].map((k) => {
      const list = media.filter((m) => m.kind === k);
      return list.length ? h('optgroup', { label: `${KIND_LABELS[k]}s` }, list.map((m) => h('option', { value: m.sha256, text: m.filename }))) : null;
    }).filter(Boolean);
    const mediaSel = h('select', { id: `zone-${zi}-add-media`, 'aria-label': 'Medium' },
      media.length ? groups : h('option', { value: '', text: 'The library is empty: upload on the Media page' }));
    const url = h('input', { id: `zone-${zi}-add-url`, type: 'url', placeholder: 'https://', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Address of the web page' });
    const text = h('input', { id: `zone-${zi}-add-text`, type: 'text', maxlength: '2000', autocomplete: 'off', placeholder: 'e.g. Welcome!', 'aria-label': 'Text to show' });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const add = h('button', { id: `zone-${zi}-add`, type: 'submit', class: 'btn', text: 'Add to playlist' });
    const form = h('form', { class: 'add-item', 'aria-label': `Add an item to zone ${zone.name}` },
      h('div', { class: 'field' }, h('label', { for: kind.id, text: 'Add' }), kind),
      h('div', { class: 'field add-value' }, h('label', { for: mediaSel.id, text: 'Medium', class: 'add-label' }), mediaSel, url, text),
      h('div', { class: 'field field-button' }, add),
      err);
    const label = $('.add-label', form);
    function show() {
      mediaSel.hidden = kind.value !== 'media';
      url.hidden = kind.value !== 'url';
      text.hidden = kind.value !== 'text';
      const target = kind.value === 'media' ? mediaSel : kind.value === 'url' ? url : text;
      label.htmlFor = target.id;
      label.textContent = kind.value === 'media' ? 'Medium' : kind.value === 'url' ? 'Address' : 'Text';
    }
    show();
    kind.addEventListener('change', () => { setError(err, null); show(); });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      if (zone.items.length >= 500) { setError(err, 'A zone has at most 500 items.'); return; }
      let item;
      if (kind.value === 'media') {
        const m = mediaBy.get(mediaSel.value);
        if (!m) { setError(err, 'Choose a medium (upload it on the Media page first).'); mediaSel.focus(); return; }
        item = { media: m.sha256, duration: m.kind === 'video' ? 0 : 10, transition: 'fade' };
      } else if (kind.value === 'url') {
        const u = url.value.trim();
        if (!/^https?:\/\/\S+$/i.test(u)) { setError(err, 'Type the full address, starting with https:// or http://.'); url.focus(); return; }
        item = { url: u, duration: 30, transition: 'fade' };
        url.value = '';
      } else {
        if (!text.value.trim()) { setError(err, 'Type the text to show.'); text.focus(); return; }
        item = { text: text.value, duration: 10, transition: 'fade' };
        text.value = '';
      }
      zone.items.push(item);
      markDirty();
      const section = $(`#zone-${zi}`);
      if (section && section.paintItems) section.paintItems();
      announce.textContent = `Added to zone ${zone.name} as item ${zone.items.length}.`;
    });
    return form;
  }

  function paintZones() {
    zonesBox.replaceChildren(...model.zones.map((_, zi) => zoneSection(zi)));
  }

  // ---- validation errors from the server, next to their field
  let errorSeq = 0;
  function clearFieldErrors(root) {
    for (const el of root.querySelectorAll('.field-error')) el.remove();
    for (const el of root.querySelectorAll('[aria-invalid="true"]')) {
      el.removeAttribute('aria-invalid');
      const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.startsWith('channel-field-error-'));
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }
  function showFieldError(root, path, message) {
    const byPath = new Map([...root.querySelectorAll('[data-path]')].map((el) => [el.dataset.path, el]));
    let p = path;
    let target = null;
    while (p) {
      target = byPath.get(p);
      if (target) break;
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (shorter === p) break;
      p = shorter;
    }
    if (!target) return false;
    const details = target.closest('details');
    if (details) details.open = true;
    const msg = h('p', { class: 'field-error', id: `channel-field-error-${++errorSeq}`, text: capital(message) });
    const control = target.matches('input, select, textarea');
    if (control) {
      (target.closest('.field') || target.parentElement).append(msg);
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-describedby', `${target.getAttribute('aria-describedby') || ''} ${msg.id}`.trim());
    } else {
      target.append(msg);
    }
    target.scrollIntoView({ block: 'center' });
    if (control && !target.disabled) target.focus({ preventScroll: true });
    else if (target.tabIndex >= 0 || target.hasAttribute('tabindex')) target.focus({ preventScroll: true });
    return true;
  }

  async function save() {
    const root = $('.channel-page') || document;
    clearFieldErrors(root);
    setError(errorBanner, null);
    const body = {
      name: layoutOk ? model.name.trim() : model.name,
      width: intOrRaw(model.width),
      height: intOrRaw(model.height),
      zones: model.zones.map((z) => ({
        name: z.name, x: intOrRaw(z.x), y: intOrRaw(z.y), w: intOrRaw(z.w), h: intOrRaw(z.h), z: intOrRaw(z.z),
        items: z.items.map(itemBody),
      })),
    };
    if (!body.name) {
      setError(errorBanner, 'Give the channel a name.');
      showFieldError(root, 'name', 'Give the channel a name.');
      return;
    }
    await busy(saveBtn, async () => {
      try {
        if (!channel) {
          const res = await api.createChannel(body);
          markClean('Created');
          toast(`Channel “${res.channel.name}” created.`);
          location.hash = `#/channels/${encodeURIComponent(res.channel.id)}`;
          return;
        }
        const res = await api.replaceChannel(channel.id, body);
        channel = { ...res.channel, editable_zones: editable };
        model = editorModel(channel);
        title.textContent = channel.name;
        document.title = `${channel.name} · Channels · Vitrine`;
        paintMeta();
        paintZones();
        paintPreview();
        markClean(res.changed ? `Saved as version ${channel.version}` : 'No changes to save');
        toast(res.changed ? `Channel “${channel.name}” saved (version ${channel.version}).` : 'Nothing changed.');
        if (grants) grants.sync(channel);
      } catch (err) {
        if (err.code === 'invalid_channel' && err.detail && err.detail.path) {
          setError(errorBanner, `Not saved: ${err.message}.`);
          showFieldError(root, err.detail.path, err.message.replace(/^[^:]*: /, ''));
        } else {
          setError(errorBanner, `Not saved: ${errorText(err)}.`);
          errorBanner.scrollIntoView({ block: 'nearest' });
        }
      }
    });
  }
  saveBtn.addEventListener('click', () => save());
  const onKey = (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === 's') {
      ev.preventDefault();
      if (!saveBtn.disabled) save();
    }
  };
  const onUnload = (ev) => {
    if (dirty) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  };
  document.addEventListener('keydown', onKey);
  window.addEventListener('beforeunload', onUnload);
  state.leaveGuard = () => !dirty || window.confirm('Leave this channel without saving your changes?');
  state.cleanup.push(() => {
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('beforeunload', onUnload);
    state.leaveGuard = null;
  });

  // ---- grants and deletion (admins)
  let grants = null;
  let danger = null;
  if (channel && isAdmin()) {
    const users = ((await api.listUsers().catch(() => ({ users: [] }))).users || []).filter((u) => u.role === 'editor');
    if (stale()) return h('div');
    grants = grantsCard(channel, users);
    const del = h('button', { id: 'channel-delete', type: 'button', class: 'btn btn-danger', text: 'Delete channel' });
    del.addEventListener('click', () => busy(del, async () => {
      if (!window.confirm(`Delete the channel “${channel.name}”? Screens that play it by default get none; its schedules and “play now” overrides end. Its media stay in the library.`)) return;
      try {
        await api.deleteChannel(channel.id);
        markClean('Deleted');
        toast(`Channel “${channel.name}” deleted.`);
        location.hash = '#/channels';
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    danger = h('section', { class: 'card card-danger', 'aria-labelledby': 'card-channel-delete' },
      h('h2', { id: 'card-channel-delete', text: 'Delete this channel' }),
      h('p', { class: 'hint', text: 'Screens that play it by default get no channel; its schedules and “play now” overrides end. Its media stay in the library.' }),
      h('div', {}, del));
  }

  paintMeta();
  paintZones();
  paintPreview();
  document.title = `${channel ? channel.name : 'New channel'} · Channels · Vitrine`;

  const root = h('div', { class: 'page channel-page', dataset: { channelId: channel ? channel.id : '' } },
    h('div', {}, h('a', { class: 'back-link', href: '#/channels', text: '← Channels' })),
    h('div', { class: 'page-header' }, h('div', { class: 'title-row' }, title, meta)),
    errorBanner,
    announce,
    h('div', { class: 'channel-top' }, canvasCard, previewCard),
    h('div', { class: 'zones-head' },
      h('h2', { text: 'Zones and playlists' }),
      addZone),
    zonesBox,
    grants ? grants.card : null,
    danger,
    h('div', { class: 'savebar', role: 'region', 'aria-label': 'Save' }, dirtyText, saveBtn));
  return root;
}

function grantsCard(channel, editors) {
  const body = h('div', { class: 'stack' });
  const card = h('section', { class: 'card', id: 'channel-grants', 'aria-labelledby': 'card-grants' },
    h('h2', { id: 'card-grants', text: 'Editors' }),
    body);
  let zones = (channel.zones || []).map((z) => z.name);
  function paint() {
    if (!editors.length) {
      body.replaceChildren(h('p', { class: 'hint', text: 'No user has the editor role. Add editors on the Users page, then choose here which zones they may change.' }));
      return;
    }
    const saved = knownGrants.get(channel.id);
    const has = (uid, zone) => !!saved && saved.some((g) => g.user_id === uid && (g.zones || []).includes(zone));
    const COLS = ['Editor', 'May change'];
    const tbody = h('tbody');
    for (const u of editors) {
      const all = h('input', { type: 'checkbox', id: `grant-${u.id}-all`, checked: has(u.id, '*'), dataset: { zone: '*' } });
      const boxes = zones.map((z, k) => h('label', { class: 'check', for: `grant-${u.id}-zone-${k}` },
        h('input', { type: 'checkbox', id: `grant-${u.id}-zone-${k}`, checked: has(u.id, z) || has(u.id, '*'), disabled: has(u.id, '*'), dataset: { zone: z } }),
        h('span', { text: z })));
      all.addEventListener('change', () => {
        for (const b of tbody.querySelectorAll(`input[id^="grant-${u.id}-zone-"]`)) {
          b.disabled = all.checked;
          if (all.checked) b.checked = true;
        }
      });
      tbody.append(labelledRow(COLS, { dataset: { userId: u.id, login: u.login } },
        h('td', { class: 'cell-strong' }, u.name ? `${u.name} ` : '', h('span', { class: 'screen-sub', text: u.login })),
        h('td', {}, h('div', { class: 'checks' },
          h('label', { class: 'check check-all', for: all.id }, all, h('span', { text: 'Every zone and the layout' })),
          ...boxes))));
    }
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { id: 'grants-save', type: 'button', class: 'btn btn-primary', text: 'Save editors' });
    save.addEventListener('click', () => busy(save, async () => {
      setError(err, null);
      const list = [];
      for (const tr of tbody.rows) {
        const uid = tr.dataset.userId;
        const allBox = $(`#grant-${uid}-all`);
        const chosen = allBox.checked ? ['*']
          : [...tr.querySelectorAll('input[id*="-zone-"]')].filter((b) => b.checked).map((b) => b.dataset.zone);
        if (chosen.length) list.push({ user_id: uid, zones: chosen });
      }
      try {
        const res = await api.putGrants(channel.id, list);
        knownGrants.set(channel.id, res.grants || list);
        toast(list.length ? `Editors saved: ${list.length} editor${list.length === 1 ? '' : 's'} may change this channel.` : 'No editor may change this channel now.');
      } catch (e) {
        setError(err, e);
      }
    }));
    body.replaceChildren(
      h('p', { class: 'hint', text: knownGrants.has(channel.id)
        ? 'What you saved from this page. Saving replaces every grant of this channel.'
        : 'The server does not report the grants in force, so the boxes start empty: saving replaces every grant of this channel with what is ticked here.' }),
      tableWrap(h('table', { id: 'grants-table', class: 'table table-stack' },
        h('caption', { class: 'visually-hidden', text: 'Which editors may change which zones' }),
        headRow(COLS), tbody), 'Editors of this channel'),
      err,
      h('div', {}, save));
  }
  paint();
  return {
    card,
    sync(ch) {
      const next = (ch.zones || []).map((z) => z.name);
      if (next.join('\n') !== zones.join('\n')) {
        zones = next;
        paint();
      }
    },
  };
}
// ---------------------------------------------------------------- screen content (detail page)

/** The "Content" card of a screen: default channel, play now, manifest version. */
function screenContentCard(screenId, channels, getScreen, reload) {
  const names = new Map(channels.map((c) => [c.id, c.name]));
  const canEditContent = isAdmin() || isEditor();
  const channelRef = (cid) => {
    if (!cid) return null;
    if (!names.has(cid)) return h('span', { class: 'mono', text: cid });
    return canEditContent ? h('a', { href: `#/channels/${encodeURIComponent(cid)}`, text: names.get(cid) }) : names.get(cid);
  };
  const currentDd = h('dd', { id: 'screen-channel-current' });
  const playDd = h('dd', { id: 'screen-play-now' });
  const versionDd = h('dd', { id: 'screen-manifest-version' });
  const list = h('dl', { class: 'kv kv-compact' },
    h('dt', { text: 'Default channel' }), currentDd,
    h('dt', { text: 'Play now' }), playDd,
    h('dt', { text: 'Content version' }), versionDd);
  const admin = isAdmin();
  let select = null;
  let shown = null; // the channel last written into the select
  let stop = null;
  const forms = [];

  if (admin) {
    const options = () => channels.map((c) => h('option', { value: c.id, text: c.name }));
    select = h('select', { id: 'screen-channel' }, h('option', { value: '', text: 'None' }), options());
    const save = h('button', { id: 'screen-channel-save', type: 'submit', class: 'btn btn-primary', text: 'Assign' });
    const assign = h('form', { id: 'screen-channel-form', class: 'form-inline' },
      field('Default channel', select),
      h('div', { class: 'field field-button' }, save),
      h('p', { class: 'hint form-note', text: 'What the screen plays when no schedule or “play now” applies.' }));
    assign.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const cid = select.value || null;
      busy(save, async () => {
        try {
          await api.setScreenChannel(screenId, cid);
          shown = null; // take the saved value
          const s = getScreen();
          toast(cid ? `“${s.name}” now plays “${names.get(cid) || cid}” by default. It switches once it has the content.`
            : `“${s.name}” has no default channel now.`);
          reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      });
    });
    forms.push(assign);

    const pnChannel = h('select', { id: 'play-now-channel' }, options());
    const minutes = h('input', {
      id: 'play-now-minutes', type: 'number', min: '1', max: '527040', step: '1', value: '60', inputmode: 'numeric',
      class: 'input-short',
    });
    const start = h('button', { id: 'play-now-start', type: 'submit', class: 'btn', text: 'Play now', disabled: !channels.length });
    stop = h('button', { id: 'play-now-stop', type: 'button', class: 'btn btn-danger', text: 'Stop', hidden: true });
    const playForm = h('form', { id: 'play-now-form', class: 'form-inline play-now-form' },
      field('Play now', pnChannel),
      field('For (minutes)', minutes),
      h('div', { class: 'field field-button inline' }, start, stop));
    playForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const n = Number(minutes.value);
      if (!pnChannel.value) { toast('Create a channel first.', 'error'); return; }
      if (!Number.isInteger(n) || n < 1 || n > 527040) {
        toast('Give a whole number of minutes, from 1 to 527040 (a year).', 'error');
        minutes.focus();
        return;
      }
      busy(start, async () => {
        try {
          const until = Math.floor(api.serverNow()) + n * 60;
          await api.playNow(screenId, pnChannel.value, until);
          toast(`“${names.get(pnChannel.value)}” plays now, until ${fmtTime(until).slice(11, 16)}.`);
          reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      });
    });
    stop.addEventListener('click', () => busy(stop, async () => {
      try {
        await api.stopPlayNow(screenId);
        toast('“Play now” ended: back to the schedule and the default channel.');
        reload();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    forms.push(playForm);
    if (!channels.length) {
      forms.push(h('p', { class: 'hint' }, 'No channel yet. ', h('a', { href: '#/channels/new', text: 'Create one' }), ' to assign it.'));
    }
  }

  function sync(s) {
    currentDd.replaceChildren(channelRef(s.channel_id) || 'None');
    const pn = s.play_now && s.play_now.until > api.serverNow() ? s.play_now : null;
    playDd.replaceChildren(pn ? h('span', {}, channelRef(pn.channel_id), ` until ${fmtTime(pn.until)}`) : 'Not active');
    versionDd.textContent = s.manifest_version ? String(s.manifest_version) : 'None yet';
    if (select) {
      const next = s.channel_id || '';
      if (next && !names.has(next)) select.append(h('option', { value: next, text: next }));
      if (shown === null || select.value === shown) select.value = next;
      shown = next;
    }
    if (stop) stop.hidden = !pn;
  }

  const el = h('section', { class: 'card', id: 'screen-content', 'aria-labelledby': 'card-content' },
    h('h2', { id: 'card-content', text: 'Content' }),
    h('div', { class: 'content-grid' },
      list,
      forms.length ? h('div', { class: 'stack' }, ...forms) : null));
  return { el, sync };
}

// ---------------------------------------------------------------- schedules

async function renderSchedules(stale) {
  const [{ schedules }, channelsRes, screensRes] = await Promise.all([
    api.listSchedules(),
    api.listChannels().catch(() => ({ channels: [] })),
    api.listScreens().catch(() => ({ screens: [] })),
  ]);
  if (stale()) return h('div');
  const channels = channelsRes.channels || [];
  const screens = (screensRes.screens || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const channelName = new Map(channels.map((c) => [c.id, c.name]));
  const screenName = new Map(screens.map((s) => [s.id, s.name]));
  const groups = [...new Set(screens.map((s) => s.group).filter(Boolean))].sort((a, b) => a.localeCompare(b));

  const COLS = isAdmin() ? ['Priority', 'Target', 'Channel', 'Days', 'Hours', 'Dates', 'Actions'] : ['Priority', 'Target', 'Channel', 'Days', 'Hours', 'Dates'];
  const tbody = h('tbody');
  const table = h('table', { id: 'schedules-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Schedules, highest priority first' }),
    headRow(COLS, isAdmin()),
    tbody);

  function targetCell(target) {
    if (target.startsWith('screen:')) {
      const sid = target.slice(7);
      return h('span', {}, h('span', { class: 'hint', text: 'Screen ' }),
        screenName.has(sid) ? h('a', { href: `#/screens/${encodeURIComponent(sid)}`, text: screenName.get(sid) }) : h('span', { class: 'mono', text: sid }));
    }
    if (target.startsWith('group:')) return h('span', {}, h('span', { class: 'hint', text: 'Group ' }), h('strong', { text: target.slice(6) }));
    return target;
  }

  function fill(list) {
    tbody.replaceChildren();
    if (!list.length) {
      tbody.append(h('tr', { class: 'empty', id: 'schedules-empty' }, h('td', { colspan: String(COLS.length) },
        h('p', { class: 'empty-title', text: 'No schedules' }),
        h('p', { class: 'hint', text: 'Screens play their default channel. A schedule plays another channel on some days or hours.' }))));
    }
    for (const sc of list) {
      const dates = sc.from || sc.until
        ? `${sc.from ? `from ${sc.from}` : ''}${sc.from && sc.until ? ' ' : ''}${sc.until ? `until ${sc.until}` : ''}` : 'Always';
      const cells = [
        h('td', { class: 'cell-strong', text: String(sc.priority) }),
        h('td', {}, targetCell(sc.target)),
        h('td', {}, channelName.has(sc.channel_id)
          ? h('a', { href: `#/channels/${encodeURIComponent(sc.channel_id)}`, text: channelName.get(sc.channel_id) })
          : h('span', { class: 'mono', text: sc.channel_id })),
        h('td', { text: daysText(sc.days) }),
        h('td', { class: 'nowrap', text: sc.start === '00:00' && sc.end === '24:00' ? 'All day' : `${sc.start}–${sc.end}` }),
        h('td', { text: dates }),
      ];
      if (isAdmin()) {
        const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', 'aria-label': `Delete the schedule of ${channelName.get(sc.channel_id) || sc.channel_id}` });
        del.addEventListener('click', () => busy(del, async () => {
          if (!window.confirm('Delete this schedule? The screens it targets go back to their other schedules and default channel.')) return;
          try {
            await api.deleteSchedule(sc.id);
            toast('Schedule deleted.');
            await reload();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }));
        cells.push(h('td', { class: 'col-actions' }, h('div', { class: 'row-actions' }, del)));
      }
      tbody.append(labelledRow(COLS, { dataset: { scheduleId: sc.id, target: sc.target, channelId: sc.channel_id } }, ...cells));
    }
  }
  async function reload() {
    const res = await api.listSchedules();
    if (!stale()) fill(res.schedules || []);
  }
  fill(schedules || []);

  let formCard = null;
  if (isAdmin()) {
    const kind = h('select', { id: 'schedule-target-kind' },
      h('option', { value: 'screen', text: 'A screen' }), h('option', { value: 'group', text: 'A group of screens' }));
    const screenSel = h('select', { id: 'schedule-screen' },
      screens.length ? screens.map((s) => h('option', { value: s.id, text: s.name })) : h('option', { value: '', text: 'No screens yet' }));
    const groupIn = h('input', { id: 'schedule-group', type: 'text', maxlength: '128', autocomplete: 'off', list: 'schedule-groups', placeholder: 'e.g. Ground floor' });
    const groupList = h('datalist', { id: 'schedule-groups' }, groups.map((g) => h('option', { value: g })));
    const screenField = field('Screen', screenSel);
    const groupField = field('Group', groupIn, 'The screens of this group, now and later.');
    const channelSel = h('select', { id: 'schedule-channel' },
      channels.length ? channels.map((c) => h('option', { value: c.id, text: c.name })) : h('option', { value: '', text: 'No channels yet' }));
    const dayBoxes = ALL_DAYS.map((d) => h('label', { class: 'day', for: `schedule-day-${d}`, title: WEEKDAY_NAMES[d - 1] },
      h('input', { type: 'checkbox', id: `schedule-day-${d}`, value: String(d), checked: true }),
      h('span', { text: WEEKDAYS[d - 1] })));
    const start = h('input', { id: 'schedule-start', type: 'time' });
    const end = h('input', { id: 'schedule-end', type: 'time' });
    const from = h('input', { id: 'schedule-from', type: 'date' });
    const until = h('input', { id: 'schedule-until', type: 'date' });
    const priority = h('input', { id: 'schedule-priority', type: 'number', min: '-1000', max: '1000', step: '1', value: '0', inputmode: 'numeric' });
    const err = h('p', { id: 'schedule-error', class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { id: 'schedule-create', type: 'submit', class: 'btn btn-primary', text: 'Add schedule' });
    const showTarget = () => {
      screenField.hidden = kind.value !== 'screen';
      groupField.hidden = kind.value !== 'group';
    };
    if (!screens.length) kind.value = 'group';
    showTarget();
    kind.addEventListener('change', showTarget);
    const form = h('form', { id: 'schedule-form', class: 'form-grid' },
      field('Plays on', kind),
      screenField, groupField, groupList,
      field('Channel', channelSel),
      field('Priority', priority, 'When several schedules apply, the highest wins.'),
      h('fieldset', { class: 'days form-wide' }, h('legend', { text: 'Days' }), ...dayBoxes),
      field('From (time)', start, 'Empty: from midnight.'),
      field('To (time)', end, 'Empty: until midnight.'),
      field('First day', from, 'Empty: from now on.'),
      field('Last day', until, 'Empty: no end.'),
      h('div', { class: 'form-footer' }, err, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const body = {
        target: kind.value === 'screen' ? `screen:${screenSel.value}` : `group:${groupIn.value.trim()}`,
        channel_id: channelSel.value,
        days: ALL_DAYS.filter((d) => $(`#schedule-day-${d}`).checked),
        start: start.value || '00:00',
        end: end.value || '24:00',
        priority: intOrRaw(priority.value || '0'),
      };
      if (from.value) body.from = from.value;
      if (until.value) body.until = until.value;
      if (kind.value === 'screen' && !screenSel.value) { setError(err, 'Pair a screen first, or choose a group.'); return; }
      if (kind.value === 'group' && !groupIn.value.trim()) { setError(err, 'Name the group.'); groupIn.focus(); return; }
      if (!body.channel_id) { setError(err, 'Create a channel first.'); return; }
      if (!body.days.length) { setError(err, 'Choose at least one day.'); $('#schedule-day-1').focus(); return; }
      if (body.start >= body.end && body.end !== '24:00') { setError(err, 'The start must be before the end.'); start.focus(); return; }
      if (body.from && body.until && body.from > body.until) { setError(err, 'The first day must not be after the last day.'); from.focus(); return; }
      busy(submit, async () => {
        try {
          await api.createSchedule(body);
          toast('Schedule added. The screens concerned get it within seconds.');
          await reload();
        } catch (e) {
          setError(err, capital(errorText(e)));
        }
      });
    });
    formCard = card('Add a schedule',
      h('p', { class: 'hint', text: 'Screens follow schedules on their own clock and time zone, even offline. “Play now” on a screen’s page overrides them; the default channel plays when none applies.' }),
      form);
  }

  return h('div', { class: 'page' },
    pageHeader('Schedules'),
    formCard,
    h('section', { class: 'card', 'aria-label': 'All schedules' },
      h('p', { class: 'hint', text: 'Highest priority first; among equal priorities, the older schedule wins.' }),
      tableWrap(table, 'Schedules')));
}

// ---------------------------------------------------------------- reports

async function renderReports(stale) {
  const [screensRes, libRes] = await Promise.all([
    api.listScreens().catch(() => ({ screens: [] })),
    api.listMedia().catch(() => ({ media: [] })),
  ]);
  if (stale()) return h('div');
  const screens = (screensRes.screens || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const media = (libRes.media || []).slice().sort((a, b) => a.filename.localeCompare(b.filename));
  const mediaBy = new Map(media.map((m) => [m.sha256, m]));

  const screenSel = h('select', { id: 'report-screen' }, h('option', { value: '', text: 'All screens' }),
    screens.map((s) => h('option', { value: s.id, text: s.name })));
  const mediaSel = h('select', { id: 'report-media' }, h('option', { value: '', text: 'All media' }),
    media.map((m) => h('option', { value: m.sha256, text: m.filename })));
  const today = new Date();
  const weekAgo = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6);
  const fromIn = h('input', { id: 'report-from', type: 'date', value: dateValue(weekAgo) });
  const toIn = h('input', { id: 'report-to', type: 'date', value: dateValue(today) });
  const run = h('button', { id: 'report-run', type: 'submit', class: 'btn btn-primary', text: 'Show' });
  const csv = h('a', { id: 'report-csv', class: 'btn', download: 'proof-of-play.csv', text: 'Export CSV' });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });

  function filters() {
    const f = {};
    if (screenSel.value) f.screen_id = screenSel.value;
    if (mediaSel.value) f.sha256 = mediaSel.value;
    if (fromIn.value) f.from = Math.floor(new Date(`${fromIn.value}T00:00:00`).getTime() / 1000);
    if (toIn.value) f.to = Math.floor(new Date(`${toIn.value}T23:59:59`).getTime() / 1000);
    return f;
  }
  const updateCsv = () => { csv.href = api.playsCsvUrl(filters()); };
  updateCsv();

  const form = h('form', { id: 'report-form', class: 'form-grid report-form' },
    field('Screen', screenSel), field('Media', mediaSel), field('From', fromIn), field('To', toIn),
    h('div', { class: 'form-footer' }, err, csv, run));
  form.addEventListener('input', updateCsv);
  form.addEventListener('change', updateCsv);

  const summary = h('p', { id: 'report-summary', class: 'report-summary', 'aria-live': 'polite' });
  const MCOLS = ['Media', 'Plays', 'Time on screen', 'Screens'];
  const SCOLS = ['Screen', 'Plays', 'Time on screen'];
  const mbody = h('tbody');
  const sbody = h('tbody');
  const mtable = h('table', { id: 'report-media-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Plays per medium' }), headRow(MCOLS), mbody);
  const stable = h('table', { id: 'report-screen-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Plays per screen' }), headRow(SCOLS), sbody);

  function show(plays) {
    const perMedia = new Map();
    const perScreen = new Map();
    let total = 0;
    for (const p of plays) {
      total += Number(p.duration_ms) || 0;
      const key = p.sha256 || '';
      const m = perMedia.get(key) || { sha256: key, filename: p.filename, plays: 0, ms: 0, screens: new Set() };
      m.plays += 1;
      m.ms += Number(p.duration_ms) || 0;
      m.screens.add(p.screen_id);
      if (!m.filename && p.filename) m.filename = p.filename;
      perMedia.set(key, m);
      const s = perScreen.get(p.screen_id) || { id: p.screen_id, name: p.screen, plays: 0, ms: 0 };
      s.plays += 1;
      s.ms += Number(p.duration_ms) || 0;
      perScreen.set(p.screen_id, s);
    }
    summary.textContent = plays.length
      ? `${plays.length.toLocaleString()} play${plays.length === 1 ? '' : 's'} · ${fmtMs(total)} on screen${plays.length >= 100000 ? ' (the first 100,000 only: narrow the dates)' : ''}`
      : 'No plays in this period.';
    const byPlays = (a, b) => b.plays - a.plays || b.ms - a.ms;
    mbody.replaceChildren();
    if (!perMedia.size) mbody.append(emptyRow(MCOLS.length, 'Nothing played.'));
    for (const m of [...perMedia.values()].sort(byPlays)) {
      const lib = mediaBy.get(m.sha256);
      const label = m.sha256 ? (m.filename || (lib && lib.filename) || `${m.sha256.slice(0, 12)}… (deleted)`) : 'Web pages and texts';
      mbody.append(labelledRow(MCOLS, { dataset: { sha256: m.sha256 } },
        h('td', { class: 'cell-strong' }, h('div', { class: 'media-cell' },
          m.sha256 && lib ? mediaThumb(lib, 'shot-mini') : null, h('span', { text: label }))),
        h('td', { class: 'num', text: m.plays.toLocaleString() }),
        h('td', { class: 'num nowrap', text: fmtMs(m.ms) }),
        h('td', { class: 'num', text: String(m.screens.size) })));
    }
    sbody.replaceChildren();
    if (!perScreen.size) sbody.append(emptyRow(SCOLS.length, 'Nothing played.'));
    for (const s of [...perScreen.values()].sort(byPlays)) {
      sbody.append(labelledRow(SCOLS, { dataset: { screenId: s.id } },
        h('td', { class: 'cell-strong', text: s.name || `${s.id} (deleted)` }),
        h('td', { class: 'num', text: s.plays.toLocaleString() }),
        h('td', { class: 'num nowrap', text: fmtMs(s.ms) })));
    }
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    setError(err, null);
    if (fromIn.value && toIn.value && fromIn.value > toIn.value) {
      setError(err, 'The first day must not be after the last day.');
      return;
    }
    updateCsv();
    try {
      const res = await api.listPlays(filters());
      if (mine !== seq || stale()) return;
      show(res.plays || []);
    } catch (e) {
      if (mine === seq && !stale()) setError(err, e);
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(run, load);
  });
  await load();

  return h('div', { class: 'page' },
    pageHeader('Reports'),
    card('Proof of play',
      h('p', { class: 'hint', text: 'What the screens reported playing, item by item. Days are in your browser’s time zone.' }),
      form),
    summary,
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'card-per-media' },
        h('h2', { id: 'card-per-media', text: 'Per medium' }), tableWrap(mtable, 'Plays per medium')),
      h('section', { class: 'card', 'aria-labelledby': 'card-per-screen' },
        h('h2', { id: 'card-per-screen', text: 'Per screen' }), tableWrap(stable, 'Plays per screen'))));
}

// ---------------------------------------------------------------- firewall (served at /firewall)

async function renderFirewall() {
  const print = h('button', { id: 'firewall-print', type: 'button', class: 'btn btn-primary', text: 'Print' });
  print.addEventListener('click', () => window.print());
  const header = h('div', { class: 'page-header' },
    h('h1', { id: 'page-title', tabindex: '-1', text: 'What the network must allow' }),
    h('div', { class: 'page-actions no-print' },
      h('a', { class: 'btn btn-ghost', href: '/#/account', text: '← Back to the console' }),
      isAdmin() ? print : null));
  if (!isAdmin()) {
    return h('div', { class: 'page firewall-page' }, header,
      h('div', { class: 'card' }, h('p', { id: 'firewall-forbidden', text: 'Only administrators can see the firewall rules. Ask one to print this page for your network team.' })));
  }
  const fw = await api.getFirewall();
  const COLS = ['From', 'To', 'Transport', 'Port', 'Protocol', 'Direction', 'Purpose'];
  const tbody = h('tbody');
  for (const r of fw.rules || []) {
    tbody.append(labelledRow(COLS, { dataset: { transport: r.transport, port: String(r.port), protocol: r.protocol } },
      h('td', { class: 'cell-strong', text: r.from }),
      h('td', { class: 'mono', text: r.to }),
      h('td', { text: r.transport }),
      h('td', { class: 'mono num', text: String(r.port) }),
      h('td', { text: r.protocol }),
      h('td', { text: r.direction }),
      h('td', { class: 'detail', text: r.purpose })));
  }
  const table = h('table', { id: 'firewall-table', class: 'table table-stack firewall-table' },
    h('caption', { class: 'visually-hidden', text: 'Connections Vitrine needs' }),
    headRow(COLS),
    tbody);
  const source = fw.generated_from === 'public_url'
    ? 'the server’s configured public URL'
    : 'the server’s listen address and the address this page was opened with (no public URL is configured)';
  return h('div', { class: 'page firewall-page' },
    header,
    h('section', { class: 'card', 'aria-label': 'Rules' },
      h('dl', { class: 'kv firewall-meta' },
        h('dt', { text: 'Vitrine server' }), h('dd', { class: 'mono', id: 'firewall-origin', text: location.origin }),
        h('dt', { text: 'Generated from' }), h('dd', { id: 'firewall-source', text: source }),
        h('dt', { text: 'Printed' }), h('dd', { text: fmtTime(Math.floor(Date.now() / 1000)) })),
      tableWrap(table, 'Firewall rules')),
    h('section', { class: 'card', 'aria-labelledby': 'card-notes' },
      h('h2', { id: 'card-notes', text: 'Notes' }),
      h('ul', { id: 'firewall-notes', class: 'notes' }, (fw.notes || []).map((n) => h('li', { text: n })))));
}

// ---------------------------------------------------------------- start

async function start() {
  $('#logout').addEventListener('click', () => doLogout());
  $('#skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = $('#page-title') || $('#main');
    target.focus();
  });
  let shownHash = location.hash;
  window.addEventListener('hashchange', () => {
    // a page with unsaved changes may keep the user (the channel editor)
    if (state.leaveGuard && location.hash !== shownHash && !state.leaveGuard()) {
      history.replaceState(null, '', shownHash || location.pathname);
      return;
    }
    shownHash = location.hash;
    render();
  });
  try {
    const res = await api.getSession();
    setUser(res.user, res.csrf_token);
  } catch (err) {
    setUser(null);
    if (err.status !== 401) toast(errorText(err), 'error');
  }
  render();
}

start();
