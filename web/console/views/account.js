// The Account page (admins): the organisation, the IP allowlists and the
// link to the firewall rules.

import * as api from '../api.js';
import { busy, card, field, h, pageHeader, setError, toast } from '../dom.js';
import { fmtTime } from '../format.js';

export async function renderAccount() {
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
