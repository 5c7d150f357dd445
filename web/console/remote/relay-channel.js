// The browser's way to a screen through a relay: a WebSocket to the relay's
// ws_url carrying the relay's first frame (u16 length + the guest ticket),
// its status line (`paired\n` or `error CODE\n`), then the end-to-end
// handshake as the guest (e2e.js) and the frames. openRemote() resolves with
// a RelayChannel once the handshake is done: a WebSocket-like object that
// noVNC's RFB takes in place of a WebSocket (core/websock.js: binaryType,
// readyState, protocol, send, close, onopen/onmessage/onclose/onerror), and
// that carries the decrypted RFB stream. Every failure is a RemoteError with
// a code (the relay's, the end-to-end layer's, or relay_unreachable /
// relay_closed / timeout); the session then ends: there is no fallback.
// docs/PROTOCOL.md, "Remote control: the console".

import * as e2e from './e2e.js';

const STATUS_MAX = 128; // bytes of a status line
const WS_MESSAGE_MAX = 64 * 1024; // the relay refuses longer client messages

export class RemoteError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'RemoteError';
    this.code = code;
  }
}

const RELAY_MESSAGES = {
  ticket_invalid: 'the relay refused the ticket',
  ticket_expired: 'the ticket expired before the relay saw it',
  ticket_replayed: 'the ticket was used already',
  ticket_wrong_session: 'the relay already has another guest for this session',
  session_ended: 'the screen did not join the session in time, or the session ended',
  host_key_mismatch: 'the screen proved another key than the one it registered at pairing: session refused',
  handshake_invalid: 'the end-to-end handshake failed: session refused',
  frame_tampered: 'a frame was altered on the way: session ended',
  stream_truncated: 'the connection ended in the middle of the session',
};

export function describeCode(code) {
  return RELAY_MESSAGES[code] || code;
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('RelayChannel.send takes bytes');
}

/** The WebSocket-like channel noVNC reads and writes; made by openRemote(). */
export class RelayChannel {
  constructor(ws, streams) {
    this.binaryType = 'arraybuffer';
    this.protocol = '';
    this.readyState = 'open';
    this.onopen = null;
    this.onclose = null;
    this.onerror = null;
    this._onmessage = null;
    this.onmessage = null;
    this.failure = null; // the code the session ended with, null for a clean end
    this.bytesIn = 0; // plaintext bytes, each way
    this.bytesOut = 0;
    this.onend = null; // (code|null): the page's hook, once
    this._ws = ws;
    this._streams = streams;
    this._queue = []; // payloads that came before noVNC listened
  }

  get onmessage() {
    return this._onmessage;
  }

  set onmessage(fn) {
    this._onmessage = fn;
    if (fn && this._queue.length) setTimeout(() => this._flush(), 0);
  }

  _flush() {
    while (this._onmessage && this._queue.length && this.readyState === 'open') {
      this._onmessage({ data: this._queue.shift() });
    }
  }

  _deliver(payloads) {
    for (const p of payloads) {
      if (!p.length) continue;
      this.bytesIn += p.length;
      const data = p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength);
      if (this._onmessage && !this._queue.length) this._onmessage({ data });
      else this._queue.push(data);
    }
  }

  _received(bytes) {
    if (this.readyState !== 'open') return;
    let payloads;
    try {
      payloads = this._streams.open(bytes);
    } catch (err) {
      this._end(err.code || 'frame_tampered', true);
      return;
    }
    this._deliver(payloads);
    if (this._streams.rxFinal) this._end(null, true); // the host ended the session cleanly
  }

  send(data) {
    if (this.readyState !== 'open') return;
    const bytes = toBytes(data);
    this.bytesOut += bytes.length;
    let batch = [];
    let size = 0;
    const push = () => {
      if (batch.length) this._ws.send(e2e.concat(...batch));
      batch = [];
      size = 0;
    };
    for (const frame of this._streams.sealAll(bytes)) {
      if (size + frame.length > WS_MESSAGE_MAX) push();
      batch.push(frame);
      size += frame.length;
    }
    push();
  }

  /** A clean end from this side: the final frame, then the WebSocket closes. */
  close() {
    if (this.readyState !== 'open') return;
    try {
      this._ws.send(this._streams.seal(new Uint8Array(0), true));
    } catch {
      // the pipe is gone already: closing is all there is to do
    }
    this._end(null, true);
  }

  _socketGone() {
    if (this.readyState !== 'open') return;
    let code = null;
    try {
      this._streams.endOfInput();
    } catch (err) {
      code = err.code || 'stream_truncated';
    }
    this._end(code, false);
  }

  _end(code, closeSocket) {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.failure = code;
    this._queue = [];
    this._streams.wipe();
    if (closeSocket) {
      try {
        this._ws.close(1000);
      } catch {
        // already closed
      }
    }
    if (code && this.onerror) this.onerror({ type: 'error', code });
    if (this.onclose) this.onclose({ type: 'close', code: code ? 4000 : 1000, reason: code || '', wasClean: !code });
    if (this.onend) {
      const fn = this.onend;
      this.onend = null;
      fn(code);
    }
  }
}

/**
 * Connects to the relay and runs the handshake. session: the 201 body of
 * POST /api/v1/screens/{id}/remote. onStatus(text) tells the page how far it
 * got. Resolves with an open RelayChannel; rejects with a RemoteError.
 */
export async function openRemote(session, { timeoutMs = 45000, onStatus = () => {} } = {}) {
  await e2e.ready();
  const hostPk = e2e.fromBase64(session.host_public_key);
  const secret = e2e.fromBase64(session.session_secret);
  if (!hostPk || hostPk.length !== 32) throw new RemoteError('bad_session', 'the server sent no usable host key');
  if (!secret || secret.length !== e2e.SESSION_SECRET_LEN) {
    throw new RemoteError('bad_session', 'the server sent no session secret: it is older than this console');
  }
  const url = session.relay && session.relay.ws_url;
  if (!url || !/^wss?:\/\//.test(url)) throw new RemoteError('bad_session', 'the relay has no WebSocket address');
  const ticket = new TextEncoder().encode(session.ticket || '');
  if (ticket.length < 1 || ticket.length > 1024) throw new RemoteError('bad_session', 'the ticket is missing');
  const guest = new e2e.Guest({
    sessionId: session.session_id, ticketHash: e2e.ticketHash(session.ticket), sessionSecret: secret,
    hostPublicKey: hostPk,
  });
  secret.fill(0);

  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      reject(new RemoteError('relay_unreachable', `the relay address ${url} is not usable: ${err.message}`));
      return;
    }
    ws.binaryType = 'arraybuffer';
    let phase = 'connecting';
    let buf = new Uint8Array(0);
    let channel = null;
    const timer = setTimeout(() => fail('timeout', `no session after ${Math.round(timeoutMs / 1000)} s`),
      timeoutMs);

    function fail(code, message) {
      if (phase === 'done' || phase === 'failed') return;
      phase = 'failed';
      clearTimeout(timer);
      try {
        ws.close();
      } catch {
        // not open yet
      }
      reject(new RemoteError(code, message || describeCode(code)));
    }

    ws.onopen = () => {
      phase = 'status';
      onStatus('Connected to the relay; waiting for the screen to join…');
      ws.send(e2e.concat(new Uint8Array([ticket.length >> 8, ticket.length & 0xff]), ticket));
    };
    ws.onerror = () => {
      if (phase === 'connecting') fail('relay_unreachable', `the relay at ${url} could not be reached`);
    };
    ws.onclose = () => {
      if (channel) channel._socketGone();
      else if (phase === 'connecting') fail('relay_unreachable', `the relay at ${url} could not be reached`);
      else fail(phase === 'status' ? 'relay_closed' : 'stream_truncated',
        phase === 'status' ? 'the relay closed the connection without an answer' : undefined);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        fail('relay_protocol', 'the relay sent text');
        return;
      }
      const bytes = new Uint8Array(ev.data);
      if (channel) {
        channel._received(bytes);
        return;
      }
      buf = e2e.concat(buf, bytes);
      if (phase === 'status') {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > STATUS_MAX) fail('relay_protocol', 'the relay sent no status line');
          return;
        }
        const line = new TextDecoder().decode(buf.subarray(0, nl));
        buf = buf.slice(nl + 1);
        if (line !== 'paired') {
          const m = /^error ([a-z_]{1,64})$/.exec(line);
          fail(m ? m[1] : 'relay_protocol', m ? undefined : 'the relay sent an unknown status line');
          return;
        }
        phase = 'handshake';
        onStatus('The screen joined; checking its key…');
        ws.send(guest.msg1);
      }
      if (phase === 'handshake' && buf.length >= e2e.MSG2_LEN) {
        let out;
        try {
          out = guest.acceptMsg2(buf.slice(0, e2e.MSG2_LEN));
        } catch (err) {
          fail(err.code || 'handshake_invalid', describeCode(err.code || 'handshake_invalid'));
          return;
        }
        ws.send(out.msg3);
        const rest = buf.subarray(e2e.MSG2_LEN);
        buf = null;
        phase = 'done';
        clearTimeout(timer);
        channel = new RelayChannel(ws, out.streams);
        resolve(channel);
        if (rest.length) channel._received(rest);
      }
    };
  });
}
