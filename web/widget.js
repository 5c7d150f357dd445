// The Vitrine live chat widget, served at GET /widget.js. A site adds one tag:
//   <script src="https://vitrine.example/widget.js" data-site="SITE_ID" async></script>
// and gets a call button in the bottom corner; the button opens the chat
// window (GET /chat/{site} of the same server) in an iframe. No install, no
// framework, nothing global but one element id prefix (vitrine-chat-).
//
// On load the widget registers the visitor from the page itself
// (POST /api/v1/widget/{site}/visitor, so the request's Origin is the page's:
// the server refuses any origin that is not one of the site's domains), and
// shows the button only when that succeeds. The visitor's token, id and the
// departments travel to the frame in the URL fragment (never sent to a server
// by the browser); the browser id is kept in the page's localStorage so that
// the operator sees the visitor's previous chats. A window left open stays
// open on the next page of the site (sessionStorage). Proactive invitations
// (the site's campaigns) appear above the button. Styles are set through the
// CSSOM (element .style), which a page's CSP without 'unsafe-inline' allows.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) {
    // async scripts may run after currentScript is gone: find our own tag
    var tags = document.querySelectorAll('script[data-site][src]');
    for (var i = 0; i < tags.length; i++) {
      if (/\/widget\.js(\?|#|$)/.test(tags[i].src)) script = tags[i];
    }
  }
  if (!script || window.__vitrineChat) return;
  window.__vitrineChat = true;
  var site = script.getAttribute('data-site') || '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(site)) return;
  var base;
  try {
    base = new URL(script.src, location.href).origin;
  } catch (e) {
    return;
  }
  var label = script.getAttribute('data-label') || 'Chat with us';

  function css(el, rules) {
    for (var k in rules) el.style.setProperty(k, rules[k]);
    return el;
  }

  var button = document.createElement('button');
  button.type = 'button';
  button.id = 'vitrine-chat-button';
  button.textContent = label; // text, never HTML
  button.setAttribute('aria-haspopup', 'dialog');
  button.setAttribute('aria-expanded', 'false');
  css(button, {
    position: 'fixed', right: '16px', bottom: '16px', 'z-index': '2147483000',
    padding: '12px 18px', border: '0', 'border-radius': '24px', background: '#2f5bea',
    color: '#fff', font: '600 15px/1.2 system-ui, sans-serif', cursor: 'pointer',
    'box-shadow': '0 4px 14px rgba(0,0,0,0.25)',
  });

  var box = null;
  var frame = null;
  var visitor = null;
  var invitedDepartment = '';
  var BROWSER_KEY = 'vitrine-chat-browser-' + site;
  var OPEN_KEY = 'vitrine-chat-open-' + site; // sessionStorage: the window was open (reopened on the next page)

  function remember(isOpen) {
    try {
      if (isOpen) sessionStorage.setItem(OPEN_KEY, '1');
      else sessionStorage.removeItem(OPEN_KEY);
    } catch (e) { /* storage blocked: the window stays closed on the next page */ }
  }

  function wasOpen() {
    try {
      return sessionStorage.getItem(OPEN_KEY) === '1';
    } catch (e) {
      return false;
    }
  }

  function browserId() {
    try {
      var id = localStorage.getItem(BROWSER_KEY);
      if (!id) {
        var bytes = new Uint8Array(16);
        crypto.getRandomValues(bytes);
        id = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
        localStorage.setItem(BROWSER_KEY, id);
      }
      return id;
    } catch (e) {
      return undefined; // storage blocked: the server makes a new visitor
    }
  }

  function frameUrl() {
    var info = new URLSearchParams();
    info.set('page', location.href.slice(0, 2000));
    info.set('title', (document.title || '').slice(0, 500));
    info.set('referrer', (document.referrer || '').slice(0, 2000));
    if (visitor) {
      info.set('visitor_id', visitor.visitor_id || '');
      info.set('visitor_token', visitor.visitor_token || '');
      info.set('departments', JSON.stringify(visitor.departments || []));
      info.set('mail', visitor.mail ? '1' : '0');
      if (invitedDepartment) info.set('department', invitedDepartment);
    }
    return base + '/chat/' + encodeURIComponent(site) + '#' + info.toString();
  }

  function place() {
    if (!box) return;
    var narrow = window.innerWidth < 480;
    css(box, narrow
      ? { left: '0', right: '0', top: '0', bottom: '0', width: '100%', height: '100%', 'border-radius': '0' }
      : { left: 'auto', top: 'auto', right: '16px', bottom: '72px', width: '370px', height: '560px',
        'max-height': 'calc(100vh - 96px)', 'border-radius': '12px' });
  }

  function open() {
    hideInvite();
    if (!box) {
      box = document.createElement('div');
      box.id = 'vitrine-chat-box';
      box.setAttribute('role', 'dialog');
      box.setAttribute('aria-label', label);
      css(box, {
        position: 'fixed', 'z-index': '2147483001', overflow: 'hidden', background: '#fff',
        'box-shadow': '0 10px 30px rgba(0,0,0,0.3)',
      });
      frame = document.createElement('iframe');
      frame.id = 'vitrine-chat-frame';
      frame.title = label;
      frame.src = frameUrl();
      frame.setAttribute('allow', 'clipboard-write; microphone; camera; autoplay'); // calls (WebRTC)
      css(frame, { border: '0', width: '100%', height: '100%', display: 'block' });
      box.appendChild(frame);
      document.body.appendChild(box);
      window.addEventListener('resize', place);
    }
    place();
    remember(true);
    box.style.display = 'block';
    button.setAttribute('aria-expanded', 'true');
    button.style.display = window.innerWidth < 480 ? 'none' : 'block';
  }

  function close() {
    if (!box) return;
    box.style.display = 'none';
    remember(false);
    button.style.display = 'block';
    button.setAttribute('aria-expanded', 'false');
    button.focus();
  }

  button.addEventListener('click', function () {
    if (box && box.style.display !== 'none') close();
    else open();
  });

  // The stream bridge: a browser sends no Origin with a same-origin GET, so
  // the frame's own request for its event stream may be refused
  // (origin_not_allowed); the frame then asks this page, whose origin is the
  // site's, to read the stream and pass the events on. Only URLs of this
  // site's chat streams on the widget's server are read.
  var streams = {};
  var streamPrefix = base + '/api/v1/widget/' + encodeURIComponent(site) + '/chats/';

  function toFrame(msg) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage(msg, base);
  }

  function bridgeStream(m) {
    var id = String(m.id);
    if (typeof m.url !== 'string' || m.url.indexOf(streamPrefix) !== 0 || !/\/events\?after=\d+$/.test(m.url)) return;
    var ctl = new AbortController();
    streams[id] = ctl;
    var headers = { Accept: 'text/event-stream', Authorization: 'Bearer ' + m.token };
    if (m.lastEventId) headers['Last-Event-ID'] = String(m.lastEventId);
    var status = 0;
    fetch(m.url, { headers: headers, mode: 'cors', credentials: 'omit', cache: 'no-store', signal: ctl.signal })
      .then(function (res) {
        status = res.status;
        if (!res.ok || !res.body) return res.text().then(function (t) { toFrame({ vitrineChat: 'stream-end', id: m.id, status: status, body: t }); });
        toFrame({ vitrineChat: 'stream-open', id: m.id });
        return readEvents(res.body, function (type, eventId, data) {
          toFrame({ vitrineChat: 'stream-event', id: m.id, type: type, eventId: eventId, data: data });
        }).then(function () { toFrame({ vitrineChat: 'stream-end', id: m.id, status: status }); });
      })
      .catch(function () {
        if (!ctl.signal.aborted) toFrame({ vitrineChat: 'stream-end', id: m.id, status: 0 });
      })
      .then(function () { delete streams[id]; });
  }

  // a text/event-stream body: onEvent(type, id, data text) per event
  function readEvents(body, onEvent) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buf = '';
    var type = '';
    var eventId = '';
    var data = [];
    function line(l) {
      if (l === '') {
        if (data.length) onEvent(type || 'message', eventId, data.join('\n'));
        type = '';
        eventId = '';
        data = [];
        return;
      }
      if (l.charAt(0) === ':') return;
      var c = l.indexOf(':');
      var field = c < 0 ? l : l.slice(0, c);
      var val = c < 0 ? '' : l.slice(c + 1).replace(/^ /, '');
      if (field === 'event') type = val;
      else if (field === 'data') data.push(val);
      else if (field === 'id') eventId = val;
    }
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return;
        buf += decoder.decode(r.value, { stream: true });
        var parts = buf.split(/\r\n|\r|\n/);
        buf = parts.pop();
        for (var i = 0; i < parts.length; i++) line(parts[i]);
        return pump();
      });
    }
    return pump();
  }

  // the operator sent the visitor to another page of the site (the server
  // checked it is on one of the site's domains): go there, the chat window
  // opens again on that page
  function redirect(url) {
    var target;
    try {
      target = new URL(url);
    } catch (e) {
      return;
    }
    if (target.protocol !== 'https:' && target.protocol !== 'http:') return;
    remember(true);
    location.assign(target.href);
  }

  // the frame's requests: close (its own close button; on a phone the frame
  // covers the page and its button is the only way back), redirect, the
  // stream bridge
  window.addEventListener('message', function (ev) {
    if (ev.origin !== base || !frame || ev.source !== frame.contentWindow) return;
    var m = ev.data || {};
    if (m.vitrineChat === 'close') close();
    else if (m.vitrineChat === 'redirect' && typeof m.url === 'string') redirect(m.url);
    else if (m.vitrineChat === 'stream') bridgeStream(m);
    else if (m.vitrineChat === 'stream-stop' && streams[String(m.id)]) streams[String(m.id)].abort();
  });

  function mount() {
    document.body.appendChild(button);
    if (wasOpen()) open();
    else watchCampaigns();
  }

  // Proactive invitations: the site's campaigns whose department has an
  // operator online; one whose pattern matches this page's path and query
  // invites the visitor after its seconds on the page (counted while the
  // page is visible), unless the window is open or the visitor declined an
  // invitation in this tab. Shown, accepted and declined are told to the
  // server, which counts each once per visitor.
  var invite = null;
  var DECLINED_KEY = 'vitrine-chat-declined-' + site;
  var apiBase = base + '/api/v1/widget/' + encodeURIComponent(site);

  function globMatch(pattern, text) {
    var parts = pattern.split('*').map(function (p) { return p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'); });
    var re = '^' + parts.join('.*') + '$';
    return new RegExp(re).test(text);
  }

  function tell(id, outcome) {
    fetch(apiBase + '/campaigns/' + encodeURIComponent(id) + '/' + outcome, {
      method: 'POST', mode: 'cors', credentials: 'omit', keepalive: true,
      headers: { Authorization: 'Bearer ' + visitor.visitor_token, 'Content-Type': 'application/json' }, body: '{}',
    }).catch(function () {});
  }

  function declined() {
    try {
      return sessionStorage.getItem(DECLINED_KEY) === '1';
    } catch (e) {
      return false;
    }
  }

  function hideInvite() {
    if (invite) invite.parentNode.removeChild(invite);
    invite = null;
  }

  function showInvite(c) {
    if (invite || declined() || (box && box.style.display !== 'none')) return;
    invite = css(document.createElement('div'), {
      position: 'fixed', right: '16px', bottom: '72px', 'z-index': '2147483000', 'max-width': '300px',
      padding: '12px 14px', background: '#fff', color: '#1f2430', 'border-radius': '12px',
      'box-shadow': '0 6px 20px rgba(0,0,0,0.25)', font: '15px/1.35 system-ui, sans-serif',
    });
    invite.id = 'vitrine-chat-invite';
    invite.setAttribute('role', 'dialog');
    invite.setAttribute('aria-label', label);
    var text = css(document.createElement('p'), { margin: '0 0 10px' });
    text.id = 'vitrine-chat-invite-text';
    text.textContent = c.message; // text, never HTML
    var yes = document.createElement('button');
    var no = document.createElement('button');
    yes.type = no.type = 'button';
    yes.id = 'vitrine-chat-invite-accept';
    no.id = 'vitrine-chat-invite-decline';
    yes.textContent = 'Chat now';
    no.textContent = 'No thanks';
    var look = { padding: '7px 12px', 'border-radius': '6px', border: '1px solid #2f5bea', cursor: 'pointer',
      font: '600 14px/1.2 system-ui, sans-serif', 'margin-right': '8px' };
    css(yes, look);
    css(no, look);
    css(yes, { background: '#2f5bea', color: '#fff' });
    css(no, { background: '#fff', color: '#2f5bea' });
    yes.addEventListener('click', function () {
      tell(c.id, 'accepted');
      invitedDepartment = c.department_id;
      if (frame) frame.src = frameUrl(); // the department chosen in a window opened before
      open();
    });
    no.addEventListener('click', function () {
      tell(c.id, 'declined');
      try { sessionStorage.setItem(DECLINED_KEY, '1'); } catch (e) { /* storage blocked: this page only */ }
      hideInvite();
    });
    invite.appendChild(text);
    invite.appendChild(yes);
    invite.appendChild(no);
    document.body.appendChild(invite);
    tell(c.id, 'shown');
  }

  function watchCampaigns() {
    if (declined()) return;
    fetch(apiBase + '/campaigns', {
      mode: 'cors', credentials: 'omit', cache: 'no-store',
      headers: { Authorization: 'Bearer ' + visitor.visitor_token, Accept: 'application/json' },
    }).then(function (res) {
      return res.ok ? res.json() : { campaigns: [] };
    }).then(function (data) {
      var here = location.pathname + location.search;
      var list = (data.campaigns || []).filter(function (c) {
        return typeof c.url_pattern === 'string' && globMatch(c.url_pattern, here);
      });
      if (!list.length) return;
      var seen = 0;
      var timer = setInterval(function () {
        if (document.visibilityState === 'visible') seen += 0.25;
        for (var i = 0; i < list.length; i++) {
          if (seen >= list[i].seconds_on_page) {
            clearInterval(timer);
            showInvite(list[i]);
            return;
          }
        }
      }, 250);
    }).catch(function () { /* no invitation */ });
  }

  // the button appears only when the server accepts this page's origin
  fetch(base + '/api/v1/widget/' + encodeURIComponent(site) + '/visitor', {
    method: 'POST', mode: 'cors', credentials: 'omit', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      browser_id: browserId(), page_url: location.href.slice(0, 2000),
      title: (document.title || '').slice(0, 500), referrer: (document.referrer || '').slice(0, 2000),
    }),
  }).then(function (res) {
    if (!res.ok) throw new Error('status ' + res.status);
    return res.json();
  }).then(function (data) {
    if (!data || !data.visitor_token) return;
    visitor = data;
    if (document.body) mount();
    else document.addEventListener('DOMContentLoaded', mount);
  }).catch(function () {
    // not an allowed domain, or the server is away: no button
  });
})();
