// The Location card of a screen's page: where the screen is (set by hand,
// or the place of its address in the server's GeoIP database) on a small
// map; an admin types the coordinates or clicks the map, saves them, or
// goes back to the location of the address.

import * as api from '../api.js';
import { isAdmin, state } from '../session.js';
import { busy, field, h, setError, toast } from '../dom.js';
import { NO_MAP_TEXT, loadLeaflet, loadMapConfig, locationLine, makeMap, whenShown } from '../map-common.js';

const DIGITS = 7; // the server keeps 10^-7 degree

/** The zoom that shows a location: close for a point set by hand, wider the less precise an address is. */
function zoomFor(loc) {
  if (loc.source === 'manual') return 16;
  const km = loc.accuracy_km || 50;
  return km <= 5 ? 12 : km <= 25 ? 10 : km <= 100 ? 8 : 6;
}

/** The "Location" card: { el, sync(screen) }; onSaved(screen) gets the server's answer. */
export function screenLocationCard(stale, screenId, getScreen, onSaved) {
  const line = h('p', { id: 'screen-location-line', class: 'location-line' });
  const mapBox = h('div', { id: 'screen-map', class: 'map map-small', role: 'region', 'aria-label': 'Where the screen is' });
  const mapHint = h('p', { class: 'hint', id: 'screen-map-hint', hidden: true });
  const admin = isAdmin();
  let L = null;
  let map = null;
  let marker = null;
  let shownAt = null; // the coordinates last written into the fields ("lat,lon" or ",")
  let shownLoc = null; // the location last shown on the map, as text: the map moves only when it changes

  const lat = h('input', {
    id: 'screen-lat', type: 'number', min: '-90', max: '90', step: 'any', inputmode: 'decimal', class: 'input-short',
    autocomplete: 'off', placeholder: 'e.g. 52.52',
  });
  const lon = h('input', {
    id: 'screen-lon', type: 'number', min: '-180', max: '180', step: 'any', inputmode: 'decimal', class: 'input-short',
    autocomplete: 'off', placeholder: 'e.g. 13.405',
  });
  const err = h('p', { id: 'screen-location-error', class: 'form-error', role: 'alert', hidden: true });
  const save = h('button', { id: 'screen-location-save', type: 'submit', class: 'btn btn-primary', text: 'Save location' });
  const reset = h('button', {
    id: 'screen-location-reset', type: 'button', class: 'btn', text: 'Use its address’s location', hidden: true,
  });
  const form = admin ? h('form', { id: 'screen-location-form', class: 'form-inline', novalidate: true },
    field('Latitude (°N)', lat), field('Longitude (°E)', lon),
    h('div', { class: 'field field-button inline' }, save, reset),
    h('p', { class: 'hint form-note', text: 'Type the coordinates, or click the map to place the screen there, then save. Without a location set by hand the screen is placed by its address.' }),
    err) : null;

  const fieldsText = () => `${lat.value},${lon.value}`;
  const locText = (loc) => (loc ? `${Number(loc.lat.toFixed(DIGITS))},${Number(loc.lon.toFixed(DIGITS))}` : ',');

  function showMarker(loc, fit) {
    if (!map) return;
    if (!loc) {
      if (marker) marker.remove();
      marker = null;
      if (fit) map.setView([20, 0], 2, { animate: false });
      return;
    }
    const at = [loc.lat, loc.lon];
    if (marker) marker.setLatLng(at);
    else marker = L.marker(at, { title: getScreen().name, alt: getScreen().name, keyboard: false }).addTo(map);
    marker.getElement().dataset.source = loc.source || 'draft';
    if (fit) map.setView(at, zoomFor(loc), { animate: false });
  }

  function sync(s) {
    line.replaceChildren(locationLine(s.location, 'screen-location'));
    const next = locText(s.location);
    const moved = next !== shownLoc;
    shownLoc = next;
    if (!admin) {
      if (L) mapBox.hidden = !s.location; // nothing to show, nothing to click
      if (moved) showMarker(s.location, true);
      return;
    }
    // a change made elsewhere replaces the fields (and the draft marker) only when they were not edited here
    if (shownAt === null || fieldsText() === shownAt) {
      [lat.value, lon.value] = s.location ? next.split(',') : ['', ''];
      if (moved) showMarker(s.location, true);
    }
    shownAt = fieldsText();
    reset.hidden = !(s.location && s.location.source === 'manual');
  }

  function draft() {
    const a = Number(lat.value);
    const b = Number(lon.value);
    if (lat.value !== '' && lon.value !== '' && Math.abs(a) <= 90 && Math.abs(b) <= 180) {
      showMarker({ lat: a, lon: b, source: 'draft' }, false);
    }
  }

  if (admin) {
    lat.addEventListener('input', draft);
    lon.addEventListener('input', draft);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      setError(err, null);
      const a = lat.value.trim() === '' ? NaN : Number(lat.value);
      const b = lon.value.trim() === '' ? NaN : Number(lon.value);
      if (!Number.isFinite(a) || a < -90 || a > 90) { setError(err, 'The latitude is a number of degrees from -90 to 90.'); lat.focus(); return; }
      if (!Number.isFinite(b) || b < -180 || b > 180) { setError(err, 'The longitude is a number of degrees from -180 to 180.'); lon.focus(); return; }
      busy([save, reset], async () => {
        try {
          const res = await api.updateScreen(screenId, { location: { lat: a, lon: b } });
          shownAt = null; // take the saved values
          onSaved(res.screen);
          toast('Location saved.');
        } catch (e) {
          setError(err, e);
        }
      });
    });
    reset.addEventListener('click', () => busy([save, reset], async () => {
      setError(err, null);
      try {
        const res = await api.updateScreen(screenId, { location: null });
        shownAt = null;
        onSaved(res.screen);
        toast(res.screen.location ? 'The screen is placed by its address again.' : 'Location removed: its address is not in the server’s GeoIP database.');
      } catch (e) {
        setError(err, e);
      }
    }));
  }

  (async () => {
    const [lib, config] = await Promise.all([loadLeaflet(), loadMapConfig().catch(() => ({ tile_url: '', attribution: '' }))]);
    if (stale()) return;
    if (!lib) {
      mapBox.hidden = true;
      mapHint.textContent = NO_MAP_TEXT;
      mapHint.hidden = false;
      return;
    }
    L = lib;
    if (!admin) mapBox.hidden = !getScreen().location;
    whenShown(stale, mapBox, () => {
      map = makeMap(L, mapBox, config);
      mapBox.dataset.ready = 'true';
      state.cleanup.push(() => map.remove());
      showMarker(getScreen().location, true);
      if (!admin) return;
      map.on('click', (e) => {
        const at = e.latlng.wrap();
        lat.value = String(Number(at.lat.toFixed(DIGITS)));
        lon.value = String(Number(at.lng.toFixed(DIGITS)));
        setError(err, null);
        showMarker({ lat: at.lat, lon: at.lng, source: 'draft' }, false);
      });
    });
  })();

  const el = h('section', { class: 'card', id: 'screen-location-card', 'aria-labelledby': 'card-location' },
    h('h2', { id: 'card-location', text: 'Location' }),
    line,
    h('div', { class: 'location-grid' }, h('div', {}, mapBox, mapHint), form));
  return { el, sync };
}
