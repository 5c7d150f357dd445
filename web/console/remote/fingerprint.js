// The host key fingerprint people compare between the console, the CLI and
// the player's diagnostics: the first 16 bytes of SHA-256 of the raw 32-byte
// Ed25519 key, lowercase hex in groups of 4 ("3f2a 9c01 ..."). Without
// libsodium.js, so that the screen page need not load it.

import { sha256 } from '../pow.js';

/** Standard base64 to bytes; null when it is not base64. */
export function base64Bytes(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The fingerprint of a 32-byte key (bytes or standard base64); null when it is not one. */
export function fingerprint(key) {
  const bytes = typeof key === 'string' ? base64Bytes(key) : key;
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) return null;
  const hex = Array.from(sha256(bytes).subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return hex.match(/.{4}/g).join(' ');
}
