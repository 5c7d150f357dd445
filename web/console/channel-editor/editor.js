// The channel editor: canvas, zones and their playlists, a live preview,
// saving with a guard against leaving unsaved changes.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
import { $, busy, errorText, field, h, pageHeader, setError, toast } from '../dom.js';
import { fmtTime } from '../format.js';
import { intOrRaw } from '../content-common.js';
import { CANVAS_PRESETS, editorModel, itemBody } from './model.js';
import { grantsCard } from './grants.js';
import { clearFieldErrors, showFieldError } from './field-errors.js';
import { layoutPreview } from './preview.js';
import { zonesEditor } from './zones.js';

export async function renderChannelEditor(stale, id) {
  let channel = null;
  let lib;
  try {
    const [chRes, libRes] = await Promise.all([
      id ? api.getChannel(id) : Promise.resolve(null),
      api.listMedia().catch(() => ({ media: [] })),
    ]);
    channel = chRes ? chRes.channel : null;
    lib = libRes;
  } catch (err) {
    if (err.status !== 404 && !(err.status === 403 && err.code === 'forbidden')) throw err;
    return h('div', { class: 'page' },
      h('div', {}, h('a', { class: 'back-link', href: '#/channels', text: '← Channels' })),
      pageHeader(err.status === 404 ? 'Channel not found' : 'Not yours to edit'),
      h('div', { class: 'card' }, h('p', { id: 'channel-missing', text: err.status === 404
        ? 'This channel does not exist in your account, or it was deleted.'
        : 'You have no zone of this channel to edit. An administrator can grant you some.' })));
  }
  if (stale()) return h('div');

  const media = lib.media || [];
  const mediaBy = new Map(media.map((m) => [m.sha256, m]));
  let editable = channel ? channel.editable_zones || [] : ['*'];
  let layoutOk = editable.includes('*');
  let model = channel ? editorModel(channel) : {
    name: '', width: 1920, height: 1080,
    zones: [{ name: 'main', x: 0, y: 0, w: 1920, h: 1080, z: 0, items: [] }],
  };
  let dirty = false;
  const zoneOk = (zone) => layoutOk || editable.includes(zone.name);

  // ---- header and status
  const title = h('h1', { id: 'page-title', tabindex: '-1', text: channel ? channel.name : 'New channel' });
  const meta = h('span', { class: 'hint', id: 'channel-meta' });
  const errorBanner = h('p', { id: 'channel-error', class: 'form-error', role: 'alert', hidden: true });
  const announce = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const dirtyText = h('span', { id: 'channel-dirty', class: 'savebar-status', text: channel ? 'All changes saved' : 'Not created yet' });
  const saveBtn = h('button', { id: 'channel-save', type: 'button', class: 'btn btn-primary', text: channel ? 'Save changes' : 'Create channel' });

  function paintMeta() {
    meta.textContent = channel
      ? `Version ${channel.version} · saved ${fmtTime(channel.updated_at)}${channel.updated_by ? ` by ${channel.updated_by}` : ''}`
      : '';
  }
  function markDirty() {
    if (dirty) return;
    dirty = true;
    dirtyText.textContent = 'Unsaved changes';
    dirtyText.classList.add('savebar-dirty');
  }
  function markClean(text) {
    dirty = false;
    dirtyText.textContent = text;
    dirtyText.classList.remove('savebar-dirty');
  }

  // ---- canvas fields
  const nameInput = h('input', {
    id: 'channel-name', type: 'text', required: true, maxlength: '128', autocomplete: 'off', value: model.name,
    placeholder: 'e.g. Lobby', disabled: !layoutOk, dataset: { path: 'name' },
  });
  const widthInput = h('input', {
    id: 'channel-width', type: 'number', min: '1', max: '16384', step: '1', value: String(model.width), disabled: !layoutOk,
    inputmode: 'numeric', dataset: { path: 'width' },
  });
  const heightInput = h('input', {
    id: 'channel-height', type: 'number', min: '1', max: '16384', step: '1', value: String(model.height), disabled: !layoutOk,
    inputmode: 'numeric', dataset: { path: 'height' },
  });
  const preset = h('select', { id: 'channel-preset', disabled: !layoutOk },
    h('option', { value: '', text: 'Custom size' }),
    CANVAS_PRESETS.map((p) => h('option', { value: `${p.w}x${p.h}`, text: p.label })));
  function syncPreset() {
    const v = `${model.width}x${model.height}`;
    preset.value = CANVAS_PRESETS.some((p) => `${p.w}x${p.h}` === v) ? v : '';
  }
  syncPreset();
  nameInput.addEventListener('input', () => { model.name = nameInput.value; markDirty(); });
  for (const [input, key] of [[widthInput, 'width'], [heightInput, 'height']]) {
    input.addEventListener('input', () => {
      model[key] = intOrRaw(input.value);
      syncPreset();
      markDirty();
      paintPreview();
    });
  }
  preset.addEventListener('change', () => {
    if (!preset.value) return;
    const [w, hh] = preset.value.split('x').map(Number);
    const ow = Number(model.width) || w;
    const oh = Number(model.height) || hh;
    // the zones keep their place on the new canvas
    for (const z of model.zones) {
      const x = Math.round(((Number(z.x) || 0) * w) / ow);
      const y = Math.round(((Number(z.y) || 0) * hh) / oh);
      z.x = Math.min(x, w - 1);
      z.y = Math.min(y, hh - 1);
      z.w = Math.max(1, Math.min(Math.round(((Number(z.w) || 1) * w) / ow), w - z.x));
      z.h = Math.max(1, Math.min(Math.round(((Number(z.h) || 1) * hh) / oh), hh - z.y));
    }
    model.width = w;
    model.height = hh;
    widthInput.value = String(w);
    heightInput.value = String(hh);
    markDirty();
    paintZones();
    paintPreview();
    announce.textContent = `Canvas set to ${w} by ${hh}; the zones were scaled with it.`;
  });

  const canvasCard = h('section', { class: 'card', 'aria-labelledby': 'card-canvas' },
    h('h2', { id: 'card-canvas', text: 'Channel' }),
    h('div', { class: 'stack' },
      field('Name', nameInput),
      h('div', { class: 'form-grid canvas-size' }, field('Width (px)', widthInput), field('Height (px)', heightInput)),
      field('Preset', preset, 'A preset scales the zones with the canvas.'),
      layoutOk ? null : h('p', { class: 'notice notice-warn', id: 'channel-layout-locked', text: 'You may change the playlists of the zones granted to you. The name, size and zones need an administrator.' })));

  // ---- preview
  const layout = layoutPreview(() => model, mediaBy);
  const paintPreview = layout.paint;

  // ---- zones and their playlists
  const zones = zonesEditor({ getModel: () => model, layoutOk, zoneOk, media, mediaBy, markDirty, paintPreview, announce });
  const { box: zonesBox, addZone } = zones;
  function paintZones() {
    zones.paint();
  }

  async function save() {
    const root = $('.channel-page') || document;
    clearFieldErrors(root);
    setError(errorBanner, null);
    const body = {
      name: layoutOk ? model.name.trim() : model.name,
      width: intOrRaw(model.width),
      height: intOrRaw(model.height),
      zones: model.zones.map((z) => ({
        name: z.name, x: intOrRaw(z.x), y: intOrRaw(z.y), w: intOrRaw(z.w), h: intOrRaw(z.h), z: intOrRaw(z.z),
        items: z.items.map(itemBody),
      })),
    };
    if (!body.name) {
      setError(errorBanner, 'Give the channel a name.');
      showFieldError(root, 'name', 'Give the channel a name.');
      return;
    }
    await busy(saveBtn, async () => {
      try {
        if (!channel) {
          const res = await api.createChannel(body);
          markClean('Created');
          toast(`Channel “${res.channel.name}” created.`);
          location.hash = `#/channels/${encodeURIComponent(res.channel.id)}`;
          return;
        }
        const res = await api.replaceChannel(channel.id, body);
        channel = { ...res.channel, editable_zones: editable };
        model = editorModel(channel);
        title.textContent = channel.name;
        document.title = `${channel.name} · Channels · Vitrine`;
        paintMeta();
        paintZones();
        paintPreview();
        markClean(res.changed ? `Saved as version ${channel.version}` : 'No changes to save');
        toast(res.changed ? `Channel “${channel.name}” saved (version ${channel.version}).` : 'Nothing changed.');
        if (grants) grants.sync(channel);
      } catch (err) {
        if (err.code === 'invalid_channel' && err.detail && err.detail.path) {
          setError(errorBanner, `Not saved: ${err.message}.`);
          showFieldError(root, err.detail.path, err.message.replace(/^[^:]*: /, ''));
        } else {
          setError(errorBanner, `Not saved: ${errorText(err)}.`);
          errorBanner.scrollIntoView({ block: 'nearest' });
        }
      }
    });
  }
  saveBtn.addEventListener('click', () => save());
  const onKey = (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === 's') {
      ev.preventDefault();
      if (!saveBtn.disabled) save();
    }
  };
  const onUnload = (ev) => {
    if (dirty) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  };
  document.addEventListener('keydown', onKey);
  window.addEventListener('beforeunload', onUnload);
  state.leaveGuard = () => !dirty || window.confirm('Leave this channel without saving your changes?');
  state.cleanup.push(() => {
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('beforeunload', onUnload);
    state.leaveGuard = null;
  });

  // ---- grants and deletion (admins)
  let grants = null;
  let danger = null;
  if (channel && isAdmin()) {
    const [usersRes, grantsRes] = await Promise.all([
      api.listUsers().catch(() => ({ users: [] })),
      api.getGrants(channel.id).catch(() => null),
    ]);
    if (stale()) return h('div');
    const users = (usersRes.users || []).filter((u) => u.role === 'editor');
    grants = grantsCard(channel, users, grantsRes ? grantsRes.grants || [] : null);
    const del = h('button', { id: 'channel-delete', type: 'button', class: 'btn btn-danger', text: 'Delete channel' });
    del.addEventListener('click', () => busy(del, async () => {
      if (!window.confirm(`Delete the channel “${channel.name}”? Screens that play it by default get none; its schedules and “play now” overrides end. Its media stay in the library.`)) return;
      try {
        await api.deleteChannel(channel.id);
        markClean('Deleted');
        toast(`Channel “${channel.name}” deleted.`);
        location.hash = '#/channels';
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    danger = h('section', { class: 'card card-danger', 'aria-labelledby': 'card-channel-delete' },
      h('h2', { id: 'card-channel-delete', text: 'Delete this channel' }),
      h('p', { class: 'hint', text: 'Screens that play it by default get no channel; its schedules and “play now” overrides end. Its media stay in the library.' }),
      h('div', {}, del));
  }

  paintMeta();
  paintZones();
  paintPreview();
  document.title = `${channel ? channel.name : 'New channel'} · Channels · Vitrine`;

  const root = h('div', { class: 'page channel-page', dataset: { channelId: channel ? channel.id : '' } },
    h('div', {}, h('a', { class: 'back-link', href: '#/channels', text: '← Channels' })),
    h('div', { class: 'page-header' }, h('div', { class: 'title-row' }, title, meta)),
    errorBanner,
    announce,
    h('div', { class: 'channel-top' }, canvasCard, layout.card),
    h('div', { class: 'zones-head' },
      h('h2', { text: 'Zones and playlists' }),
      addZone),
    zonesBox,
    grants ? grants.card : null,
    danger,
    h('div', { class: 'savebar', role: 'region', 'aria-label': 'Save' }, dirtyText, saveBtn));
  return root;
}
