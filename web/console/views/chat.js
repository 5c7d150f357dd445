// The Live chat page (#/chat, #/chat/{chat id}) of operators and admins: the
// operator's status (online, away, offline), the queue live with "Pick up",
// the operator's own chats, and one conversation at a time with typing
// indicators and read marks, the visitor's page, title, referrer and previous
// chats, predefined texts, forms pushed to the visitor and their answers,
// sending the visitor's page elsewhere (chat/tools.js), audio and video calls
// (the window's call.js: calling, answering, the operator's switch), the messages left
// while no operator was online (marked done once answered), transfer to an
// operator or a department with a note, ban with an expiry, and end.
//
// Live data comes from the operator's own stream (chat/desk.js: kept open
// across the console's pages while the operator is online or away); the lists
// are reloaded from the server on every queue change and every 20 s, the
// open conversation is patched by seq (never shown twice). Every text a
// visitor sent is shown with textContent, never as HTML.

import * as api from '../api.js';
import * as chat from '../chat/api.js';
import { isAdmin, state } from '../session.js';
import { busy, errorText, h, pageHeader, setError, toast } from '../dom.js';
import { ago, fmtTime, timeEl } from '../format.js';
import { chatIdOf, newClientId, personName, sameChat } from '../chat/common.js';
import { deskAttach, deskKeep } from '../chat/desk.js';
import { chatTools, itemBody } from '../chat/tools.js';
import { Call } from '/chat/assets/call.js'; // the same call code as the visitor's window

let myStatus = 'offline'; // kept while the tab lives: the page puts it back when shown again
const notes = new Map(); // chat id -> the note of its last transfer to this operator
const unread = new Set(); // ids of my chats with a visitor message not seen yet
const ringing = new Map(); // chat id -> the visitor's call invitation while that chat is not open

const STATUS_TEXT = { online: 'Online', away: 'Away', offline: 'Offline' };
const BAN_TIMES = [
  ['3600', '1 hour'], ['86400', '1 day'], ['604800', '7 days'], ['2592000', '30 days'], ['31536000', '1 year'],
];

export async function renderChat(stale, route) {
  const page = {
    openId: route.param || '',
    open: null, // { chat, visitor, shown: Map seq -> li, readByVisitor }
    queue: [],
    mine: [],
    typingOn: false,
    typingTimer: null,
    visitorTypingTimer: null,
    lastReadSent: 0,
    users: [],
    departments: [],
  };

  // ------------------------------------------------------------ layout
  const statusSelect = h('select', { id: 'chat-status', 'aria-label': 'Your chat status' },
    Object.entries(STATUS_TEXT).map(([v, t]) => h('option', { value: v, text: t, selected: v === myStatus })));
  const streamState = h('span', { id: 'chat-stream', class: 'live live-off', role: 'status', text: 'Connecting…' });
  const queueList = h('ul', { id: 'chat-queue', class: 'chat-list', 'aria-live': 'polite' });
  const mineList = h('ul', { id: 'chat-mine', class: 'chat-list' });
  const queueCount = h('span', { id: 'chat-queue-count', class: 'badge badge-muted', text: '0' });
  const offlineList = h('ul', { id: 'chat-offline', class: 'chat-list' });
  const offlineCount = h('span', { id: 'chat-offline-count', class: 'badge badge-muted', text: '0' });
  const panel = h('section', { id: 'chat-panel', class: 'card chat-panel', 'aria-label': 'Conversation' });

  const view = h('div', { class: 'chat-desk' },
    pageHeader('Live chat',
      h('label', { for: 'chat-status', class: 'chat-status-label', text: 'Status' }), statusSelect, streamState,
      isAdmin() ? h('a', { href: '#/sites', id: 'chat-sites-link', class: 'btn btn-small', text: 'Sites and departments' }) : null,
      isAdmin() ? h('a', { href: '#/chat-reports', id: 'chat-reports-link', class: 'btn btn-small', text: 'Reports' }) : null),
    h('div', { class: 'chat-columns' },
      h('div', { class: 'chat-side' },
        h('section', { class: 'card', 'aria-labelledby': 'chat-queue-title' },
          h('h2', { id: 'chat-queue-title' }, 'Queue ', queueCount),
          queueList),
        h('section', { class: 'card', 'aria-labelledby': 'chat-mine-title' },
          h('h2', { id: 'chat-mine-title', text: 'My chats' }),
          mineList),
        h('section', { class: 'card', 'aria-labelledby': 'chat-offline-title' },
          h('h2', { id: 'chat-offline-title' }, 'Left while offline ', offlineCount),
          offlineList)),
      panel));

  statusSelect.addEventListener('change', async () => {
    const wanted = statusSelect.value;
    try {
      await chat.setStatus(wanted);
      myStatus = wanted;
      deskKeep(wanted !== 'offline');
      toast(`You are ${STATUS_TEXT[wanted].toLowerCase()}.`);
    } catch (err) {
      statusSelect.value = myStatus;
      toast(errorText(err), 'error');
    }
  });

  // ------------------------------------------------------------ lists
  function chatLabel(c) {
    return personName(c.visitor_name || c.name || (c.visitor && c.visitor.name));
  }

  function listItem(c, queued) {
    const id = chatIdOf(c);
    const open = h('a', { href: `#/chat/${encodeURIComponent(id)}`, class: 'chat-open', text: chatLabel(c) });
    const sub = [c.department_name || c.department || '', queued && c.position ? `#${c.position}` : '',
      c.created_at ? ago(c.created_at) : ''].filter(Boolean).join(' · ');
    const preview = c.text || c.first_text || c.last_text || '';
    const li = h('li', { class: 'chat-item', dataset: { chatId: id } },
      h('div', { class: 'chat-item-main' }, open,
        sub ? h('span', { class: 'hint', text: sub }) : null,
        preview ? h('span', { class: 'chat-preview', text: preview }) : null));
    if (id === page.openId) li.classList.add('chat-item-open');
    if (unread.has(id)) {
      li.classList.add('chat-item-unread');
      li.querySelector('.chat-item-main').append(h('span', { class: 'badge badge-info', text: 'New message' }));
    }
    if (queued) {
      const pick = h('button', { type: 'button', class: 'btn btn-small btn-primary pickup', text: 'Pick up',
        'aria-label': `Pick up the chat of ${chatLabel(c)}` });
      pick.addEventListener('click', () => busy(pick, () => pickUp(id)));
      li.append(pick);
    }
    return li;
  }

  // a row whose chat shows the same is kept (not rebuilt under the mouse)
  function keyedItems(list, chats, queued) {
    const old = new Map([...list.children].filter((li) => li.dataset.chatId).map((li) => [li.dataset.chatId, li]));
    return chats.map((c) => {
      const key = JSON.stringify([chatLabel(c), c.department, c.position, c.created_at, c.state, page.openId,
        unread.has(chatIdOf(c))]);
      const li = old.get(chatIdOf(c));
      if (li && li.dataset.key === key) return li;
      const fresh = listItem(c, queued);
      fresh.dataset.key = key;
      return fresh;
    });
  }

  function fillLists() {
    queueList.replaceChildren(...(page.queue.length ? keyedItems(queueList, page.queue, true)
      : [h('li', { class: 'empty hint', id: 'chat-queue-empty', text: 'No one is waiting.' })]));
    mineList.replaceChildren(...(page.mine.length ? keyedItems(mineList, page.mine, false)
      : [h('li', { class: 'empty hint', text: 'No open chat.' })]));
    queueCount.textContent = String(page.queue.length);
  }

  async function reloadLists() {
    try {
      const [q, a] = await Promise.all([chat.listChats('queued'), chat.listChats('active')]);
      if (stale()) return;
      page.queue = q.chats || q.items || [];
      const me = state.user && state.user.id;
      page.mine = (a.chats || a.items || []).filter((c) => !me || !c.operator_id || c.operator_id === me);
      fillLists();
    } catch (err) {
      if (!stale() && err.status !== 401) toast(errorText(err), 'error');
    }
  }

  // messages visitors left while no operator was online: answered by mail, then marked done
  function offlineItem(m) {
    const done = h('button', { type: 'button', class: 'btn btn-small offline-handled', text: 'Done',
      'aria-label': `Mark the message of ${m.name || m.email} as handled` });
    done.addEventListener('click', () => busy(done, async () => {
      try {
        await chat.setOfflineHandled(m.id, true);
        reloadOffline();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    const mailState = { sent: 'mailed to the department', queued: 'mail on its way', failed: 'mail failed' }[m.mail];
    return h('li', { class: 'chat-item', dataset: { offlineId: m.id } },
      h('div', { class: 'chat-item-main' },
        h('a', { href: `mailto:${encodeURIComponent(m.email)}`, class: 'chat-open', text: personName(m.name) }),
        h('span', { class: 'hint wrap-anywhere', text: [m.email, m.department, m.created_at ? ago(m.created_at) : '',
          mailState].filter(Boolean).join(' · ') }),
        h('span', { class: 'chat-preview wrap-anywhere', text: m.text })),
      done);
  }

  async function reloadOffline() {
    try {
      const res = await chat.listOfflineMessages(false);
      if (stale()) return;
      const list = res.offline_messages || [];
      offlineList.replaceChildren(...(list.length ? list.map(offlineItem)
        : [h('li', { class: 'empty hint', text: 'No message waiting.' })]));
      offlineCount.textContent = String(list.length);
    } catch (err) {
      if (!stale() && err.status !== 401) toast(errorText(err), 'error');
    }
  }

  let soon = null;
  function reloadSoon() {
    clearTimeout(soon);
    soon = setTimeout(reloadLists, 250);
  }
  const resync = setInterval(() => { if (document.visibilityState !== 'hidden') reloadLists(); }, 20000);
  state.cleanup.push(() => { clearTimeout(soon); clearInterval(resync); });

  async function pickUp(id) {
    try {
      await chat.pickup(id);
    } catch (err) {
      toast(err.code === 'already_assigned' ? 'Another operator has already picked up this chat.' : errorText(err),
        'error');
      reloadLists();
      return;
    }
    reloadLists();
    if (page.openId === id) openChat(id);
    else location.hash = `#/chat/${encodeURIComponent(id)}`;
  }

  // ------------------------------------------------------------ the conversation
  function emptyPanel() {
    panel.replaceChildren(h('p', { class: 'hint', id: 'chat-none', text:
      'Choose a chat in the queue or in your chats. Set your status to Online to receive chats.' }));
  }

  // a message, or an item of the conversation that is not one (m.type: form, form_answer, redirect)
  function messageItem(m) {
    const item = m.type && m.type !== 'message';
    const from = item ? (m.type === 'form_answer' ? 'visitor msg-item' : 'system msg-item')
      : m.from === 'operator' ? 'theirs-op' : m.from === 'visitor' ? 'visitor' : 'system';
    const dataset = m.seq ? { seq: String(m.seq), type: m.type || 'message' } : {};
    const li = h('li', { class: `msg msg-${from}`, dataset },
      item ? null : h('div', { class: 'msg-head' },
        h('span', { class: 'msg-name', text: m.from === 'visitor' ? personName(m.name) : (m.name || 'Operator') }),
        m.at ? timeEl(m.at, fmtTime(m.at).slice(11, 16)) : null),
      itemBody(m),
      h('span', { class: 'msg-mark', text: '' }));
    return li;
  }

  function systemLine(text) {
    if (!page.open) return;
    page.open.list.append(h('li', { class: 'msg msg-system' }, h('p', { class: 'msg-text', text })));
    scrollDown();
  }

  function scrollDown() {
    if (page.open) page.open.list.scrollTop = page.open.list.scrollHeight;
  }

  function showMessage(m) {
    const o = page.open;
    const seq = Number(m.seq) || 0;
    if (!o || (seq && o.shown.has(seq))) return;
    const li = messageItem(m);
    if (seq) o.shown.set(seq, li);
    o.list.append(li);
    if (m.from === 'visitor') o.typing.textContent = '';
    updateReadMarks();
    scrollDown();
    markRead();
  }

  function updateReadMarks() {
    const o = page.open;
    if (!o) return;
    for (const [seq, li] of o.shown) {
      if (li.classList.contains('msg-theirs-op')) {
        li.querySelector('.msg-mark').textContent = seq <= o.readByVisitor ? 'Read' : 'Sent';
      }
    }
  }

  function markRead() {
    const o = page.open;
    if (!o || o.ended || document.visibilityState === 'hidden') return;
    let top = 0;
    for (const [seq, li] of o.shown) {
      if (li.classList.contains('msg-visitor') && !li.classList.contains('msg-item') && seq > top) top = seq;
    }
    if (top <= page.lastReadSent) return;
    page.lastReadSent = top;
    chat.sendRead(o.id, top).catch(() => { page.lastReadSent = 0; });
  }

  function typing(on) {
    const o = page.open;
    clearTimeout(page.typingTimer);
    if (on) page.typingTimer = setTimeout(() => typing(false), 4000);
    if (!o || o.ended || on === page.typingOn) return;
    page.typingOn = on;
    chat.sendTyping(o.id, on).catch(() => {});
  }

  // the approximate place of the visitor's address (the server's geoip_database)
  function placeText(p) {
    if (!p) return 'unknown';
    return [p.city, p.country_name || p.country].filter(Boolean).join(', ') || 'unknown';
  }

  function infoList(visitor, c) {
    const rows = [
      ['Name', personName((visitor && visitor.name) || c.visitor_name || c.name)],
      ['Page', (visitor && (visitor.page_url || visitor.page)) || c.page_url || '—'],
      ['Title', (visitor && (visitor.title || visitor.page_title)) || c.title || '—'],
      ['Referrer', (visitor && visitor.referrer) || c.referrer || '—'],
      // the widget registers the visitor when a page opens: last_seen is when this page was opened
      ['On this page since', visitor && visitor.last_seen ? `${fmtTime(visitor.last_seen)} (${ago(visitor.last_seen)})` : '—'],
      ['First seen', visitor && visitor.first_seen ? fmtTime(visitor.first_seen) : '—'],
      ['Location', placeText(visitor && visitor.location)],
      ['Visitor id', (visitor && (visitor.id || visitor.visitor_id)) || c.visitor_id || '—'],
    ];
    const dl = h('dl', { id: 'visitor-info', class: 'kv' });
    for (const [k, v] of rows) {
      dl.append(h('dt', { text: k }), h('dd', { class: 'wrap-anywhere', dataset: { field: k.toLowerCase() }, text: v }));
    }
    const prev = (visitor && (visitor.previous_chats || visitor.chats)) || c.previous_chats || [];
    const others = prev.filter((p) => chatIdOf(p) !== chatIdOf(c));
    const prevList = h('ul', { id: 'visitor-previous', class: 'chat-prev' },
      others.length ? others.map((p) => h('li', {},
        h('a', { href: `#/chat/${encodeURIComponent(chatIdOf(p))}`,
          text: `${fmtTime(p.created_at || p.started_at)} · ${p.state || ''}`.trim() }),
        p.text || p.first_text ? h('span', { class: 'hint', text: ` ${p.text || p.first_text}` }) : null))
        : [h('li', { class: 'hint', text: 'No previous chat.' })]);
    return h('section', { class: 'chat-visitor', 'aria-labelledby': 'visitor-title' },
      h('h3', { id: 'visitor-title', text: 'Visitor' }), dl,
      h('h3', { text: 'Previous chats' }), prevList);
  }

  function transferForm(o) {
    const target = h('select', { id: 'transfer-target', required: true });
    const ops = page.users.filter((u) => (u.role === 'operator' || u.role === 'admin') && u.id !== (state.user && state.user.id));
    if (ops.length) {
      target.append(h('optgroup', { label: 'Operators' },
        ops.map((u) => h('option', { value: `operator:${u.id}`, text: u.name || u.login }))));
    }
    if (page.departments.length) {
      target.append(h('optgroup', { label: 'Departments' },
        page.departments.map((d) => h('option', { value: `department:${d.id}`, text: d.name }))));
    }
    const note = h('input', { id: 'transfer-note', type: 'text', maxlength: '500', autocomplete: 'off',
      placeholder: 'What the next operator should know' });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', id: 'transfer-submit', class: 'btn btn-primary', text: 'Transfer' });
    const form = h('form', { id: 'transfer-form', class: 'chat-subform', hidden: true },
      h('div', { class: 'field' }, h('label', { for: 'transfer-target', text: 'Transfer to' }), target),
      h('div', { class: 'field' }, h('label', { for: 'transfer-note', text: 'Note' }), note),
      err, h('div', { class: 'form-actions' }, submit));
    if (!ops.length && !page.departments.length) {
      err.textContent = 'No operator or department to transfer to.';
      err.hidden = false;
      submit.disabled = true;
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        setError(err, null);
        const [kind, id] = target.value.split(/:(.*)/s);
        const body = kind === 'operator' ? { operator_id: id } : { department_id: id };
        if (note.value.trim()) body.note = note.value.trim();
        try {
          await chat.transfer(o.id, body);
          toast('Chat transferred.');
          form.hidden = true;
          location.hash = '#/chat';
          reloadLists();
        } catch (e) {
          setError(err, e);
        }
      });
    });
    return form;
  }

  function banForm(o) {
    const expiry = h('select', { id: 'ban-expiry' }, BAN_TIMES.map(([v, t]) => h('option', { value: v, text: t })));
    const reason = h('input', { id: 'ban-reason', type: 'text', maxlength: '500', autocomplete: 'off' });
    const byIp = h('input', { id: 'ban-by-ip', type: 'checkbox' });
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', id: 'ban-submit', class: 'btn btn-danger', text: 'Ban the visitor' });
    const visitorId = (o.visitor && (o.visitor.id || o.visitor.visitor_id)) || o.chat.visitor_id;
    const ip = (o.visitor && o.visitor.ip) || o.chat.ip;
    const form = h('form', { id: 'ban-form', class: 'chat-subform', hidden: true },
      h('div', { class: 'field' }, h('label', { for: 'ban-expiry', text: 'For' }), expiry),
      h('div', { class: 'field' }, h('label', { for: 'ban-reason', text: 'Reason' }), reason),
      ip ? h('label', { class: 'check', for: 'ban-by-ip' }, byIp, ` Ban the IP address ${ip} instead`) : null,
      err, h('div', { class: 'form-actions' }, submit));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        setError(err, null);
        const body = {
          expires_at: Math.floor(api.serverNow()) + Number(expiry.value),
          reason: reason.value.trim(),
        };
        if (ip && byIp.checked) body.ip = ip;
        else body.visitor_id = visitorId;
        try {
          await chat.ban(body);
          toast('Visitor banned.');
          form.hidden = true;
        } catch (e) {
          setError(err, e);
        }
      });
    });
    return form;
  }

  // the call of the open chat: its buttons, its panel, the operator's switch
  function callPanel(o, c) {
    const stateEl = h('p', { id: 'op-call-state', class: 'call-state', role: 'status', 'aria-live': 'polite',
      dataset: { state: 'idle' } });
    const remote = h('video', { id: 'op-call-remote', autoplay: true, playsinline: true });
    const local = h('video', { id: 'op-call-local', autoplay: true, playsinline: true, muted: true });
    local.muted = true;
    const accept = h('button', { type: 'button', id: 'op-call-accept', class: 'btn btn-primary', text: 'Accept', hidden: true });
    const decline = h('button', { type: 'button', id: 'op-call-decline', class: 'btn', text: 'Decline', hidden: true });
    const hangup = h('button', { type: 'button', id: 'op-call-hangup', class: 'btn btn-danger', text: 'Hang up', hidden: true });
    const panel = h('section', { id: 'op-call-panel', class: 'chat-call', hidden: true, 'aria-label': 'Call' },
      stateEl, h('div', { class: 'call-videos' }, remote, local), h('div', { class: 'form-actions' }, accept, decline, hangup));
    const audioBtn = h('button', { type: 'button', id: 'chat-call-audio', class: 'btn', text: 'Audio call' });
    const videoBtn = h('button', { type: 'button', id: 'chat-call-video', class: 'btn', text: 'Video call' });
    const toggle = h('button', { type: 'button', id: 'chat-calls-toggle', class: 'btn' });
    let off = Boolean(c.calls_off);
    const allowed = c.calls || 'off';
    const rtc = new Call({
      side: 'operator',
      send: (body) => chat.callStep(o.id, body),
      ui: {
        incoming(media) {
          panel.hidden = false;
          panel.classList.toggle('call-audio-only', media !== 'video');
          accept.hidden = false;
          decline.hidden = false;
          hangup.hidden = true;
        },
        state(s, text) {
          stateEl.dataset.state = s;
          stateEl.textContent = s === 'incoming' ? `The visitor is calling (${text.toLowerCase()}).` : text;
          if (s === 'ringing' || s === 'connecting' || s === 'connected') {
            panel.hidden = false;
            panel.classList.toggle('call-audio-only', rtc.media !== 'video');
            accept.hidden = true;
            decline.hidden = true;
            hangup.hidden = false;
          } else if (s === 'ended' || s === 'failed') {
            accept.hidden = true;
            decline.hidden = true;
            hangup.hidden = true;
          }
          fill();
        },
        streams(l, r) {
          local.srcObject = l;
          remote.srcObject = r;
        },
      },
    });
    o.rtc = rtc;
    function fill() {
      const can = !o.ended && !off && allowed !== 'off' && !rtc.busy && typeof RTCPeerConnection === 'function';
      audioBtn.hidden = !can;
      videoBtn.hidden = !can || allowed !== 'video';
      toggle.hidden = allowed === 'off' || o.ended;
      toggle.textContent = off ? 'Allow calls' : 'Switch calls off';
    }
    audioBtn.addEventListener('click', () => rtc.start('audio'));
    videoBtn.addEventListener('click', () => rtc.start('video'));
    accept.addEventListener('click', () => rtc.accept());
    decline.addEventListener('click', () => rtc.decline());
    hangup.addEventListener('click', () => rtc.hangup());
    toggle.addEventListener('click', () => busy(toggle, async () => {
      try {
        const res = await chat.callStep(o.id, { action: off ? 'enable' : 'disable' });
        off = Boolean(res.calls_off);
        if (off) rtc.stopWith('Calls are switched off.');
        toast(off ? 'The visitor can no longer call in this chat.' : 'The visitor can call again.');
        fill();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    fill();
    const waiting = ringing.get(o.id);
    if (waiting) {
      ringing.delete(o.id);
      rtc.onEvent(waiting);
    }
    return { panel, buttons: [audioBtn, videoBtn, toggle] };
  }

  async function openChat(id) {
    if (page.open && page.open.rtc && page.open.id !== id) page.open.rtc.hangup();
    page.openId = id;
    if (unread.delete(id)) fillLists();
    page.lastReadSent = 0;
    page.typingOn = false;
    for (const li of [...queueList.children, ...mineList.children]) {
      li.classList.toggle('chat-item-open', li.dataset.chatId === id);
    }
    panel.replaceChildren(h('p', { class: 'loading', text: 'Loading…' }));
    let res;
    try {
      res = await chat.getChat(id);
    } catch (err) {
      if (stale() || page.openId !== id) return;
      page.open = null;
      panel.replaceChildren(h('p', { class: 'form-error', role: 'alert', text: errorText(err) }));
      return;
    }
    if (stale() || page.openId !== id) return;
    const c = res.chat || res;
    const visitor = res.visitor || c.visitor || null;
    const messages = res.messages || c.messages || [];
    const list = h('ol', { id: 'chat-messages', class: 'messages', 'aria-live': 'polite', tabindex: '0',
      'aria-label': 'Messages' });
    const typingEl = h('p', { id: 'chat-typing', class: 'typing', 'aria-live': 'polite' });
    const o = {
      id, chat: c, visitor, list, typing: typingEl, shown: new Map(),
      readByVisitor: Number(c.read_by_visitor || c.visitor_read_seq || 0), ended: c.state === 'ended',
    };
    page.open = o;
    const text = h('textarea', { id: 'chat-text', rows: '3', maxlength: '4000', 'aria-label': 'Your message',
      placeholder: 'Write a message (Enter sends, Shift+Enter: new line)' });
    const sendBtn = h('button', { type: 'submit', id: 'chat-send', class: 'btn btn-primary', text: 'Send' });
    const compose = h('form', { id: 'chat-compose', class: 'chat-compose' }, text,
      h('div', { class: 'form-actions' }, sendBtn));
    const mineNow = c.state === 'active' && (!c.operator_id || !state.user || c.operator_id === state.user.id);
    const tools = mineNow ? chatTools({ chatId: id, textarea: text, onItem: (item) => showMessage(item) }) : null;
    const callBox = mineNow ? callPanel(o, c) : null;
    const pickBtn = c.state === 'queued'
      ? h('button', { type: 'button', id: 'chat-pickup', class: 'btn btn-primary', text: 'Pick up',
        onclick: (ev) => busy(ev.currentTarget, () => pickUp(id)) })
      : null;
    const tForm = transferForm(o);
    const bForm = banForm(o);
    const transferBtn = h('button', { type: 'button', id: 'chat-transfer', class: 'btn', text: 'Transfer…',
      'aria-controls': 'transfer-form', 'aria-expanded': 'false' });
    transferBtn.addEventListener('click', () => {
      tForm.hidden = !tForm.hidden;
      bForm.hidden = true;
      transferBtn.setAttribute('aria-expanded', String(!tForm.hidden));
    });
    const banBtn = h('button', { type: 'button', id: 'chat-ban', class: 'btn btn-danger', text: 'Ban…',
      'aria-controls': 'ban-form', 'aria-expanded': 'false' });
    banBtn.addEventListener('click', () => {
      bForm.hidden = !bForm.hidden;
      tForm.hidden = true;
      banBtn.setAttribute('aria-expanded', String(!bForm.hidden));
    });
    const endBtn = h('button', { type: 'button', id: 'chat-end', class: 'btn btn-danger', text: 'End chat' });
    endBtn.addEventListener('click', () => busy(endBtn, async () => {
      if (!window.confirm('End this chat for both sides?')) return;
      try {
        await chat.endChat(id);
        chatEnded('operator');
        reloadLists();
      } catch (err) {
        toast(errorText(err), 'error');
      }
    }));
    const stateBadge = h('span', { id: 'chat-state', class: `badge badge-${c.state === 'active' ? 'ok' : 'muted'}`,
      text: c.state || '' });
    o.stateBadge = stateBadge;
    o.controls = [text, sendBtn, transferBtn, endBtn];
    if (tools) o.controls.push(...tools.querySelectorAll('select, input, button'));
    const note = notes.get(id);
    panel.replaceChildren(...[
      h('div', { class: 'card-head' },
        h('h2', { id: 'chat-title', text: `Chat with ${personName((visitor && visitor.name) || c.visitor_name || c.name)}` }),
        stateBadge),
      note ? h('p', { class: 'notice notice-info', id: 'chat-note', text: `Transferred by ${note.from || 'a colleague'}: ${note.note}` }) : null,
      h('div', { class: 'chat-body' },
        h('div', { class: 'chat-talk' }, callBox && callBox.panel, list, typingEl, mineNow ? compose : pickBtn, tools,
          h('div', { class: 'chat-actions' }, callBox && callBox.buttons, transferBtn, banBtn, endBtn), tForm, bForm),
        infoList(visitor, c))].filter(Boolean));
    for (const m of messages) showMessage(m);
    if (!mineNow) for (const b of [transferBtn, endBtn]) b.disabled = c.state === 'ended';
    if (o.ended) for (const b of o.controls) b.disabled = true;

    compose.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const value = text.value.trim();
      if (!value || o.ended) return;
      if ([...value].length > 4000) {
        toast('A message has at most 4,000 characters.', 'error');
        return;
      }
      text.value = '';
      typing(false);
      postMessage(o, value, newClientId());
    });
    text.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        compose.requestSubmit();
      }
    });
    text.addEventListener('input', () => typing(text.value.trim() !== ''));
    if (mineNow) text.focus();
  }

  async function postMessage(o, value, clientId) {
    const li = messageItem({ from: 'operator', name: state.user && (state.user.name || state.user.login), text: value,
      at: Math.floor(api.serverNow()) });
    const mark = li.querySelector('.msg-mark');
    mark.textContent = 'Sending…';
    o.list.append(li);
    scrollDown();
    for (let attempt = 0; !stale() && page.open === o; attempt++) {
      try {
        const res = await chat.sendMessage(o.id, value, clientId);
        const seq = Number(res.seq) || 0;
        if (seq && o.shown.has(seq)) li.remove();
        else if (seq) {
          li.dataset.seq = String(seq);
          o.shown.set(seq, li);
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

  function chatEnded(by) {
    const o = page.open;
    if (!o || o.ended) return;
    o.ended = true;
    if (o.rtc) o.rtc.stopWith('The chat has ended.');
    systemLine({ operator: 'The chat was ended by an operator.', visitor: 'The visitor ended the chat.',
      ban: 'The chat ended: the visitor is banned.' }[by] || 'The chat has ended.');
    o.stateBadge.textContent = 'ended';
    o.stateBadge.className = 'badge badge-muted';
    o.typing.textContent = '';
    for (const b of o.controls) b.disabled = true;
  }

  // ------------------------------------------------------------ the stream
  function onEvent(type, d) {
    const id = chatIdOf(d);
    const here = page.open && sameChat(page.open.id, d);
    switch (type) {
      case 'queue':
        reloadSoon();
        break;
      case 'assigned':
        reloadSoon();
        if (here && page.open.chat.state !== 'active') openChat(page.open.id);
        else if (id && !page.openId && d.how !== 'pickup') toast('A chat was assigned to you.', 'info');
        break;
      case 'unassigned':
        reloadSoon();
        if (here) {
          toast(d.reason === 'no_reply' ? 'The chat went back to the queue: the visitor waited too long.'
            : 'The chat went back to the queue.', 'info');
          openChat(page.open.id);
        }
        break;
      case 'transferred':
        if (id && d.note) notes.set(id, { note: d.note, from: d.from });
        reloadSoon();
        toast(`A chat was transferred to you${d.note ? `: ${d.note}` : '.'}`, 'info');
        break;
      case 'message':
        if (here) showMessage(d.message || d);
        else {
          if (id && d.from === 'visitor') unread.add(id);
          reloadSoon();
        }
        break;
      case 'form':
      case 'form_answer':
      case 'redirect':
        if (here) showMessage({ ...d, type });
        else if (type === 'form_answer' && id) {
          unread.add(id);
          reloadSoon();
        }
        break;
      case 'call':
        if (here && page.open.rtc) page.open.rtc.onEvent(d);
        else if (id && d.from === 'visitor' && d.action === 'invite') {
          ringing.set(id, d);
          unread.add(id);
          reloadSoon();
          toast('A visitor is calling: open the chat to answer.', 'info');
        } else if (id && d.action !== 'invite' && ringing.has(id) && ringing.get(id).call_id === d.call_id) {
          ringing.delete(id); // hung up before the chat was opened
        }
        break;
      case 'offline_message':
        reloadOffline();
        toast('A visitor left a message.', 'info');
        break;
      case 'typing':
        if (here && d.from === 'visitor') {
          clearTimeout(page.visitorTypingTimer);
          page.open.typing.textContent = d.on ? 'The visitor is typing…' : '';
          if (d.on) page.visitorTypingTimer = setTimeout(() => { if (page.open) page.open.typing.textContent = ''; }, 10000);
        }
        break;
      case 'read':
        if (here && d.from === 'visitor' && Number(d.seq) > page.open.readByVisitor) {
          page.open.readByVisitor = Number(d.seq);
          updateReadMarks();
        }
        break;
      case 'ended':
        if (here) chatEnded(d.by);
        reloadSoon();
        break;
      default:
        break;
    }
  }

  state.cleanup.push(() => {
    if (page.open && page.open.rtc) page.open.rtc.hangup();
    clearTimeout(page.typingTimer);
    clearTimeout(page.visitorTypingTimer);
  });
  const onVisible = () => markRead();
  document.addEventListener('visibilitychange', onVisible);
  state.cleanup.push(() => document.removeEventListener('visibilitychange', onVisible));

  // ------------------------------------------------------------ first load
  const [users, deps] = await Promise.all([
    api.listUsers().catch(() => ({ users: [] })),
    chat.listDepartments().catch(() => ({ departments: [] })),
  ]);
  page.users = users.users || [];
  page.departments = deps.departments || [];
  for (const d of page.departments) {
    for (const u of d.operators || []) if (!page.users.some((x) => x.id === u.id)) page.users.push({ role: 'operator', ...u });
  }
  if (myStatus !== 'offline') chat.setStatus(myStatus).catch(() => {});
  await Promise.all([reloadLists(), reloadOffline()]);
  if (stale()) return view;
  if (page.openId) openChat(page.openId);
  else emptyPanel();
  const detach = deskAttach({
    onEvent: (type, d) => { if (!stale()) onEvent(type, d); },
    onStatus: (text, live) => {
      streamState.textContent = text;
      streamState.className = `live ${live ? 'live-on' : 'live-off'}`;
    },
    onOpen: () => { if (!stale()) reloadLists(); },
  });
  state.cleanup.push(detach);
  return view;
}
