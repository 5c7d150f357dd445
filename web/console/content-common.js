// What the content pages (media, channels, schedules, reports) share: kinds
// of media, weekdays, byte and time formats, hashing a file, thumbnails.

import * as api from './api.js';
import { Sha256 } from './pow.js';
import { badge, h } from './dom.js';
import { pad2 } from './format.js';

export const KIND_LABELS = { image: 'Image', video: 'Video', html: 'HTML page', web: 'Web page', text: 'Text' };
const KIND_BADGES = { image: 'info', video: 'ok', html: 'warn', web: 'muted', text: 'muted' };
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
export const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
export const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];
export const ZONE_COLOURS = ['#2f5bea', '#e0642b', '#16a36b', '#9b4dd6', '#d1366b', '#0f97b5', '#b58a00', '#56627a'];
export const ACCEPTED_FILES = 'image/png,image/jpeg,image/webp,image/gif,video/mp4,video/webm,text/html,' +
  '.png,.jpg,.jpeg,.webp,.gif,.mp4,.webm,.html,.htm';
const SUBTLE_MAX_BYTES = 512 * 1024 * 1024; // larger files are hashed in chunks (not read whole)
const HASH_CHUNK = 4 * 1024 * 1024;

/** "512 B", "1.4 MiB", "10 GiB". */
export function fmtBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return `${x >= 100 ? Math.round(x) : x.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** Milliseconds as "12 s", "3 min 05 s", "2 h 04 min". */
export function fmtMs(ms) {
  const s = Math.round((Number(ms) || 0) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad2(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad2(Math.floor((s % 3600) / 60))} min`;
}

/** Seconds of a playlist as "45 s", "2 min 30 s". */
export function fmtSeconds(total) {
  return fmtMs(total * 1000).replace(/ 00 s$/, '');
}

/** ISO weekdays from a list ([1,2]) or a string of digits ("12"). */
export function daysList(days) {
  const raw = Array.isArray(days) ? days : typeof days === 'string' ? [...days] : [];
  return [...new Set(raw.map(Number).filter((d) => Number.isInteger(d) && d >= 1 && d <= 7))].sort((a, b) => a - b);
}

/** "Every day", "Mon–Fri", "Mon, Wed, Sat–Sun". */
export function daysText(days) {
  const list = daysList(days);
  if (list.length === 7) return 'Every day';
  if (!list.length) return 'No day';
  const parts = [];
  for (let i = 0; i < list.length;) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    if (j - i >= 2) parts.push(`${WEEKDAYS[list[i] - 1]}–${WEEKDAYS[list[j] - 1]}`);
    else for (let k = i; k <= j; k++) parts.push(WEEKDAYS[list[k] - 1]);
    i = j + 1;
  }
  return parts.join(', ');
}

export function capital(text) {
  const t = String(text || '');
  return t ? t.charAt(0).toUpperCase() + t.slice(1) : t;
}

export function parseTagList(text) {
  return [...new Set(String(text).split(',').map((t) => t.trim()).filter(Boolean))];
}

/** An integer when the text is one, else the text itself (the server then names the field at fault). */
export function intOrRaw(value) {
  if (typeof value === 'number') return value;
  const t = String(value === undefined || value === null ? '' : value).trim();
  const n = Number(t);
  return t !== '' && Number.isInteger(n) ? n : t;
}

/** A local date as YYYY-MM-DD (the value of an <input type="date">). */
export function dateValue(d) {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** Lower-case hex SHA-256 of a File: crypto.subtle where it exists (secure
 * contexts), else pow.js in chunks (plain-HTTP origins). */
export async function fileSha256(file, onProgress) {
  let digest;
  if (globalThis.crypto && crypto.subtle && file.size <= SUBTLE_MAX_BYTES) {
    digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
  } else {
    const hasher = new Sha256();
    for (let off = 0; off < file.size; off += HASH_CHUNK) {
      hasher.update(new Uint8Array(await file.slice(off, off + HASH_CHUNK).arrayBuffer()));
      if (onProgress) onProgress(Math.min(off + HASH_CHUNK, file.size), file.size);
      await new Promise((resolve) => { setTimeout(resolve, 0); }); // keep the page responsive
    }
    digest = hasher.digest();
  }
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A thumbnail for a medium (the server's thumbnail of an image, else the
 * image itself, else a label of its kind). */
export function mediaThumb(m, cls = 'shot-thumb') {
  const kind = m ? m.kind : 'missing';
  const box = h('div', { class: `shot ${cls} thumb-${kind}` });
  const label = () => h('span', { class: 'shot-empty', text: m ? (KIND_LABELS[m.kind] || m.kind) : 'Missing' });
  if (m && m.kind === 'image') {
    const src = m.thumbnail ? api.mediaThumbnailUrl(m.sha256) : api.mediaContentUrl(m.sha256);
    const img = h('img', { src, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => { if (img.isConnected) img.replaceWith(label()); });
    box.append(img);
  } else {
    box.append(label());
  }
  return box;
}

export function kindBadge(kind) {
  return badge(KIND_LABELS[kind] || kind || '?', KIND_BADGES[kind] || 'muted');
}
