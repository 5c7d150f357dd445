// The Profile page: the caller's password, two-factor login and sessions.

import * as api from '../api.js';
import { ROLE_HELP, state } from '../session.js';
import { badge, busy, card, errorText, field, h, pageHeader, setError, toast } from '../dom.js';
import { fmtTime } from '../format.js';
import { defaultRoute, render, setUser, signedOut, updateHeader } from '../shell.js';

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
  const isSixDigits = (v) => /^[0-9]{6}$/.test(v.replace(/\s+/g, ''));

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
      if (!isSixDigits(code.value)) { setError(err, 'Enter the 6-digit code shown by the app.'); code.focus(); return; }
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
      if (!isSixDigits(code.value)) { setError(err, 'Enter the current 6-digit code.'); code.focus(); return; }
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

export async function renderProfile() {
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
