// The Map page (#/map, every user): each screen with a location (set by
// hand on its page, else the place of its address in the server's GeoIP
// database) as a marker, fitted into view; a marker's popup has the
// screen's name (a link to its page), online or offline, and where the
// location comes from. Patched from the live stream like the screens list;
// the screens without a location are listed below the map.

import * as api from '../api.js';
import { state } from '../session.js';
import { h, pageHeader } from '../dom.js';
import { liveIndicator, liveOn, pageTimers } from '../live.js';
import { isOnline, statusBadge } from '../screens-common.js';
import { NO_MAP_TEXT, coordText, loadLeaflet, loadMapConfig, makeMap, placeText, whenShown } from '../map-common.js';

const UNPLACED_SHOWN = 20; // names listed under "Not on the map"

const screenHref = (id) => `#/screens/${encodeURIComponent(id)}`;

function popupFor(s) {
  return h('div', { class: 'map-popup', dataset: { screenId: s.id } },
    h('a', { class: 'map-popup-name', href: screenHref(s.id), text: s.name }),
    h('div', { class: 'map-popup-status' }, statusBadge(s)),
    h('div', { class: 'hint', text: placeText(s.location) }));
}

export async function renderMap(stale) {
  const [list, config, L] = await Promise.all([api.listScreens(), loadMapConfig(), loadLeaflet()]);
  if (stale()) return h('div');
  const screens = new Map((list.screens || []).map((s) => [s.id, s]));

  const summary = h('p', { id: 'map-summary', class: 'summary', 'aria-live': 'polite' });
  const box = h('div', { id: 'screens-map', class: 'map map-page', role: 'region', 'aria-label': 'Map of the screens' });
  const textList = h('ul', { id: 'map-text-list', class: 'map-text-list' }); // without Leaflet
  const unplaced = h('p', { id: 'map-unplaced', class: 'hint' });
  let map = null;
  const markers = new Map(); // screen id -> Leaflet marker

  function markMarker(marker, s) {
    const el = marker.getElement();
    if (!el) return;
    el.dataset.screenId = s.id;
    el.dataset.online = isOnline(s) ? 'true' : 'false';
    el.dataset.source = s.location.source;
    el.classList.toggle('marker-offline', !isOnline(s));
  }

  function place(s) {
    const had = markers.get(s.id);
    if (!s.location || s.deleted) {
      if (had) {
        had.remove();
        markers.delete(s.id);
      }
      return;
    }
    const at = [s.location.lat, s.location.lon];
    if (had) {
      had.setLatLng(at);
      if (had.options.title !== s.name && had.getElement()) {
        had.options.title = s.name;
        had.getElement().title = s.name;
        had.getElement().alt = s.name;
      }
      if (had.isPopupOpen()) had.getPopup().setContent(popupFor(s));
      markMarker(had, s);
      return;
    }
    const marker = L.marker(at, { title: s.name, alt: s.name, riseOnHover: true })
      .bindPopup(() => popupFor(screens.get(s.id) || s))
      .addTo(map);
    markMarker(marker, s);
    markers.set(s.id, marker);
  }

  function paintText() {
    const located = [...screens.values()].filter((s) => s.location).sort((a, b) => a.name.localeCompare(b.name));
    textList.replaceChildren(...located.map((s) => h('li', { dataset: { screenId: s.id } },
      h('a', { href: screenHref(s.id), text: s.name }), ` — ${coordText(s.location)} · ${placeText(s.location)}`)));
  }

  function paintSummary() {
    const all = [...screens.values()];
    const located = all.filter((s) => s.location).length;
    const without = all.filter((s) => !s.location).sort((a, b) => a.name.localeCompare(b.name));
    summary.textContent = all.length
      ? `${located.toLocaleString()} screen${located === 1 ? '' : 's'} on the map` +
        (without.length ? ` · ${without.length.toLocaleString()} without a location` : '')
      : 'No screens yet.';
    unplaced.replaceChildren();
    if (!without.length) return;
    unplaced.append('Not on the map: ');
    without.slice(0, UNPLACED_SHOWN).forEach((s, i) => {
      if (i) unplaced.append(', ');
      unplaced.append(h('a', { href: screenHref(s.id), text: s.name }));
    });
    if (without.length > UNPLACED_SHOWN) unplaced.append(` and ${(without.length - UNPLACED_SHOWN).toLocaleString()} more`);
    unplaced.append('. An administrator can place a screen by hand on its page.');
  }

  function apply(s) {
    if (s.deleted) screens.delete(s.id);
    else screens.set(s.id, { ...(screens.get(s.id) || {}), ...s });
    if (map) place(screens.get(s.id) || s);
    else if (!L) paintText();
    paintSummary();
  }

  liveOn(stale, 'screen', apply);
  async function resync() {
    const res = await api.listScreens();
    if (stale()) return;
    const seen = new Set();
    for (const s of res.screens || []) {
      seen.add(s.id);
      apply(s);
    }
    for (const id of [...screens.keys()]) if (!seen.has(id)) apply({ id, deleted: true });
  }
  liveOn(stale, 'reopen', () => { resync().catch(() => {}); });
  pageTimers(stale, () => {
    for (const [id, marker] of markers) markMarker(marker, screens.get(id));
  }, () => { resync().catch(() => {}); });

  if (L) {
    whenShown(stale, box, () => {
      map = makeMap(L, box, config);
      state.cleanup.push(() => map.remove());
      for (const s of screens.values()) place(s);
      const points = [...markers.values()].map((m) => m.getLatLng());
      if (points.length === 1) map.setView(points[0], 10, { animate: false });
      else if (points.length) map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 13, animate: false });
      box.dataset.ready = 'true';
    });
  } else {
    paintText();
  }
  paintSummary();

  return h('div', { class: 'page' },
    pageHeader('Map', liveIndicator(stale, 'map-live')),
    h('section', { class: 'card', 'aria-label': 'Where the screens are' },
      h('div', { class: 'toolbar' }, summary),
      L ? box : h('p', { id: 'map-missing-library', class: 'hint', text: NO_MAP_TEXT }),
      L ? null : textList,
      unplaced));
}
