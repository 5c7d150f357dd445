// The kiosk page of vitrine-player. It plays the active content manifest:
// picks a channel (play now, else the schedule, else the default channel),
// lays its zones out on the channel's canvas scaled to the screen, and plays
// each zone's playlist with its durations, transitions and validity windows,
// preparing the next item before the current one ends so that the screen
// never shows a black frame between items. It reports what played (proof of
// play) to the player, shows the pairing code and QR code while the screen is
// unpaired, flashes on "identify", and asks the person in front of the screen
// before a remote-control session starts ("Allow remote control by NAME?",
// with a countdown). In a sync group (the manifest's "sync"), every zone
// plays on the group clock the player keeps with the other screens: each
// transition lands on the frame nearest its instant on that clock, videos
// follow it (playbackRate nudges), and a screen that starts late enters at
// the item and position the others show. With the share receiver on, it
// shows the share code and key in a corner. Everything comes from the player
// itself (same origin, 127.0.0.1): GET /state and the /events stream,
// GET /manifest, GET /objects/<sha256>, GET /clock, GET /share, POST /played,
// POST /consent, POST /transitions.
const $ = (id) => document.getElementById(id);

const FADE_MS = 500;              // fade and slide transitions, channel switches
const SCHEDULE_TICK_MS = 30000;   // the schedule and validity windows are re-evaluated at least this often
const READY_TIMEOUT_MS = 10000;   // a frame that never fires "load" is shown anyway after this
const SWITCH_TIMEOUT_MS = 8000;   // a new channel replaces the old one at the latest after this
const FAILED_RETRY_MS = 60000;    // an item that failed to load is skipped for this long
const STALL_MS = 15000;           // a playing video that makes no progress for this long is skipped
const DEFAULT_DURATION_S = 10;
const FLUSH_MS = 10000;           // proof of play is posted this often...
const FLUSH_COUNT = 20;           // ...or as soon as this many plays are waiting
const MAX_QUEUED_PLAYS = 5000;
const MAX_BATCH = 500;
const RETRY_MANIFEST_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const objectUrl = (sha) => '/objects/' + encodeURIComponent(sha);

// ------------------------------------------------------------------ clock

// The player's notion of now (from /state), so that the schedule, validity
// windows and proof of play agree with the player even if it corrects the
// clock; on the same machine the offset is about zero.
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

// ------------------------------------------------------------------ group clock

// The sync group's clock (GET /clock: now_ms on it). The page measures its
// offset to performance.now() twice a second (ten times while it has fewer
// than eight, as at start or after a step); of the last samples, the one
// with the shortest round trip wins (its error is at most half of it). When
// the player's clock steps (it locked to the group), the old samples go and
// every synced zone finds its place again.
const CLOCK_SAMPLE_MS = 500;
const CLOCK_IDLE_MS = 5000;       // how often a screen in no group asks
const CLOCK_SAMPLES = 8;
const CLOCK_FILL_MS = 100;        // sampling while fewer than CLOCK_SAMPLES
const CLOCK_READY = 3;            // samples before the clock is used
const CLOCK_JUMP_MS = 50;         // a sample this far from the others: the clock stepped
const FRAME_MS = 1000 / 60;
const VIDEO_SEEK_S = 0.3;         // a synced video this far off seeks...
const VIDEO_NUDGE_S = 0.010;      // ...this far off, it plays a little faster or slower
const VIDEO_CHECK_MS = 250;

const groupClock = {
  info: null,   // the last /clock answer in a group, or null
  samples: [],
  offset: 0,    // group ms minus performance.now()
  steps: -1,
  resyncDue: false, // the zones must find their place again (a step, the clock ready or gone)
  async sample() {
    try {
      const t0 = performance.now();
      const r = await fetch('/clock', { cache: 'no-store' });
      const j = await r.json();
      const t1 = performance.now();
      if (!j || !j.group) {
        if (this.info) this.resyncDue = true; // out of the group: play alone
        this.info = null;
        this.samples = [];
      } else {
        const s = { off: j.now_ms - (t0 + t1) / 2, rtt: t1 - t0 };
        const wasReady = this.ready();
        const stepped = this.samples.length > 0
          && (j.steps !== this.steps || Math.abs(s.off - this.offset) > CLOCK_JUMP_MS);
        if (stepped || j.group !== (this.info && this.info.group)) this.samples = [];
        this.info = j;
        this.steps = j.steps;
        this.samples.push(s);
        if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
        let best = this.samples[0];
        for (const x of this.samples) if (x.rtt < best.rtt) best = x;
        this.offset = best.off;
        if (stepped || (!wasReady && this.ready())) this.resyncDue = true;
      }
    } catch (e) {
      /* the next sample tries again */
    }
    // quickly while the window fills (at start, after a step), then calmly
    const wait = !this.info ? CLOCK_IDLE_MS : this.samples.length < CLOCK_SAMPLES ? CLOCK_FILL_MS : CLOCK_SAMPLE_MS;
    setTimeout(() => this.sample(), wait);
    if (this.resyncDue && (this.ready() || !this.info)) {
      this.resyncDue = false;
      for (const v of liveViews) v.resync();
    }
  },
  ready() { return !!this.info && this.samples.length >= CLOCK_READY; },
  at(perf) { return perf + this.offset; },
  now() { return this.at(performance.now()); },
};

// The synced transitions, posted to the player (GET /transitions there shows
// them) so that the screens of a group can be compared.
const transitions = [];
async function flushTransitions() {
  if (!transitions.length) return;
  const batch = transitions.splice(0, transitions.length);
  try {
    await fetch('/transitions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ transitions: batch }), cache: 'no-store',
    });
  } catch (e) { /* a report, not content: dropped */ }
}

// Lengths of videos (ms) whose item has no duration, learnt from their
// metadata: a synced timeline must know every item's length up front.
const videoLengths = new Map();
function learnVideoLength(sha) {
  if (videoLengths.has(sha)) return Promise.resolve();
  return new Promise((resolve) => {
    const v = document.createElement('video');
    v.preload = 'metadata';
    v.muted = true;
    const done = () => {
      if (Number.isFinite(v.duration) && v.duration > 0) videoLengths.set(sha, Math.round(v.duration * 1000));
      v.removeAttribute('src');
      v.load();
      resolve();
    };
    v.addEventListener('loadedmetadata', done, { once: true });
    v.addEventListener('error', done, { once: true });
    setTimeout(done, READY_TIMEOUT_MS);
    v.src = objectUrl(sha);
  });
}

// An item's length on a synced timeline (ms; 0: not known, left out).
function syncedLength(item) {
  const d = Number(item.duration) || 0;
  if (d > 0) return d * 1000;
  if (item.type === 'video') return videoLengths.get(item.media) || 0;
  return DEFAULT_DURATION_S * 1000;
}

const pad = (n) => String(n).padStart(2, '0');
const dateText = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
function minutes(hhmm, fallback) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || '');
  return m ? Number(m[1]) * 60 + Number(m[2]) : fallback;
}

// Whether the instant t (ms) falls in the window w = {days, start, end, from,
// until} (schedule entries and item validity windows; every field optional,
// "" = unbounded), in the screen's local time. Days are ISO weekdays (1 =
// Monday ... 7 = Sunday); an empty or missing list means every day. start is
// inclusive, end exclusive, "24:00" is the end of the day. A time window whose
// end is before its start runs past midnight: its part after midnight belongs
// to the day it started on (for days, from and until).
export function inWindow(w, t) {
  if (!w) return true;
  const d = new Date(t);
  const m = d.getHours() * 60 + d.getMinutes();
  const start = minutes(w.start, 0), end = minutes(w.end, 1440);
  let day = d;
  if (start < end) {
    if (m < start || m >= end) return false;
  } else if (start > end) {
    if (m < end) day = new Date(d.getFullYear(), d.getMonth(), d.getDate() - 1);
    else if (m < start) return false;
  }
  const iso = day.getDay() || 7;
  if (Array.isArray(w.days) && w.days.length && !w.days.includes(iso)) return false;
  const date = dateText(day);
  if (w.from && date < w.from) return false;
  if (w.until && date > w.until) return false;
  return true;
}

// The channel to play at instant t: {channel, reason}, or null.
export function pickChannel(m, t) {
  if (!m) return null;
  const channels = m.channels || {};
  const get = (id) => (typeof id === 'string' && Object.prototype.hasOwnProperty.call(channels, id) ? channels[id] : null);
  const pn = m.play_now;
  if (pn && get(pn.channel_id) && pn.until * 1000 > t) return { channel: get(pn.channel_id), reason: 'play_now' };
  let best = null;
  for (const e of m.schedule || []) // ties: the first listed (the server sorts by priority)
    if (get(e.channel_id) && inWindow(e, t) && (!best || (e.priority || 0) > (best.priority || 0))) best = e;
  if (best) return { channel: get(best.channel_id), reason: 'schedule:' + best.id };
  if (get(m.default_channel)) return { channel: get(m.default_channel), reason: 'default' };
  if (m.channel && Array.isArray(m.channel.zones)) return { channel: m.channel, reason: 'default' };
  return null;
}

// ------------------------------------------------------------------ proof of play

const plays = [];
let flushing = false;

function recordPlay(play) {
  plays.push(play);
  if (plays.length > MAX_QUEUED_PLAYS) plays.splice(0, plays.length - MAX_QUEUED_PLAYS);
  if (plays.length >= FLUSH_COUNT) flushPlays();
}

async function flushPlays(keepalive = false) {
  if (flushing || plays.length === 0) return;
  flushing = true;
  const batch = plays.splice(0, MAX_BATCH);
  try {
    const r = await fetch('/played', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ plays: batch }), keepalive, cache: 'no-store',
    });
    if (!r.ok && r.status >= 500) throw new Error('status ' + r.status); // 4xx: a bad batch, not worth retrying
  } catch (e) {
    plays.unshift(...batch);
    if (plays.length > MAX_QUEUED_PLAYS) plays.splice(0, plays.length - MAX_QUEUED_PLAYS);
  } finally {
    flushing = false;
  }
}

// ------------------------------------------------------------------ slides

// Runs done once the transition animation (if any) has finished, so what is
// leaving stays underneath until it is fully covered.
function afterTransition(anim, done) {
  if (!anim) return done();
  let called = false;
  const once = () => { if (!called) { called = true; done(); } };
  anim.finished.then(once, once);
  setTimeout(once, FADE_MS * 20); // an animation that never finishes (a stalled timeline) still ends
}

// Calls done once the video has presented a frame (or after a second, so a
// video that never paints does not keep the previous slide forever).
function afterFirstFrame(video, done) {
  let called = false;
  const once = () => { if (!called) { called = true; done(); } };
  if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(() => once());
  else video.addEventListener('playing', once, { once: true });
  setTimeout(once, 1000);
}

// A slide is one item made ready in a zone: its element is in the zone but
// hidden ("pending") until it is shown, so images are decoded, videos have
// their first frame and frames have loaded before they replace anything.
class Slide {
  constructor(zone, item, index) {
    this.zone = zone;
    this.item = item;
    this.index = index;
    this.startedAt = 0;
    this.video = null;
    this.ticker = null;
    this.disposed = false;
    this.el = document.createElement('div');
    this.el.className = 'slide pending';
    zone.el.appendChild(this.el);
    zone.slides.add(this);
    this.ready = this.load();
  }

  async load() {
    const item = this.item;
    try {
      switch (item.type) {
        case 'image': {
          const img = document.createElement('img');
          img.alt = '';
          img.decoding = 'async';
          img.src = objectUrl(item.media);
          this.el.appendChild(img);
          await img.decode();
          return true;
        }
        case 'video': {
          const v = document.createElement('video');
          v.muted = true;
          v.defaultMuted = true;
          v.playsInline = true;
          v.preload = 'auto';
          v.setAttribute('muted', '');
          v.setAttribute('playsinline', '');
          v.loop = item.duration > 0; // a fixed duration repeats a short video; 0 plays it to its end
          this.video = v;
          const ok = new Promise((resolve) => {
            v.addEventListener('loadeddata', () => resolve(true), { once: true });
            v.addEventListener('error', () => resolve(false), { once: true });
          });
          v.src = objectUrl(item.media);
          this.el.appendChild(v);
          return await ok;
        }
        case 'html':
        case 'web': {
          const f = document.createElement('iframe');
          // HTML media get an opaque origin: they may run scripts but cannot
          // reach this page or the player; web pages keep their own origin.
          f.setAttribute('sandbox', item.type === 'web' ? 'allow-scripts allow-same-origin' : 'allow-scripts');
          f.referrerPolicy = 'no-referrer';
          f.setAttribute('scrolling', 'no');
          f.tabIndex = -1;
          const loaded = new Promise((resolve) => f.addEventListener('load', () => resolve(true), { once: true }));
          f.src = item.type === 'web' ? item.url : objectUrl(item.media);
          this.el.appendChild(f);
          return await Promise.race([loaded, sleep(READY_TIMEOUT_MS).then(() => true)]);
        }
        case 'text':
          this.layoutText(this.item.text || '');
          return true;
        case 'rss': {
          // the cached feed's titles as a ticker; black while it has none
          const items = (this.item.feed && Array.isArray(this.item.feed.items)) ? this.item.feed.items : [];
          const titles = items.map((i) => String(i.title || i.summary || '').trim()).filter((t) => t);
          if (titles.length) this.layoutText(titles.join(' \u00b7 '));
          return true;
        }
        default:
          return false;
      }
    } catch (e) {
      return false;
    }
  }

  // Centred text, as large as fits the zone; text that would be too small
  // that way runs as a one-line ticker instead (a feed's titles usually do).
  // Sizes are in canvas pixels.
  layoutText(text) {
    const { w, h } = this.zone.zone;
    const canvasH = this.zone.view.height;
    const el = this.el;
    el.classList.add('text');
    const pad = Math.round(Math.min(w, h) * 0.06);
    el.style.padding = `${pad}px`;
    const inner = document.createElement('div');
    inner.className = 'text-static';
    inner.textContent = text;
    el.appendChild(inner);
    const availW = w - 2 * pad, availH = h - 2 * pad;
    const fits = (size) => {
      inner.style.fontSize = `${size}px`;
      return inner.scrollHeight <= availH + 0.5 && inner.scrollWidth <= inner.clientWidth + 0.5;
    };
    const readable = Math.max(8, Math.min(h * 0.4, canvasH * 0.04));
    const largest = Math.max(readable, h * 0.7);
    if (availW > 0 && availH > 0 && fits(readable)) {
      let lo = readable, hi = largest;
      if (fits(hi)) lo = hi;
      for (let k = 0; k < 14 && hi - lo > 0.5; k++) {
        const mid = (lo + hi) / 2;
        if (fits(mid)) lo = mid; else hi = mid;
      }
      inner.style.fontSize = `${Math.floor(lo)}px`;
      return;
    }
    inner.remove();
    el.style.padding = '0';
    const track = document.createElement('div');
    track.className = 'text-ticker';
    track.textContent = text.replace(/\s+/g, ' ');
    const size = Math.max(8, Math.round(h * 0.6));
    track.style.fontSize = `${size}px`;
    track.style.transform = `translate(${w}px, -50%)`;
    el.appendChild(track);
    const distance = w + track.scrollWidth;
    const speed = Math.max(60, size * 2); // canvas pixels per second
    this.ticker = { track, from: w, to: -track.scrollWidth, ms: (distance / speed) * 1000 };
  }

  // How long the slide stays, in ms; null = until the video ends.
  durationMs() {
    const d = Number(this.item.duration) || 0;
    if (d > 0) return d * 1000;
    if (this.item.type === 'video') return null;
    if (this.ticker) return this.ticker.ms;
    return DEFAULT_DURATION_S * 1000;
  }

  // Starts what moves (video, ticker); called when the slide is shown, and
  // again when a lone item starts over.
  start() {
    this.startedAt = now();
    if (this.video) {
      if (this.video.currentTime > 0 && this.video.ended) this.video.currentTime = 0;
      const p = this.video.play();
      if (p) p.catch(() => {});
    }
    if (this.ticker && !this.tickerAnim) {
      const t = this.ticker;
      this.tickerAnim = t.track.animate(
        [{ transform: `translate(${t.from}px, -50%)` }, { transform: `translate(${t.to}px, -50%)` }],
        { duration: t.ms, iterations: Infinity, easing: 'linear' });
    }
  }

  // Records the play that ends now (if the slide was on screen).
  finish() {
    if (!this.startedAt) return;
    const t = now();
    const item = this.item;
    recordPlay({
      channel_id: this.zone.view.channel.id || '',
      zone: this.zone.zone.name || '',
      item: item.id || '',
      sha256: item.media || '',
      started_at: Math.floor(this.startedAt / 1000),
      duration_ms: Math.max(0, Math.round(t - this.startedAt)),
    });
    this.startedAt = 0;
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.zone.slides.delete(this);
    this.finish();
    if (this.tickerAnim) this.tickerAnim.cancel();
    if (this.video) { // release the decoder at once
      this.video.pause();
      this.video.removeAttribute('src');
      this.video.load();
    }
    this.el.remove();
  }
}

// ------------------------------------------------------------------ zones

// Plays one zone's playlist. The slide on screen is `cur`; the next one is
// prepared (`nextP`, a promise of a ready slide, of `cur` itself when it is
// the only valid item, or of null when nothing is valid) as soon as `cur`
// is shown.
class ZonePlayer {
  constructor(view, zone) {
    this.view = view;
    this.zone = zone;
    this.items = Array.isArray(zone.items) ? zone.items : [];
    this.el = document.createElement('div');
    this.el.className = 'zone';
    this.el.dataset.zone = zone.name || '';
    const s = this.el.style;
    s.left = `${zone.x || 0}px`;
    s.top = `${zone.y || 0}px`;
    s.width = `${zone.w || 0}px`;
    s.height = `${zone.h || 0}px`;
    s.zIndex = String(zone.z || 0);
    this.cur = null;
    this.nextP = null;
    this.timer = null;
    this.watchdog = null;
    this.layer = 0;
    this.busy = false;
    this.dead = false;
    this.failed = new Map(); // item index -> time before which it is not retried
    this.slides = new Set(); // every slide in the zone: shown, leaving or prepared
  }

  nextIndex(from) {
    const n = this.items.length, t = now();
    for (let k = 1; k <= n; k++) {
      const i = (((from + k) % n) + n) % n;
      if ((this.failed.get(i) || 0) > t) continue;
      if (inWindow(this.items[i].valid, t)) return i;
    }
    return -1;
  }

  // The next valid item after position `from`, made ready; skips items that
  // fail to load (for a while).
  async prepareAfter(from) {
    let i = from;
    for (let tries = 0; tries < this.items.length && !this.dead; tries++) {
      i = this.nextIndex(i);
      if (i < 0) return null;
      if (this.cur && !this.cur.disposed && i === this.cur.index) return this.cur;
      const slide = new Slide(this, this.items[i], i);
      if ((await slide.ready) && !this.dead) return slide;
      slide.dispose();
      if (!this.dead) this.failed.set(i, now() + FAILED_RETRY_MS);
    }
    return null;
  }

  prepareFirst() {
    this.nextP = this.prepareAfter(-1);
    return this.nextP;
  }

  begin() {
    this.synced = !!(manifest && manifest.sync) && groupClock.ready();
    if (this.synced) this.syncBegin(); else this.advance();
  }

  // The group clock stepped, became ready or went: find the group's place
  // again, or play alone.
  resync() {
    if (this.dead) return;
    const want = !!(manifest && manifest.sync) && groupClock.ready();
    if (want) {
      this.synced = true;
      this.syncBegin();
    } else if (this.synced) {
      this.synced = false;
      this.stopSynced();
      this.advance();
    }
  }

  async advance() {
    if (this.dead || this.busy) return;
    this.busy = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    if (!this.nextP) this.nextP = this.prepareAfter(this.cur ? this.cur.index : -1);
    let next = await this.nextP;
    this.nextP = null;
    // Validity windows may have changed since the next item was chosen: one
    // that closed is skipped; a lone item gives way to one that opened.
    if (next && !this.dead && (!inWindow(next.item.valid, now())
        || (next === this.cur && this.nextIndex(next.index) !== next.index))) {
      if (next !== this.cur) next.dispose();
      next = await this.prepareAfter(next.index);
    }
    this.busy = false;
    if (this.dead) {
      if (next && next !== this.cur) next.dispose();
      return;
    }
    if (!next) { // nothing valid (or nothing loads): black until a tick finds something
      if (this.cur) this.cur.dispose();
      this.cur = null;
      return;
    }
    this.show(next);
  }

  show(slide) {
    this.present(slide);
    this.arm(slide);
    this.nextP = this.prepareAfter(slide.index);
  }

  // Puts the slide on screen (with its transition) and starts it.
  present(slide) {
    const prev = this.cur;
    if (slide === prev) {
      prev.finish(); // a lone item starts over: one more play
    } else {
      slide.el.style.zIndex = String(++this.layer);
      slide.el.classList.remove('pending');
      const transition = prev ? slide.item.transition : 'none';
      let anim = null;
      if (transition === 'fade') {
        anim = slide.el.animate([{ opacity: 0 }, { opacity: 1 }], { duration: FADE_MS, easing: 'linear', fill: 'both' });
      } else if (transition === 'slide') {
        const opts = { duration: FADE_MS, easing: 'ease-in-out', fill: 'both' };
        anim = slide.el.animate([{ transform: 'translateX(100%)' }, { transform: 'translateX(0)' }], opts);
        prev.el.animate([{ transform: 'translateX(0)' }, { transform: 'translateX(-100%)' }], opts);
      }
      if (prev) {
        prev.finish();
        // a video shown again may need a moment to present its first frame
        // (a slow or busy device): the slide below stays until it has one,
        // so the zone never flashes black between items
        const handOver = () => afterTransition(anim, () => prev.dispose());
        if (slide.video) afterFirstFrame(slide.video, handOver);
        else handOver();
      }
    }
    this.cur = slide;
    slide.start();
  }

  // ---- synced (the channel plays in a sync group)

  // Where the group's timeline is at group time g: the valid items one after
  // the other from the group's epoch, over and over. {index, start, end}
  // in group ms, or null when nothing is valid.
  slotAt(g) {
    const list = [];
    let cycle = 0;
    this.items.forEach((item, i) => {
      const ms = syncedLength(item);
      if (ms > 0 && inWindow(item.valid, g)) { list.push({ i, ms }); cycle += ms; }
    });
    if (!cycle) return null;
    const epoch = Number(manifest && manifest.sync && manifest.sync.epoch_ms) || 0;
    let p = (((g - epoch) % cycle) + cycle) % cycle;
    let start = g - p;
    for (const x of list) {
      if (p < x.ms) return { index: x.i, start, end: start + x.ms };
      p -= x.ms;
      start += x.ms;
    }
    return null;
  }

  async prepareIndex(i) {
    if (this.cur && !this.cur.disposed && this.cur.index === i) return this.cur;
    const slide = new Slide(this, this.items[i], i);
    if ((await slide.ready) && !this.dead) return slide;
    slide.dispose();
    return null;
  }

  stopSynced() {
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    clearInterval(this.videoTimer);
    cancelAnimationFrame(this.raf);
    this.syncGen = (this.syncGen || 0) + 1;
  }

  // Shows the item the group shows now (at its position) and follows the
  // timeline from there.
  async syncBegin() {
    this.stopSynced();
    const gen = this.syncGen;
    await Promise.all(this.items.filter((it) => it.type === 'video' && !(Number(it.duration) > 0))
      .map((it) => learnVideoLength(it.media)));
    const pre = this.nextP ? await this.nextP : null;
    this.nextP = null;
    if (this.dead || gen !== this.syncGen) { if (pre && pre !== this.cur) pre.dispose(); return; }
    let slot = this.slotAt(groupClock.now());
    if (!slot) {
      if (pre && pre !== this.cur) pre.dispose();
      if (this.cur) this.cur.dispose();
      this.cur = null; // black until a tick finds something valid
      return;
    }
    let slide = pre && pre.index === slot.index ? pre : null;
    if (pre && !slide && pre !== this.cur) pre.dispose();
    if (!slide) slide = await this.prepareIndex(slot.index);
    if (this.dead || gen !== this.syncGen) { if (slide && slide !== this.cur) slide.dispose(); return; }
    slot = this.slotAt(groupClock.now()) || slot; // loading took a while
    if (slide && slide.index === slot.index) {
      if (slide !== this.cur) this.present(slide);
      this.followVideo(slide, slot);
    }
    this.armSynced(slot);
  }

  // Prepares the next slot's slide and shows it on the frame nearest the
  // slot's end on the group clock.
  armSynced(slot) {
    const gen = this.syncGen;
    const next = this.slotAt(slot.end + 0.5);
    const nextP = !next ? Promise.resolve(null)
      : (this.cur && next.index === this.cur.index) ? Promise.resolve(this.cur) : this.prepareIndex(next.index);
    const frame = (ts) => {
      if (this.dead || gen !== this.syncGen) return;
      const g = groupClock.at(ts);
      if (g < slot.end - FRAME_MS / 2) { this.raf = requestAnimationFrame(frame); return; }
      nextP.then((slide) => {
        if (this.dead || gen !== this.syncGen) { if (slide && slide !== this.cur) slide.dispose(); return; }
        if (!next || !slide) { // nothing valid, or it failed to load: the group's next slot is the place to be
          this.syncBegin();
          return;
        }
        const late = performance.now() - ts > FRAME_MS; // it was not ready in time
        this.present(slide);
        this.followVideo(slide, next);
        transitions.push({
          zone: this.zone.name || '', item: slide.item.id || '', index: slide.index,
          target_ms: next.start, group_ms: g, wall_ms: performance.timeOrigin + ts, late,
          state: groupClock.info ? groupClock.info.state : 'alone',
        });
        if (transitions.length >= 10) flushTransitions();
        this.armSynced(next);
      });
    };
    const wait = slot.end - groupClock.now() - 3 * FRAME_MS;
    this.timer = setTimeout(() => { this.raf = requestAnimationFrame(frame); }, Math.max(0, wait));
  }

  // A synced video plays at the group's position: far off it seeks, a little
  // off it plays up to 5 % faster or slower until it is back. Where the
  // browser tells which frame it presents when (requestVideoFrameCallback),
  // the drift is that frame's time against the group clock at its display
  // time, smoothed over frames (one frame is 33 ms of a 30 fps video);
  // otherwise currentTime against now. Once a second the drift is reported
  // with the transitions (kind "video").
  followVideo(slide, slot) {
    clearInterval(this.videoTimer);
    const v = slide.video;
    if (!v) return;
    const at = (g) => {
      const pos = (g - slot.start) / 1000;
      return v.loop && v.duration > 0 ? pos % v.duration : pos;
    };
    const want = at(groupClock.now());
    if (want >= 0 && Math.abs(v.currentTime - want) > VIDEO_SEEK_S) v.currentTime = want;
    let drift = null, measuredAt = 0, reportedAt = 0;
    const follow = this.videoFollow = {}; // a lone video's next loop follows anew: this chain of frames ends
    const frameSeen = (now, meta) => {
      if (this.cur !== slide || slide.disposed || this.videoFollow !== follow) return;
      const shown = meta.expectedDisplayTime || now;
      const d = meta.mediaTime - at(groupClock.at(shown));
      if (Math.abs(d) < VIDEO_SEEK_S) {
        drift = drift === null || Math.abs(d - drift) > 0.1 ? d : drift + (d - drift) * 0.1;
        measuredAt = performance.now();
        if (shown - reportedAt >= 1000) {
          reportedAt = shown;
          transitions.push({
            kind: 'video', zone: this.zone.name || '', item: slide.item.id || '', index: slide.index,
            drift_ms: d * 1000, smoothed_ms: drift * 1000, rate: v.playbackRate,
            group_ms: groupClock.at(shown), wall_ms: performance.timeOrigin + shown,
          });
        }
      }
      v.requestVideoFrameCallback(frameSeen);
    };
    if (typeof v.requestVideoFrameCallback === 'function') v.requestVideoFrameCallback(frameSeen);
    this.videoTimer = setInterval(() => {
      if (this.cur !== slide || v.seeking) return;
      if (v.paused) { // ended before its slot did, or a seek raced the end: the slot still plays it
        const want = at(groupClock.now());
        if (want >= 0 && !(v.duration > 0 && want >= v.duration - 0.05)) {
          if (Math.abs(v.currentTime - want) > VIDEO_SEEK_S) v.currentTime = want;
          const p = v.play();
          if (p) p.catch(() => {});
        }
        return;
      }
      const d = performance.now() - measuredAt < 1000 ? drift : v.currentTime - at(groupClock.now());
      if (Math.abs(d) > VIDEO_SEEK_S) {
        v.currentTime = at(groupClock.now());
        v.playbackRate = 1;
        drift = null;
        return;
      }
      v.playbackRate = Math.abs(d) > VIDEO_NUDGE_S ? Math.min(1.05, Math.max(0.95, 1 - d * 2)) : 1;
    }, VIDEO_CHECK_MS);
  }

  // Ends the slide after its duration, or when its video ends (or stalls).
  arm(slide) {
    if (this.synced) return; // the timeline decides
    const ms = slide.durationMs();
    if (ms !== null) {
      this.timer = setTimeout(() => this.advance(), ms);
      return;
    }
    const v = slide.video;
    if (!slide.onEnd) {
      // (a zone that has since joined its group's timeline goes on by that)
      slide.onEnd = () => { if (this.cur === slide && !this.busy && !this.synced) this.advance(); };
      v.addEventListener('ended', slide.onEnd);
      v.addEventListener('error', slide.onEnd);
    }
    let last = -1;
    const check = () => {
      if (this.cur !== slide || this.dead || this.synced) return;
      if (v.currentTime === last && !v.ended) return this.advance();
      last = v.currentTime;
      this.watchdog = setTimeout(check, STALL_MS);
    };
    this.watchdog = setTimeout(check, STALL_MS);
  }

  // Called on every schedule tick: an empty zone looks again for a valid item.
  tick() {
    if (!this.dead && !this.cur && !this.busy) {
      this.nextP = null;
      if (this.synced) this.syncBegin(); else this.advance();
    }
  }

  destroy() {
    this.dead = true;
    this.stopSynced();
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    if (this.cur) this.cur.dispose(); // first: its play is recorded
    this.cur = null;
    for (const slide of [...this.slides]) slide.dispose();
  }
}

// ------------------------------------------------------------------ channels

const liveViews = new Set();

class ChannelView {
  constructor(channel) {
    liveViews.add(this);
    this.channel = channel;
    this.key = JSON.stringify(channel);
    this.width = Math.max(1, Number(channel.width) || 1920);
    this.height = Math.max(1, Number(channel.height) || 1080);
    this.el = document.createElement('div');
    this.el.className = 'canvas';
    this.el.dataset.channel = channel.id || '';
    this.el.style.width = `${this.width}px`;
    this.el.style.height = `${this.height}px`;
    this.zones = (channel.zones || []).map((z) => new ZonePlayer(this, z));
    for (const z of this.zones) this.el.appendChild(z.el);
    this.layout();
  }

  // Letterboxes the canvas on the screen: as large as fits, aspect kept, centred.
  layout() {
    const vw = window.innerWidth, vh = window.innerHeight;
    const s = Math.min(vw / this.width, vh / this.height);
    const x = (vw - this.width * s) / 2, y = (vh - this.height * s) / 2;
    this.el.style.transform = `translate(${x}px, ${y}px) scale(${s})`;
  }

  // Resolves when every zone has its first item ready (or after a timeout).
  prepare() {
    return Promise.race([Promise.all(this.zones.map((z) => z.prepareFirst())), sleep(SWITCH_TIMEOUT_MS)]);
  }

  begin() { for (const z of this.zones) z.begin(); }
  tick() { for (const z of this.zones) z.tick(); }
  resync() { for (const z of this.zones) z.resync(); }

  destroy() {
    liveViews.delete(this);
    for (const z of this.zones) z.destroy();
    this.el.remove();
  }
}

// ------------------------------------------------------------------ the page

let lastState = null;
let manifest = null;            // the active manifest, or null
let manifestLoaded = false;     // whether /manifest has answered at least once
let loadedVersion = null;       // manifest_version of `manifest`
let wantedVersion = undefined;  // manifest_version announced by /state
let loading = false;
let view = null;                // the channel on screen
let switching = null;           // {key, gen} of a channel being prepared
let generation = 0;
let tickTimer = null;
let identifyTimer = null;
let qrVersion = -1;

function renderOverlays() {
  const state = lastState || { status: 'connecting', detail: '' };
  const pairing = state.pairing;
  const playing = !!view;
  $('pairing').hidden = !pairing;
  $('idle').hidden = !!pairing || playing;
  $('status').hidden = playing && !pairing;
  if (pairing) {
    $('pairing-code').textContent = pairing.code;
    $('pairing-uri').textContent = pairing.uri;
    if (qrVersion !== state.version) {
      qrVersion = state.version;
      $('pairing-qr').src = '/qr.svg?v=' + state.version;
    }
  } else if (!playing) {
    $('idle-title').textContent = 'Vitrine';
    $('idle-detail').textContent = manifest && state.status !== 'offline' ? 'Nothing scheduled right now'
      : state.status === 'online' ? 'Connected — waiting for content'
      : state.status === 'offline' ? 'Server unreachable — retrying' : 'Connecting…';
  }
  $('status').textContent = state.status + (state.detail ? ' · ' + state.detail : '');
}

function render(state) {
  lastState = state;
  if (typeof state.now === 'number') clockOffset = state.now - Date.now();
  renderOverlays();
  const left = state.identify_until - state.now;
  clearTimeout(identifyTimer);
  $('identify').hidden = !(left > 0);
  if (left > 0) identifyTimer = setTimeout(() => { $('identify').hidden = true; }, left);
  renderConsent(state.consent);
  watchShare(!!state.share);
  wantedVersion = state.manifest_version;
  if (!manifestLoaded || (wantedVersion !== undefined && wantedVersion !== loadedVersion)) loadManifest();
}

// ------------------------------------------------------------------ share

// The share receiver's code and key, asked again every 2 s (the key changes
// after too many wrong tries); while someone shares, the bar below the
// shared screens lists the senders with the operator's buttons.
let shareTimer = null;

async function shareAction(action, slot) {
  try {
    await fetch('/share/' + action, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ slot }),
    });
  } catch (e) {
    // the next poll shows the state as it is
  }
  showShare();
}

function button(text, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (cls) b.className = cls;
  b.onclick = onClick;
  return b;
}

function renderShareBar(s) {
  const streaming = s.senders.filter((x) => x.streaming);
  $('share-bar').hidden = streaming.length === 0;
  $('share').hidden = streaming.length > 0;
  if (!streaming.length) return;
  $('share-bar').style.height = s.bar_height + 'px';
  $('share-bar-code').textContent = s.code;
  $('share-bar-key').textContent = s.key;
  const list = $('share-senders');
  list.replaceChildren(...streaming.map((x) => {
    const li = document.createElement('li');
    li.dataset.slot = String(x.slot);
    const name = document.createElement('span');
    name.textContent = x.name;
    const alone = s.promoted === x.slot;
    li.append(name,
      button(alone ? 'Side by side' : 'Full screen', 'promote', () => shareAction('promote', alone ? -1 : x.slot)),
      button('Stop', 'stop', () => shareAction('stop', x.slot)));
    return li;
  }));
}

async function showShare() {
  try {
    const r = await fetch('/share', { cache: 'no-store' });
    if (!r.ok) throw new Error('no share receiver');
    const s = await r.json();
    // a brokered code comes from the server once the screen is paired
    $('share-code').textContent = s.code || 'getting a code…';
    $('share-key').textContent = s.key || '';
    $('share').hidden = false;
    renderShareBar(s);
  } catch (e) {
    $('share').hidden = true;
    $('share-bar').hidden = true;
  }
}

function watchShare(on) {
  if (on && !shareTimer) {
    showShare();
    shareTimer = setInterval(showShare, 2000);
  } else if (!on && shareTimer) {
    clearInterval(shareTimer);
    shareTimer = null;
    $('share').hidden = true;
    $('share-bar').hidden = true;
  }
}

// ------------------------------------------------------------------ consent

let consentShown = null;  // session_id of the prompt on screen
let consentTimer = null;

async function answerConsent(sessionId, accepted) {
  if (consentShown !== sessionId) return;
  hideConsent();
  try {
    await fetch('/consent', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session_id: sessionId, accepted }),
    });
  } catch (e) { /* the player is gone: the server times the request out */ }
}

function hideConsent() {
  consentShown = null;
  clearInterval(consentTimer);
  consentTimer = null;
  $('consent').hidden = true;
}

function renderConsent(consent) {
  if (!consent || !(consent.until > now())) {
    if (consentShown) hideConsent();
    return;
  }
  if (consentShown === consent.session_id) return;
  consentShown = consent.session_id;
  const sid = consent.session_id;
  $('consent-title').textContent = `Allow remote control by ${consent.guest || 'a support user'}?`;
  $('consent-allow').onclick = () => answerConsent(sid, true);
  $('consent-refuse').onclick = () => answerConsent(sid, false);
  const tick = () => {
    const left = Math.ceil((consent.until - now()) / 1000);
    if (left <= 0) { hideConsent(); return; }
    $('consent-count').textContent = `${left} s`;
  };
  clearInterval(consentTimer);
  consentTimer = setInterval(tick, 250);
  tick();
  $('consent').hidden = false;
  $('consent-allow').focus();
}

async function loadManifest() {
  if (loading) return;
  loading = true;
  let retry = false;
  try {
    const want = wantedVersion;
    const r = await fetch('/manifest', { cache: 'no-store' });
    if (r.status === 404) {
      manifest = null;
      loadedVersion = want;
    } else if (r.ok) {
      const m = await r.json();
      manifest = m && typeof m === 'object' ? m : null;
      loadedVersion = want !== undefined ? want : m && m.version;
    } else {
      retry = true;
    }
    if (!retry) manifestLoaded = true;
  } catch (e) {
    retry = true;
  } finally {
    loading = false;
  }
  if (retry) {
    setTimeout(loadManifest, RETRY_MANIFEST_MS);
    return;
  }
  reconcile();
  if (wantedVersion !== undefined && wantedVersion !== loadedVersion) loadManifest(); // changed meanwhile
}

// Puts the channel that should play now on screen (if it is not already).
function reconcile() {
  scheduleTick();
  const pick = pickChannel(manifest, now());
  $('stage').dataset.reason = pick ? pick.reason : '';
  const key = pick ? JSON.stringify(pick.channel) : null;
  if (view && view.key === key && !switching) { view.tick(); return; }
  if (switching && switching.key === key) return;
  const gen = ++generation;
  if (!pick) {
    switching = null;
    if (view) view.destroy();
    view = null;
    $('stage').dataset.channel = '';
    renderOverlays();
    return;
  }
  if (view && view.key === key) { // back to what is on screen: drop the one being prepared
    switching = null;
    return;
  }
  switching = { key, gen };
  const next = new ChannelView(pick.channel);
  next.el.style.visibility = 'hidden';
  $('stage').appendChild(next.el);
  next.prepare().then(() => {
    if (gen !== generation) { next.destroy(); return; }
    switching = null;
    const old = view;
    view = next;
    $('stage').dataset.channel = pick.channel.id || '';
    renderOverlays();
    next.el.style.visibility = '';
    next.begin();
    if (old) {
      const anim = next.el.animate([{ opacity: 0 }, { opacity: 1 }], { duration: FADE_MS, easing: 'linear', fill: 'both' });
      afterTransition(anim, () => old.destroy());
    }
  });
}

// Re-evaluates the schedule every 30 s at most, on minute boundaries (when
// schedules and validity windows change) and when "play now" ends.
function scheduleTick() {
  clearTimeout(tickTimer);
  const t = now();
  let wait = Math.min(SCHEDULE_TICK_MS, 60000 - (t % 60000) + 50);
  const pn = manifest && manifest.play_now;
  if (pn && pn.until * 1000 > t) wait = Math.min(wait, pn.until * 1000 - t + 50);
  tickTimer = setTimeout(reconcile, Math.max(50, wait));
}

async function start() {
  window.addEventListener('resize', () => { for (const v of liveViews) v.layout(); });
  setInterval(() => flushPlays(), FLUSH_MS);
  setInterval(() => flushTransitions(), 1000);
  groupClock.sample();
  window.addEventListener('pagehide', () => {
    if (view) for (const z of view.zones) if (z.cur) z.cur.finish();
    flushPlays(true);
  });
  renderOverlays();
  try {
    const r = await fetch('/state', { cache: 'no-store' });
    render(await r.json());
  } catch (e) { /* the stream below retries */ }
  if (!manifestLoaded) loadManifest();
  const events = new EventSource('/events');
  events.addEventListener('state', (e) => render(JSON.parse(e.data)));
}

start();
