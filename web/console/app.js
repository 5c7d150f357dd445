// The Vitrine admin console: a small single-page app with hash routing.
//
// Views: login, #/users, #/audit, #/account (admins), #/profile, #/tokens.
// The DOM is built with createElement/textContent only (never innerHTML with
// data), there are no inline scripts or styles (the server's CSP forbids
// them), and every control is a real button, link, label or form field.

import * as api from './api.js';
import { solveChallenge } from './pow.js';

const ROLES = ['admin', 'editor', 'operator', 'support'];
const ROLE_HELP = {
  admin: 'Everything in the account, including users and security settings.',
  editor: 'Content of the channels and zones granted to them.',
  operator: 'Live chat with the visitors of your web sites.',
  support: 'Remote control of the screens granted to them.',
};
const ROUTES = {
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

// ---------------------------------------------------------------- shell

function runCleanup() {
  const fns = state.cleanup;
  state.cleanup = [];
  for (const fn of fns) {
    try { fn(); } catch { /* ignore */ }
  }
}

function currentRoute() {
  const m = /^#\/([a-z]+)/.exec(location.hash || '');
  return m ? m[1] : '';
}

function defaultRoute() {
  return isAdmin() ? 'users' : 'profile';
}

function updateHeader() {
  const header = $('#topbar');
  const loggedIn = !!state.user;
  header.hidden = !loggedIn;
  if (!loggedIn) return;
  const forced = !!state.user.must_change_password;
  const route = currentRoute();
  for (const [name, def] of Object.entries(ROUTES)) {
    const link = $(`#nav-${name}`);
    if (!link) continue;
    const item = link.closest('li') || link;
    item.hidden = (def.admin && !isAdmin()) || (forced && name !== 'profile');
    if (name === route) link.setAttribute('aria-current', 'page');
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
  let route = currentRoute();
  const def = ROUTES[route];
  if (state.user.must_change_password && route !== 'profile') {
    location.replace('#/profile');
    return; // hashchange renders
  }
  if (!def || (def.admin && !isAdmin())) {
    location.replace(`#/${defaultRoute()}`);
    return;
  }
  document.title = `${def.title} · Vitrine`;
  main.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
  try {
    const view = await def.render(() => seq !== state.renderSeq);
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

  const live = h('span', { id: 'audit-live', class: 'live live-off', role: 'status', text: 'Connecting…' });
  const csv = h('a', { id: 'audit-csv', class: 'btn', href: api.AUDIT_CSV_URL, download: 'audit.csv', text: 'Export CSV' });

  if (!stale() && typeof EventSource === 'function') {
    const es = new EventSource(api.EVENTS_URL);
    es.addEventListener('open', () => { live.textContent = 'Live'; live.className = 'live live-on'; });
    es.addEventListener('error', () => {
      live.textContent = es.readyState === EventSource.CLOSED ? 'Offline' : 'Reconnecting…';
      live.className = 'live live-off';
    });
    es.addEventListener('audit', (ev) => {
      try {
        addNewest(JSON.parse(ev.data));
      } catch {
        // ignore malformed event
      }
    });
    state.cleanup.push(() => es.close());
  } else {
    live.textContent = 'Not live';
  }

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
