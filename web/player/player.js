// The kiosk page of vitrine-player: shows the pairing code and QR code while
// the screen is unpaired, its status once paired, and flashes on "identify".
// State arrives from the player itself (127.0.0.1) by Server-Sent Events.
const $ = (id) => document.getElementById(id);
let identifyTimer = null;
let qrVersion = -1;

function render(state) {
  const pairing = state.pairing;
  $('pairing').hidden = !pairing;
  $('idle').hidden = !!pairing;
  if (pairing) {
    $('pairing-code').textContent = pairing.code;
    $('pairing-uri').textContent = pairing.uri;
    if (qrVersion !== state.version) {
      qrVersion = state.version;
      $('pairing-qr').src = '/qr.svg?v=' + state.version;
    }
  } else {
    $('idle-title').textContent = 'Vitrine';
    $('idle-detail').textContent = state.status === 'online' ? 'Connected — waiting for content'
      : state.status === 'offline' ? 'Server unreachable — retrying' : 'Connecting…';
  }
  $('status').textContent = state.status + (state.detail ? ' · ' + state.detail : '');
  const left = state.identify_until - state.now;
  clearTimeout(identifyTimer);
  $('identify').hidden = !(left > 0);
  if (left > 0) identifyTimer = setTimeout(() => { $('identify').hidden = true; }, left);
}

async function start() {
  try {
    const r = await fetch('/state', { cache: 'no-store' });
    render(await r.json());
  } catch (e) { /* the stream below retries */ }
  const events = new EventSource('/events');
  events.addEventListener('state', (e) => render(JSON.parse(e.data)));
}

start();
