#!/usr/bin/env python3
"""Writes validly signed challenge seeds into fuzz/corpus/challenge/.

fuzz_challenge runs with a server secret of 32 zero bytes, so a seed made
here carries a correct MAC and lets the fuzzer reach the checks after it
(expiry, difficulty, proof of work). Format of a seed, as fuzz_challenge.c
reads it: LOGIN \\n CHALLENGE \\n SOLUTION \\n MIN_DIFFICULTY.
"""
import hashlib
import hmac
import os

SECRET = bytes(32)
NOW = 1700000000
TTL = 300
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "challenge")


def make(login, difficulty, expires, cid):
    body = "v1.%d.%d.%s" % (expires, difficulty, cid)
    mac = hmac.new(SECRET, (body + "|" + login.lower()).encode(), hashlib.sha256).hexdigest()
    return body + "." + mac


def zero_bits(challenge, solution):
    h = hashlib.sha256((challenge + ":" + solution).encode()).digest()
    bits = 0
    for b in h:
        if b == 0:
            bits += 8
            continue
        bits += 8 - b.bit_length()
        break
    return bits


def solve(challenge, difficulty):
    i = 0
    while zero_bits(challenge, str(i)) < difficulty:
        i += 1
    return str(i)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "ok_d8": ("alice", 8, NOW + TTL, "abcdefghijklmn23", None, 8),
        "ok_case": ("Alice.Admin", 4, NOW + TTL, "qrstuvwxyz234567", None, 4),
        "expired": ("bob", 4, NOW - 1, "aaaaaaaaaaaaaaaa", None, 4),
        "too_easy": ("carol", 2, NOW + TTL, "bbbbbbbbbbbbbbbb", None, 6),
        "wrong": ("dave", 12, NOW + TTL, "cccccccccccccccc", "x", 12),
    }
    for name, (login, d, exp, cid, sol, mind) in seeds.items():
        ch = make(login, d, exp, cid)
        sol = sol or solve(ch, d)
        with open(os.path.join(OUT, name), "w") as fh:
            fh.write("%s\n%s\n%s\n%d" % (login, ch, sol, mind))
    with open(os.path.join(OUT, "forged"), "w") as fh:
        fh.write("alice\nv1.%d.8.abcdefghijklmn23.%s\n123\n8" % (NOW + TTL, "0" * 64))
    with open(os.path.join(OUT, "malformed"), "w") as fh:
        fh.write("alice\nv1..8..\n1\n0")


if __name__ == "__main__":
    main()
