#!/usr/bin/python3
"""Recomputes tests/vectors/e2e.json from docs/PROTOCOL.md ("Remote control:
the end-to-end tunnel") without libsodium or the C code: Python's hashlib
(BLAKE2b) and the cryptography package (X25519, Ed25519, ChaCha20,
Poly1305), with HChaCha20 and the secretstream push written out here. It is
the second, independent implementation the vectors are checked against (the
C one is tests/unit/test_e2e.c: test_vectors).

    /usr/bin/python3 tests/vectors/check_e2e.py [--write] [tests/vectors/e2e.json]

Exits 0 when every message and frame matches, 1 with the first difference.
--write recomputes msg1..msg3 and every frame from the inputs (keys,
ephemerals, session id, ticket, session secret, plaintexts) and saves them:
how the vectors were made after a change to the protocol; the C unit test
and the browser's check must then agree with them independently.
"""
import hashlib
import json
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.poly1305 import Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

RAW = (Encoding.Raw, PublicFormat.Raw)


def b2b(data, key=b"", size=32, salt=b"", person=b""):
    return hashlib.blake2b(data, digest_size=size, key=key, salt=salt, person=person).digest()


def kdf(size, subkey_id, ctx, master):
    """libsodium crypto_kdf_derive_from_key (BLAKE2b with salt and personal)."""
    return b2b(b"", key=master, size=size, salt=struct.pack("<Q", subkey_id) + bytes(8), person=ctx + bytes(8))


def rotl(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def hchacha20(key, inp):
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", inp))

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF
        s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF
        s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF
        s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF
        s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def chacha20_ietf(key, nonce12, counter, data):
    enc = Cipher(algorithms.ChaCha20(key, struct.pack("<I", counter) + nonce12), mode=None).encryptor()
    return enc.update(data)


class SecretStream:
    """crypto_secretstream_xchacha20poly1305, push side, as libsodium does it."""

    def __init__(self, key, header):
        self.k = hchacha20(key, header[:16])
        self.counter = 1
        self.inonce = header[16:24]

    def push(self, msg, ad, tag):
        nonce = struct.pack("<I", self.counter) + self.inonce
        poly = Poly1305(chacha20_ietf(self.k, nonce, 0, bytes(64))[:32])
        poly.update(ad + bytes((16 - len(ad)) % 16))
        block = chacha20_ietf(self.k, nonce, 1, bytes([tag]) + bytes(63))
        poly.update(block)
        c = chacha20_ietf(self.k, nonce, 2, msg)
        poly.update(c + bytes((16 - 64 + len(msg)) % 16))
        poly.update(struct.pack("<QQ", len(ad), 64 + len(msg)))
        mac = poly.finalize()
        self.inonce = bytes(a ^ b for a, b in zip(self.inonce, mac[:8]))
        self.counter = (self.counter + 1) & 0xFFFFFFFF
        if tag & 2 or self.counter == 0:
            self.rekey()
        return bytes([block[0]]) + c + mac

    def rekey(self):
        nonce = struct.pack("<I", self.counter) + self.inonce
        fresh = chacha20_ietf(self.k, nonce, 0, self.k + self.inonce)
        self.k, self.inonce, self.counter = fresh[:32], fresh[32:40], 1


WRITE = False


def check(name, got, want):
    if WRITE:
        return
    if got != want:
        print(f"{name} differs:\n  computed {got.hex()}\n  vectors  {want.hex()}")
        sys.exit(1)


def main():
    global WRITE
    args = sys.argv[1:]
    if args and args[0] == "--write":
        WRITE, args = True, args[1:]
    path = Path(args[0] if args else Path(__file__).with_name("e2e.json"))
    v = json.loads(path.read_text())
    h = lambda k: bytes.fromhex(v[k])
    sid, ticket = v["session_id"].encode(), v["ticket"].encode()
    check("ticket_hash", b2b(ticket), h("ticket_hash"))
    host = Ed25519PrivateKey.from_private_bytes(h("host_seed"))
    host_pk = host.public_key().public_bytes(*RAW)
    check("host_public_key", host_pk, h("host_public_key"))
    ge = X25519PrivateKey.from_private_bytes(h("guest_ephemeral_sk"))
    he = X25519PrivateKey.from_private_bytes(h("host_ephemeral_sk"))

    msg1 = b"VE2E\x01\x01" + ge.public_key().public_bytes(*RAW)
    check("msg1", msg1, h("msg1"))
    v["msg1"] = msg1.hex()
    msg2_signed = b"VE2E\x01\x02" + he.public_key().public_bytes(*RAW) + host_pk
    th = b2b(b"VTE2E-v1 transcript" + struct.pack(">H", len(sid)) + sid + b2b(ticket) + msg1 + msg2_signed)
    sig = host.sign(b"VTE2E-v1 host signature" + th)
    check("msg2", msg2_signed + sig, h("msg2"))
    v["msg2"] = (msg2_signed + sig).hex()
    dh = ge.exchange(X25519PublicKey.from_public_bytes(he.public_key().public_bytes(*RAW)))
    check("dh", dh, he.exchange(X25519PublicKey.from_public_bytes(ge.public_key().public_bytes(*RAW))))
    hh = b2b(th + sig)
    master = b2b(hh + h("session_secret"), key=dh)
    ctx = b"VTE2E-v1"
    k_g2h, k_h2g = kdf(32, 1, ctx, master), kdf(32, 2, ctx, master)
    hdr_g2h, hdr_h2g = kdf(24, 3, ctx, master), kdf(24, 4, ctx, master)
    confirm = b2b(hh, key=kdf(32, 5, ctx, master))
    check("msg3", b"VE2E\x01\x03" + confirm, h("msg3"))
    v["msg3"] = (b"VE2E\x01\x03" + confirm).hex()

    def seal(stream, payload, tag):
        length = struct.pack(">H", 1 + len(payload) + 16)
        return length + stream.push(payload, length, tag)

    streams = {"guest": SecretStream(k_g2h, hdr_g2h), "host": SecretStream(k_h2g, hdr_h2g)}
    for i, f in enumerate(v["frames"]):
        frame = seal(streams[f["from"]], f["plaintext"].encode(), 3 if f["final"] else 0)
        check(f"frames[{i}]", frame, bytes.fromhex(f["frame"]))
        f["frame"] = frame.hex()

    r = v["rekey"]
    stream = SecretStream(k_g2h if r["from"] == "guest" else k_h2g, hdr_g2h if r["from"] == "guest" else hdr_h2g)
    for _ in range(r["empty_frames_before"]):
        seal(stream, b"", 0)
    for i, f in enumerate(r["frames"]):
        frame = seal(stream, f["plaintext"].encode(), f["tag"])
        check(f"rekey.frames[{i}]", frame, bytes.fromhex(f["frame"]))
        f["frame"] = frame.hex()
    if WRITE:
        path.write_text(json.dumps(v, indent=2) + "\n")
        print(f"{path}: written")
        return
    print(f"{path}: msg1, msg2, msg3, {len(v['frames'])} frames and the rekey match")


if __name__ == "__main__":
    main()
