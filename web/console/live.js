// The console's one live stream (EventSource on /api/v1/events), shared by
// every page that shows live data, its status indicator, and the page timers
// that refresh relative times and resynchronise with the server.

import * as api from './api.js';
import { state } from './session.js';
import { h } from './dom.js';

// One EventSource for the whole console, opened by the first page that wants
// live data and kept across pages until sign-out. Pages subscribe with
// liveOn(stale, type, fn); their subscriptions end when they are left.
const live = {
  es: null,
  status: 'off', // connecting | live | reconnecting | offline | off
  everOpen: false,
  retryTimer: null,
  handlers: { audit: new Set(), screen: new Set(), reopen: new Set(), status: new Set() },
};

let sessionEnded = null;

/** fn() runs when the stream finds the session gone (the shell signs out). */
export function onLiveSessionEnded(fn) {
  sessionEnded = fn;
}

function liveSetStatus(status) {
  live.status = status;
  for (const fn of [...live.handlers.status]) fn(status);
}

function liveStart() {
  if (live.es || !state.user || state.user.must_change_password || typeof EventSource !== 'function') return;
  clearTimeout(live.retryTimer);
  const es = new EventSource(api.EVENTS_URL);
  live.es = es;
  liveSetStatus(live.everOpen ? 'reconnecting' : 'connecting');
  es.addEventListener('open', () => {
    if (live.es !== es) return;
    const again = live.everOpen;
    live.everOpen = true;
    liveSetStatus('live');
    // after a reconnection the pages reload what they show, in case the
    // stream could not resume where it stopped
    if (again) for (const fn of [...live.handlers.reopen]) fn();
  });
  es.addEventListener('error', () => {
    if (live.es !== es) return;
    if (es.readyState !== EventSource.CLOSED) {
      liveSetStatus('reconnecting');
      return;
    }
    // refused for good (session ended, server gone): check, then try again
    es.close();
    live.es = null;
    liveSetStatus('offline');
    live.retryTimer = setTimeout(async () => {
      if (!state.user) return;
      try {
        await api.getSession();
      } catch (err) {
        if (err.status === 401) {
          if (sessionEnded) sessionEnded();
          return;
        }
      }
      if (state.user && live.handlers.status.size + live.handlers.screen.size + live.handlers.audit.size > 0) liveStart();
    }, 5000);
  });
  for (const type of ['audit', 'screen']) {
    es.addEventListener(type, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return; // ignore a malformed event
      }
      for (const fn of [...live.handlers[type]]) fn(data);
    });
  }
}

export function liveStop() {
  clearTimeout(live.retryTimer);
  if (live.es) live.es.close();
  live.es = null;
  live.everOpen = false;
  live.status = 'off';
}

/** Subscribes the current page to 'audit', 'screen', 'reopen' or 'status' (until the page is left). */
export function liveOn(stale, type, fn) {
  if (stale()) return;
  live.handlers[type].add(fn);
  state.cleanup.push(() => live.handlers[type].delete(fn));
  if (type === 'status') fn(live.status);
  liveStart();
}

const LIVE_TEXT = {
  connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline', off: 'Not live',
};

/** A "Live" indicator that follows the shared stream. */
export function liveIndicator(stale, id) {
  const el = h('span', { id, class: 'live live-off', role: 'status', text: LIVE_TEXT.off });
  if (typeof EventSource !== 'function') return el;
  liveOn(stale, 'status', (status) => {
    el.textContent = LIVE_TEXT[status] || status;
    el.className = `live ${status === 'live' ? 'live-on' : 'live-off'}`;
  });
  return el;
}
const TICK_MS = 5000; // relative times and online badges are recomputed this often
const RESYNC_MS = 30000; // the stream reports changes, not heartbeats: reload last_seen this often
/** Runs fn every TICK_MS while the page is shown; reloads the data every RESYNC_MS. */
export function pageTimers(stale, tick, resync) {
  if (stale()) return;
  let last = Date.now();
  const timer = setInterval(() => {
    tick();
    if (Date.now() - last >= RESYNC_MS && document.visibilityState !== 'hidden') {
      last = Date.now();
      resync();
    }
  }, TICK_MS);
  state.cleanup.push(() => clearInterval(timer));
  return () => { last = Date.now(); };
}
