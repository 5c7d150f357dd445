#!/usr/bin/env node
// Recomputes tests/vectors/e2e.json with the browser's implementation of the
// end-to-end tunnel: web/console/remote/e2e.js (the guest, as the console
// runs it) on the vendored libsodium.js (web/console/vendor/, made by
// scripts/vendor-js). The host's side is done here with the same library,
// as tests/vectors/check_e2e.py does it in Python; then the refusals the
// guest must make (wrong host key, altered msg2, altered, replayed,
// truncated frames, bytes after the final frame), each with its code, and
// the host key fingerprint the console shows.
//
//     node tests/vectors/check_e2e.mjs [tests/vectors/e2e.json]
//
// Exits 0 when everything matches, 1 with the first difference.

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createHash } from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
if (!existsSync(path.join(root, 'web/console/vendor/libsodium/libsodium-wrappers.js'))) {
  console.error('check_e2e.mjs: web/console/vendor/ is missing: run scripts/vendor-js first');
  process.exit(2);
}
const { default: sodium } = await import('../../web/console/vendor/libsodium/libsodium-wrappers.js');
const e2e = await import('../../web/console/remote/e2e.js');
const { fingerprint } = await import('../../web/console/remote/fingerprint.js');
await e2e.ready();

const file = process.argv[2] || path.join(here, 'e2e.json');
const v = JSON.parse(readFileSync(file, 'utf8'));
const hex = (k) => sodium.from_hex(v[k]);
const enc = new TextEncoder();

function check(name, got, want) {
  if (sodium.to_hex(got) !== sodium.to_hex(want)) {
    console.log(`${name} differs:\n  computed ${sodium.to_hex(got)}\n  vectors  ${sodium.to_hex(want)}`);
    process.exit(1);
  }
}

function expectCode(name, code, fn) {
  try {
    fn();
  } catch (err) {
    if (err instanceof e2e.E2EError && err.code === code) return;
    console.log(`${name}: expected ${code}, got ${err && (err.code || err.message)}`);
    process.exit(1);
  }
  console.log(`${name}: expected ${code}, nothing was refused`);
  process.exit(1);
}

if (!v.session_secret) {
  console.log(`${file} has no session_secret: vectors older than the key schedule e2e.js implements`);
  process.exit(1);
}
const sessionSecret = hex('session_secret');
check('ticket_hash', e2e.ticketHash(v.ticket), hex('ticket_hash'));
const host = sodium.crypto_sign_seed_keypair(hex('host_seed'));
check('host_public_key', host.publicKey, hex('host_public_key'));

function guest(hostPublicKey = host.publicKey) {
  return new e2e.Guest({
    sessionId: v.session_id, ticketHash: e2e.ticketHash(v.ticket), sessionSecret, hostPublicKey,
    ephemeralSecret: hex('guest_ephemeral_sk'),
  });
}

// the host's side, from the protocol
function hostMsg2(msg1) {
  const eHsk = hex('host_ephemeral_sk');
  const signed = e2e.concat(new Uint8Array([0x56, 0x45, 0x32, 0x45, 0x01, 0x02]),
    sodium.crypto_scalarmult_base(eHsk), host.publicKey);
  const th = e2e.transcriptHash(enc.encode(v.session_id), e2e.ticketHash(v.ticket), msg1, signed);
  const sig = sodium.crypto_sign_detached(e2e.signatureInput(th), host.privateKey);
  const dh = sodium.crypto_scalarmult(eHsk, msg1.subarray(6, 38));
  return { msg2: e2e.concat(signed, sig), keys: e2e.keySchedule(th, sig, dh, sessionSecret.slice()) };
}

const g = guest();
check('msg1', g.msg1, hex('msg1'));
const h = hostMsg2(g.msg1);
check('msg2', h.msg2, hex('msg2'));
const expectedConfirm = h.keys.confirm;
delete h.keys.confirm;
const { msg3, streams } = g.acceptMsg2(hex('msg2'));
check('msg3', msg3, hex('msg3'));
check('msg3 (host side)', msg3.subarray(6), expectedConfirm);
const hostStreams = new e2e.FrameStreams('host', h.keys);

v.frames.forEach((f, i) => {
  const want = sodium.from_hex(f.frame);
  const plain = enc.encode(f.plaintext);
  if (f.from === 'guest') {
    check(`frames[${i}]`, streams.seal(plain, f.final), want);
    const got = hostStreams.open(want);
    check(`frames[${i}] opened by the host`, got.length === 1 ? got[0] : new Uint8Array(1), plain);
  } else {
    check(`frames[${i}] (host)`, hostStreams.seal(plain, f.final), want);
    // the guest gets it one byte at a time: a frame may arrive in pieces
    const got = [];
    for (const b of want) got.push(...streams.open(new Uint8Array([b])));
    check(`frames[${i}] opened by the guest`, got.length === 1 ? got[0] : new Uint8Array(1), plain);
  }
});
streams.endOfInput(); // the host's final frame came: a clean end

// the rekey: a fresh session, the guest's 1024th frame carries TAG_REKEY by itself
{
  const r = v.rekey;
  if (r.from !== 'guest') {
    console.log('rekey: e2e.js is the guest; vectors of a host rekey are checked by check_e2e.py only');
    process.exit(1);
  }
  const s = guest().acceptMsg2(hex('msg2')).streams;
  const peer = new e2e.FrameStreams('host', hostMsg2(hex('msg1')).keys);
  for (let i = 0; i < r.empty_frames_before; i++) peer.open(s.seal(new Uint8Array(0)));
  r.frames.forEach((f, i) => {
    const frame = s.seal(enc.encode(f.plaintext));
    check(`rekey.frames[${i}]`, frame, sodium.from_hex(f.frame));
    check(`rekey.frames[${i}] opened`, peer.open(frame)[0], enc.encode(f.plaintext));
  });
  if (s.rekeysSent !== 1 || peer.rekeysReceived !== 1) {
    console.log(`rekey: ${s.rekeysSent} sent, ${peer.rekeysReceived} received (want 1 and 1)`);
    process.exit(1);
  }
}

// refusals, each with its own code and nothing delivered
{
  const other = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(7)).publicKey;
  expectCode('another host key', 'host_key_mismatch', () => guest(other).acceptMsg2(hex('msg2')));
  const m2 = hex('msg2');
  for (const at of [5, 10, 100, 133]) {
    const bad = m2.slice();
    bad[at] ^= 1;
    expectCode(`msg2 byte ${at} altered`, 'handshake_invalid', () => guest().acceptMsg2(bad));
  }
  expectCode('a short msg2', 'handshake_invalid', () => guest().acceptMsg2(m2.subarray(0, 133)));
  const otherSession = new e2e.Guest({
    sessionId: 'another-session', ticketHash: e2e.ticketHash(v.ticket), sessionSecret,
    hostPublicKey: host.publicKey, ephemeralSecret: hex('guest_ephemeral_sk'),
  });
  expectCode('a transcript of another session', 'handshake_invalid', () => otherSession.acceptMsg2(m2));

  const hostFrames = v.frames.filter((f) => f.from === 'host').map((f) => sodium.from_hex(f.frame));
  const fresh = () => guest().acceptMsg2(hex('msg2')).streams;
  for (const at of [1, 2, 10, hostFrames[0].length - 1]) {
    const bad = hostFrames[0].slice();
    bad[at] ^= 0x04; // at 1: the length prefix, 4 bytes shorter
    expectCode(`host frame byte ${at} altered`, 'frame_tampered', () => fresh().open(bad));
  }
  for (const len of [[0x00, 0x10], [0x40, 0x12], [0xff, 0xff]]) {
    expectCode(`a frame length of ${(len[0] << 8) | len[1]}`, 'frame_tampered',
      () => fresh().open(new Uint8Array(len)));
  }
  expectCode('a replayed frame', 'frame_tampered', () => {
    const s = fresh();
    s.open(hostFrames[0]);
    s.open(hostFrames[0]);
  });
  expectCode('frames out of order', 'frame_tampered', () => fresh().open(hostFrames[1]));
  const guestFrame = sodium.from_hex(v.frames.find((f) => f.from === 'guest').frame);
  expectCode('a reflected frame', 'frame_tampered', () => fresh().open(guestFrame));
  expectCode('bytes after the final frame', 'frame_tampered', () => {
    const s = fresh();
    s.open(e2e.concat(hostFrames[0], hostFrames[1], new Uint8Array([0])));
  });
  expectCode('the pipe ends inside a frame', 'stream_truncated', () => {
    const s = fresh();
    s.open(hostFrames[0].subarray(0, 5));
    s.endOfInput();
  });
  expectCode('the pipe ends before the final frame', 'stream_truncated', () => {
    const s = fresh();
    s.open(hostFrames[0]);
    s.endOfInput();
  });
  const failed = fresh();
  expectCode('a failed stream stays failed', 'frame_tampered', () => failed.open(guestFrame));
  expectCode('a failed stream stays failed', 'frame_tampered', () => failed.open(hostFrames[0]));
}

// the fingerprint shown in the console, against node's own SHA-256
{
  const want = createHash('sha256').update(host.publicKey).digest('hex').slice(0, 32).match(/.{4}/g).join(' ');
  const got = fingerprint(sodium.to_base64(host.publicKey, sodium.base64_variants.ORIGINAL));
  if (got !== want || fingerprint(host.publicKey) !== want || fingerprint('AAAA') !== null) {
    console.log(`fingerprint differs:\n  computed ${got}\n  wanted   ${want}`);
    process.exit(1);
  }
}
console.log(`${file}: msg1, msg2, msg3, ${v.frames.length} frames, the rekey and the refusals match (e2e.js, libsodium.js)`);
