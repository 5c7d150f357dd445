// The zones of the channel editor: a card per zone (name, position, size,
// stacking) with its playlist (items of media, web pages and texts, their
// durations, transitions and validity windows) and the form that adds an
// item; "Add a zone" puts a new one along the bottom of the canvas.

import { $, badge, field, h, setError, toast } from '../dom.js';
import { fmtBytes, fmtSeconds, intOrRaw, KIND_LABELS, kindBadge, mediaThumb } from '../content-common.js';
import { zoneColourOf } from './preview.js';
import { validityEditor } from './validity.js';

/**
 * ctx: getModel() (the channel as edited), layoutOk (may change zones and the
 * canvas), zoneOk(zone) (may change this zone's playlist), media and mediaBy
 * (the library, as a list and by sha256), markDirty(), paintPreview(),
 * announce (a live region for what changed). Returns { box, addZone, paint }.
 */
export function zonesEditor({ getModel, layoutOk, zoneOk, media, mediaBy, markDirty, paintPreview, announce }) {
  const zonesBox = h('div', { id: 'zones', class: 'zones', dataset: { path: 'zones' } });
  const addZone = layoutOk ? h('button', { id: 'zone-add', type: 'button', class: 'btn', text: 'Add a zone' }) : null;
  if (addZone) {
    addZone.addEventListener('click', () => {
      if (getModel().zones.length >= 32) {
        toast('A channel has at most 32 zones.', 'error');
        return;
      }
      let n = getModel().zones.length + 1;
      const names = new Set(getModel().zones.map((z) => z.name));
      while (names.has(`zone${n}`)) n++;
      const W = Number(getModel().width) || 1920;
      const H = Number(getModel().height) || 1080;
      const zh = Math.max(1, Math.round(H / 5));
      getModel().zones.push({
        name: `zone${n}`, x: 0, y: H - zh, w: W, h: zh,
        z: Math.max(0, ...getModel().zones.map((z) => Number(z.z) || 0)) + 1, items: [],
      });
      markDirty();
      paintZones();
      paintPreview();
      const input = $(`#zone-${getModel().zones.length - 1}-name`);
      if (input) {
        input.focus();
        input.select();
      }
      announce.textContent = `Zone zone${n} added along the bottom of the canvas.`;
    });
  }

  function numberField(zi, key, label, min, max) {
    const zone = getModel().zones[zi];
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
    const zone = getModel().zones[zi];
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
      'aria-label': `Remove zone ${zone.name}`, disabled: getModel().zones.length <= 1,
    }) : null;
    if (remove) {
      remove.addEventListener('click', () => {
        if (zone.items.length && !window.confirm(`Remove the zone “${zone.name}” and its ${zone.items.length} item${zone.items.length === 1 ? '' : 's'}?`)) return;
        getModel().zones.splice(zi, 1);
        markDirty();
        paintZones();
        paintPreview();
        announce.textContent = `Zone ${zone.name} removed.`;
        const next = $(`#zone-${Math.min(zi, getModel().zones.length - 1)}-name`);
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
    section.style.setProperty('--zone', zoneColourOf(zi));

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
    const zone = getModel().zones[zi];
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
      validityEditor(it, { base, path, ok, onChange: markDirty }),
      actions);
  }

  function addItemForm(zi) {
    const zone = getModel().zones[zi];
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
    zonesBox.replaceChildren(...getModel().zones.map((_, zi) => zoneSection(zi)));
  }

  return { box: zonesBox, addZone, paint: paintZones };
}
