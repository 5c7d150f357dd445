#!/usr/bin/python3
"""Sets up what `make demo` shows, through the public API as a user would.

Run by scripts/demo once the server and the demo player are up:
  demo_setup.py URL PASSWORD PLAYER_STDOUT
1. Pairs the demo player (reads its pairing code from its stdout) as "Demo
   screen", unless a screen of that name exists already.
2. Creates the sample channel "Demo channel" unless it exists: three
   generated images in a main zone, a text zone and a ticker; and assigns
   it to the demo screen, so its kiosk page plays it and the console shows
   it. The images are drawn here (PNG written with zlib, no image library).
Prints one line per step; exits non-zero with a sentence on failure.
"""
import hashlib
import struct
import sys
import time
import zlib

import requests

CHANNEL_NAME = "Demo channel"
SCREEN_NAME = "Demo screen"


def png(width, height, pixel):
    """A truecolour PNG of width x height; pixel(x, y) -> (r, g, b)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))


def sample_images(width=480, height=270):
    """Three slides: diagonal gradients in three palettes, with soft stripes."""
    palettes = [((20, 60, 140), (90, 200, 220)), ((120, 30, 90), (250, 170, 60)), ((20, 100, 60), (200, 230, 110))]
    images = []
    for n, (a, b) in enumerate(palettes):
        def pixel(x, y, a=a, b=b, n=n):
            t = (x / width + y / height) / 2
            stripe = 1.0 if ((x + y * (n + 1)) // 24) % 2 else 0.9
            return bytes(min(255, int((a[i] + (b[i] - a[i]) * t) * stripe)) for i in range(3))
        images.append((f"demo-slide-{n + 1}.png", png(width, height, pixel)))
    return images


class Demo:
    def __init__(self, url, password):
        self.url = url
        self.s = requests.Session()
        self.s.trust_env = False
        login = self.s.post(url + "/api/v1/session", json={"login": "admin", "password": password}, timeout=30)
        if login.status_code != 201 and login.status_code != 200:
            sys.exit(f"demo: the admin login was refused ({login.status_code}: {login.text.strip()})")
        self.csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

    def call(self, method, path, **kw):
        headers = dict(self.csrf, **kw.pop("headers", {}))
        r = self.s.request(method, self.url + path, headers=headers, timeout=60, **kw)
        if r.status_code >= 400:
            sys.exit(f"demo: {method} {path} failed ({r.status_code}: {r.text.strip()})")
        return r.json() if r.content else {}

    def screen(self):
        return next((x for x in self.call("GET", "/api/v1/screens")["screens"] if x["name"] == SCREEN_NAME), None)

    def pair(self, player_stdout):
        if self.screen():
            return
        code = None
        for _ in range(300):
            with open(player_stdout) as f:
                lines = [line for line in f.read().splitlines() if line.startswith("PAIRING CODE: ")]
            if lines:
                code = lines[-1].split(": ", 1)[1]
                break
            time.sleep(0.1)
        if not code:
            sys.exit("demo: the player printed no pairing code; pair the screen in the console")
        self.call("POST", "/api/v1/pairings", json={"user_code": code, "name": SCREEN_NAME})
        for _ in range(300):
            screen = self.screen()
            if screen and screen["online"]:
                print(f'  demo player paired as "{SCREEN_NAME}" and online')
                return
            time.sleep(0.1)
        print(f'  demo player paired as "{SCREEN_NAME}" (not online yet)')

    def sample_channel(self):
        channels = self.call("GET", "/api/v1/channels")["channels"]
        channel = next((c for c in channels if c["name"] == CHANNEL_NAME), None)
        if channel is None:
            slides = []
            for filename, data in sample_images():
                sha = hashlib.sha256(data).hexdigest()
                self.call("PUT", f"/api/v1/media/{sha}", data=data,
                          headers={"X-Filename": filename, "Content-Type": "image/png"})
                slides.append({"media": sha, "duration": 8, "transition": "fade"})
            body = {"name": CHANNEL_NAME, "width": 1920, "height": 1080, "zones": [
                {"name": "main", "x": 0, "y": 0, "w": 1440, "h": 960, "items": slides},
                {"name": "welcome", "x": 1440, "y": 0, "w": 480, "h": 960, "items": [
                    {"text": "Welcome to Vitrine", "duration": 15, "transition": "none"},
                    {"text": "Paired by a code, playing offline", "duration": 15}]},
                {"name": "ticker", "x": 0, "y": 960, "w": 1920, "h": 120, "items": [
                    {"text": "This is the demo channel: edit it in the console under Channels · "
                             "publish your own with `vitrine publish DIR` · screens keep playing "
                             "what they cached when the network is gone", "duration": 60,
                     "transition": "none"}]}]}
            channel = self.call("POST", "/api/v1/channels", json=body)["channel"]
            print(f'  sample channel "{CHANNEL_NAME}" created (3 images, a text zone, a ticker)')
        screen = self.screen()
        if screen and screen.get("channel_id") != channel["id"]:
            self.call("PUT", f"/api/v1/screens/{screen['id']}/channel", json={"channel_id": channel["id"]})
            print(f'  "{CHANNEL_NAME}" assigned to "{SCREEN_NAME}"')


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: demo_setup.py URL PASSWORD PLAYER_STDOUT")
    url, password, player_stdout = sys.argv[1:]
    demo = Demo(url, password)
    demo.pair(player_stdout)
    demo.sample_channel()


if __name__ == "__main__":
    main()
