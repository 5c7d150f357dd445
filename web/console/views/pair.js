// The Pair a screen page (admins): the code shown by a screen, what the
// screen reported about itself, and its name.

import * as api from '../api.js';
import { busy, card, errorText, field, h, pageHeader, setError, toast } from '../dom.js';
import { fmtTime } from '../format.js';
import { pageTimers } from '../live.js';
import { normalizeCode, PAIR_ALPHABET, showCode, validCode } from '../screens-common.js';
import { capital } from '../content-common.js';

export async function renderPair(stale, route) {
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
