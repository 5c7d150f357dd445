// The visitor's chat window, served at GET /chat/{site} and shown by
// widget.js in an iframe (it also works opened on its own). Plain ES module,
// no framework; every text a person typed is put in the page with
// textContent, never as HTML.
//
// The widget passes the page's URL, title and referrer and the visitor it
// registered (visitor_id, visitor_token, departments) in the URL fragment;
// opened without them, the window registers the visitor itself. The chat's
// events arrive over SSE read with fetch() (EventSource cannot send the
// Authorization header): `id: SEQ`, `event: TYPE`, `data: JSON`; after a drop
// the stream is reopened with Last-Event-ID, so nothing is missed or shown
// twice (messages are also keyed by seq). Browsers send no Origin with a
// same-origin GET: when the server refuses the frame's stream for that
// (origin_not_allowed), the page around the frame (widget.js) reads it and
// posts the events in. A message is posted with a client_id and retried
// with the same one until the server answers. Calls (call.js) are signalled
// through the same stream; the seq seen last is kept so that a reloaded
// window does not act on the signalling of calls that are over.

import { Call } from './call.js';
import { appendLinked } from './links.js';

const $ = (sel) => document.querySelector(sel);
const site = decodeURIComponent((/^\/chat\/([^/]+)/.exec(location.pathname) || [])[1] || '');
const API = `/api/v1/widget/${encodeURIComponent(site)}`;
const STORE = `vitrine-chat-${site}`;
const FONT_KEY = 'vitrine-chat-font';

const info = new URLSearchParams(location.hash.slice(1));
const saved = load();
const st = {
  token: info.get('visitor_token') || saved.token || '',
  visitorId: info.get('visitor_id') || saved.visitorId || '',
  departments: parseJson(info.get('departments'), null),
  mail: info.has('mail') ? info.get('mail') === '1' : Boolean(saved.mail), // the server sends e-mail
  mailChatId: '', // the chat a transcript is asked for (also after it ended)
  chatId: saved.chatId || '',
  departmentId: saved.departmentId || '',
  lastSeq: 0,
  replayUntil: saved.chatId ? Number(saved.lastSeq) || 0 : 0, // events up to here happened before this page
  callsOff: false, // the operator switched calls off in this chat
  withOperator: false,
  readByOperator: 0,
  myName: saved.name || '',
  ended: false,
  abort: null,
  retryMs: 1000,
  typingOn: false,
  typingTimer: null,
  theirTypingTimer: null,
  lastReadSent: 0,
  redirectedSeq: Number(saved.redirectedSeq) || 0, // the last redirect carried out (not again on a replay)
};
const shown = new Map(); // seq -> <li>
const forms = new Map(); // push_id -> { li, answered }

function parseJson(text, fallback) {
  try {
    return text ? JSON.parse(text) : fallback;
  } catch {
    return fallback;
  }
}
function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || '{}') || {};
  } catch {
    return {};
  }
}
function save() {
  try {
    sessionStorage.setItem(STORE, JSON.stringify({
      token: st.token, visitorId: st.visitorId, chatId: st.chatId, name: st.myName, redirectedSeq: st.redirectedSeq,
      mail: st.mail, departmentId: st.departmentId, lastSeq: st.lastSeq,
    }));
  } catch { /* storage blocked: a reload starts again */ }
}

let saveTimer = null;
function saveSoon() {
  if (!saveTimer) saveTimer = setTimeout(() => { saveTimer = null; save(); }, 300);
}
window.addEventListener('pagehide', () => { if (saveTimer) save(); });

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function setStatus(text) {
  $('#status').textContent = text || '';
}
function showError(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (st.token) headers.Authorization = `Bearer ${st.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new HttpError(0, 'network_error', 'Cannot reach the chat service. Check your connection.');
  }
  const data = parseJson(await res.text(), {}) || {};
  if (!res.ok) {
    const e = data.error || {};
    throw new HttpError(res.status, e.code || `http_${res.status}`, e.message || `The server answered ${res.status}.`);
  }
  return data;
}

function errorText(err) {
  if (err && err.code === 'banned') return 'Chat is unavailable.';
  if (err && err.code === 'origin_not_allowed') return 'Chat is not available on this page.';
  return (err && err.message) || String(err);
}

// ------------------------------------------------------------ start

async function ensureVisitor() {
  if (st.token) return;
  const res = await call('POST', '/visitor', {
    page_url: info.get('page') || document.referrer || '',
    title: info.get('title') || '',
    referrer: info.get('referrer') || '',
  });
  st.token = res.visitor_token;
  st.visitorId = res.visitor_id;
  st.departments = res.departments || [];
  st.mail = Boolean(res.mail);
  save();
}

function fillDepartments() {
  const select = $('#department');
  select.replaceChildren();
  const list = st.departments || [];
  for (const d of list) {
    const o = el('option', '', `${d.name}${d.online ? '' : ' (offline: leave a message)'}`);
    o.value = d.id;
    select.append(o);
  }
  const invited = list.find((d) => d.id === info.get('department')); // an accepted invitation's department
  const firstOnline = list.find((d) => d.online);
  if (invited || firstOnline) select.value = (invited || firstOnline).id;
  select.closest('.field').hidden = list.length <= 1;
  if (!list.length) {
    showError($('#start-error'), 'Chat is not open at the moment.');
    $('#start-chat').disabled = true;
  }
  select.addEventListener('change', offlineMode);
  offlineMode();
}

/** No operator of the chosen department is online: offer to leave a message (or to wait anyway). */
function offlineMode() {
  const d = (st.departments || []).find((x) => x.id === $('#department').value);
  const offline = Boolean(d && !d.online);
  $('#offline-note').hidden = !offline;
  $('#offline-email-field').hidden = !offline;
  $('#leave-message').hidden = !offline;
  $('#start-chat').textContent = offline ? 'Wait for an operator' : 'Start chat';
  $('#start-chat').className = offline ? 'btn' : 'btn-primary';
}

async function leaveMessage() {
  const errEl = $('#start-error');
  showError(errEl, '');
  const text = $('#first-text').value.trim();
  const email = $('#offline-email').value.trim();
  if (!text || !email) {
    showError(errEl, !text ? 'Write your question first.' : 'Give the e-mail address we should answer to.');
    return;
  }
  const button = $('#leave-message');
  button.disabled = true;
  try {
    const body = { department_id: $('#department').value, email, text };
    const name = $('#visitor-name').value.trim();
    if (name) body.name = name;
    await call('POST', '/offline-messages', body);
    $('#first-text').value = '';
    const done = $('#offline-done');
    done.textContent = `Thank you. Your message is on its way; the answer will come to ${email}.`;
    done.hidden = false;
    $('#start-chat').disabled = true;
  } catch (err) {
    showError(errEl, errorText(err));
    button.disabled = false;
  }
}

function showTranscriptTool(chatId) {
  st.mailChatId = chatId;
  $('#transcript').hidden = !st.mail || !chatId;
}

async function sendTranscript(ev) {
  ev.preventDefault();
  const email = $('#transcript-email').value.trim();
  const status = $('#transcript-status');
  if (!email || !st.mailChatId) return;
  $('#transcript-send').disabled = true;
  try {
    await call('POST', `/chats/${encodeURIComponent(st.mailChatId)}/transcript`,
      { email, tz_offset_min: -new Date().getTimezoneOffset() });
    status.textContent = `A copy of the conversation is on its way to ${email}.`;
  } catch (err) {
    status.textContent = errorText(err);
  } finally {
    $('#transcript-send').disabled = false;
  }
}

async function startChat(ev) {
  ev.preventDefault();
  const text = $('#first-text').value.trim();
  const errEl = $('#start-error');
  showError(errEl, '');
  if (!text) {
    showError(errEl, 'Write your question first.');
    return;
  }
  const button = $('#start-chat');
  button.disabled = true;
  try {
    const name = $('#visitor-name').value.trim();
    const body = { department_id: $('#department').value, text };
    if (name) body.name = name;
    const res = await call('POST', '/chats', body);
    st.chatId = res.chat.id;
    st.departmentId = body.department_id;
    st.myName = name;
    st.redirectedSeq = 0;
    save();
    showConversation();
    showPosition(res.chat.position);
    openStream();
  } catch (err) {
    showError(errEl, errorText(err));
  } finally {
    button.disabled = false;
  }
}

function showPosition(pos) {
  const n = Number(pos) || 0;
  setStatus(n > 0 ? `You are number ${n} in the queue. Please wait for an operator.` : 'Waiting for an operator…');
  $('#status').dataset.position = String(n);
}

function showConversation() {
  $('#start').hidden = true;
  showTranscriptTool(st.chatId);
  $('#conversation').hidden = false;
  $('#text').focus();
}

// ------------------------------------------------------------ messages

function timeText(at) {
  const t = typeof at === 'number' ? new Date(at * 1000) : new Date(at);
  return Number.isNaN(t.getTime()) ? '' : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function messageItem(m, pending) {
  const li = el('li', `msg msg-${m.from === 'visitor' ? 'mine' : m.from === 'operator' ? 'theirs' : 'system'}`);
  const head = el('div', 'msg-head');
  head.append(el('span', 'msg-name', m.from === 'visitor' ? (m.name || 'You') : (m.name || 'Operator')));
  if (m.at) head.append(el('time', 'msg-time', timeText(m.at)));
  li.append(head, appendLinked(el('p', 'msg-text'), m.text));
  const mark = el('span', 'msg-mark', pending ? 'Sending…' : '');
  li.append(mark);
  if (m.seq) li.dataset.seq = String(m.seq);
  return li;
}

function systemLine(text) {
  const li = el('li', 'msg msg-system');
  li.append(el('p', 'msg-text', text));
  $('#messages').append(li);
  scrollDown();
}

function scrollDown() {
  const list = $('#messages');
  list.scrollTop = list.scrollHeight;
}

function showMessage(m) {
  const seq = Number(m.seq) || 0;
  if (seq && shown.has(seq)) return;
  const li = messageItem(m, false);
  if (seq) shown.set(seq, li);
  $('#messages').append(li);
  updateReadMarks();
  scrollDown();
  if (m.from === 'operator') {
    $('#typing').textContent = '';
    sendRead();
  }
}

function updateReadMarks() {
  for (const [seq, li] of shown) {
    if (!li.classList.contains('msg-mine')) continue;
    li.querySelector('.msg-mark').textContent = seq <= st.readByOperator ? 'Read' : 'Sent';
  }
}

function sendRead() {
  if (document.visibilityState === 'hidden' || !st.chatId || st.ended) return;
  let top = 0;
  for (const [seq, li] of shown) if (li.classList.contains('msg-theirs') && seq > top) top = seq;
  if (top <= st.lastReadSent) return;
  st.lastReadSent = top;
  call('POST', `/chats/${encodeURIComponent(st.chatId)}/read`, { seq: top }).catch(() => { st.lastReadSent = 0; });
}

function newClientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function postMessage(text, li, clientId) {
  const mark = li.querySelector('.msg-mark');
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await call('POST', `/chats/${encodeURIComponent(st.chatId)}/messages`, { text, client_id: clientId });
      const seq = Number(res.seq) || 0;
      if (seq && shown.has(seq)) li.remove(); // the stream was faster
      else if (seq) {
        li.dataset.seq = String(seq);
        shown.set(seq, li);
      }
      mark.textContent = 'Sent';
      updateReadMarks();
      return;
    } catch (err) {
      if (err.status !== 0 && err.status < 500) {
        mark.textContent = `Not sent: ${errorText(err)}`;
        li.classList.add('msg-failed');
        return;
      }
      mark.textContent = 'Not sent yet, trying again…';
      await new Promise((r) => setTimeout(r, Math.min(8000, 1000 * 2 ** attempt)));
    }
  }
}

function send(ev) {
  ev.preventDefault();
  const box = $('#text');
  const text = box.value.trim();
  if (!text || st.ended) return;
  if ([...text].length > 4000) {
    setStatus('A message has at most 4,000 characters.');
    return;
  }
  box.value = '';
  typing(false);
  const li = messageItem({ from: 'visitor', name: st.myName || 'You', text, at: Date.now() / 1000 }, true);
  $('#messages').append(li);
  scrollDown();
  postMessage(text, li, newClientId());
}

function typing(on) {
  clearTimeout(st.typingTimer);
  if (on) st.typingTimer = setTimeout(() => typing(false), 4000);
  if (on === st.typingOn || !st.chatId || st.ended) return;
  st.typingOn = on;
  call('POST', `/chats/${encodeURIComponent(st.chatId)}/typing`, { on }).catch(() => {});
}

async function endChat() {
  if (!st.chatId || st.ended) return;
  try {
    await call('POST', `/chats/${encodeURIComponent(st.chatId)}/end`, {});
  } catch (err) {
    setStatus(errorText(err));
    return;
  }
  ended('visitor');
}

function ended(by) {
  if (st.ended) return;
  st.ended = true;
  if (st.abort) st.abort.abort();
  setStatus(by === 'visitor' ? 'You ended the chat.' : 'The chat has ended.');
  $('#typing').textContent = '';
  $('#text').disabled = true;
  $('#send').disabled = true;
  $('#end').disabled = true;
  for (const f of forms.values()) if (!f.answered) for (const c of f.li.querySelector('form').elements) c.disabled = true;
  rtc.stopWith('The chat has ended.');
  updateCallButtons();
  st.chatId = '';
  st.redirectedSeq = 0;
  save();
  const again = el('button', 'btn', 'Start a new chat');
  again.type = 'button';
  again.id = 'new-chat';
  again.addEventListener('click', () => location.reload());
  $('#compose').append(again);
}

// ------------------------------------------------------------ forms and redirects

const INPUT_TYPES = { text: 'text', email: 'email', tel: 'tel', number: 'text' };

function fieldInput(f, id) {
  let input;
  if (f.type === 'textarea') {
    input = el('textarea');
    input.rows = 3;
    input.maxLength = 4000;
  } else if (f.type === 'select') {
    input = el('select');
    input.append(el('option', '', f.required ? 'Choose…' : '—'));
    input.firstChild.value = '';
    for (const o of f.options || []) {
      const opt = el('option', '', o);
      opt.value = o;
      input.append(opt);
    }
  } else if (f.type === 'checkbox') {
    input = el('input');
    input.type = 'checkbox';
  } else {
    input = el('input');
    input.type = INPUT_TYPES[f.type] || 'text';
    input.maxLength = 500;
    if (f.type === 'number') input.inputMode = 'decimal';
    input.autocomplete = { email: 'email', tel: 'tel' }[f.type] || 'off';
  }
  input.id = id;
  input.name = f.name;
  if (f.required && f.type !== 'checkbox') input.required = true;
  return input;
}

/** The answers as the server took them: label and value per field. */
function answersList(answers) {
  const dl = el('dl', 'form-answers');
  for (const a of answers || []) {
    dl.append(el('dt', '', a.label || a.name));
    dl.append(el('dd', '', typeof a.value === 'boolean' ? (a.value ? 'Yes' : 'No') : a.value));
  }
  return dl;
}

function formAnswered(pushId, answers) {
  const f = forms.get(pushId);
  if (!f || f.answered) return;
  f.answered = true;
  const body = f.li.querySelector('.form-body');
  body.replaceChildren(answersList(answers), el('p', 'msg-mark', 'Sent, thank you.'));
}

function showForm(d) {
  const seq = Number(d.seq) || 0;
  if ((seq && shown.has(seq)) || forms.has(d.push_id)) return;
  const li = el('li', 'msg msg-theirs msg-form');
  li.dataset.pushId = d.push_id;
  if (seq) {
    li.dataset.seq = String(seq);
    shown.set(seq, li);
  }
  li.append(el('h2', 'form-name', d.name || 'Form'));
  if (d.intro) li.append(el('p', 'msg-text', d.intro));
  const form = el('form', 'form-body');
  form.noValidate = true; // the server's checks speak for themselves
  const inputs = [];
  (d.fields || []).forEach((f, i) => {
    const id = `form-${d.push_id}-${i}`;
    const input = fieldInput(f, id);
    const label = el('label', '', `${f.label}${f.required ? ' *' : ''}`);
    label.htmlFor = id;
    const row = el('div', f.type === 'checkbox' ? 'field field-check' : 'field');
    if (f.type === 'checkbox') row.append(input, label);
    else row.append(label, input);
    form.append(row);
    inputs.push([f, input]);
  });
  const err = el('p', 'error');
  err.setAttribute('role', 'alert');
  err.hidden = true;
  const submit = el('button', 'btn-primary', 'Send');
  submit.type = 'submit';
  form.append(err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const answers = {};
    for (const [f, input] of inputs) answers[f.name] = f.type === 'checkbox' ? input.checked : input.value.trim();
    submit.disabled = true;
    showError(err, '');
    try {
      const res = await call('POST', `/chats/${encodeURIComponent(st.chatId)}/forms/${encodeURIComponent(d.push_id)}`,
        { answers });
      formAnswered(d.push_id, (res.form_answer || {}).answers);
    } catch (e) {
      showError(err, errorText(e));
    } finally {
      submit.disabled = false;
    }
  });
  li.append(form);
  forms.set(d.push_id, { li, answered: false });
  $('#messages').append(li);
  if (st.ended) for (const c of form.elements) c.disabled = true;
  scrollDown();
}

function showFormAnswer(d) {
  const seq = Number(d.seq) || 0;
  if (seq) shown.set(seq, (forms.get(d.push_id) || {}).li || null);
  formAnswered(d.push_id, d.answers);
}

/** The operator sends the page to another URL of the site: once, not again when the chat is replayed. */
function showRedirect(d) {
  const seq = Number(d.seq) || 0;
  if (seq && shown.has(seq)) return;
  let url;
  try {
    url = new URL(d.url);
  } catch {
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return;
  const li = el('li', 'msg msg-system msg-redirect');
  const p = el('p', 'msg-text', 'The operator showed you a page: ');
  const a = el('a', '', url.href);
  a.href = url.href;
  a.target = '_top';
  a.rel = 'noopener';
  p.append(a);
  li.append(p);
  if (seq) shown.set(seq, li);
  $('#messages').append(li);
  scrollDown();
  if (seq > st.redirectedSeq) {
    st.redirectedSeq = seq;
    save();
    if (window.parent !== window && parentOrigin) toParent({ vitrineChat: 'redirect', url: url.href });
    else window.location.assign(url.href);
  }
}

// ------------------------------------------------------------ calls

const rtc = new Call({
  side: 'visitor',
  send: (body) => call('POST', `/chats/${encodeURIComponent(st.chatId)}/call`, body),
  ui: {
    incoming(media) {
      showCallPanel(media);
      $('#call-accept').hidden = false;
      $('#call-decline').hidden = false;
      $('#call-hangup').hidden = true;
    },
    state(state, text) {
      const el = $('#call-state');
      el.dataset.state = state;
      el.textContent = state === 'incoming' ? `The operator is calling you (${text.toLowerCase()}).` : text;
      if (state === 'ringing' || state === 'connecting' || state === 'connected') {
        showCallPanel(rtc.media);
        $('#call-accept').hidden = true;
        $('#call-decline').hidden = true;
        $('#call-hangup').hidden = false;
      }
      if (state === 'ended' || state === 'failed') {
        $('#call-accept').hidden = true;
        $('#call-decline').hidden = true;
        $('#call-hangup').hidden = true;
        setTimeout(() => { if (!rtc.busy) $('#call-panel').hidden = true; }, 4000);
      }
      updateCallButtons();
    },
    streams(local, remote) {
      $('#call-local').srcObject = local;
      $('#call-remote').srcObject = remote;
    },
    availability(on) {
      st.callsOff = !on;
      updateCallButtons();
    },
  },
});

function showCallPanel(media) {
  const panel = $('#call-panel');
  panel.hidden = false;
  panel.classList.toggle('call-audio-only', media !== 'video');
}

/** The call buttons: a chat with an operator, a department that takes calls, not switched off. */
function updateCallButtons() {
  const d = (st.departments || []).find((x) => x.id === st.departmentId);
  const allowed = d ? d.calls || 'off' : 'off';
  const can = st.chatId && !st.ended && st.withOperator && !st.callsOff && allowed !== 'off' && !rtc.busy
    && typeof RTCPeerConnection === 'function';
  $('#call-audio').hidden = !can;
  $('#call-video').hidden = !can || allowed !== 'video';
}

// ------------------------------------------------------------ the stream

function handleEvent(type, id, data) {
  let seq = 0;
  if (id) {
    seq = Number(id);
    if (seq > st.lastSeq) {
      st.lastSeq = seq;
      saveSoon(); // a replay of a long chat writes the storage once, not once per event
    }
  }
  switch (type) {
    case 'call':
      rtc.onEvent(data, seq > 0 && seq <= st.replayUntil);
      break;
    case 'message':
      showMessage(data);
      break;
    case 'form':
      showForm(data);
      break;
    case 'form_answer':
      showFormAnswer(data);
      break;
    case 'redirect':
      showRedirect(data);
      break;
    case 'position':
      showPosition(data.position);
      st.withOperator = false;
      updateCallButtons();
      break;
    case 'assigned':
      st.withOperator = true;
      updateCallButtons();
      setStatus(`You are chatting with ${data.operator || 'an operator'}.`);
      systemLine(`${data.operator || 'An operator'} joined the chat.`);
      break;
    case 'transferred':
      setStatus(`Your chat was passed on to ${data.to || 'a colleague'}.`);
      systemLine(`Your chat was passed on to ${data.to || 'a colleague'}.`);
      break;
    case 'typing':
      if (data.from === 'operator') {
        clearTimeout(st.theirTypingTimer);
        $('#typing').textContent = data.on ? 'The operator is typing…' : '';
        if (data.on) st.theirTypingTimer = setTimeout(() => { $('#typing').textContent = ''; }, 10000);
      }
      break;
    case 'read':
      if (data.from === 'operator' && Number(data.seq) > st.readByOperator) {
        st.readByOperator = Number(data.seq);
        updateReadMarks();
      }
      break;
    case 'ended':
      systemLine({ visitor: 'You ended the chat.', operator: 'The operator ended the chat.' }[data.by] || 'The chat has ended.');
      ended(data.by);
      break;
    default:
      break;
  }
}

/** Parses an SSE byte stream (text/event-stream) and calls onEvent(type, id, data). */
async function readStream(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let type = '';
  let id = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length) {
          const parsed = parseJson(data.join('\n'), null);
          if (parsed) onEvent(type || 'message', id, parsed);
        }
        type = '';
        id = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') type = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') id = val;
      }
    }
  }
}

// The bridge (see widget.js): the page around the frame reads the stream
// and posts its events here, when the server refused this frame's own
// request for want of an Origin header (browsers send none with a
// same-origin GET).
let bridgeSeq = 0;
const parentOrigin = (() => {
  try {
    return new URL(info.get('page')).origin; // the page the widget runs on
  } catch {
    return null;
  }
})();
function toParent(msg) {
  if (parentOrigin) window.parent.postMessage(msg, parentOrigin);
}
const bridged = new Map(); // id -> { resolve }
window.addEventListener('message', (ev) => {
  if (ev.source !== window.parent || window.parent === window) return;
  const m = ev.data || {};
  const b = bridged.get(m.id);
  if (!b) return;
  if (m.vitrineChat === 'stream-open') {
    st.retryMs = 1000;
    document.body.dataset.stream = 'open';
  } else if (m.vitrineChat === 'stream-event') {
    const data = parseJson(m.data, null);
    if (data) handleEvent(String(m.type || 'message'), String(m.eventId || ''), data);
  } else if (m.vitrineChat === 'stream-end') {
    bridged.delete(m.id);
    b.resolve({ status: Number(m.status) || 0, body: m.body || '' });
  }
});

function bridgeStream(url) {
  const id = ++bridgeSeq;
  return new Promise((resolve) => {
    bridged.set(id, { resolve });
    st.abort = { abort: () => { bridged.delete(id); toParent({ vitrineChat: 'stream-stop', id }); } };
    toParent({
      vitrineChat: 'stream', id, url: new URL(url, location.href).href, token: st.token, lastEventId: st.lastSeq,
    });
  });
}

function streamRefused(status, body) {
  const data = parseJson(body, {}) || {};
  setStatus(errorText(new HttpError(status, (data.error || {}).code, (data.error || {}).message)));
  if (status === 404) ended('');
}

async function openStream() {
  if (!st.chatId || st.ended) return;
  const url = `${API}/chats/${encodeURIComponent(st.chatId)}/events?after=${st.lastSeq}`;
  if (st.bridge) {
    const res = await bridgeStream(url);
    if (st.ended) return;
    document.body.dataset.stream = 'closed';
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      streamRefused(res.status, res.body);
      return;
    }
    if (res.status === 204) {
      ended('');
      return;
    }
    setTimeout(openStream, st.retryMs);
    st.retryMs = Math.min(15000, st.retryMs * 2);
    return;
  }
  const ctl = new AbortController();
  st.abort = ctl;
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${st.token}` };
  if (st.lastSeq) headers['Last-Event-ID'] = String(st.lastSeq);
  try {
    const res = await fetch(url, { headers, cache: 'no-store', credentials: 'omit', signal: ctl.signal });
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      const body = await res.text();
      const code = ((parseJson(body, {}) || {}).error || {}).code;
      if (res.status === 403 && code === 'origin_not_allowed' && window.parent !== window && parentOrigin) {
        st.bridge = true; // from now on through the page around the frame
        openStream();
        return;
      }
      streamRefused(res.status, body);
      return;
    }
    if (res.status === 204) {
      ended(''); // an ended chat with nothing left to read
      return;
    }
    if (!res.ok || !res.body) throw new Error(`status ${res.status}`);
    st.retryMs = 1000;
    document.body.dataset.stream = 'open';
    await readStream(res.body, handleEvent);
  } catch (err) {
    if (ctl.signal.aborted) return;
  }
  document.body.dataset.stream = 'closed';
  if (st.ended) return;
  // dropped: reopen after a pause, from the last seq seen
  setTimeout(openStream, st.retryMs);
  st.retryMs = Math.min(15000, st.retryMs * 2);
}

// ------------------------------------------------------------ tools

function setFont(step) {
  let size = Number(localStorageGet(FONT_KEY)) || 100;
  size = Math.max(80, Math.min(160, size + step * 10));
  document.documentElement.style.fontSize = `${size}%`;
  try { localStorage.setItem(FONT_KEY, String(size)); } catch { /* blocked */ }
}
function localStorageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function wireTools() {
  $('#font-smaller').addEventListener('click', () => setFont(-1));
  $('#font-larger').addEventListener('click', () => setFont(1));
  $('#print').addEventListener('click', () => window.print());
  $('#transcript').addEventListener('click', () => {
    const panel = $('#transcript-panel');
    panel.hidden = !panel.hidden;
    $('#transcript').setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) $('#transcript-email').focus();
  });
  $('#transcript-panel').addEventListener('submit', sendTranscript);
  $('#leave-message').addEventListener('click', leaveMessage);
  $('#call-audio').addEventListener('click', () => rtc.start('audio'));
  $('#call-video').addEventListener('click', () => rtc.start('video'));
  $('#call-accept').addEventListener('click', () => rtc.accept());
  $('#call-decline').addEventListener('click', () => rtc.decline());
  $('#call-hangup').addEventListener('click', () => rtc.hangup());
  window.addEventListener('pagehide', () => rtc.hangupBeacon((body) => {
    fetch(`${API}/chats/${encodeURIComponent(st.chatId)}/call`, {
      method: 'POST', keepalive: true, credentials: 'omit',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${st.token}` }, body: JSON.stringify(body),
    }).catch(() => {});
  }));
  $('#help').addEventListener('click', () => {
    const panel = $('#help-panel');
    panel.hidden = !panel.hidden;
    $('#help').setAttribute('aria-expanded', String(!panel.hidden));
  });
  $('#close').addEventListener('click', () => {
    if (window.parent !== window) window.parent.postMessage({ vitrineChat: 'close' }, '*');
    else window.close();
  });
  $('#close').hidden = window.parent === window && !window.opener;
  $('#start').addEventListener('submit', startChat);
  $('#compose').addEventListener('submit', send);
  $('#text').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) send(ev);
  });
  $('#text').addEventListener('input', () => typing($('#text').value.trim() !== ''));
  $('#end').addEventListener('click', endChat);
  document.addEventListener('visibilitychange', sendRead);
  setFont(0);
}

async function main() {
  wireTools();
  if (!site) {
    setStatus('This chat link is incomplete.');
    return;
  }
  try {
    await ensureVisitor();
  } catch (err) {
    setStatus(errorText(err));
    return;
  }
  if (st.chatId) {
    // a reload during a chat: the stream replays it from the start
    showConversation();
    setStatus('Reconnecting…');
    openStream();
    return;
  }
  if (!st.departments) {
    // a saved token but no list: ask again
    st.token = '';
    try {
      await ensureVisitor();
    } catch (err) {
      setStatus(errorText(err));
      return;
    }
  }
  fillDepartments();
  $('#start').hidden = false;
  $('#first-text').focus();
}

main();
