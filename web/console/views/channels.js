// The Channels page: the channels the caller may edit, a page at a time
// (sorted, filtered and paged by the server), and the route to the channel
// editor.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
import { busy, debounce, errorText, h, pageHeader, tableWrap, toast } from '../dom.js';
import { ago, timeEl } from '../format.js';
import { pagedTable } from '../paged-table.js';
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
  const filter = h('input', {
    id: 'channels-filter', type: 'search', placeholder: 'Filter by name', autocomplete: 'off', spellcheck: 'false',
    'aria-label': 'Filter channels',
  });
  const summary = h('p', { id: 'channels-summary', class: 'summary', 'aria-live': 'polite' });
  let playing = {}; // channel id -> how many screens play it by default (this page's channels)
  const table = pagedTable({
    id: 'channels-table',
    caption: isAdmin() ? 'Channels of this account' : 'The channels you may edit',
    columns: [
      { label: 'Channel', sort: 'name' }, { label: 'Canvas' }, { label: 'Zones' }, { label: 'Items' },
      { label: 'Default on' }, { label: 'Version', sort: 'version' }, { label: 'Updated', sort: 'updated_at' },
      { label: 'Actions', className: 'col-actions' },
    ],
    sort: 'name',
    load: async (page) => {
      const res = await api.listChannels({ ...page, q: filter.value.trim() });
      playing = res.default_screens || {};
      return { ...res, items: res.channels || [] };
    },
    key: (c) => c.id,
    makeRow: (c) => ({ tr: channelRow(c), update: () => {} }),
    empty: () => (filter.value.trim()
      ? h('tr', { class: 'empty', id: 'channels-no-match' }, h('td', { colspan: '8', text: 'No channel matches this filter.' }))
      : h('tr', { class: 'empty', id: 'channels-empty' }, h('td', { colspan: '8' },
        h('p', { class: 'empty-title', text: 'No channels yet' }),
        h('p', { class: 'hint', text: isAdmin()
          ? 'A channel is a canvas of zones, each with a playlist. Create one, then assign it to screens.'
          : 'An administrator has not given you any channel to edit yet.' })))),
    onPage: (res) => {
      const total = Number(res.total) || 0;
      summary.textContent = total ? `${total.toLocaleString()} channel${total === 1 ? '' : 's'}${filter.value.trim() ? ' (filtered)' : ''}` : '';
    },
  });

  function channelRow(c) {
    const on = Number(playing[c.id]) || 0;
    const actions = h('div', { class: 'row-actions' },
      h('a', { class: 'btn btn-small', href: `#/channels/${encodeURIComponent(c.id)}`, text: 'Edit', 'aria-label': `Edit ${c.name}` }));
    if (isAdmin()) {
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Delete', 'aria-label': `Delete ${c.name}` });
      del.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(`Delete the channel “${c.name}”? Screens that play it by default get none, its schedules and “play now” overrides end.`)) return;
        try {
          await api.deleteChannel(c.id);
          toast(`Channel “${c.name}” deleted.`);
          if (!stale()) await table.reload();
        } catch (err) {
          toast(errorText(err), 'error');
        }
      }));
      actions.append(del);
    }
    return table.row({ dataset: { channelId: c.id, name: c.name } },
      h('td', { class: 'cell-strong' }, h('a', { class: 'screen-link', href: `#/channels/${encodeURIComponent(c.id)}`, text: c.name })),
      h('td', { class: 'nowrap', text: `${c.width} × ${c.height}` }),
      h('td', { text: String((c.zones || []).length) }),
      h('td', { text: String(itemCount(c)) }),
      h('td', { text: on ? `${on.toLocaleString()} screen${on === 1 ? '' : 's'}` : '—' }),
      h('td', { text: String(c.version) }),
      h('td', { class: 'nowrap' }, h('div', { class: 'stamp' }, timeEl(c.updated_at, ago(c.updated_at)),
        c.updated_by ? h('span', { class: 'screen-sub', text: `by ${c.updated_by}` }) : null)),
      h('td', { class: 'col-actions' }, actions));
  }

  await table.reload();
  if (stale()) return h('div');
  const filterLater = debounce(() => { table.first().catch(() => {}); }, 250);
  state.cleanup.push(() => filterLater.cancel());
  filter.addEventListener('input', filterLater);

  const create = isAdmin() ? h('a', { id: 'channel-new', class: 'btn btn-primary', href: '#/channels/new', text: 'New channel' }) : null;
  return h('div', { class: 'page' },
    pageHeader('Channels', create),
    h('section', { class: 'card', 'aria-label': 'All channels' },
      h('p', { class: 'hint', text: 'What screens play: a canvas divided into zones, each zone with its own playlist of images, videos, web pages and texts.' }),
      h('div', { class: 'toolbar' }, summary, h('div', { class: 'toolbar-filter' }, filter)),
      tableWrap(table.table, 'Channels'),
      table.pager));
}
