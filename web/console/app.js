// The Vitrine admin console: a small single-page app with hash routing.
//
// Views: login, #/screens (the landing page), #/screens/{id}, #/pair (admins),
// #/users, #/audit, #/account (admins), #/profile, #/tokens. One EventSource
// (/api/v1/events) is shared by the pages that show live data.
// The DOM is built with createElement/textContent only (never innerHTML with
// data), there are no inline scripts or styles (the server's CSP forbids
// them), and every control is a real button, link, label or form field.

import * as api from './api.js';
import { sha256, solveChallenge } from './pow.js';

const ROLES = ['admin', 'editor', 'operator', 'support'];
const ROLE_HELP = {
  admin: 'Everything in the account, including users and security settings.',
  editor: 'Content of the channels and zones granted to them.',
  operator: 'Live chat with the visitors of your web sites.',
  support: 'Remote control of the screens granted to them.',
};
const ROUTES = {
  screens: { title: 'Screens', admin: false, render: renderScreensRoute },
  pair: { title: 'Pair a screen', admin: true, nav: 'screens', render: renderPair },
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
    item.hidden = (def.admin && !isAdmin()) || (forced && name !== 'profile');
    if (name === navRoute) link.setAttribute('aria-current', 'page');
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
  const def = ROUTES[route];
  if (state.user.must_change_password && route !== 'profile') {
    location.replace('#/profile');
    return; // hashchange renders
  }
  if (!def || (def.admin && !isAdmin())) {
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
      else if (!ROUTES[currentRoute()]) location.hash = `#/${defaultRoute()}`;
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
    card('IP allowlists', form));
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
    control,
    h('section', { class: 'card', 'aria-labelledby': 'card-history' },
      h('h2', { id: 'card-history', text: 'Instruction history' }),
      tableWrap(htable, 'Instruction history')),
    h('div', { class: 'grid-2' },
      card('Device', deviceList),
      settings ? settings.card : null),
    settings ? settings.danger : null);
}

// ---------------------------------------------------------------- start

async function start() {
  $('#logout').addEventListener('click', () => doLogout());
  $('#skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = $('#page-title') || $('#main');
    target.focus();
  });
  window.addEventListener('hashchange', () => render());
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
