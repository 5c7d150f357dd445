// Device management on a screen's page: the inventory the player reports
// (and what its watchdog restored), the log archives collected from it, and
// its display power (on/off now, and the weekly schedule it keeps).

import * as api from '../api.js';
import { canControl, isAdmin } from '../session.js';
import { card, emptyRow, h, headRow, labelledRow, setError, tableWrap } from '../dom.js';
import { duration, fmtTime } from '../format.js';
import { fmtBytes } from '../content-common.js';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

const dash = (v) => (v === undefined || v === null || v === '' ? '—' : v);

function kv(label, value, attrs = {}) {
  return [h('dt', { text: label }), h('dd', attrs, dash(value))];
}

function inventoryCard() {
  const list = h('dl', { class: 'kv', id: 'screen-inventory' });
  const DCOLS = ['Mount', 'Free', 'Size'];
  const disks = h('tbody');
  const NCOLS = ['Interface', 'Addresses', 'MAC'];
  const nets = h('tbody');
  const restored = h('div', { id: 'screen-restored' });
  const el = card('Inventory', list,
    h('h3', { text: 'Disks' }),
    tableWrap(h('table', { id: 'inventory-disks', class: 'table table-dense table-stack' }, headRow(DCOLS), disks), 'Disks'),
    h('h3', { text: 'Network' }),
    tableWrap(h('table', { id: 'inventory-network', class: 'table table-dense table-stack' }, headRow(NCOLS), nets), 'Network'),
    restored);

  function sync(s) {
    const inv = s.inventory || {};
    const os = inv.os || {};
    const cpu = inv.cpu || {};
    const mem = inv.memory || {};
    const displays = (inv.displays || []).filter((d) => d.connected)
      .map((d) => `${d.name}${d.resolution ? ` ${d.resolution}` : ''}`).join(', ');
    if (!s.inventory_at) {
      list.replaceChildren(h('p', { class: 'hint', text: 'The screen has not reported its inventory yet (players report it when they start).' }));
    } else {
      list.replaceChildren(
        ...kv('Model', inv.model, { id: 'inventory-model' }),
        ...kv('Hostname', inv.hostname, { id: 'inventory-hostname' }),
        ...kv('Operating system', os.name, { id: 'inventory-os' }),
        ...kv('Kernel', os.kernel, { id: 'inventory-kernel', class: 'mono' }),
        ...kv('Player', inv.player_version, { id: 'inventory-player' }),
        ...kv('CPU', [cpu.model, cpu.arch, cpu.cores ? `${cpu.cores} cores` : ''].filter(Boolean).join(' · '), { id: 'inventory-cpu' }),
        ...kv('Memory', mem.total_bytes ? `${fmtBytes(mem.total_bytes)}${mem.available_bytes ? ` (${fmtBytes(mem.available_bytes)} free)` : ''}` : null,
          { id: 'inventory-memory' }),
        ...kv('Displays', displays || 'none connected', { id: 'inventory-displays' }),
        ...kv('Uptime at report', typeof inv.uptime_s === 'number' ? duration(inv.uptime_s) : null),
        ...kv('Reported', fmtTime(s.inventory_at), { id: 'inventory-at' }));
    }
    disks.replaceChildren();
    for (const d of inv.disks || []) {
      disks.append(labelledRow(DCOLS, { class: d.player_data ? 'row-highlight' : '' },
        h('td', { class: 'mono', text: `${d.mount || '?'}${d.player_data ? ' (player data)' : ''}` }),
        h('td', { text: typeof d.free_bytes === 'number' ? fmtBytes(d.free_bytes) : '—' }),
        h('td', { text: typeof d.total_bytes === 'number' ? fmtBytes(d.total_bytes) : '—' })));
    }
    if (!disks.children.length) disks.append(emptyRow(DCOLS.length, 'Not reported.'));
    nets.replaceChildren();
    for (const n of inv.network || []) {
      nets.append(labelledRow(NCOLS, {},
        h('td', { text: `${n.name}${n.up ? '' : ' (down)'}` }),
        h('td', { class: 'mono', text: (n.addresses || []).join(', ') || '—' }),
        h('td', { class: 'mono', text: n.mac || '—' })));
    }
    if (!nets.children.length) nets.append(emptyRow(NCOLS.length, 'Not reported.'));
    const found = (s.state && s.state.restored) || [];
    restored.replaceChildren(...(found.length ? [
      h('h3', { text: 'Restored by the watchdog at its last start' }),
      h('ul', { class: 'plain-list' }, found.map((f) => h('li', { dataset: { file: f.file } },
        h('code', { text: f.file }), ` ${f.problem}: ${f.action}`))),
    ] : []));
  }
  return { el, sync };
}

function logsCard(id, send) {
  const COLS = ['Collected', 'Size', ''];
  const body = h('tbody');
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const collect = canControl()
    ? h('button', { type: 'button', id: 'action-collect_logs', class: 'btn', text: 'Collect logs' }) : null;
  if (collect) collect.addEventListener('click', () => send('collect_logs', {}, collect));
  const el = card('Logs',
    h('p', { class: 'hint', text: 'The player uploads an archive of its own logs and the system journal (at most 4 MiB before compression). The ten newest are kept.' }),
    collect ? h('div', { class: 'actions' }, collect) : null, err,
    tableWrap(h('table', { id: 'screen-logs', class: 'table table-dense table-stack' }, headRow(COLS), body), 'Log archives'));
  let shown = '';
  let loading = null;
  function refresh() {
    if (!loading) loading = load().finally(() => { loading = null; });
    return loading;
  }
  async function load() {
    try {
      const { logs } = await api.listScreenLogs(id);
      const sig = JSON.stringify(logs.map((l) => l.id));
      if (sig === shown) return;
      shown = sig;
      body.replaceChildren();
      for (const l of logs) {
        body.append(labelledRow(COLS, { dataset: { logId: l.id } },
          h('td', { text: fmtTime(l.created_at) }),
          h('td', { text: fmtBytes(l.size) }),
          h('td', {}, h('a', { class: 'btn btn-small', href: api.screenLogUrl(id, l.id), download: '', text: 'Download' }))));
      }
      if (!logs.length) body.append(emptyRow(COLS.length, 'No logs collected yet.'));
      setError(err, null);
    } catch (e) {
      setError(err, e);
    }
  }
  return { el, refresh };
}

function powerCard(send, getScreen) {
  const rows = h('div', { id: 'power-periods', class: 'power-periods' });
  const err = h('p', { id: 'power-error', class: 'form-error', role: 'alert', hidden: true });
  const status = h('p', { id: 'power-status', class: 'hint' });
  let editing = false;

  function periodRow(p = { on: '07:00', off: '19:00', days: [1, 2, 3, 4, 5] }) {
    const days = p.days || [1, 2, 3, 4, 5, 6, 7];
    const boxes = DAYS.map((d, i) => {
      const box = h('input', { type: 'checkbox', value: String(i + 1), 'aria-label': d });
      box.checked = days.includes(i + 1);
      box.addEventListener('change', () => { editing = true; });
      return h('label', { class: 'check day' }, box, h('span', { text: d }));
    });
    const on = h('input', { type: 'time', class: 'power-on', value: p.on, required: true, 'aria-label': 'Display on at' });
    const off = h('input', { type: 'time', class: 'power-off', value: p.off, required: true, 'aria-label': 'Display off at' });
    const remove = h('button', { type: 'button', class: 'btn btn-small', text: 'Remove' });
    const row = h('div', { class: 'power-period' }, h('div', { class: 'days' }, boxes),
      h('span', { text: 'on' }), on, h('span', { text: 'off' }), off, remove);
    for (const input of [on, off]) input.addEventListener('input', () => { editing = true; });
    remove.addEventListener('click', () => { editing = true; row.remove(); });
    return row;
  }

  function read() {
    return [...rows.querySelectorAll('.power-period')].map((row) => ({
      days: [...row.querySelectorAll('input[type=checkbox]')].filter((b) => b.checked).map((b) => Number(b.value)),
      on: row.querySelector('.power-on').value,
      off: row.querySelector('.power-off').value,
    }));
  }

  const add = h('button', { type: 'button', id: 'power-add', class: 'btn btn-small', text: 'Add a period' });
  add.addEventListener('click', () => { editing = true; rows.append(periodRow()); });
  const save = h('button', { type: 'button', id: 'power-save', class: 'btn btn-primary', text: 'Save schedule' });
  save.addEventListener('click', () => {
    setError(err, null);
    const schedule = read();
    const bad = schedule.findIndex((p) => !p.days.length || !p.on || !p.off || p.on === p.off);
    if (bad >= 0) {
      setError(err, `Period ${bad + 1}: choose at least one day, and different on and off times.`);
      return;
    }
    editing = false;
    send('power_schedule', { schedule }, save);
  });
  const onNow = h('button', { type: 'button', id: 'action-display-on', class: 'btn', text: 'Display on' });
  const offNow = h('button', { type: 'button', id: 'action-display-off', class: 'btn', text: 'Display off' });
  onNow.addEventListener('click', () => send('display_power', { on: true }, onNow));
  offNow.addEventListener('click', () => send('display_power', { on: false }, offNow));

  const el = card('Display power',
    status,
    h('div', { class: 'actions' }, onNow, offNow),
    h('h3', { text: 'Weekly schedule (the screen’s local time)' }),
    h('p', { class: 'hint', text: 'The display is on during these periods and off outside them; a period whose off time is before its on time runs past midnight. No period: always on. A switch by hand lasts until the schedule next turns.' }),
    rows, err, h('div', { class: 'actions' }, add, isAdmin() ? save : null));

  function sync(s) {
    const st = s.state || {};
    status.textContent = `Display is ${st.display_power || 'unknown'} (as of the last heartbeat).`;
    if (editing) return;
    rows.replaceChildren(...(s.power_schedule || []).map((p) => periodRow(p)));
  }
  sync(getScreen());
  return { el: canControl() ? el : null, sync };
}

/** The device-management cards of a screen's page. send(type, payload, button) sends an instruction. */
export function screenDeviceCards(id, getScreen, send) {
  const inventory = inventoryCard();
  const logs = logsCard(id, send);
  const power = powerCard(send, getScreen);
  logs.refresh();
  return {
    el: h('div', { class: 'device-cards' }, inventory.el, h('div', { class: 'grid-2' }, logs.el, power.el)),
    sync(s) {
      inventory.sync(s);
      power.sync(s);
      logs.refresh();
    },
  };
}
