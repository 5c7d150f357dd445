// The Channels page: every channel the caller may edit, and the route to the
// channel editor.

import * as api from '../api.js';
import { isAdmin } from '../session.js';
import { busy, errorText, h, headRow, labelledRow, pageHeader, tableWrap, toast } from '../dom.js';
import { ago, timeEl } from '../format.js';
import { renderChannelEditor } from '../channel-editor/editor.js';

export async function renderChannelsRoute(stale, route) {
  if (route.param === 'new') {
    if (!isAdmin()) {
      toast('Only administrators create channels.', 'info');
      location.replace('#/channels');
      return h('div');
    }
    return renderChannelEditor(stale, null);
  }
  return route.param ? renderChannelEditor(stale, route.param) : renderChannels(stale);
}

function itemCount(ch) {
  return (ch.zones || []).reduce((n, z) => n + (z.items || []).length, 0);
}

async function renderChannels(stale) {
  const [{ channels }, screensRes] = await Promise.all([
    api.listChannels(),
    api.listScreens().catch(() => ({ screens: [] })),
  ]);
  if (stale()) return h('div');
  const screens = screensRes.screens || [];
  const COLS = ['Channel', 'Canvas', 'Zones', 'Items', 'Default on', 'Version', 'Updated', 'Actions'];
  const tbody = h('tbody');
  const table = h('table', { id: 'channels-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: isAdmin() ? 'Channels of this account' : 'The channels you may edit' }),
    headRow(COLS, true),
    tbody);

  function fill(list) {
    tbody.replaceChildren();
    if (!list.length) {
      tbody.append(h('tr', { class: 'empty', id: 'channels-empty' }, h('td', { colspan: String(COLS.length) },
        h('p', { class: 'empty-title', text: 'No channels yet' }),
        h('p', { class: 'hint', text: isAdmin()
          ? 'A channel is a canvas of zones, each with a playlist. Create one, then assign it to screens.'
          : 'An administrator has not given you any channel to edit yet.' }))));
    }
    for (const c of list) {
      const on = screens.filter((s) => s.channel_id === c.id);
      const actions = h('div', { class: 'row-actions' },
        h('a', { class: 'btn btn-small', href: `#/channels/${encodeURIComponent(c.id)}`, text: 'Edit', 'aria-label': `Edit ${c.name}` }));
      if (isAdmin()) {
        const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', 'aria-label': `Delete ${c.name}` });
        del.addEventListener('click', () => busy(del, async () => {
          if (!window.confirm(`Delete the channel “${c.name}”? Screens that play it by default get none, its schedules and “play now” overrides end.`)) return;
          try {
            await api.deleteChannel(c.id);
            toast(`Channel “${c.name}” deleted.`);
            const res = await api.listChannels();
            if (!stale()) fill(res.channels || []);
          } catch (err) {
            toast(errorText(err), 'error');
          }
        }));
        actions.append(del);
      }
      tbody.append(labelledRow(COLS, { dataset: { channelId: c.id, name: c.name } },
        h('td', { class: 'cell-strong' }, h('a', { class: 'screen-link', href: `#/channels/${encodeURIComponent(c.id)}`, text: c.name })),
        h('td', { class: 'nowrap', text: `${c.width} × ${c.height}` }),
        h('td', { text: String((c.zones || []).length) }),
        h('td', { text: String(itemCount(c)) }),
        h('td', { title: on.map((s) => s.name).join(', '), text: on.length ? `${on.length} screen${on.length === 1 ? '' : 's'}` : '—' }),
        h('td', { text: String(c.version) }),
        h('td', { class: 'nowrap' }, h('div', { class: 'stamp' }, timeEl(c.updated_at, ago(c.updated_at)),
          c.updated_by ? h('span', { class: 'screen-sub', text: `by ${c.updated_by}` }) : null)),
        h('td', { class: 'col-actions' }, actions)));
    }
  }
  fill(channels || []);

  const create = isAdmin() ? h('a', { id: 'channel-new', class: 'btn btn-primary', href: '#/channels/new', text: 'New channel' }) : null;
  return h('div', { class: 'page' },
    pageHeader('Channels', create),
    h('section', { class: 'card', 'aria-label': 'All channels' },
      h('p', { class: 'hint', text: 'What screens play: a canvas divided into zones, each zone with its own playlist of images, videos, web pages and texts.' }),
      tableWrap(table, 'Channels')));
}
