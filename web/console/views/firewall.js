// The firewall rules page, served at /firewall for the network team: what
// screens, browsers and the CLI reach, and the LAN ports the screens of a
// sync group use between themselves (multicast, with its group and TTL).

import * as api from '../api.js';
import { isAdmin } from '../session.js';
import { h, headRow, labelledRow, tableWrap } from '../dom.js';
import { fmtTime } from '../format.js';

// 7385, "49200-49400", or "7385 (or 29736, 2067)".
function portText(r) {
  if (r.port_last) return `${r.port}-${r.port_last}`;
  if (r.alternatives && r.alternatives.length) return `${r.port} (or ${r.alternatives.join(', ')})`;
  return String(r.port);
}

export async function renderFirewall() {
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
      h('td', { class: 'mono', text: r.multicast_group ? `${r.to} (multicast ${r.multicast_group}, TTL ${r.ttl})` : r.to }),
      h('td', { text: r.transport }),
      h('td', { class: 'mono num', text: portText(r) }),
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
