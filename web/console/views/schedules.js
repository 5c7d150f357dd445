// The Schedules page: when which channel plays on which screens.

import * as api from '../api.js';
import { isAdmin } from '../session.js';
import {
  $,
  busy,
  card,
  errorText,
  field,
  h,
  headRow,
  labelledRow,
  pageHeader,
  setError,
  tableWrap,
  toast,
} from '../dom.js';
import { ALL_DAYS, capital, daysText, intOrRaw, WEEKDAY_NAMES, WEEKDAYS } from '../content-common.js';

export async function renderSchedules(stale) {
  const [{ schedules }, channelsRes, screensRes] = await Promise.all([
    api.listSchedules(),
    api.listChannels().catch(() => ({ channels: [] })),
    api.listScreens().catch(() => ({ screens: [] })),
  ]);
  if (stale()) return h('div');
  const channels = channelsRes.channels || [];
  const screens = (screensRes.screens || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const channelName = new Map(channels.map((c) => [c.id, c.name]));
  const screenName = new Map(screens.map((s) => [s.id, s.name]));
  const groups = [...new Set(screens.map((s) => s.group).filter(Boolean))].sort((a, b) => a.localeCompare(b));

  const COLS = isAdmin() ? ['Priority', 'Target', 'Channel', 'Days', 'Hours', 'Dates', 'Actions'] : ['Priority', 'Target', 'Channel', 'Days', 'Hours', 'Dates'];
  const tbody = h('tbody');
  const table = h('table', { id: 'schedules-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Schedules, highest priority first' }),
    headRow(COLS, isAdmin()),
    tbody);

  function targetCell(target) {
    if (target.startsWith('screen:')) {
      const sid = target.slice(7);
      return h('span', {}, h('span', { class: 'hint', text: 'Screen ' }),
        screenName.has(sid) ? h('a', { href: `#/screens/${encodeURIComponent(sid)}`, text: screenName.get(sid) }) : h('span', { class: 'mono', text: sid }));
    }
    if (target.startsWith('group:')) return h('span', {}, h('span', { class: 'hint', text: 'Group ' }), h('strong', { text: target.slice(6) }));
    return target;
  }

  function fill(list) {
    tbody.replaceChildren();
    if (!list.length) {
      tbody.append(h('tr', { class: 'empty', id: 'schedules-empty' }, h('td', { colspan: String(COLS.length) },
        h('p', { class: 'empty-title', text: 'No schedules' }),
        h('p', { class: 'hint', text: 'Screens play their default channel. A schedule plays another channel on some days or hours.' }))));
    }
    for (const sc of list) {
      const dates = sc.from || sc.until
        ? `${sc.from ? `from ${sc.from}` : ''}${sc.from && sc.until ? ' ' : ''}${sc.until ? `until ${sc.until}` : ''}` : 'Always';
      const cells = [
        h('td', { class: 'cell-strong', text: String(sc.priority) }),
        h('td', {}, targetCell(sc.target)),
        h('td', {}, channelName.has(sc.channel_id)
          ? h('a', { href: `#/channels/${encodeURIComponent(sc.channel_id)}`, text: channelName.get(sc.channel_id) })
          : h('span', { class: 'mono', text: sc.channel_id })),
        h('td', { text: daysText(sc.days) }),
        h('td', { class: 'nowrap', text: sc.start === '00:00' && sc.end === '24:00' ? 'All day' : `${sc.start}–${sc.end}` }),
        h('td', { text: dates }),
      ];
      if (isAdmin()) {
        const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', 'aria-label': `Delete the schedule of ${channelName.get(sc.channel_id) || sc.channel_id}` });
        del.addEventListener('click', () => busy(del, async () => {
          if (!window.confirm('Delete this schedule? The screens it targets go back to their other schedules and default channel.')) return;
          try {
            await api.deleteSchedule(sc.id);
            toast('Schedule deleted.');
            await reload();
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }));
        cells.push(h('td', { class: 'col-actions' }, h('div', { class: 'row-actions' }, del)));
      }
      tbody.append(labelledRow(COLS, { dataset: { scheduleId: sc.id, target: sc.target, channelId: sc.channel_id } }, ...cells));
    }
  }
  async function reload() {
    const res = await api.listSchedules();
    if (!stale()) fill(res.schedules || []);
  }
  fill(schedules || []);

  let formCard = null;
  if (isAdmin()) {
    const kind = h('select', { id: 'schedule-target-kind' },
      h('option', { value: 'screen', text: 'A screen' }), h('option', { value: 'group', text: 'A group of screens' }));
    const screenSel = h('select', { id: 'schedule-screen' },
      screens.length ? screens.map((s) => h('option', { value: s.id, text: s.name })) : h('option', { value: '', text: 'No screens yet' }));
    const groupIn = h('input', { id: 'schedule-group', type: 'text', maxlength: '128', autocomplete: 'off', list: 'schedule-groups', placeholder: 'e.g. Ground floor' });
    const groupList = h('datalist', { id: 'schedule-groups' }, groups.map((g) => h('option', { value: g })));
    const screenField = field('Screen', screenSel);
    const groupField = field('Group', groupIn, 'The screens of this group, now and later.');
    const channelSel = h('select', { id: 'schedule-channel' },
      channels.length ? channels.map((c) => h('option', { value: c.id, text: c.name })) : h('option', { value: '', text: 'No channels yet' }));
    const dayBoxes = ALL_DAYS.map((d) => h('label', { class: 'day', for: `schedule-day-${d}`, title: WEEKDAY_NAMES[d - 1] },
      h('input', { type: 'checkbox', id: `schedule-day-${d}`, value: String(d), checked: true }),
      h('span', { text: WEEKDAYS[d - 1] })));
    const start = h('input', { id: 'schedule-start', type: 'time' });
    const end = h('input', { id: 'schedule-end', type: 'time' });
    const from = h('input', { id: 'schedule-from', type: 'date' });
    const until = h('input', { id: 'schedule-until', type: 'date' });
    const priority = h('input', { id: 'schedule-priority', type: 'number', min: '-1000', max: '1000', step: '1', value: '0', inputmode: 'numeric' });
    const err = h('p', { id: 'schedule-error', class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { id: 'schedule-create', type: 'submit', class: 'btn btn-primary', text: 'Add schedule' });
    const showTarget = () => {
      screenField.hidden = kind.value !== 'screen';
      groupField.hidden = kind.value !== 'group';
    };
    if (!screens.length) kind.value = 'group';
    showTarget();
    kind.addEventListener('change', showTarget);
    const form = h('form', { id: 'schedule-form', class: 'form-grid' },
      field('Plays on', kind),
      screenField, groupField, groupList,
      field('Channel', channelSel),
      field('Priority', priority, 'When several schedules apply, the highest wins.'),
      h('fieldset', { class: 'days form-wide' }, h('legend', { text: 'Days' }), ...dayBoxes),
      field('From (time)', start, 'Empty: from midnight.'),
      field('To (time)', end, 'Empty: until midnight.'),
      field('First day', from, 'Empty: from now on.'),
      field('Last day', until, 'Empty: no end.'),
      h('div', { class: 'form-footer' }, err, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const body = {
        target: kind.value === 'screen' ? `screen:${screenSel.value}` : `group:${groupIn.value.trim()}`,
        channel_id: channelSel.value,
        days: ALL_DAYS.filter((d) => $(`#schedule-day-${d}`).checked),
        start: start.value || '00:00',
        end: end.value || '24:00',
        priority: intOrRaw(priority.value || '0'),
      };
      if (from.value) body.from = from.value;
      if (until.value) body.until = until.value;
      if (kind.value === 'screen' && !screenSel.value) { setError(err, 'Pair a screen first, or choose a group.'); return; }
      if (kind.value === 'group' && !groupIn.value.trim()) { setError(err, 'Name the group.'); groupIn.focus(); return; }
      if (!body.channel_id) { setError(err, 'Create a channel first.'); return; }
      if (!body.days.length) { setError(err, 'Choose at least one day.'); $('#schedule-day-1').focus(); return; }
      if (body.start >= body.end && body.end !== '24:00') { setError(err, 'The start must be before the end.'); start.focus(); return; }
      if (body.from && body.until && body.from > body.until) { setError(err, 'The first day must not be after the last day.'); from.focus(); return; }
      busy(submit, async () => {
        try {
          await api.createSchedule(body);
          toast('Schedule added. The screens concerned get it within seconds.');
          await reload();
        } catch (e) {
          setError(err, capital(errorText(e)));
        }
      });
    });
    formCard = card('Add a schedule',
      h('p', { class: 'hint', text: 'Screens follow schedules on their own clock and time zone, even offline. “Play now” on a screen’s page overrides them; the default channel plays when none applies.' }),
      form);
  }

  return h('div', { class: 'page' },
    pageHeader('Schedules'),
    formCard,
    h('section', { class: 'card', 'aria-label': 'All schedules' },
      h('p', { class: 'hint', text: 'Highest priority first; among equal priorities, the older schedule wins.' }),
      tableWrap(table, 'Schedules')));
}
