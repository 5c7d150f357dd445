// The API tokens page: the caller's tokens, created and revoked here.

import * as api from '../api.js';
import {
  $,
  busy,
  card,
  emptyRow,
  errorText,
  field,
  h,
  headRow,
  labelledRow,
  pageHeader,
  secretPanel,
  setError,
  tableWrap,
  toast,
} from '../dom.js';
import { fmtTime } from '../format.js';

export async function renderTokens() {
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
