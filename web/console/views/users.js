// The Users page (admins): the users of the account, their roles, and the
// form that adds one.

import * as api from '../api.js';
import { ROLE_HELP, ROLES, state } from '../session.js';
import {
  $,
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
  secretPanel,
  setError,
  tableWrap,
  toast,
} from '../dom.js';

export async function renderUsers() {
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
