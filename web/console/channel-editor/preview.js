// The layout preview of the channel editor: the canvas drawn to scale with
// a box per zone (in stacking order, the first image or text of its
// playlist inside); a box leads to its zone's settings.

import * as api from '../api.js';
import { $, h } from '../dom.js';
import { ZONE_COLOURS } from '../content-common.js';

/** The colour of zone i, in the preview and on its settings card. */
export function zoneColourOf(i) {
  return ZONE_COLOURS[i % ZONE_COLOURS.length];
}

/** getModel() gives the channel as edited; mediaBy: sha256 -> medium. Returns { card, paint }. */
export function layoutPreview(getModel, mediaBy) {
  const preview = h('div', { id: 'channel-preview', class: 'canvas-preview', role: 'group', 'aria-label': 'Layout preview' });
  const previewWrap = h('div', { class: 'canvas-wrap' }, preview);
  const previewCaption = h('p', { class: 'hint', id: 'channel-preview-caption' });

  function paint() {
    const model = getModel();
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
      box.style.setProperty('--zone', zoneColourOf(i));
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

  const card = h('section', { class: 'card', 'aria-labelledby': 'card-preview' },
    h('h2', { id: 'card-preview', text: 'Layout' }),
    previewWrap,
    previewCaption);

  return { card, paint };
}
