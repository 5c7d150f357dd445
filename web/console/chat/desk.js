// The operator's chat stream (EventSource on /api/v1/chat/stream), kept
// open across the console's pages while the operator is online or away:
// the server counts an operator without a stream for 60 s as gone and puts
// their chats back in the queue, so looking at another page must not drop
// them. The Live chat page attaches a handler for the events; on the other
// pages a queued, assigned or transferred chat marks the "Live chat" link
// and shows a toast. The stream resumes from its last id (the browser's
// Last-Event-ID on a reconnection, ?after= when it is opened again).

import { state } from '../session.js';
import { toast } from '../dom.js';
import { STREAM_URL } from './api.js';

const TYPES = ['queue', 'assigned', 'unassigned', 'transferred', 'message', 'form_answer', 'typing', 'read', 'ended',
  'offline_message', 'call'];
const desk = {
  es: null,
  lastSeq: 0,
  keep: false, // online or away: the stream stays open off the page
  handler: null, // { onEvent(type, data), onStatus(text, live), onOpen() } of the Live chat page
  retry: null,
  text: 'Connecting…',
  live: false,
};

function setStatus(text, live) {
  desk.text = text;
  desk.live = live;
  if (desk.handler) desk.handler.onStatus(text, live);
}

function navAlert(on) {
  const link = document.getElementById('nav-chat');
  if (link) link.classList.toggle('nav-alert', on);
}

function background(type, d) {
  if (type === 'queue' && d.chat && d.chat.state === 'queued') navAlert(true);
  if (type === 'assigned' || type === 'transferred') {
    navAlert(true);
    toast(type === 'assigned' ? 'A chat was assigned to you: see Live chat.' : 'A chat was transferred to you: see Live chat.',
      'info');
  }
  if (type === 'message' && d.from === 'visitor') navAlert(true);
}

function open() {
  if (desk.es || typeof EventSource !== 'function' || !state.user) return;
  clearTimeout(desk.retry);
  const es = new EventSource(desk.lastSeq ? `${STREAM_URL}?after=${desk.lastSeq}` : STREAM_URL);
  desk.es = es;
  setStatus('Connecting…', false);
  es.addEventListener('open', () => {
    if (desk.es !== es) return;
    setStatus('Live', true);
    if (desk.handler) desk.handler.onOpen();
  });
  es.addEventListener('error', () => {
    if (desk.es !== es) return;
    if (es.readyState !== EventSource.CLOSED) {
      setStatus('Reconnecting…', false);
      return;
    }
    // refused (signed out, server gone): try again later from scratch
    es.close();
    desk.es = null;
    setStatus('Offline', false);
    desk.retry = setTimeout(() => { if (state.user && (desk.keep || desk.handler)) open(); }, 5000);
  });
  for (const type of TYPES) {
    es.addEventListener(type, (ev) => {
      if (desk.es !== es) return;
      if (!state.user) {
        close();
        return;
      }
      if (ev.lastEventId && Number(ev.lastEventId) > desk.lastSeq) desk.lastSeq = Number(ev.lastEventId);
      let d;
      try {
        d = JSON.parse(ev.data) || {};
      } catch {
        return;
      }
      if (desk.handler) desk.handler.onEvent(type, d);
      else background(type, d);
    });
  }
}

function close() {
  clearTimeout(desk.retry);
  if (desk.es) desk.es.close();
  desk.es = null;
}

/** The Live chat page takes the events until the returned function is called. */
export function deskAttach(handler) {
  desk.handler = handler;
  navAlert(false);
  handler.onStatus(desk.text, desk.live);
  if (desk.es && desk.live) handler.onOpen();
  open();
  return () => {
    if (desk.handler === handler) desk.handler = null;
    if (!desk.keep) close();
  };
}

/** Online or away: keep the stream open off the page; offline: only on it. */
export function deskKeep(on) {
  desk.keep = !!on;
  if (!desk.keep && !desk.handler) close();
}

/** Signing out: the stream and what it remembers go. */
export function deskStop() {
  desk.keep = false;
  desk.handler = null;
  desk.lastSeq = 0;
  close();
  navAlert(false);
}
