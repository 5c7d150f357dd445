"""Browser tests of the kiosk page (web/player/): the content renderer.

The page is served by a fake player written here (a Python http.server in a
thread) that speaks the kiosk endpoints of vitrine-player: GET /state, the
/events stream, GET /manifest, GET /objects/<sha256>, POST /played. So the
tests are deterministic and need neither vitrine-player nor vitrine-server;
only headless Chromium (see conftest.py).

Run: /usr/bin/python3 -m pytest -q tests/browser/test_kiosk.py
"""
import base64
import hashlib
import json
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait

WEB_PLAYER = Path(__file__).resolve().parent.parent.parent / "web" / "player"
SCREENSHOT = "/tmp/kiosk-layout.png"

# The CSP vitrine-player sends with the page (src/player/kiosk.c). HTML media
# from /objects/<sha256> may be framed: "http:" matches the page's own origin.
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob: https: http:; media-src 'self' blob: https: http:; "
            "frame-src https: http:; connect-src 'self'")
# What /objects/<sha256> should send instead of the page's CSP: an HTML medium
# stays sandboxed even when opened on its own, and keeps its inline styles and
# scripts (the page's CSP would block them).
OBJECT_CSP = "sandbox allow-scripts"

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (30, 60, 220)
YELLOW, MAGENTA, CYAN = (240, 220, 20), (220, 30, 220), (20, 210, 220)


@pytest.fixture(autouse=True)
def server_stays_up():
    """Overrides conftest's fixture of that name: these tests need no vitrine-server."""
    yield


# ---------------------------------------------------------------- PNG

def png_solid(rgb, width=64, height=36):
    """A PNG of one colour (RGB, 8 bits)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


class Image:
    """A decoded 8-bit RGB or RGBA PNG (what Chromium's screenshots are)."""

    def __init__(self, data):
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        pos, idat = 8, []
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                self.width, self.height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
                assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
                self.bpp = 3 if ctype == 2 else 4
            elif kind == b"IDAT":
                idat.append(body)
            pos += 12 + length
        raw = zlib.decompress(b"".join(idat))
        stride, bpp = self.width * self.bpp, self.bpp
        rows, prev = [], bytearray(stride)
        for y in range(self.height):
            f = raw[y * (stride + 1)]
            line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            if f == 1:
                for i in range(bpp, stride):
                    line[i] = (line[i] + line[i - bpp]) & 0xFF
            elif f == 2:
                line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
            elif f == 3:
                for i in range(stride):
                    left = line[i - bpp] if i >= bpp else 0
                    line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
            elif f == 4:
                for i in range(stride):
                    a = line[i - bpp] if i >= bpp else 0
                    b = prev[i]
                    c = prev[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            rows.append(line)
            prev = line
        self.rows = rows

    def pixel(self, x, y):
        x = min(max(int(x), 0), self.width - 1)
        y = min(max(int(y), 0), self.height - 1)
        i = x * self.bpp
        return tuple(self.rows[y][i:i + 3])


def close(rgb, want, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want))


# ---------------------------------------------------------------- fake player

class FakePlayer:
    """The kiosk endpoints of vitrine-player, with a state the tests change."""

    def __init__(self):
        self.cond = threading.Condition()
        self.state = {"version": 1, "status": "online", "detail": "", "identify_until": 0, "manifest_version": 0}
        self.manifest = None
        self.objects = {}
        self.plays = []
        self.played_posts = []
        self.requests = []
        self.clock_offset_ms = 0
        self.closed = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what the tests use

    def now_ms(self):
        return int(time.time() * 1000) + self.clock_offset_ms

    def add_object(self, data, mime):
        sha = hashlib.sha256(data).hexdigest()
        self.objects[sha] = (mime, data)
        return sha

    def publish(self, manifest):
        """Makes `manifest` the active one (None: no manifest) and tells the page."""
        with self.cond:
            self.state["manifest_version"] += 1
            if manifest is not None:
                manifest = dict(manifest, version=self.state["manifest_version"])
            self.manifest = manifest
            self.state["version"] += 1
            self.cond.notify_all()

    def set_state(self, **changes):
        with self.cond:
            self.state.update(changes)
            self.state["version"] += 1
            self.cond.notify_all()

    def fetched(self, path):
        with self.cond:
            return [r for r in self.requests if r[1] == path]

    # -- the server side

    def state_json(self):
        return json.dumps(dict(self.state, now=self.now_ms()))

    def handle(self, h, method):
        path = h.path.split("?", 1)[0]
        with self.cond:
            self.requests.append((method, path))
        if method == "POST" and path == "/played":
            body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
            try:
                plays = json.loads(body)["plays"]
                assert isinstance(plays, list)
            except (ValueError, KeyError, AssertionError):
                return self.send(h, 400, "application/json", b'{"error":{"code":"invalid_json"}}')
            with self.cond:
                self.played_posts.append((h.headers.get("Content-Type"), len(plays)))
                self.plays.extend(plays)
                self.cond.notify_all()
            return self.send(h, 200, "application/json", json.dumps({"recorded": len(plays)}).encode())
        if method != "GET":
            return self.send(h, 405, "application/json", b'{"error":{"code":"method_not_allowed"}}')
        if path == "/state":
            with self.cond:
                return self.send(h, 200, "application/json", self.state_json().encode())
        if path == "/events":
            return self.stream(h)
        if path == "/manifest":
            with self.cond:
                m = self.manifest
            if m is None:
                return self.send(h, 404, "application/json", b'{"error":{"code":"not_found"}}')
            return self.send(h, 200, "application/json", json.dumps(m).encode())
        if path.startswith("/objects/"):
            obj = self.objects.get(path[len("/objects/"):])
            if not obj:
                return self.send(h, 404, "application/json", b'{"error":{"code":"not_found"}}')
            return self.send(h, 200, obj[0], obj[1], csp=OBJECT_CSP)
        if path == "/qr.svg":
            svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="2" height="2"/></svg>'
            return self.send(h, 200, "image/svg+xml", svg)
        if path == "/blank":
            return self.send(h, 200, "text/html; charset=utf-8", b"<!doctype html><title>blank</title>")
        name = "index.html" if path == "/" else path[1:]
        types = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
        file = WEB_PLAYER / name
        if "/" not in name and file.suffix in types and file.is_file():
            return self.send(h, 200, types[file.suffix], file.read_bytes())
        return self.send(h, 404, "application/json", b'{"error":{"code":"not_found"}}')

    @staticmethod
    def send(h, status, ctype, body, csp=PAGE_CSP):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Cache-Control", "no-store")
        h.send_header("X-Content-Type-Options", "nosniff")
        h.send_header("Content-Security-Policy", csp)
        h.end_headers()
        h.wfile.write(body)

    def stream(self, h):
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-store")
        h.end_headers()
        sent = None
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda: self.closed or self.state["version"] != sent, timeout=5)
                    if self.closed:
                        return
                    payload = None
                    if self.state["version"] != sent:
                        sent = self.state["version"]
                        payload = self.state_json()
                h.wfile.write(f"event: state\ndata: {payload}\n\n".encode() if payload else b": keep-alive\n\n")
                h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


@pytest.fixture
def fake():
    f = FakePlayer()
    yield f
    f.close()


# ---------------------------------------------------------------- helpers

def image_item(item_id, sha, duration=10, transition="fade", **extra):
    return dict({"id": item_id, "type": "image", "media": sha, "mime": "image/png", "duration": duration,
                 "transition": transition}, **extra)


def zone(name, x, y, w, h, items, z=0):
    return {"name": name, "x": x, "y": y, "w": w, "h": h, "z": z, "items": items}


def channel(cid, zones, width=1920, height=1080):
    return {"id": cid, "name": cid.title(), "width": width, "height": height, "version": 1, "zones": zones}


def manifest(channels, default=None, schedule=(), play_now=None, objects=()):
    chans = {c["id"]: c for c in channels}
    return {"channel": chans.get(default), "channels": chans, "default_channel": default,
            "schedule": list(schedule), "play_now": play_now,
            "objects": [{"sha256": s, "size": 0, "mime": "image/png", "url": "/api/v1/device/objects/" + s}
                        for s in objects]}


def wait(driver, timeout=15):
    return WebDriverWait(driver, timeout, poll_frequency=0.05)


def viewport(driver):
    return driver.execute_script("return [window.innerWidth, window.innerHeight, window.devicePixelRatio]")


class Mapper:
    """Canvas coordinates of a channel -> screenshot pixels, after letterboxing."""

    def __init__(self, driver, width, height):
        vw, vh, self.dpr = viewport(driver)
        self.vw, self.vh = vw, vh
        self.s = min(vw / width, vh / height)
        self.ox, self.oy = (vw - width * self.s) / 2, (vh - height * self.s) / 2

    def css(self, cx, cy):
        return self.ox + cx * self.s, self.oy + cy * self.s

    def px(self, cx, cy):
        x, y = self.css(cx, cy)
        return x * self.dpr, y * self.dpr


def quick_shot(driver, scale=0.25):
    """A small screenshot of the viewport through the DevTools protocol
    (fast to take and to decode); pixel (x, y) of it is CSS (x, y) / scale."""
    vw, vh, _ = viewport(driver)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "clip": {"x": 0, "y": 0, "width": vw, "height": vh, "scale": scale}})
    img = Image(base64.b64decode(shot["data"]))
    img.scale = img.width / vw
    return img


def css_pixel(img, x, y):
    return img.pixel(x * img.scale, y * img.scale)


def console_problems(driver):
    """CSP violations and script errors in the page's console."""
    out = []
    for entry in driver.get_log("browser"):
        msg = entry.get("message", "")
        if "Content Security Policy" in msg or "Refused to" in msg:
            out.append(msg)
        elif entry.get("level") == "SEVERE" and "Failed to load resource" not in msg:
            out.append(msg)
    return out


def shown_channel(driver):
    return driver.execute_script("return document.getElementById('stage').dataset.channel || ''")


def wait_colour(driver, css_xy, want, timeout=10):
    """Waits until the pixel at CSS (x, y) has colour `want`; returns it."""
    last = [None]

    def check(_):
        last[0] = css_pixel(quick_shot(driver), *css_xy)
        return close(last[0], want)
    try:
        wait(driver, timeout).until(check)
    except Exception:
        raise AssertionError(f"pixel at {css_xy} is {last[0]}, not {want}") from None
    return last[0]


# ---------------------------------------------------------------- tests

def test_zones_playlists_transitions_and_proof_of_play(fake, driver):
    red = fake.add_object(png_solid(RED, 96, 88), "image/png")
    blue = fake.add_object(png_solid(BLUE, 96, 88), "image/png")
    green = fake.add_object(png_solid(GREEN, 96, 88), "image/png")
    magenta = fake.add_object(png_solid(MAGENTA, 96, 88), "image/png")
    yellow = fake.add_object(png_solid(YELLOW, 20, 20), "image/png")
    main = channel("c-main", [
        # listed first but drawn above "left" because of its z
        zone("badge", 40, 40, 200, 200, [image_item("badge", yellow, 60)], z=5),
        zone("left", 0, 0, 960, 880, [image_item("red", red, 60)], z=1),
        zone("right", 960, 0, 960, 880, [
            image_item("blue", blue, 2, "none"),
            image_item("expired", magenta, 2, "none", valid={"until": "2000-01-01"}),
            image_item("green", green, 2, "fade"),
        ], z=1),
        zone("bottom", 0, 880, 1920, 200, [
            {"id": "welcome", "type": "text", "text": "Welcome to Vitrine", "duration": 60, "transition": "none"},
        ], z=1),
    ])
    fake.publish(manifest([main], default="c-main", objects=[red, blue, green, magenta, yellow]))
    driver.get(fake.url + "/")
    wait(driver).until(lambda d: shown_channel(d) == "c-main")
    m = Mapper(driver, 1920, 1080)
    right = m.css(1440, 440)

    # Blue first, then green after 2 s, then blue again: sample the right zone
    # as fast as screenshots come, and look for a dark frame in between.
    samples, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 6.5:
        samples.append((round(time.monotonic() - t0, 2), css_pixel(quick_shot(driver, 0.1), *right)))
    colours = []
    for t, rgb in samples:
        name = "blue" if close(rgb, BLUE) else "green" if close(rgb, GREEN) else "magenta" \
            if close(rgb, MAGENTA, 60) else "mix"
        assert sum(rgb) > 200, f"dark frame at {t} s in the playlist zone: {rgb} (samples {samples})"
        assert name != "magenta", "an item outside its validity window was shown"
        if not colours or colours[-1] != name:
            colours.append(name)
    pure = [c for c in colours if c != "mix"]
    assert pure[:3] == ["blue", "green", "blue"], (colours, samples)
    assert len(samples) >= 20, f"only {len(samples)} screenshots in 6.5 s"
    assert not fake.fetched("/objects/" + magenta), "the expired item was loaded"

    # The layout, on a full screenshot: letterbox bars, zones, z-order, text.
    png = driver.get_screenshot_as_png()
    Path(SCREENSHOT).write_bytes(png)
    img = Image(png)
    assert close(img.pixel(*m.px(480, 500)), RED), img.pixel(*m.px(480, 500))
    assert close(img.pixel(*m.px(140, 140)), YELLOW), "the zone with the higher z is not on top"
    playlist = img.pixel(*m.px(1440, 440))
    assert close(playlist, BLUE) or close(playlist, GREEN) or sum(playlist) > 200, playlist
    if m.oy >= 4:  # black bars above and below the 16:9 canvas
        assert sum(img.pixel(img.width // 2, m.oy * m.dpr / 2)) < 30
        assert sum(img.pixel(img.width // 2, img.height - m.oy * m.dpr / 2)) < 30
    _, text_y = m.px(0, 980)
    bright = [x for x in range(img.width) if min(img.pixel(x, text_y)) > 200]
    assert bright, "no text in the bottom zone"
    middle = (min(bright) + max(bright)) / 2
    assert abs(middle - m.px(960, 0)[0]) < 60 * m.dpr, f"text not centred: {min(bright)}..{max(bright)}"
    assert (max(bright) - min(bright)) > 0.3 * img.width, "text is not large"

    # Proof of play: batched POSTs of what played, when and how long.
    with fake.cond:
        fake.cond.wait_for(lambda: any(p.get("item") == "green" for p in fake.plays), timeout=15)
        plays = list(fake.plays)
        posts = list(fake.played_posts)
    assert posts and all(ct == "application/json" for ct, _ in posts), posts
    blue_plays = [p for p in plays if p["item"] == "blue"]
    green_plays = [p for p in plays if p["item"] == "green"]
    assert blue_plays and green_plays, plays
    first = blue_plays[0]
    assert first["channel_id"] == "c-main" and first["zone"] == "right" and first["sha256"] == blue, first
    assert abs(first["started_at"] - time.time()) < 60, first
    assert 1500 <= first["duration_ms"] <= 3000, first
    assert all(isinstance(p["started_at"], int) and isinstance(p["duration_ms"], int) for p in plays)
    assert not [p for p in plays if p["item"] == "expired"]
    assert console_problems(driver) == []


def test_schedule_play_now_and_default_pick_the_channel(fake, driver):
    colours = {"c-red": RED, "c-blue": BLUE, "c-green": GREEN, "c-yellow": YELLOW}
    shas = {cid: fake.add_object(png_solid(rgb), "image/png") for cid, rgb in colours.items()}
    chans = [channel(cid, [zone("all", 0, 0, 1920, 1080, [image_item(cid + "-1", shas[cid], 30)])])
             for cid in colours]
    # The player's clock: Wednesday 2 January 2030, 10:00 local time.
    driver.get(fake.url + "/blank")
    at = driver.execute_script("return new Date(2030, 0, 2, 10, 0, 0).getTime()")
    fake.clock_offset_ms = at - int(time.time() * 1000)
    now_s = at // 1000
    every = [1, 2, 3, 4, 5, 6, 7]
    schedule = [
        {"id": "s-thursday", "channel_id": "c-green", "days": [4], "start": "00:00", "end": "24:00",
         "from": "", "until": "", "priority": 50},
        {"id": "s-february", "channel_id": "c-green", "days": every, "start": "00:00", "end": "24:00",
         "from": "2030-02-01", "until": "", "priority": 40},
        {"id": "s-last-year", "channel_id": "c-green", "days": every, "start": "00:00", "end": "24:00",
         "from": "", "until": "2029-12-31", "priority": 30},
        {"id": "s-evening", "channel_id": "c-green", "days": every, "start": "18:00", "end": "24:00",
         "from": "", "until": "", "priority": 20},
        {"id": "s-ghost", "channel_id": "c-missing", "days": every, "start": "00:00", "end": "24:00",
         "from": "", "until": "", "priority": 15},
        {"id": "s-morning", "channel_id": "c-red", "days": [3], "start": "09:00", "end": "12:00",
         "from": "2030-01-01", "until": "2030-01-31", "priority": 10},
        {"id": "s-always", "channel_id": "c-yellow", "days": every, "start": "00:00", "end": "24:00",
         "from": "", "until": "", "priority": 0},
    ]
    fake.publish(manifest(chans, default="c-blue", schedule=schedule))
    driver.get(fake.url + "/")
    vw, vh, _ = viewport(driver)
    centre = (vw / 2, vh / 2)

    # the highest-priority entry that matches day, time and dates
    wait(driver).until(lambda d: shown_channel(d) == "c-red")
    wait_colour(driver, centre, RED)

    # "play now" overrides the schedule; the new manifest comes by the stream
    fake.publish(manifest(chans, default="c-blue", schedule=schedule,
                          play_now={"channel_id": "c-green", "until": now_s + 3600}))
    wait(driver).until(lambda d: shown_channel(d) == "c-green")
    wait_colour(driver, centre, GREEN)

    # an expired "play now" is ignored; with no matching entry, the default channel
    fake.publish(manifest(chans, default="c-blue", schedule=schedule[:5],
                          play_now={"channel_id": "c-green", "until": now_s - 10}))
    wait(driver).until(lambda d: shown_channel(d) == "c-blue")
    wait_colour(driver, centre, BLUE)

    # "play now" ends on its own while the page watches
    until = (fake.now_ms() + 3500) // 1000
    fake.publish(manifest(chans, default="c-blue", schedule=schedule[:5],
                          play_now={"channel_id": "c-yellow", "until": until}))
    wait(driver).until(lambda d: shown_channel(d) == "c-yellow")
    wait(driver, 10).until(lambda d: shown_channel(d) == "c-blue")
    assert fake.now_ms() >= until * 1000 - 100, "play now ended early"
    wait_colour(driver, centre, BLUE)

    # nothing to play: the idle screen
    fake.publish(manifest([], default=None))
    wait(driver).until(lambda d: shown_channel(d) == "" and d.find_element("id", "idle").is_displayed())
    assert "Nothing scheduled" in driver.find_element("id", "idle-detail").text
    assert console_problems(driver) == []


def test_html_media_ticker_and_overlays(fake, driver):
    page = (b"<!doctype html><html><head><style>html,body{margin:0;height:100%;background:#14d2dc}</style>"
            b"</head><body><script>document.body.dataset.ran = '1'</script></body></html>")
    html = fake.add_object(page, "text/html")
    green = fake.add_object(png_solid(GREEN), "image/png")
    news = "Breaking: " + " ".join(f"headline number {i} of a long news ticker." for i in range(40))
    ch = channel("c-mixed", [
        zone("page", 0, 0, 960, 900, [{"id": "page", "type": "html", "media": html, "mime": "text/html",
                                       "duration": 60, "transition": "fade"}]),
        zone("picture", 960, 0, 960, 900, [image_item("pic", green, 60)]),
        zone("ticker", 0, 900, 1920, 180, [{"id": "news", "type": "text", "text": news, "duration": 60,
                                            "transition": "none"}]),
    ])
    fake.publish(manifest([ch], default="c-mixed", objects=[html, green]))
    driver.get(fake.url + "/")
    wait(driver).until(lambda d: shown_channel(d) == "c-mixed")
    m = Mapper(driver, 1920, 1080)

    # HTML media play in a sandboxed frame (scripts, no same origin)
    frame = driver.find_element("css selector", '.zone[data-zone="page"] iframe')
    assert frame.get_attribute("sandbox") == "allow-scripts"
    wait_colour(driver, m.css(480, 450), CYAN)

    # long text runs as a ticker: one line that moves right to left
    track = '.zone[data-zone="ticker"] .text-ticker'
    wait(driver).until(lambda d: d.find_elements("css selector", track))
    x1 = driver.execute_script(f"return document.querySelector('{track}').getBoundingClientRect().left")
    time.sleep(0.5)  # let the ticker move
    x2 = driver.execute_script(f"return document.querySelector('{track}').getBoundingClientRect().left")
    assert x2 < x1, (x1, x2)
    lines = driver.execute_script(
        f"const e = document.querySelector('{track}'); return e.getBoundingClientRect().height / "
        "parseFloat(getComputedStyle(e).lineHeight)")
    assert lines < 1.5, "the ticker wraps"

    # pairing and identify stay on top of the content
    assert not driver.find_element("id", "status").is_displayed()
    fake.set_state(pairing={"code": "ABCD-EFGH", "uri": "https://vitrine.example/#/pair?code=ABCD-EFGH"})
    wait(driver).until(lambda d: d.find_element("id", "pairing").is_displayed())
    assert driver.find_element("id", "pairing-code").text == "ABCD-EFGH"
    fake.set_state(pairing=None, identify_until=fake.now_ms() + 2500)
    wait(driver).until(lambda d: d.find_element("id", "identify").is_displayed()
                       and not d.find_element("id", "pairing").is_displayed())
    rgb = css_pixel(quick_shot(driver), *m.css(1440, 450))
    assert close(rgb, (250, 204, 21)) or close(rgb, (249, 115, 22)), f"no identify flash: {rgb}"
    wait(driver, 6).until(lambda d: not d.find_element("id", "identify").is_displayed())
    wait_colour(driver, m.css(1440, 450), GREEN)
    assert console_problems(driver) == []


def record_webm(driver, rgb, seconds):
    """A short solid-colour WebM made by the browser itself (MediaRecorder of
    a canvas): there is no video encoder on the test machine otherwise."""
    driver.set_script_timeout(seconds + 20)
    data = driver.execute_async_script("""
const [rgb, ms, done] = arguments;
const c = document.createElement('canvas');
c.width = 160; c.height = 90;
const g = c.getContext('2d');
const rec = new MediaRecorder(c.captureStream(30), { mimeType: 'video/webm;codecs=vp8' });
const chunks = [];
rec.ondataavailable = (e) => chunks.push(e.data);
rec.onstop = async () => {
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  done(btoa(s));
};
let n = 0;  // alternate the blue by one so that every frame is a new frame
const draw = () => { g.fillStyle = `rgb(${rgb[0]},${rgb[1]},${rgb[2] - (n++ % 2)})`; g.fillRect(0, 0, 160, 90); };
draw();
rec.start();
const timer = setInterval(draw, 33);
setTimeout(() => { clearInterval(timer); rec.stop(); }, ms);
""", list(rgb), int(seconds * 1000))
    return base64.b64decode(data)


def test_video_plays_to_its_end_and_a_lone_video_loops(fake, driver):
    driver.get(fake.url + "/blank")
    clip = fake.add_object(record_webm(driver, MAGENTA, 1.5), "video/webm")
    loop = fake.add_object(record_webm(driver, CYAN, 1.0), "video/webm")
    green = fake.add_object(png_solid(GREEN), "image/png")
    video = {"type": "video", "mime": "video/webm", "duration": 0, "transition": "none"}
    ch = channel("c-video", [
        zone("clip", 0, 0, 960, 1080, [dict(video, id="clip", media=clip), image_item("after", green, 2, "fade")]),
        zone("loop", 960, 0, 960, 1080, [dict(video, id="loop", media=loop)]),
    ])
    fake.publish(manifest([ch], default="c-video", objects=[clip, loop, green]))
    driver.get(fake.url + "/")
    wait(driver).until(lambda d: shown_channel(d) == "c-video")
    m = Mapper(driver, 1920, 1080)
    left, right = m.css(480, 540), m.css(1440, 540)
    v = driver.find_element("css selector", '.zone[data-zone="clip"] video')
    assert v.get_attribute("muted") is not None and v.get_attribute("playsinline") is not None

    seen, samples, t0 = [], [], time.monotonic()
    while time.monotonic() - t0 < 6:
        img = quick_shot(driver, 0.1)
        a, b = css_pixel(img, *left), css_pixel(img, *right)
        samples.append((round(time.monotonic() - t0, 2), a, b))
        assert sum(a) > 200 and sum(b) > 200, f"dark frame: {samples[-1]}"
        name = "video" if close(a, MAGENTA) else "image" if close(a, GREEN) else "mix"
        if not seen or seen[-1] != name:
            seen.append(name)
        assert close(b, CYAN), f"the looping video is not shown: {samples[-1]}"
    assert [s for s in seen if s != "mix"][:3] == ["video", "image", "video"], (seen, samples)

    with fake.cond:  # each loop of the lone video is one play
        fake.cond.wait_for(lambda: sum(p["item"] == "loop" for p in fake.plays) >= 3, timeout=15)
        plays = list(fake.plays)
    loops = [p for p in plays if p["item"] == "loop"]
    assert len(loops) >= 3 and all(p["sha256"] == loop for p in loops), plays
    assert all(600 <= p["duration_ms"] <= 2500 for p in loops[:-1]), loops
    clips = [p for p in plays if p["item"] == "clip"]
    assert clips and 1000 <= clips[0]["duration_ms"] <= 3000, clips
    assert console_problems(driver) == []


def test_slide_transition_pushes_the_old_item_out(fake, driver):
    blue = fake.add_object(png_solid(BLUE), "image/png")
    green = fake.add_object(png_solid(GREEN), "image/png")
    ch = channel("c-slide", [zone("all", 0, 0, 1920, 1080, [
        image_item("blue", blue, 3, "none"), image_item("green", green, 3, "slide")])])
    fake.publish(manifest([ch], default="c-slide", objects=[blue, green]))
    driver.get(fake.url + "/")
    # animations at a quarter of their speed (the slide takes 2 s instead of
    # 0.5 s), so that screenshots surely catch it half-way, even on a busy machine
    driver.execute_cdp_cmd("Animation.setPlaybackRate", {"playbackRate": 0.25})
    wait(driver).until(lambda d: shown_channel(d) == "c-slide")
    m = Mapper(driver, 1920, 1080)
    quarter, three_quarters = m.css(480, 540), m.css(1440, 540)
    samples, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 5.5:
        img = quick_shot(driver, 0.1)
        a, b = css_pixel(img, *quarter), css_pixel(img, *three_quarters)
        samples.append((round(time.monotonic() - t0, 2), a, b))
        assert sum(a) > 200 and sum(b) > 200, f"dark frame: {samples[-1]}"
    # mid-slide: the old item still on the left, the new one already on the right
    assert any(close(a, BLUE) and close(b, GREEN) for _, a, b in samples), samples
    assert close(samples[-1][1], GREEN) and close(samples[-1][2], GREEN), samples[-1]
    assert console_problems(driver) == []
