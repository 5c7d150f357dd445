// What the map pages share (the Map page and a screen's page): Leaflet,
// vendored from npm by scripts/vendor-js and loaded on first use with its
// stylesheet; the tile layer the server's settings name (GET
// /api/v1/console-config: map_tile_url, map_attribution, the one outside
// origin the console's CSP lets images come from); the words for a
// screen's location. Without Leaflet the pages say so and show the
// locations as text.

import * as api from './api.js';
import { h } from './dom.js';

export const NO_MAP_TEXT = 'The map library is not installed on this server (scripts/vendor-js): locations are shown as text.';

let leaflet = null; // the module, once loaded
let leafletLoading = null;
let mapConfig = null; // the server's map settings, asked once per page load

function stylesheetLoaded(link) {
  return new Promise((resolve) => {
    link.addEventListener('load', () => resolve(), { once: true });
    link.addEventListener('error', () => resolve(), { once: true });
  });
}

/** Leaflet (its ES module), or null when it is not installed. Its stylesheet is in place when this resolves. */
export function loadLeaflet() {
  if (leaflet) return Promise.resolve(leaflet);
  if (!leafletLoading) {
    leafletLoading = (async () => {
      let L;
      try {
        L = await import('./vendor/leaflet/leaflet-src.esm.js');
      } catch {
        leafletLoading = null;
        return null;
      }
      if (!document.querySelector('link[data-leaflet]')) {
        const link = h('link', { rel: 'stylesheet', href: '/assets/vendor/leaflet/leaflet.css', 'data-leaflet': '' });
        const loaded = stylesheetLoaded(link);
        document.head.append(link);
        await loaded; // Leaflet measures its container: the sizes must be the stylesheet's
      }
      L.Icon.Default.imagePath = '/assets/vendor/leaflet/images/';
      leaflet = L;
      return L;
    })();
  }
  return leafletLoading;
}

/** The server's map settings: { tile_url, attribution } (tile_url '' means no background). */
export async function loadMapConfig() {
  if (!mapConfig) mapConfig = (await api.getConsoleConfig()).map || { tile_url: '', attribution: '' };
  return mapConfig;
}

// Leaflet writes the attribution as HTML: the setting is plain text
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A Leaflet map in container with the server's tiles; world view until the caller fits it. */
export function makeMap(L, container, config, options = {}) {
  const map = L.map(container, { worldCopyJump: true, ...options }).setView([20, 0], 2);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, {
      maxZoom: 19,
      attribution: escapeHtml(config.attribution || ''),
      // the console sends no Referer elsewhere; tile servers (OpenStreetMap's usage policy) want to
      // know the site that shows their tiles: its origin, never a page's path
      referrerPolicy: 'strict-origin',
    }).addTo(map);
  } else {
    container.classList.add('map-no-tiles');
  }
  // the page's layout may change the map's size after it is drawn (fonts, the window, the phone layout)
  if (typeof ResizeObserver === 'function') {
    const watch = new ResizeObserver(() => map.invalidateSize());
    watch.observe(container);
    map.on('unload', () => watch.disconnect());
  }
  return map;
}

/** "Berlin, DE" / "set by hand" / "" : where a location comes from, in words. */
export function placeText(loc) {
  if (!loc) return '';
  if (loc.source === 'manual') return 'Set by hand';
  const where = [loc.city, loc.country].filter(Boolean).join(', ');
  const within = loc.accuracy_km ? ` (within about ${loc.accuracy_km} km)` : '';
  return `${where || 'Somewhere'} by its address${within}`;
}

export function coordText(loc) {
  return `${Number(loc.lat).toFixed(5)}, ${Number(loc.lon).toFixed(5)}`;
}

/** The element shown for a location: "52.52000, 13.40500 · Berlin, DE by its address" or "Unknown". */
export function locationLine(loc, id) {
  if (!loc) {
    return h('span', { id, class: 'hint', text: 'Unknown: not set by hand, and its address is not in the server’s GeoIP database.' });
  }
  return h('span', { id, dataset: { source: loc.source } },
    h('span', { class: 'mono', text: coordText(loc) }), ` · ${placeText(loc)}`);
}

/** Runs fn once el is in the page (the shell inserts a view after its render resolves); not when the page was left. */
export function whenShown(stale, el, fn) {
  const step = () => {
    if (stale()) return;
    if (el.isConnected) fn();
    else requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}
