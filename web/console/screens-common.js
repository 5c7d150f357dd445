// What the screen pages share: online status, badges, pairing codes, the
// screenshot box (the host key fingerprint is remote/fingerprint.js).

import * as api from './api.js';
import { h } from './dom.js';

const ONLINE_GRACE_S = 75; // the server's SCREENS_ONLINE_GRACE_S
export const PAIR_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const INSTRUCTION_LABELS = {
  identify: 'Identify',
  screenshot: 'Screenshot',
  reboot: 'Reboot',
  restart_player: 'Restart player',
  set_volume: 'Set volume',
  set_brightness: 'Set brightness',
  change_channel: 'Change channel',
  manifest_changed: 'Content update',
  display_power: 'Display power',
  power_schedule: 'Power schedule',
  collect_logs: 'Collect logs',
};

export function isOnline(s) {
  return !s.deleted && s.last_seen > 0 && api.serverNow() - s.last_seen <= ONLINE_GRACE_S;
}

export function statusBadge(screen, id) {
  const on = isOnline(screen);
  return h('span', {
    id, class: `badge status-badge ${on ? 'badge-ok online' : 'badge-muted offline'}`, text: on ? 'Online' : 'Offline',
  });
}

export function nowPlaying(screen) {
  const np = screen.now_playing;
  if (np === null || np === undefined || np === '') return '—';
  if (typeof np === 'string') return np;
  if (typeof np === 'object' && (np.name || np.title)) return String(np.name || np.title);
  return JSON.stringify(np);
}

export function tagList(tags) {
  if (!Array.isArray(tags) || !tags.length) return '—';
  return h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag', text: t })));
}

export function normalizeCode(value) {
  return String(value || '').toUpperCase().replace(/[\s-]+/g, '');
}

export function validCode(code) {
  return code.length === 8 && [...code].every((c) => PAIR_ALPHABET.includes(c));
}

export function showCode(code) {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** A screenshot <img>, or the words "No screenshot" when there is none (or it cannot be loaded). */
export function screenshotBox(screen, { id, cls }) {
  const box = h('div', { class: `shot ${cls}` });
  let shownAt = -1;
  function update(s) {
    const at = s.screenshot_at || 0;
    if (at === shownAt) return;
    shownAt = at;
    if (!at) {
      box.replaceChildren(h('span', { class: 'shot-empty', text: 'No screenshot' }));
      return;
    }
    const img = h('img', {
      id, src: api.screenshotUrl(s.id, at), alt: `Screenshot of ${s.name}`, decoding: 'async',
      width: cls === 'shot-thumb' ? '96' : null, height: cls === 'shot-thumb' ? '54' : null,
    });
    img.addEventListener('error', () => {
      if (img.isConnected) img.replaceWith(h('span', { class: 'shot-empty', text: 'Screenshot unavailable' }));
    });
    box.replaceChildren(img);
  }
  update(screen);
  return { el: box, update };
}
