// The channel editor: canvas, zones and their playlists, a live preview,
// saving with a guard against leaving unsaved changes.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
import { $, badge, busy, errorText, field, h, pageHeader, setError, toast } from '../dom.js';
import { fmtTime } from '../format.js';
import {
  ALL_DAYS,
  capital,
  daysList,
  fmtBytes,
  fmtSeconds,
  intOrRaw,
  KIND_LABELS,
  kindBadge,
  mediaThumb,
  WEEKDAY_NAMES,
  WEEKDAYS,
  ZONE_COLOURS,
} from '../content-common.js';
import { CANVAS_PRESETS, editorModel, itemBody, validBody, validText } from './model.js';
import { grantsCard } from './grants.js';

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
  const preview = h('div', { id: 'channel-preview', class: 'canvas-preview', role: 'group', 'aria-label': 'Layout preview' });
  const previewWrap = h('div', { class: 'canvas-wrap' }, preview);
  const previewCaption = h('p', { class: 'hint', id: 'channel-preview-caption' });

  function zoneColour(i) {
    return ZONE_COLOURS[i % ZONE_COLOURS.length];
  }

  function paintPreview() {
    const W = Math.max(1, Number(model.width) || 1);
    const H = Math.max(1, Number(model.height) || 1);
    preview.style.aspectRatio = `${W} / ${H}`;
    preview.style.width = `min(100%, ${Math.round((300 * W) / H)}px)`;
    const order = model.zones.map((z, i) => ({ i, z: Number(z.z) || 0 })).sort((a, b) => a.z - b.z || a.i - b.i);
    const boxes = model.zones.map((z, i) => {
      const first = (z.items || [])[0];
      const box = h('button', {
        type: 'button', class: 'zone-box', dataset: { zone: z.name, index: String(i) },
        'aria-label': `Zone ${z.name}: ${z.w} × ${z.h} at ${z.x}, ${z.y}. Go to its settings.`,
      });
      box.style.setProperty('--zone', zoneColour(i));
      box.style.left = `${((Number(z.x) || 0) / W) * 100}%`;
      box.style.top = `${((Number(z.y) || 0) / H) * 100}%`;
      box.style.width = `${((Number(z.w) || 0) / W) * 100}%`;
      box.style.height = `${((Number(z.h) || 0) / H) * 100}%`;
      box.style.zIndex = String(order.findIndex((o) => o.i === i) + 1);
      if (first && first.media && mediaBy.get(first.media) && mediaBy.get(first.media).kind === 'image') {
        box.append(h('img', { class: 'zone-box-img', src: api.mediaContentUrl(first.media), alt: '' }));
      } else if (first && first.text !== undefined) {
        box.append(h('span', { class: 'zone-box-text', text: first.text }));
      }
      box.append(h('span', { class: 'zone-box-label', text: z.name || `Zone ${i + 1}` }));
      box.addEventListener('click', () => {
        const target = $(`#zone-${i}`);
        if (!target) return;
        target.scrollIntoView({ behavior: 'smooth', block: 'start' });
        const input = $(`#zone-${i}-name`);
        if (input && !input.disabled) input.focus({ preventScroll: true });
        else target.focus({ preventScroll: true });
      });
      return box;
    });
    preview.replaceChildren(...boxes);
    previewCaption.textContent = `${W} × ${H} px · ${model.zones.length} zone${model.zones.length === 1 ? '' : 's'}`;
  }

  const previewCard = h('section', { class: 'card', 'aria-labelledby': 'card-preview' },
    h('h2', { id: 'card-preview', text: 'Layout' }),
    previewWrap,
    previewCaption);

  // ---- zones
  const zonesBox = h('div', { id: 'zones', class: 'zones', dataset: { path: 'zones' } });
  const addZone = layoutOk ? h('button', { id: 'zone-add', type: 'button', class: 'btn', text: 'Add a zone' }) : null;
  if (addZone) {
    addZone.addEventListener('click', () => {
      if (model.zones.length >= 32) {
        toast('A channel has at most 32 zones.', 'error');
        return;
      }
      let n = model.zones.length + 1;
      const names = new Set(model.zones.map((z) => z.name));
      while (names.has(`zone${n}`)) n++;
      const W = Number(model.width) || 1920;
      const H = Number(model.height) || 1080;
      const zh = Math.max(1, Math.round(H / 5));
      model.zones.push({
        name: `zone${n}`, x: 0, y: H - zh, w: W, h: zh,
        z: Math.max(0, ...model.zones.map((z) => Number(z.z) || 0)) + 1, items: [],
      });
      markDirty();
      paintZones();
      paintPreview();
      const input = $(`#zone-${model.zones.length - 1}-name`);
      if (input) {
        input.focus();
        input.select();
      }
      announce.textContent = `Zone zone${n} added along the bottom of the canvas.`;
    });
  }

  function numberField(zi, key, label, min, max) {
    const zone = model.zones[zi];
    const input = h('input', {
      id: `zone-${zi}-${key}`, type: 'number', step: '1', min: String(min), max: max === null ? null : String(max),
      value: String(zone[key]), inputmode: 'numeric', disabled: !layoutOk, dataset: { path: `zones[${zi}].${key}` },
    });
    input.addEventListener('input', () => {
      zone[key] = intOrRaw(input.value);
      markDirty();
      paintPreview();
    });
    return field(label, input);
  }

  function zoneSection(zi) {
    const zone = model.zones[zi];
    const ok = zoneOk(zone);
    const heading = h('h2', { id: `zone-${zi}-title`, text: `Zone ${zone.name}` });
    const swatch = h('span', { class: 'zone-swatch', 'aria-hidden': 'true' });
    const nameIn = h('input', {
      id: `zone-${zi}-name`, type: 'text', value: zone.name, maxlength: '64', required: true, autocomplete: 'off',
      disabled: !layoutOk, dataset: { path: `zones[${zi}].name` },
    });
    nameIn.addEventListener('input', () => {
      zone.name = nameIn.value;
      heading.textContent = `Zone ${zone.name}`;
      markDirty();
      paintPreview();
    });
    const remove = layoutOk ? h('button', {
      id: `zone-${zi}-remove`, type: 'button', class: 'btn btn-small btn-danger', text: 'Remove zone',
      'aria-label': `Remove zone ${zone.name}`, disabled: model.zones.length <= 1,
    }) : null;
    if (remove) {
      remove.addEventListener('click', () => {
        if (zone.items.length && !window.confirm(`Remove the zone “${zone.name}” and its ${zone.items.length} item${zone.items.length === 1 ? '' : 's'}?`)) return;
        model.zones.splice(zi, 1);
        markDirty();
        paintZones();
        paintPreview();
        announce.textContent = `Zone ${zone.name} removed.`;
        const next = $(`#zone-${Math.min(zi, model.zones.length - 1)}-name`);
        if (next) next.focus();
      });
    }
    const list = h('ol', { id: `zone-${zi}-items`, class: 'playlist', 'aria-label': `Playlist of zone ${zone.name}` });
    const listSummary = h('p', { class: 'hint playlist-summary', id: `zone-${zi}-summary` });
    const section = h('section', {
      id: `zone-${zi}`, class: `card zone-card${ok ? '' : ' zone-locked'}`, tabindex: '-1',
      'aria-labelledby': heading.id, dataset: { path: `zones[${zi}]`, zone: zone.name },
    },
    h('div', { class: 'card-head' },
      h('div', { class: 'zone-title' }, swatch, heading,
        ok ? null : badge('Read only', 'muted')),
      remove),
    h('div', { class: 'form-grid zone-geometry' },
      field('Name', nameIn),
      numberField(zi, 'x', 'X (px)', 0, null),
      numberField(zi, 'y', 'Y (px)', 0, null),
      numberField(zi, 'w', 'Width (px)', 1, null),
      numberField(zi, 'h', 'Height (px)', 1, null),
      numberField(zi, 'z', 'Layer', -1000, 1000)),
    h('div', { class: 'playlist-head' }, h('h3', { text: 'Playlist' }), listSummary),
    list,
    ok ? addItemForm(zi) : null);
    section.style.setProperty('--zone', zoneColour(zi));

    function paintItems(focus) {
      list.replaceChildren();
      if (!zone.items.length) {
        list.append(h('li', { class: 'playlist-empty', text: ok ? 'Empty: add an image, a video, a web page or a text below.' : 'Empty.' }));
      }
      zone.items.forEach((it, ii) => list.append(itemRow(zi, ii, ok, paintItems)));
      const total = zone.items.reduce((s, it) => s + (Number(it.duration) || 0), 0);
      listSummary.textContent = zone.items.length
        ? `${zone.items.length} item${zone.items.length === 1 ? '' : 's'} · one loop ${fmtSeconds(total)}${zone.items.some((it) => Number(it.duration) === 0) ? ' plus videos to their end' : ''}`
        : '';
      if (focus) {
        const el = $(focus, list);
        if (el) el.focus();
      }
      paintPreview();
    }
    section.paintItems = paintItems;
    paintItems();
    return section;
  }

  function itemRow(zi, ii, ok, repaint) {
    const zone = model.zones[zi];
    const it = zone.items[ii];
    const base = `zone-${zi}-item-${ii}`;
    const path = `zones[${zi}].items[${ii}]`;
    const m = it.media !== undefined ? mediaBy.get(it.media) : null;
    const kind = it.media !== undefined ? (m ? m.kind : 'missing') : it.url !== undefined ? 'web' : 'text';

    let main;
    if (it.media !== undefined) {
      main = h('div', { class: 'item-main' },
        h('span', { class: 'item-title', text: m ? m.filename : 'Not in the library any more' }),
        h('span', { class: 'item-sub' }, m ? kindBadge(m.kind) : badge('Missing', 'danger'),
          m ? ` ${fmtBytes(m.size)}` : ` ${String(it.media).slice(0, 12)}…`));
    } else if (it.url !== undefined) {
      const url = h('input', {
        id: `${base}-url`, type: 'url', value: it.url, maxlength: '2048', disabled: !ok, spellcheck: 'false',
        autocomplete: 'off', dataset: { path: `${path}.url` }, 'aria-label': `Address of item ${ii + 1}`,
      });
      url.addEventListener('input', () => { it.url = url.value; markDirty(); });
      main = h('div', { class: 'item-main' }, url);
    } else {
      const text = h('textarea', {
        id: `${base}-text`, rows: '2', maxlength: '2000', disabled: !ok, value: it.text,
        dataset: { path: `${path}.text` }, 'aria-label': `Text of item ${ii + 1}`,
      });
      text.addEventListener('input', () => { it.text = text.value; markDirty(); paintPreview(); });
      main = h('div', { class: 'item-main' }, text);
    }

    const durMin = kind === 'video' ? 0 : 1;
    const durationInput = h('input', {
      id: `${base}-duration`, type: 'number', min: String(durMin), max: '86400', step: '1', value: String(it.duration),
      inputmode: 'numeric', disabled: !ok, class: 'input-short', dataset: { path: `${path}.duration` },
    });
    durationInput.addEventListener('input', () => {
      it.duration = intOrRaw(durationInput.value);
      markDirty();
    });
    const transition = h('select', {
      id: `${base}-transition`, disabled: !ok, class: 'select-compact', dataset: { path: `${path}.transition` },
    }, [['fade', 'Fade'], ['slide', 'Slide'], ['none', 'Cut']].map(([v, t]) => h('option', { value: v, text: t, selected: v === it.transition })));
    transition.addEventListener('change', () => { it.transition = transition.value; markDirty(); });

    const settings = h('div', { class: 'item-settings' },
      h('div', { class: 'field' }, h('label', { for: durationInput.id, text: kind === 'video' ? 'Seconds (0 = to the end)' : 'Seconds' }), durationInput),
      h('div', { class: 'field' }, h('label', { for: transition.id, text: 'Transition' }), transition));

    const actions = ok ? h('div', { class: 'item-actions' },
      moveButton('up', '↑', `Move item ${ii + 1} up`, ii === 0),
      moveButton('down', '↓', `Move item ${ii + 1} down`, ii === zone.items.length - 1),
      (() => {
        const b = h('button', { type: 'button', id: `${base}-remove`, class: 'btn btn-small btn-ghost btn-remove', 'aria-label': `Remove item ${ii + 1}`, title: 'Remove', text: '✕' });
        b.addEventListener('click', () => {
          zone.items.splice(ii, 1);
          markDirty();
          announce.textContent = `Item ${ii + 1} removed.`;
          const n = zone.items.length;
          repaint(n ? `#zone-${zi}-item-${Math.min(ii, n - 1)}-remove` : null);
          if (!n) { const k = $(`#zone-${zi}-add-kind`); if (k) k.focus(); }
        });
        return b;
      })()) : null;

    function moveButton(dir, text, label, disabled) {
      const b = h('button', {
        type: 'button', id: `${base}-${dir}`, class: 'btn btn-small btn-ghost', text, title: label, 'aria-label': label, disabled,
      });
      b.addEventListener('click', () => {
        const to = dir === 'up' ? ii - 1 : ii + 1;
        const [moved] = zone.items.splice(ii, 1);
        zone.items.splice(to, 0, moved);
        markDirty();
        announce.textContent = `Item moved to position ${to + 1}.`;
        const first = to === 0 || to === zone.items.length - 1;
        repaint(`#zone-${zi}-item-${to}-${first ? (dir === 'up' ? 'down' : 'up') : dir}`);
      });
      return b;
    }

    return h('li', { id: base, class: `item item-${kind}`, tabindex: '-1', dataset: { path, kind } },
      h('span', { class: 'item-index', 'aria-hidden': 'true', text: String(ii + 1) }),
      it.media !== undefined ? mediaThumb(m, 'shot-item') : h('div', { class: `shot shot-item thumb-${kind}` }, h('span', { class: 'shot-empty', text: KIND_LABELS[kind] })),
      main,
      settings,
      validityEditor(it, base, path, ok),
      actions);
  }

  function validityEditor(it, base, path, ok) {
    const v = it.valid || {};
    const summary = h('summary', {}, h('span', { class: 'valid-label', text: 'Plays: ' }), h('span', { id: `${base}-valid-text`, text: validText(it.valid) }));
    const input = (key, type, label) => {
      const el = h('input', {
        id: `${base}-${key}`, type, value: v[key] || '', disabled: !ok, dataset: { path: `${path}.valid.${key}` },
      });
      el.addEventListener('input', () => { edit((w) => { if (el.value) w[key] = el.value; else delete w[key]; }); });
      return h('div', { class: 'field' }, h('label', { for: el.id, text: label }), el);
    };
    const days = Array.isArray(v.days) ? daysList(v.days) : ALL_DAYS;
    const boxes = ALL_DAYS.map((d) => {
      const cb = h('input', { type: 'checkbox', id: `${base}-day-${d}`, checked: days.includes(d), disabled: !ok });
      cb.addEventListener('change', () => {
        edit((w) => {
          const list = ALL_DAYS.filter((x) => $(`#${base}-day-${x}`).checked);
          if (list.length === 7 || !list.length) delete w.days;
          else w.days = list;
        });
      });
      return h('label', { class: 'day', for: cb.id, title: WEEKDAY_NAMES[d - 1] }, cb, h('span', { text: WEEKDAYS[d - 1] }));
    });
    const daysSet = h('fieldset', { class: 'days', dataset: { path: `${path}.valid.days` } },
      h('legend', { text: 'Days (none or all: every day)' }), ...boxes);
    const clear = ok ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: `${base}-valid-clear`, text: 'Always play' }) : null;
    const details = h('details', { class: 'validity', id: `${base}-valid`, dataset: { path: `${path}.valid` } },
      summary,
      h('div', { class: 'validity-grid' },
        input('from', 'date', 'From'),
        input('until', 'date', 'Until'),
        input('start', 'time', 'Start time'),
        input('end', 'time', 'End time'),
        daysSet,
        h('p', { class: 'hint validity-hint', text: 'On the screen’s clock. An end before the start crosses midnight.' }),
        clear));
    function edit(fn) {
      const w = it.valid && typeof it.valid === 'object' ? it.valid : {};
      fn(w);
      it.valid = Object.keys(w).length ? w : undefined;
      it.validEdited = true;
      $(`#${base}-valid-text`, details).textContent = validText(validBody(it.valid));
      markDirty();
    }
    if (clear) {
      clear.addEventListener('click', () => {
        for (const el of details.querySelectorAll('input[type="date"], input[type="time"]')) el.value = '';
        for (const el of details.querySelectorAll('input[type="checkbox"]')) el.checked = true;
        edit((w) => { for (const k of Object.keys(w)) delete w[k]; });
      });
    }
    return details;
  }

  function addItemForm(zi) {
    const zone = model.zones[zi];
    const kind = h('select', { id: `zone-${zi}-add-kind`, class: 'select-compact' },
      h('option', { value: 'media', text: 'From the library' }),
      h('option', { value: 'url', text: 'Web page' }),
      h('option', { value: 'text', text: 'Text' }));
    const groups = ['image', 'video', 'html'].map((k) => {
      const list = media.filter((m) => m.kind === k);
      return list.length ? h('optgroup', { label: `${KIND_LABELS[k]}s` }, list.map((m) => h('option', { value: m.sha256, text: m.filename }))) : null;
    }).filter(Boolean);
    const mediaSel = h('select', { id: `zone-${zi}-add-media`, 'aria-label': 'Medium' },
      media.length ? groups : h('option', { value: '', text: 'The library is empty: upload on the Media page' }));
    const url = h('input', { id: `zone-${zi}-add-url`, type: 'url', placeholder: 'https://', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Address of the web page' });
    const text = h('input', { id: `zone-${zi}-add-text`, type: 'text', maxlength: '2000', autocomplete: 'off', placeholder: 'e.g. Welcome!', 'aria-label': 'Text to show' });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const add = h('button', { id: `zone-${zi}-add`, type: 'submit', class: 'btn', text: 'Add to playlist' });
    const form = h('form', { class: 'add-item', 'aria-label': `Add an item to zone ${zone.name}` },
      h('div', { class: 'field' }, h('label', { for: kind.id, text: 'Add' }), kind),
      h('div', { class: 'field add-value' }, h('label', { for: mediaSel.id, text: 'Medium', class: 'add-label' }), mediaSel, url, text),
      h('div', { class: 'field field-button' }, add),
      err);
    const label = $('.add-label', form);
    function show() {
      mediaSel.hidden = kind.value !== 'media';
      url.hidden = kind.value !== 'url';
      text.hidden = kind.value !== 'text';
      const target = kind.value === 'media' ? mediaSel : kind.value === 'url' ? url : text;
      label.htmlFor = target.id;
      label.textContent = kind.value === 'media' ? 'Medium' : kind.value === 'url' ? 'Address' : 'Text';
    }
    show();
    kind.addEventListener('change', () => { setError(err, null); show(); });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      if (zone.items.length >= 500) { setError(err, 'A zone has at most 500 items.'); return; }
      let item;
      if (kind.value === 'media') {
        const m = mediaBy.get(mediaSel.value);
        if (!m) { setError(err, 'Choose a medium (upload it on the Media page first).'); mediaSel.focus(); return; }
        item = { media: m.sha256, duration: m.kind === 'video' ? 0 : 10, transition: 'fade' };
      } else if (kind.value === 'url') {
        const u = url.value.trim();
        if (!/^https?:\/\/\S+$/i.test(u)) { setError(err, 'Type the full address, starting with https:// or http://.'); url.focus(); return; }
        item = { url: u, duration: 30, transition: 'fade' };
        url.value = '';
      } else {
        if (!text.value.trim()) { setError(err, 'Type the text to show.'); text.focus(); return; }
        item = { text: text.value, duration: 10, transition: 'fade' };
        text.value = '';
      }
      zone.items.push(item);
      markDirty();
      const section = $(`#zone-${zi}`);
      if (section && section.paintItems) section.paintItems();
      announce.textContent = `Added to zone ${zone.name} as item ${zone.items.length}.`;
    });
    return form;
  }

  function paintZones() {
    zonesBox.replaceChildren(...model.zones.map((_, zi) => zoneSection(zi)));
  }

  // ---- validation errors from the server, next to their field
  let errorSeq = 0;
  function clearFieldErrors(root) {
    for (const el of root.querySelectorAll('.field-error')) el.remove();
    for (const el of root.querySelectorAll('[aria-invalid="true"]')) {
      el.removeAttribute('aria-invalid');
      const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.startsWith('channel-field-error-'));
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }
  function showFieldError(root, path, message) {
    const byPath = new Map([...root.querySelectorAll('[data-path]')].map((el) => [el.dataset.path, el]));
    let p = path;
    let target = null;
    while (p) {
      target = byPath.get(p);
      if (target) break;
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (shorter === p) break;
      p = shorter;
    }
    if (!target) return false;
    const details = target.closest('details');
    if (details) details.open = true;
    const msg = h('p', { class: 'field-error', id: `channel-field-error-${++errorSeq}`, text: capital(message) });
    const control = target.matches('input, select, textarea');
    if (control) {
      (target.closest('.field') || target.parentElement).append(msg);
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-describedby', `${target.getAttribute('aria-describedby') || ''} ${msg.id}`.trim());
    } else {
      target.append(msg);
    }
    target.scrollIntoView({ block: 'center' });
    if (control && !target.disabled) target.focus({ preventScroll: true });
    else if (target.tabIndex >= 0 || target.hasAttribute('tabindex')) target.focus({ preventScroll: true });
    return true;
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
    h('div', { class: 'channel-top' }, canvasCard, previewCard),
    h('div', { class: 'zones-head' },
      h('h2', { text: 'Zones and playlists' }),
      addZone),
    zonesBox,
    grants ? grants.card : null,
    danger,
    h('div', { class: 'savebar', role: 'region', 'aria-label': 'Save' }, dirtyText, saveBtn));
  return root;
}
