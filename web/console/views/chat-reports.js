// The live chat's reports and search (#/chat-reports, admins): chats,
// answered, missed, waiting and handling times per day, department or
// operator over a period, as a bar chart (uPlot, vendored from npm by
// scripts/vendor-js; the table alone when it is missing) and a table, the
// same as CSV; and the search of chats by what was written, the visitor's
// name, page or address. Every text comes from the server and is shown as
// text.

import * as chat from '../chat/api.js';
import { busy, card, errorText, field, h, headRow, labelledRow, pageHeader, setError, tableWrap } from '../dom.js';
import { fmtTime } from '../format.js';
import { personName } from '../chat/common.js';

const DAY = 86400;
const COLS = ['Group', 'Chats', 'Answered', 'Missed', 'Mean wait', '90% waited less than', 'Longest wait',
  'Mean handling', 'Messages'];
const BY = [['day', 'Day'], ['department', 'Department'], ['operator', 'Operator']];

function isoDay(t) {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** A local date (YYYY-MM-DD) as Unix seconds at its local midnight. */
function dayStart(value) {
  const [y, m, d] = value.split('-').map(Number);
  return Math.floor(new Date(y, m - 1, d).getTime() / 1000);
}

function duration(s) {
  const n = Number(s) || 0;
  if (n < 60) return `${n} s`;
  if (n < 3600) return `${Math.floor(n / 60)} min ${n % 60} s`;
  return `${Math.floor(n / 3600)} h ${Math.floor((n % 3600) / 60)} min`;
}

let uplot = null; // the module, once loaded
async function loadChart() {
  if (uplot) return uplot;
  try {
    uplot = (await import('../vendor/uplot/uPlot.esm.js')).default;
  } catch {
    return null;
  }
  if (!document.querySelector('link[data-uplot]')) {
    document.head.append(h('link', { rel: 'stylesheet', href: '/assets/vendor/uplot/uPlot.min.css', 'data-uplot': '' }));
  }
  return uplot;
}

export async function renderChatReports(stale) {
  const now = Math.floor(Date.now() / 1000);
  const from = h('input', { id: 'report-from', type: 'date', required: true, value: isoDay(now - 29 * DAY) });
  const to = h('input', { id: 'report-to', type: 'date', required: true, value: isoDay(now) });
  const by = h('select', { id: 'report-by' }, BY.map(([v, t]) => h('option', { value: v, text: t })));
  const run = h('button', { type: 'submit', id: 'report-run', class: 'btn btn-primary', text: 'Show' });
  const csv = h('a', { id: 'report-csv', class: 'btn', text: 'Download CSV', download: '' });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { id: 'report-form', class: 'form-inline' },
    field('From', from), field('To (included)', to), field('By', by), h('div', { class: 'form-actions' }, run, csv), err);
  const chartBox = h('div', { id: 'report-chart', class: 'report-chart', role: 'img', 'aria-label': 'Chats per group' });
  const body = h('tbody');
  const table = h('table', { id: 'report-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Chat report' }), headRow(COLS), body);
  let plot = null;

  function params() {
    const q = new URLSearchParams({
      from: String(dayStart(from.value)), to: String(dayStart(to.value) + DAY), by: by.value,
      tz_offset_min: String(-new Date().getTimezoneOffset()),
    });
    return q;
  }

  function row(r, total) {
    return labelledRow(COLS, { class: total ? 'row-total' : '', dataset: { key: r.key } },
      h('td', { class: 'cell-strong', text: r.label || r.key }),
      ...[r.chats, r.answered, r.missed].map((n) => h('td', { class: 'num', text: String(n) })),
      ...[r.avg_wait_s, r.p90_wait_s, r.max_wait_s, r.avg_handle_s].map((n) => h('td', { class: 'num', text: duration(n) })),
      h('td', { class: 'num', text: String(r.messages) }));
  }

  async function draw(rows) {
    if (plot) {
      plot.destroy();
      plot = null;
    }
    chartBox.replaceChildren();
    const U = await loadChart();
    if (!U) {
      chartBox.append(h('p', { class: 'hint', text: 'The chart library is not installed on this server (scripts/vendor-js): the table has the figures.' }));
      return;
    }
    if (!rows.length) {
      chartBox.append(h('p', { class: 'hint', text: 'No chat in this period.' }));
      return;
    }
    const labels = rows.map((r) => r.label || r.key);
    const xs = rows.map((_, i) => i);
    // nested bars: all chats behind, the answered and the missed in front
    const series = [['Chats', '#2f5bea', 'chats', 0.7], ['Answered', '#1b8a5a', 'answered', 0.45],
      ['Missed', '#c0392b', 'missed', 0.2]];
    const data = [xs, ...series.map(([, , k]) => rows.map((r) => r[k]))];
    const width = Math.max(320, Math.min(chartBox.clientWidth || 720, 1000));
    plot = new U({
      width,
      height: 260,
      scales: { x: { time: false, range: [-0.6, rows.length - 0.4] }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [{ values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? labels[t] || '' : '')), incrs: [1] },
        { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] }],
      series: [{ label: BY.find(([v]) => v === by.value)[1] }, ...series.map(([label, color, , size]) => ({
        label,
        stroke: color,
        fill: `${color}cc`,
        width: 1,
        paths: U.paths.bars({ size: [size, Math.round(110 * size)], align: 0 }),
        points: { show: false },
      }))],
      legend: { show: true },
    }, data, chartBox);
  }

  async function show() {
    setError(err, null);
    if (!from.value || !to.value || dayStart(from.value) > dayStart(to.value)) {
      setError(err, 'The period must start on or before its last day.');
      return;
    }
    const q = params();
    csv.href = `/api/v1/chat/reports?${q}&format=csv`;
    try {
      const res = await chat.report(q.toString());
      if (stale()) return;
      body.replaceChildren(...res.rows.map((r) => row(r, false)), row(res.total, true));
      table.dataset.loaded = '1';
      await draw(res.rows);
    } catch (e) {
      setError(err, e);
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(run, show);
  });
  by.addEventListener('change', () => busy(run, show));

  // search
  const q = h('input', { id: 'chat-search-q', type: 'search', minlength: '2', maxlength: '200', required: true,
    placeholder: 'A word from a chat, a visitor’s name, a page or an address', 'aria-label': 'Search chats' });
  const go = h('button', { type: 'submit', id: 'chat-search-run', class: 'btn btn-primary', text: 'Search' });
  const results = h('ul', { id: 'chat-search-results', class: 'chat-list' });
  const searchErr = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const searchForm = h('form', { id: 'chat-search-form', class: 'form-inline' }, q, go, searchErr);
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(go, async () => {
      setError(searchErr, null);
      try {
        const res = await chat.searchChats(q.value.trim());
        if (stale()) return;
        results.replaceChildren(...(res.chats.length ? res.chats.map((c) => h('li', { class: 'chat-item', dataset: { chatId: c.id } },
          h('div', { class: 'chat-item-main' },
            h('a', { href: `#/chat/${encodeURIComponent(c.id)}`, class: 'chat-open', text: personName(c.visitor_name) }),
            h('span', { class: 'hint', text: [c.department, c.operator, c.state, fmtTime(c.created_at)].filter(Boolean).join(' · ') }),
            c.match ? h('span', { class: 'chat-preview wrap-anywhere', text: c.match }) : null)))
          : [h('li', { class: 'empty hint', text: 'No chat matches.' })]));
      } catch (e) {
        setError(searchErr, errorText(e));
      }
    });
  });

  const view = h('div', { class: 'page' },
    pageHeader('Chat reports', h('a', { href: '#/chat', class: 'btn btn-small', text: 'Live chat' })),
    card('Period', form),
    card('Chats', chartBox, tableWrap(table, 'Chat report')),
    card('Search chats and visitors', searchForm, results));
  show();
  return view;
}
