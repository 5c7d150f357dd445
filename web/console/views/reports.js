// The Reports page: proof of play, filtered, with a CSV export.

import * as api from '../api.js';
import { busy, card, emptyRow, field, h, headRow, labelledRow, pageHeader, setError, tableWrap } from '../dom.js';
import { dateValue, fmtMs, mediaThumb } from '../content-common.js';

export async function renderReports(stale) {
  const [screensRes, libRes] = await Promise.all([
    api.listScreens().catch(() => ({ screens: [] })),
    api.listMedia().catch(() => ({ media: [] })),
  ]);
  if (stale()) return h('div');
  const screens = (screensRes.screens || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const media = (libRes.media || []).slice().sort((a, b) => a.filename.localeCompare(b.filename));
  const mediaBy = new Map(media.map((m) => [m.sha256, m]));

  const screenSel = h('select', { id: 'report-screen' }, h('option', { value: '', text: 'All screens' }),
    screens.map((s) => h('option', { value: s.id, text: s.name })));
  const mediaSel = h('select', { id: 'report-media' }, h('option', { value: '', text: 'All media' }),
    media.map((m) => h('option', { value: m.sha256, text: m.filename })));
  const today = new Date();
  const weekAgo = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6);
  const fromIn = h('input', { id: 'report-from', type: 'date', value: dateValue(weekAgo) });
  const toIn = h('input', { id: 'report-to', type: 'date', value: dateValue(today) });
  const run = h('button', { id: 'report-run', type: 'submit', class: 'btn btn-primary', text: 'Show' });
  const csv = h('a', { id: 'report-csv', class: 'btn', download: 'proof-of-play.csv', text: 'Export CSV' });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });

  function filters() {
    const f = {};
    if (screenSel.value) f.screen_id = screenSel.value;
    if (mediaSel.value) f.sha256 = mediaSel.value;
    if (fromIn.value) f.from = Math.floor(new Date(`${fromIn.value}T00:00:00`).getTime() / 1000);
    if (toIn.value) f.to = Math.floor(new Date(`${toIn.value}T23:59:59`).getTime() / 1000);
    return f;
  }
  const updateCsv = () => { csv.href = api.playsCsvUrl(filters()); };
  updateCsv();

  const form = h('form', { id: 'report-form', class: 'form-grid report-form' },
    field('Screen', screenSel), field('Media', mediaSel), field('From', fromIn), field('To', toIn),
    h('div', { class: 'form-footer' }, err, csv, run));
  form.addEventListener('input', updateCsv);
  form.addEventListener('change', updateCsv);

  const summary = h('p', { id: 'report-summary', class: 'report-summary', 'aria-live': 'polite' });
  const MCOLS = ['Media', 'Plays', 'Time on screen', 'Screens'];
  const SCOLS = ['Screen', 'Plays', 'Time on screen'];
  const mbody = h('tbody');
  const sbody = h('tbody');
  const mtable = h('table', { id: 'report-media-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Plays per medium' }), headRow(MCOLS), mbody);
  const stable = h('table', { id: 'report-screen-table', class: 'table table-stack' },
    h('caption', { class: 'visually-hidden', text: 'Plays per screen' }), headRow(SCOLS), sbody);

  function show(plays) {
    const perMedia = new Map();
    const perScreen = new Map();
    let total = 0;
    for (const p of plays) {
      total += Number(p.duration_ms) || 0;
      const key = p.sha256 || '';
      const m = perMedia.get(key) || { sha256: key, filename: p.filename, plays: 0, ms: 0, screens: new Set() };
      m.plays += 1;
      m.ms += Number(p.duration_ms) || 0;
      m.screens.add(p.screen_id);
      if (!m.filename && p.filename) m.filename = p.filename;
      perMedia.set(key, m);
      const s = perScreen.get(p.screen_id) || { id: p.screen_id, name: p.screen, plays: 0, ms: 0 };
      s.plays += 1;
      s.ms += Number(p.duration_ms) || 0;
      perScreen.set(p.screen_id, s);
    }
    summary.textContent = plays.length
      ? `${plays.length.toLocaleString()} play${plays.length === 1 ? '' : 's'} · ${fmtMs(total)} on screen${plays.length >= 100000 ? ' (the first 100,000 only: narrow the dates)' : ''}`
      : 'No plays in this period.';
    const byPlays = (a, b) => b.plays - a.plays || b.ms - a.ms;
    mbody.replaceChildren();
    if (!perMedia.size) mbody.append(emptyRow(MCOLS.length, 'Nothing played.'));
    for (const m of [...perMedia.values()].sort(byPlays)) {
      const lib = mediaBy.get(m.sha256);
      const label = m.sha256 ? (m.filename || (lib && lib.filename) || `${m.sha256.slice(0, 12)}… (deleted)`) : 'Web pages and texts';
      mbody.append(labelledRow(MCOLS, { dataset: { sha256: m.sha256 } },
        h('td', { class: 'cell-strong' }, h('div', { class: 'media-cell' },
          m.sha256 && lib ? mediaThumb(lib, 'shot-mini') : null, h('span', { text: label }))),
        h('td', { class: 'num', text: m.plays.toLocaleString() }),
        h('td', { class: 'num nowrap', text: fmtMs(m.ms) }),
        h('td', { class: 'num', text: String(m.screens.size) })));
    }
    sbody.replaceChildren();
    if (!perScreen.size) sbody.append(emptyRow(SCOLS.length, 'Nothing played.'));
    for (const s of [...perScreen.values()].sort(byPlays)) {
      sbody.append(labelledRow(SCOLS, { dataset: { screenId: s.id } },
        h('td', { class: 'cell-strong', text: s.name || `${s.id} (deleted)` }),
        h('td', { class: 'num', text: s.plays.toLocaleString() }),
        h('td', { class: 'num nowrap', text: fmtMs(s.ms) })));
    }
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    setError(err, null);
    if (fromIn.value && toIn.value && fromIn.value > toIn.value) {
      setError(err, 'The first day must not be after the last day.');
      return;
    }
    updateCsv();
    try {
      const res = await api.listPlays(filters());
      if (mine !== seq || stale()) return;
      show(res.plays || []);
    } catch (e) {
      if (mine === seq && !stale()) setError(err, e);
    }
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(run, load);
  });
  await load();

  return h('div', { class: 'page' },
    pageHeader('Reports'),
    card('Proof of play',
      h('p', { class: 'hint', text: 'What the screens reported playing, item by item. Days are in your browser’s time zone.' }),
      form),
    summary,
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'card-per-media' },
        h('h2', { id: 'card-per-media', text: 'Per medium' }), tableWrap(mtable, 'Plays per medium')),
      h('section', { class: 'card', 'aria-labelledby': 'card-per-screen' },
        h('h2', { id: 'card-per-screen', text: 'Per screen' }), tableWrap(stable, 'Plays per screen'))));
}
