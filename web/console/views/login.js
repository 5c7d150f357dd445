// The sign-in page: login, password, the second factor when asked, and the
// proof of work the server asks for after repeated failures.

import * as api from '../api.js';
import { solveChallenge } from '../pow.js';
import { isFirewallPath } from '../session.js';
import { busy, errorText, field, h, setError } from '../dom.js';
import { currentRoute, defaultRoute, render, ROUTES, setUser, signedOut } from '../shell.js';

export function renderLogin() {
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
  // A login may need a proof of work first (after repeated failures, or
  // while many logins are being checked); the server answers 429 with a
  // fresh challenge, which we solve and resend. A 503 busy is retried.
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
        // the server says why: repeated failures, or many logins at once
        status.textContent = `${err.message || 'A check is needed'} — verifying your browser…`;
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
      if (err.status === 503 && err.code === 'busy' && round < 3) {
        // the password check queue is full for a moment: wait and resend
        status.textContent = 'The server is busy checking other logins — retrying…';
        await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 1000));
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
  setError(error, 'The login did not go through after several tries. Please try again.');
}

export async function doLogout() {
  try {
    await api.logout();
  } catch {
    // the session may already be gone; the cookie is cleared either way
  }
  signedOut('You are signed out.');
}
