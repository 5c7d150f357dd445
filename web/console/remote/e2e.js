// The end-to-end layer of remote control, guest side, in the browser: the
// handshake and the frames of docs/PROTOCOL.md ("Remote control: the
// end-to-end tunnel"), the same as src/common/e2e.c, on libsodium.js
// (libsodium-wrappers from npm, vendored by scripts/vendor-js). A state
// machine without networking: relay-channel.js carries its bytes.
// tests/vectors/check_e2e.mjs checks it against tests/vectors/e2e.json.
//
// Any failure throws an E2EError with the protocol's code and leaves the
// object failed for good: there is no unencrypted mode and no fallback.

import sodium from '../vendor/libsodium/libsodium-wrappers.js';

export const CODES = Object.freeze({
  HOST_KEY_MISMATCH: 'host_key_mismatch',
  HANDSHAKE_INVALID: 'handshake_invalid',
  FRAME_TAMPERED: 'frame_tampered',
  STREAM_TRUNCATED: 'stream_truncated',
});

export const MSG1_LEN = 38;
export const MSG2_LEN = 134;
export const MSG3_LEN = 38;
export const SESSION_SECRET_LEN = 32;
export const MAX_PLAINTEXT = 16384;
const ABYTES = 17; // secretstream: tag byte + MAC
const MIN_CIPHER = ABYTES;
const MAX_CIPHER = MAX_PLAINTEXT + ABYTES;
export const REKEY_BYTES = 1 << 20;
export const REKEY_FRAMES = 1024;
const TAG_MESSAGE = 0;
const TAG_REKEY = 2;
const TAG_FINAL = 3;

const enc = new TextEncoder();
const HEADER = [0x56, 0x45, 0x32, 0x45, 0x01]; // "VE2E", version 1
const TRANSCRIPT_LABEL = enc.encode('VTE2E-v1 transcript');
const SIGNATURE_LABEL = enc.encode('VTE2E-v1 host signature');
const KDF_CONTEXT = 'VTE2E-v1';

export class E2EError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'E2EError';
    this.code = code;
  }
}

/** Resolves once libsodium.js has loaded (its WebAssembly). */
export function ready() {
  return sodium.ready;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function b2b(message, key = null) {
  return sodium.crypto_generichash(32, message, key);
}

/** ticket_hash = BLAKE2b-256 of the ticket text exactly as the server issued it. */
export function ticketHash(ticketText) {
  return b2b(enc.encode(ticketText));
}

/** Standard base64 (the API's) to bytes; null when it is not. */
export function fromBase64(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  } catch {
    return null;
  }
}

function header(type) {
  return new Uint8Array([...HEADER, type]);
}

function hasHeader(msg, type) {
  for (let i = 0; i < HEADER.length; i++) if (msg[i] !== HEADER[i]) return false;
  return msg[5] === type;
}

function u16(n) {
  return new Uint8Array([n >> 8, n & 0xff]);
}

/** TH, the transcript hash: session id, ticket hash, msg1, msg2 up to host_pk. */
export function transcriptHash(sessionIdBytes, ticketHashBytes, msg1, msg2Signed) {
  return b2b(concat(TRANSCRIPT_LABEL, u16(sessionIdBytes.length), sessionIdBytes, ticketHashBytes, msg1,
    msg2Signed));
}

export function signatureInput(th) {
  return concat(SIGNATURE_LABEL, th);
}

/** The key schedule from TH, the host's signature, the X25519 result and the
 * server's session secret; wipes dh and master. */
export function keySchedule(th, sig, dh, sessionSecret) {
  const h = b2b(concat(th, sig));
  const master = b2b(concat(h, sessionSecret), dh);
  const keys = {
    kG2h: sodium.crypto_kdf_derive_from_key(32, 1, KDF_CONTEXT, master),
    kH2g: sodium.crypto_kdf_derive_from_key(32, 2, KDF_CONTEXT, master),
    hdrG2h: sodium.crypto_kdf_derive_from_key(24, 3, KDF_CONTEXT, master),
    hdrH2g: sodium.crypto_kdf_derive_from_key(24, 4, KDF_CONTEXT, master),
  };
  const kConfirm = sodium.crypto_kdf_derive_from_key(32, 5, KDF_CONTEXT, master);
  keys.confirm = b2b(h, kConfirm);
  sodium.memzero(kConfirm);
  sodium.memzero(master);
  sodium.memzero(dh);
  return keys;
}

/**
 * The two secretstreams of an established session, for one side ('guest' or
 * 'host'): seal() makes the frames this side sends, open() takes the bytes
 * received, in pieces of any size, and returns the payloads of the frames
 * they complete.
 */
export class FrameStreams {
  constructor(role, keys) {
    const guest = role === 'guest';
    this.tx = sodium.crypto_secretstream_xchacha20poly1305_init_pull(guest ? keys.hdrG2h : keys.hdrH2g,
      guest ? keys.kG2h : keys.kH2g);
    this.rx = sodium.crypto_secretstream_xchacha20poly1305_init_pull(guest ? keys.hdrH2g : keys.hdrG2h,
      guest ? keys.kH2g : keys.kG2h);
    for (const k of Object.values(keys)) sodium.memzero(k);
    this.txBytes = 0;
    this.txFrames = 0;
    this.txFinal = false;
    this.rxFinal = false;
    this.pending = new Uint8Array(0);
    this.failed = null;
    this.rekeysSent = 0;
    this.rekeysReceived = 0;
  }

  fail(code, message) {
    this.failed = this.failed || code;
    this.tx = this.rx = null;
    this.pending = new Uint8Array(0);
    throw new E2EError(this.failed, message);
  }

  /** One frame of at most MAX_PLAINTEXT bytes; the tag follows the rekey rule. */
  seal(payload, final = false) {
    if (this.failed) throw new E2EError(this.failed);
    if (this.txFinal) throw new Error('e2e: nothing may be sent after the final frame');
    if (payload.length > MAX_PLAINTEXT) throw new Error('e2e: a frame carries at most 16384 bytes');
    let tag = TAG_MESSAGE;
    if (final) tag = TAG_FINAL;
    else if (this.txBytes + payload.length >= REKEY_BYTES || this.txFrames + 1 >= REKEY_FRAMES) tag = TAG_REKEY;
    const len = u16(payload.length + ABYTES);
    const c = sodium.crypto_secretstream_xchacha20poly1305_push(this.tx, payload, len, tag);
    if (tag === TAG_REKEY) {
      this.txBytes = 0;
      this.txFrames = 0;
      this.rekeysSent++;
    } else {
      this.txBytes += payload.length;
      this.txFrames++;
    }
    if (final) {
      this.txFinal = true;
      this.tx = null;
    }
    return concat(len, c);
  }

  /** The frames for any number of bytes (cut in MAX_PLAINTEXT pieces). */
  sealAll(bytes) {
    const frames = [];
    for (let at = 0; at < bytes.length; at += MAX_PLAINTEXT) {
      frames.push(this.seal(bytes.subarray(at, Math.min(at + MAX_PLAINTEXT, bytes.length))));
    }
    return frames;
  }

  /** Payloads of the frames completed by these bytes (empty payloads included). */
  open(bytes) {
    if (this.failed) throw new E2EError(this.failed);
    const out = [];
    if (bytes.length === 0) return out;
    if (this.rxFinal) this.fail(CODES.FRAME_TAMPERED, 'bytes after the final frame');
    let buf = this.pending.length ? concat(this.pending, bytes) : bytes;
    while (buf.length >= 2) {
      if (this.rxFinal) this.fail(CODES.FRAME_TAMPERED, 'bytes after the final frame');
      const clen = (buf[0] << 8) | buf[1];
      if (clen < MIN_CIPHER || clen > MAX_CIPHER) this.fail(CODES.FRAME_TAMPERED, 'a frame length out of range');
      if (buf.length < 2 + clen) break;
      let r = false;
      try {
        r = sodium.crypto_secretstream_xchacha20poly1305_pull(this.rx, buf.subarray(2, 2 + clen),
          buf.subarray(0, 2));
      } catch {
        r = false;
      }
      if (!r || (r.tag !== TAG_MESSAGE && r.tag !== TAG_REKEY && r.tag !== TAG_FINAL)) {
        this.fail(CODES.FRAME_TAMPERED, 'a frame did not authenticate');
      }
      if (r.tag === TAG_REKEY) this.rekeysReceived++;
      if (r.tag === TAG_FINAL) {
        this.rxFinal = true;
        this.rx = null;
      }
      out.push(r.message);
      buf = buf.subarray(2 + clen);
    }
    if (this.rxFinal && buf.length) this.fail(CODES.FRAME_TAMPERED, 'bytes after the final frame');
    this.pending = buf.slice();
    return out;
  }

  /** The pipe ended: fine only after the peer's final frame, else stream_truncated. */
  endOfInput() {
    if (this.failed) throw new E2EError(this.failed);
    if (!this.rxFinal || this.pending.length) this.fail(CODES.STREAM_TRUNCATED, 'the pipe ended before the final frame');
  }

  wipe() {
    this.tx = this.rx = null;
    this.pending = new Uint8Array(0);
  }
}

/**
 * The guest's side of the handshake. options: sessionId (string),
 * ticketHash (32 bytes), sessionSecret (32 bytes), hostPublicKey (32 bytes:
 * the key the server handed out); ephemeralSecret only for the test vectors.
 */
export class Guest {
  constructor({ sessionId, ticketHash: th, sessionSecret, hostPublicKey, ephemeralSecret }) {
    this.sid = enc.encode(sessionId || '');
    if (this.sid.length < 1 || this.sid.length > 128) throw new Error('e2e: the session id has 1 to 128 bytes');
    if (!(th instanceof Uint8Array) || th.length !== 32) throw new Error('e2e: the ticket hash has 32 bytes');
    if (!(sessionSecret instanceof Uint8Array) || sessionSecret.length !== SESSION_SECRET_LEN) {
      throw new Error('e2e: the session secret has 32 bytes');
    }
    if (!(hostPublicKey instanceof Uint8Array) || hostPublicKey.length !== 32) {
      throw new Error('e2e: the host public key has 32 bytes');
    }
    this.ticketHash = th.slice();
    this.secret = sessionSecret.slice();
    this.hostPk = hostPublicKey.slice();
    this.eSk = ephemeralSecret ? ephemeralSecret.slice() : sodium.randombytes_buf(32);
    this.msg1 = concat(header(0x01), sodium.crypto_scalarmult_base(this.eSk));
    this.failed = null;
  }

  fail(code, message) {
    this.failed = code;
    for (const b of [this.eSk, this.secret]) if (b) sodium.memzero(b);
    this.eSk = this.secret = null;
    throw new E2EError(code, message);
  }

  /** Checks msg2 (134 bytes); returns { msg3, streams } (FrameStreams of the guest). */
  acceptMsg2(msg2) {
    if (this.failed || !this.eSk) throw new E2EError(this.failed || CODES.HANDSHAKE_INVALID);
    if (!(msg2 instanceof Uint8Array) || msg2.length !== MSG2_LEN || !hasHeader(msg2, 0x02)) {
      this.fail(CODES.HANDSHAKE_INVALID, 'msg2 is not a VE2E v1 message 2');
    }
    const eH = msg2.subarray(6, 38), pk = msg2.subarray(38, 70), sig = msg2.subarray(70, 134);
    if (!sodium.memcmp(pk, this.hostPk)) {
      this.fail(CODES.HOST_KEY_MISMATCH, 'the host proved another key than the one the server handed out');
    }
    const th = transcriptHash(this.sid, this.ticketHash, this.msg1, msg2.subarray(0, 70));
    let ok = false;
    try {
      ok = sodium.crypto_sign_verify_detached(sig, signatureInput(th), this.hostPk);
    } catch {
      ok = false;
    }
    if (!ok) this.fail(CODES.HANDSHAKE_INVALID, 'the host signature does not verify');
    let dh;
    try {
      dh = sodium.crypto_scalarmult(this.eSk, eH);
    } catch {
      dh = new Uint8Array(32); // libsodium.js throws on a low-order point
    }
    if (dh.every((b) => b === 0)) this.fail(CODES.HANDSHAKE_INVALID, 'a low-order ephemeral key');
    sodium.memzero(this.eSk);
    this.eSk = null;
    const keys = keySchedule(th, sig.slice(), dh, this.secret);
    sodium.memzero(this.secret);
    this.secret = null;
    const msg3 = concat(header(0x03), keys.confirm);
    delete keys.confirm;
    return { msg3, streams: new FrameStreams('guest', keys) };
  }
}
