// Proof-of-work solver for the login challenge (SPEC 1, "login protection").
//
// After repeated failed logins the server answers 429 challenge_required with
// a signed challenge string and a difficulty N; the browser must find a string
// S such that SHA-256(challenge + ":" + S) starts with N zero bits. S is a
// decimal counter. SHA-256 is implemented here on typed arrays because one
// crypto.subtle call per try is far too slow; the prefix's full 64-byte blocks
// are hashed once (midstate) so each try only compresses the last block(s).
//
// The same file is both an ES module (solveChallenge) and a module Web Worker:
// the search runs in a worker so the page stays responsive, and falls back to
// chunked work on the main thread if a worker cannot be started.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const H0 = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W = new Int32Array(64);

// Compresses the 16 big-endian words at words[off..off+15] into state (in place).
function compress(state, words, off) {
  for (let i = 0; i < 16; i++) W[i] = words[off + i];
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15];
    const w2 = W[i - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g; g = f; f = e;
    e = (d + t1) | 0;
    d = c; c = b; b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

function utf8(str) {
  return new TextEncoder().encode(str);
}

// Packs bytes[0..len) (len a multiple of 64) into big-endian words.
function packWords(bytes, len, words) {
  for (let i = 0, j = 0; i < len; i += 4, j++) {
    words[j] = (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
  }
}

// Writes the message length in bits (big-endian, 64-bit) into the last 8 bytes of buf[0..end).
function writeLength(buf, end, byteLength) {
  const bits = byteLength * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  buf[end - 8] = hi >>> 24; buf[end - 7] = (hi >>> 16) & 0xff; buf[end - 6] = (hi >>> 8) & 0xff; buf[end - 5] = hi & 0xff;
  buf[end - 4] = lo >>> 24; buf[end - 3] = (lo >>> 16) & 0xff; buf[end - 2] = (lo >>> 8) & 0xff; buf[end - 1] = lo & 0xff;
}

/** SHA-256 of a string (UTF-8) or Uint8Array; returns 32 bytes. */
export function sha256(input) {
  const data = typeof input === 'string' ? utf8(input) : input;
  const padded = Math.ceil((data.length + 9) / 64) * 64;
  const buf = new Uint8Array(padded);
  buf.set(data);
  buf[data.length] = 0x80;
  writeLength(buf, padded, data.length);
  const words = new Int32Array(padded / 4);
  packWords(buf, padded, words);
  const state = Int32Array.from(H0);
  for (let off = 0; off < words.length; off += 16) compress(state, words, off);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[i * 4] = state[i] >>> 24; out[i * 4 + 1] = (state[i] >>> 16) & 0xff;
    out[i * 4 + 2] = (state[i] >>> 8) & 0xff; out[i * 4 + 3] = state[i] & 0xff;
  }
  return out;
}

/**
 * Incremental SHA-256 for large inputs (files hashed chunk by chunk where
 * crypto.subtle is missing, e.g. on a plain-HTTP origin other than localhost).
 * update(Uint8Array) any number of times, then digest() -> 32 bytes.
 */
export class Sha256 {
  constructor() {
    this.state = Int32Array.from(H0);
    this.tail = new Uint8Array(64); // bytes not yet compressed
    this.tailLen = 0;
    this.length = 0; // bytes seen
    this.words = new Int32Array(16);
  }

  update(bytes) {
    let off = 0;
    this.length += bytes.length;
    if (this.tailLen > 0) {
      const take = Math.min(64 - this.tailLen, bytes.length);
      this.tail.set(bytes.subarray(0, take), this.tailLen);
      this.tailLen += take;
      off = take;
      if (this.tailLen < 64) return this;
      packWords(this.tail, 64, this.words);
      compress(this.state, this.words, 0);
      this.tailLen = 0;
    }
    const full = off + Math.floor((bytes.length - off) / 64) * 64;
    if (full > off) {
      const words = new Int32Array((full - off) / 4);
      packWords(bytes.subarray(off, full), full - off, words);
      for (let w = 0; w < words.length; w += 16) compress(this.state, words, w);
    }
    this.tail.set(bytes.subarray(full), 0);
    this.tailLen = bytes.length - full;
    return this;
  }

  digest() {
    const padded = this.tailLen + 9 <= 64 ? 64 : 128;
    const buf = new Uint8Array(padded);
    buf.set(this.tail.subarray(0, this.tailLen));
    buf[this.tailLen] = 0x80;
    writeLength(buf, padded, this.length);
    const words = new Int32Array(padded / 4);
    packWords(buf, padded, words);
    const state = Int32Array.from(this.state);
    for (let off = 0; off < words.length; off += 16) compress(state, words, off);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[i * 4] = state[i] >>> 24; out[i * 4 + 1] = (state[i] >>> 16) & 0xff;
      out[i * 4 + 2] = (state[i] >>> 8) & 0xff; out[i * 4 + 3] = state[i] & 0xff;
    }
    return out;
  }
}

/** SHA-256 as lowercase hex. */
export function sha256Hex(input) {
  return Array.from(sha256(input), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Number of leading zero bits of a 32-byte digest. */
export function leadingZeroBits(digest) {
  let bits = 0;
  for (let i = 0; i < digest.length; i++) {
    if (digest[i] === 0) { bits += 8; continue; }
    return bits + Math.clz32(digest[i]) - 24;
  }
  return bits;
}

// Returns a function tries(from, count) that searches counters [from, from+count)
// and returns the first decimal counter string that meets the difficulty, or null.
function makeSearcher(challenge, difficulty) {
  const prefix = utf8(challenge + ':');
  const fullLen = prefix.length - (prefix.length % 64);
  const mid = Int32Array.from(H0);
  if (fullLen > 0) {
    const words = new Int32Array(fullLen / 4);
    packWords(prefix, fullLen, words);
    for (let off = 0; off < words.length; off += 16) compress(mid, words, off);
  }
  const rest = prefix.subarray(fullLen);
  const buf = new Uint8Array(128);
  const words = new Int32Array(32);
  const state = new Int32Array(8);
  const fullWords = difficulty >>> 5; // words that must be entirely zero
  const partBits = difficulty & 31;
  const partMask = partBits === 0 ? 0 : (0xffffffff << (32 - partBits)) | 0;

  return function tries(from, count) {
    const end = from + count;
    for (let n = from; n < end; n++) {
      const s = String(n);
      const tailLen = rest.length + s.length;
      const blockLen = tailLen + 9 <= 64 ? 64 : 128;
      buf.fill(0);
      buf.set(rest);
      for (let i = 0; i < s.length; i++) buf[rest.length + i] = s.charCodeAt(i);
      buf[tailLen] = 0x80;
      writeLength(buf, blockLen, prefix.length + s.length);
      packWords(buf, blockLen, words);
      state.set(mid);
      compress(state, words, 0);
      if (blockLen === 128) compress(state, words, 16);
      let ok = true;
      for (let i = 0; i < fullWords; i++) {
        if (state[i] !== 0) { ok = false; break; }
      }
      if (ok && partBits !== 0 && (state[fullWords] & partMask) !== 0) ok = false;
      if (ok) return s;
    }
    return null;
  };
}

const MAX_TRIES = 2 ** 32; // ~1000x the expected work at difficulty 22
const CHUNK = 20000;

/** Solves synchronously (used inside the worker and by tests). */
export function solveChallengeSync(challenge, difficulty) {
  checkArgs(challenge, difficulty);
  const tries = makeSearcher(challenge, difficulty);
  for (let n = 0; n < MAX_TRIES; n += 1 << 20) {
    const s = tries(n, 1 << 20);
    if (s !== null) return s;
  }
  throw new Error('proof of work: no solution found');
}

function checkArgs(challenge, difficulty) {
  if (typeof challenge !== 'string' || challenge.length === 0) throw new Error('proof of work: bad challenge');
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > 64) throw new Error('proof of work: bad difficulty');
}

// Chunked search on the main thread: yields to the event loop between chunks.
async function solveChunked(challenge, difficulty) {
  const tries = makeSearcher(challenge, difficulty);
  for (let n = 0; n < MAX_TRIES; n += CHUNK) {
    const s = tries(n, CHUNK);
    if (s !== null) return s;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  throw new Error('proof of work: no solution found');
}

function solveInWorker(challenge, difficulty) {
  return new Promise((resolve, reject) => {
    let worker;
    try {
      worker = new Worker(new URL('./pow.js', import.meta.url), { type: 'module', name: 'vitrine-pow' });
    } catch (err) {
      reject(err);
      return;
    }
    worker.onmessage = (ev) => {
      worker.terminate();
      if (ev.data && typeof ev.data.solution === 'string') resolve(ev.data.solution);
      else reject(new Error((ev.data && ev.data.error) || 'proof of work failed'));
    };
    worker.onerror = (ev) => {
      worker.terminate();
      ev.preventDefault?.();
      reject(new Error('proof of work worker failed'));
    };
    worker.postMessage({ challenge, difficulty });
  });
}

/**
 * Finds S such that SHA-256(challenge + ":" + S) has at least `difficulty`
 * leading zero bits. Resolves to S (a decimal string of at most 10 digits).
 */
export async function solveChallenge(challenge, difficulty) {
  checkArgs(challenge, difficulty);
  if (typeof Worker === 'function') {
    try {
      return await solveInWorker(challenge, difficulty);
    } catch {
      // fall through: CSP, old browser or worker crash
    }
  }
  return solveChunked(challenge, difficulty);
}

// Worker side: when this module runs as a dedicated worker, answer requests.
const inWorker = typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' &&
  self instanceof WorkerGlobalScope; // eslint-disable-line no-undef
if (inWorker) {
  self.onmessage = (ev) => {
    try {
      const solution = solveChallengeSync(ev.data.challenge, ev.data.difficulty);
      self.postMessage({ solution });
    } catch (err) {
      self.postMessage({ error: String(err && err.message ? err.message : err) });
    }
  };
}
