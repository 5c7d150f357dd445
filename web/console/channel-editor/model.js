// The channel editor's model: an editable copy of a channel and the body
// sent back, item by item.

import { ALL_DAYS, daysList, daysText, intOrRaw } from '../content-common.js';

/** An item as the editor keeps it: the fields a body may carry. */
function editorItem(it) {
  const out = {};
  if (it.media !== undefined) out.media = it.media;
  else if (it.url !== undefined) out.url = it.url;
  else out.text = it.text === undefined ? '' : it.text;
  out.duration = it.duration === undefined ? 10 : it.duration;
  out.transition = it.transition || 'fade';
  if (it.valid && typeof it.valid === 'object') out.valid = JSON.parse(JSON.stringify(it.valid));
  return out;
}

export function editorModel(ch) {
  return {
    name: ch.name || '',
    width: ch.width,
    height: ch.height,
    zones: (ch.zones || []).map((z, i) => ({
      name: z.name, x: z.x, y: z.y, w: z.w, h: z.h, z: z.z === undefined ? i : z.z,
      items: (z.items || []).map(editorItem),
    })),
  };
}

/** The validity window as sent: only the members that restrict something. */
export function validBody(v) {
  if (!v) return null;
  const out = {};
  for (const k of ['from', 'until', 'start', 'end']) if (v[k]) out[k] = v[k];
  if (Array.isArray(v.days)) {
    const days = daysList(v.days);
    if (days.length && days.length < 7) out.days = days;
  }
  return Object.keys(out).length ? out : null;
}

export function itemBody(it) {
  const out = {};
  if (it.media !== undefined) out.media = it.media;
  else if (it.url !== undefined) out.url = it.url.trim();
  else out.text = it.text;
  out.duration = intOrRaw(it.duration);
  out.transition = it.transition;
  // an untouched window goes back as it came (an editor must not change zones not granted)
  const valid = it.validEdited ? validBody(it.valid) : it.valid;
  if (valid) out.valid = valid;
  return out;
}

export function validText(v) {
  const parts = [];
  if (!v) return 'Always';
  const days = Array.isArray(v.days) ? daysList(v.days) : ALL_DAYS;
  if (days.length < 7) parts.push(daysText(days));
  if (v.start || v.end) parts.push(`${v.start || '00:00'}–${v.end || '24:00'}`);
  if (v.from && v.until) parts.push(`${v.from} to ${v.until}`);
  else if (v.from) parts.push(`from ${v.from}`);
  else if (v.until) parts.push(`until ${v.until}`);
  return parts.length ? parts.join(' · ') : 'Always';
}

export const CANVAS_PRESETS = [
  { w: 1920, h: 1080, label: 'Full HD landscape (1920 × 1080)' },
  { w: 1080, h: 1920, label: 'Full HD portrait (1080 × 1920)' },
  { w: 3840, h: 2160, label: '4K landscape (3840 × 2160)' },
  { w: 2160, h: 3840, label: '4K portrait (2160 × 3840)' },
  { w: 1280, h: 720, label: 'HD landscape (1280 × 720)' },
];
