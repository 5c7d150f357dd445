// Formatting times for people: absolute, relative (3 min ago) and durations.

import * as api from './api.js';
import { h } from './dom.js';

export function pad2(n) {
  return String(n).padStart(2, '0');
}

/** Formats unix seconds (or an ISO string) as local "YYYY-MM-DD HH:MM:SS". */
export function fmtTime(value) {
  if (value === null || value === undefined || value === 0 || value === '') return '—';
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function isoTime(value) {
  if (typeof value !== 'number' || !value) return undefined;
  return new Date(value * 1000).toISOString();
}
/** "12 s ago", "3 min ago", "never". */
export function ago(t) {
  if (!t) return 'never';
  const d = Math.max(0, Math.round(api.serverNow() - t));
  if (d < 2) return 'just now';
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

/** "2 d 3 h", "3 h 12 min", "4 min", "35 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function timeEl(t, text) {
  return h('time', { datetime: isoTime(t), title: t ? fmtTime(t) : null, text });
}
