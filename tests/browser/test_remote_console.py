"""Browser tests of the console's remote control page (issue 10, "Must show" 4):
in Chromium, #/remote/{screen} asks the real vitrine-server for a session,
reaches the screen through the relay's WebSocket, runs the end-to-end
handshake as the guest (web/console/remote/e2e.js on the vendored
libsodium.js), and noVNC renders the screen's framebuffer in its canvas
(pixels checked); a click in the canvas reaches the screen; the clipboard
both ways and Ctrl-Alt-Del reach it, view only holds clicks back. Also: a wrong
host key ends the session with host_key_mismatch, an altered frame with
frame_tampered; the consent toggle of the screen page, a refusal shown with
the server's reason, then a consent; the sessions page lists a session and
ends it.

The far side here is a test double, `FakeScreen`: a device paired through
the device API with its own Ed25519 key (so the server pins it), which hears
of the session through its long-poll, plus a one-connection stand-in for
the relay's WebSocket listener that plays the host's side of the end-to-end
tunnel itself (docs/PROTOCOL.md: Noise-NK-like handshake, secretstream
frames; X25519/Ed25519 from `cryptography`, BLAKE2b from hashlib,
secretstream from the system libsodium through ctypes) and an RFB 3.8
server with security type None and a two-colour framebuffer. It shares no
code with the console's JS. The whole chain, Xvfb + x11vnc + vitrine-player
as the host + vitrine-relay's WebSocket, is
test_remote_page_through_the_real_chain (the pointer read back with
xdotool).

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser/test_remote_console.py
"""
import base64
import ctypes
import ctypes.util
import hashlib
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from conftest import REPO_ROOT, build_binary, free_port
from test_console import api_login, browser_login, csp_problems, wait

sys.path.insert(0, str(REPO_ROOT / "tests" / "vectors"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))
from check_e2e import b2b, kdf  # noqa: E402  (BLAKE2b and libsodium's KDF, in Python)
from xdisplay import painted_display  # noqa: E402

RAW = (Encoding.Raw, PublicFormat.Raw)
FB_W, FB_H = 320, 200
LEFT, RIGHT = (200, 30, 40), (20, 60, 220)  # the framebuffer: two halves
TIMEOUT = 30

pytestmark = pytest.mark.skipif(
    not (REPO_ROOT / "web" / "console" / "vendor" / "novnc" / "core" / "rfb.js").is_file(),
    reason="web/console/vendor/ is missing: run scripts/vendor-js, then rebuild")


# ---------------------------------------------------------------- libsodium's secretstream, through ctypes

def _sodium():
    name = ctypes.util.find_library("sodium")
    if not name:
        pytest.skip("libsodium is not installed (libsodium23)")
    lib = ctypes.CDLL(name)
    assert lib.sodium_init() >= 0
    return lib


class SecretStream:
    """One direction of crypto_secretstream_xchacha20poly1305 (init_pull with a given header)."""
    ABYTES = 17

    def __init__(self, lib, key, header):
        self.lib = lib
        self.state = ctypes.create_string_buffer(lib.crypto_secretstream_xchacha20poly1305_statebytes())
        assert lib.crypto_secretstream_xchacha20poly1305_init_pull(self.state, header, key) == 0

    def push(self, msg, ad, tag):
        out = ctypes.create_string_buffer(len(msg) + self.ABYTES)
        clen = ctypes.c_ulonglong()
        self.lib.crypto_secretstream_xchacha20poly1305_push(self.state, out, ctypes.byref(clen), msg,
                                                            ctypes.c_ulonglong(len(msg)), ad,
                                                            ctypes.c_ulonglong(len(ad)), ctypes.c_ubyte(tag))
        return out.raw[:clen.value]

    def pull(self, c, ad):
        out = ctypes.create_string_buffer(max(1, len(c)))
        mlen, tag = ctypes.c_ulonglong(), ctypes.c_ubyte()
        if self.lib.crypto_secretstream_xchacha20poly1305_pull(self.state, out, ctypes.byref(mlen), ctypes.byref(tag),
                                                               c, ctypes.c_ulonglong(len(c)), ad,
                                                               ctypes.c_ulonglong(len(ad))) != 0:
            raise ValueError("frame_tampered")
        return out.raw[:mlen.value], tag.value


# ---------------------------------------------------------------- a one-connection WebSocket server

class WebSocketConn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.data = b""  # payload bytes of binary messages not yet read

    def _recv(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        self.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")

    def _message(self):
        """Appends the next binary message to self.data; raises EOFError on a close."""
        while True:
            b0, b1 = self._recv(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv(8))[0]
            mask = self._recv(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(self._recv(n)))
            if opcode == 8:
                raise EOFError
            if opcode == 9:
                self._send(10, payload)
                continue
            if opcode in (0, 2):
                self.data += payload
                return
            if opcode == 1:
                self._send(8, struct.pack(">H", 1003))
                raise EOFError

    def read(self, n):
        while len(self.data) < n:
            self._message()
        out, self.data = self.data[:n], self.data[n:]
        return out

    def read_some(self):
        if not self.data:
            self._message()
        out, self.data = self.data, b""
        return out

    def _send(self, opcode, payload):
        n = len(payload)
        head = bytes([0x80 | opcode])
        head += bytes([n]) if n < 126 else (bytes([126]) + struct.pack(">H", n) if n < 65536
                                            else bytes([127]) + struct.pack(">Q", n))
        self.sock.sendall(head + payload)

    def send(self, data):
        self._send(2, data)


# ---------------------------------------------------------------- the screen: device, relay stand-in, e2e host, RFB

class FakeScreen:
    """A paired device whose host side answers on a WebSocket listener registered as the relay."""

    def __init__(self, server, admin, tamper=False, other_key=False, consent=None):
        self.server, self.admin = server, admin
        self.consent = consent  # the answer of "the person at the screen" (None: no answer)
        self.consent_asked = []
        self.lib = _sodium()
        self.key = Ed25519PrivateKey.generate()
        self.tamper = tamper  # alter one byte of the first frame the host sends
        self.pointer = []  # (mask, x, y) of the PointerEvents received
        self.keys = []  # (down, keysym) of the KeyEvents received
        self.cut_text = []  # ClientCutText received
        self.sessions = queue.Queue()  # remote_session payloads heard through the long-poll
        self.errors = []
        self.active = None  # the guest's socket while a session runs
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        # the relay registry: the server hands this listener out as the relay
        r = admin.post(server.url + "/api/v1/relays", timeout=30, json={
            "host": "127.0.0.1", "port": self.port, "ws_url": f"ws://127.0.0.1:{self.port}/relay", "shared": True})
        assert r.status_code == 201, r.text
        self.relay_id, self.relay_token = r.json()["relay"]["id"], r.json()["token"]
        self.report()
        # pairing with our own key (or another one: the server then pins a key the host cannot prove)
        pinned = (Ed25519PrivateKey.generate() if other_key else self.key).public_key().public_bytes(*RAW)
        r = requests.post(server.url + "/api/v1/device/pair", timeout=30, json={
            "hardware_id": "fake-" + os.urandom(4).hex(), "public_key": base64.b64encode(pinned).decode(),
            "hostname": "fake-screen", "os": "TestOS 1"})
        assert r.status_code == 200, r.text
        p = r.json()
        r = admin.post(server.url + "/api/v1/pairings", json={"user_code": p["user_code"], "name": "Fake screen"},
                       timeout=30)
        assert r.status_code == 201, r.text
        self.screen_id = r.json()["screen"]["id"]
        self.pinned = pinned
        r = requests.post(server.url + "/api/v1/device/token", json={"device_code": p["device_code"]}, timeout=30)
        self.device_token = r.json()["access_token"]
        r = requests.get(server.url + "/api/v1/device/instructions?wait=0", timeout=30,
                         headers={"Authorization": "Bearer " + self.device_token})  # online from now on
        assert r.status_code == 200, r.text
        self.threads = [threading.Thread(target=self._poll, daemon=True),
                        threading.Thread(target=self._serve, daemon=True)]
        for t in self.threads:
            t.start()

    def report(self):
        r = requests.post(self.server.url + f"/api/v1/relays/{self.relay_id}/report", timeout=30,
                          headers={"Authorization": "Bearer " + self.relay_token}, json={"sessions": 0, "bytes": 0})
        assert r.status_code == 200, r.text

    def close(self):
        self.stop.set()
        self.listener.close()
        active = self.active
        if active:  # a guest still connected (the browser outlives this fixture): cut it
            try:
                active.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=30)

    # -- the long-poll: the screen is online and hears of sessions
    def _poll(self):
        after = 0
        while not self.stop.is_set():
            try:
                # the server picks only relays that reported in the last 15 s (a deleted one gets a 404: fine)
                requests.post(self.server.url + f"/api/v1/relays/{self.relay_id}/report", timeout=30,
                              headers={"Authorization": "Bearer " + self.relay_token},
                              json={"sessions": 0, "bytes": 0})
                r = requests.get(self.server.url + f"/api/v1/device/instructions?after={after}&wait=2",
                                 headers={"Authorization": "Bearer " + self.device_token}, timeout=30)
                for ins in r.json().get("instructions", []):
                    after = max(after, ins.get("seq", 0))
                    if ins["type"] == "remote_session":
                        self.sessions.put(ins["payload"])
                    elif ins["type"] == "remote_consent":
                        sid = ins["payload"]["session_id"]
                        self.consent_asked.append(ins["payload"])
                        if self.consent is not None:
                            requests.post(self.server.url + f"/api/v1/device/remote-sessions/{sid}/consent",
                                          headers={"Authorization": "Bearer " + self.device_token},
                                          json={"accepted": self.consent}, timeout=30)
            except (requests.RequestException, ValueError) as e:
                if not self.stop.is_set():
                    self.errors.append(f"long-poll: {e}")
                    time.sleep(0.5)  # back-off after a failed poll, not a test wait

    # -- the relay stand-in, one guest at a time
    def _serve(self):
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            sock.settimeout(TIMEOUT)
            self.active = sock
            try:
                self._session(WebSocketConn(sock))
            except (EOFError, OSError, ValueError):
                pass  # the guest went away, or refused us: the browser test says what it saw
            except Exception as e:  # a bug of the double: the test reports it
                self.errors.append(f"host: {e!r}")
            finally:
                self.active = None
                sock.close()

    def _session(self, ws):
        ws.handshake()
        n = struct.unpack(">H", ws.read(2))[0]
        ticket = ws.read(n).decode()
        payload = self.sessions.get(timeout=TIMEOUT)
        ws.send(b"paired\n")
        sid = payload["session_id"].encode()
        ticket_hash = bytes.fromhex(payload["guest_ticket_hash"]) if "guest_ticket_hash" in payload else b2b(
            ticket.encode())
        secret = base64.b64decode(payload["session_secret"])
        # handshake, host side
        msg1 = ws.read(38)
        if msg1[:6] != b"VE2E\x01\x01":
            raise ValueError("not a msg1")
        eph = X25519PrivateKey.generate()
        host_pk = self.key.public_key().public_bytes(*RAW)
        signed = b"VE2E\x01\x02" + eph.public_key().public_bytes(*RAW) + host_pk
        th = b2b(b"VTE2E-v1 transcript" + struct.pack(">H", len(sid)) + sid + ticket_hash + msg1 + signed)
        sig = self.key.sign(b"VTE2E-v1 host signature" + th)
        ws.send(signed + sig)
        dh = eph.exchange(X25519PublicKey.from_public_bytes(msg1[6:38]))
        hh = b2b(th + sig)
        master = b2b(hh + secret, key=dh)
        ctx = b"VTE2E-v1"
        rx = SecretStream(self.lib, kdf(32, 1, ctx, master), kdf(24, 3, ctx, master))
        tx = SecretStream(self.lib, kdf(32, 2, ctx, master), kdf(24, 4, ctx, master))
        msg3 = ws.read(38)
        if msg3 != b"VE2E\x01\x03" + b2b(hh, key=kdf(32, 5, ctx, master)):
            raise ValueError("handshake_invalid")
        sent = [0]

        def send(data):
            for at in range(0, len(data), 16384):
                part = data[at:at + 16384]
                length = struct.pack(">H", len(part) + 17)
                frame = length + tx.push(part, length, 0)
                if self.tamper and sent[0] == 0:
                    frame = frame[:5] + bytes([frame[5] ^ 1]) + frame[6:]
                sent[0] += 1
                ws.send(frame)

        plain = b""

        def read(n):
            nonlocal plain
            while len(plain) < n:
                hdr = ws.read(2)
                c = ws.read(struct.unpack(">H", hdr)[0])
                m, tag = rx.pull(c, hdr)
                if tag == 3:
                    raise EOFError  # the guest's final frame: a clean end
                plain += m
            out, plain = plain[:n], plain[n:]
            return out

        self._rfb(send, read)

    # -- RFB 3.8, security type None, raw encoding
    def _rfb(self, send, read):
        send(b"RFB 003.008\n")
        if not read(12).startswith(b"RFB 003."):
            raise ValueError("not an RFB client")
        send(b"\x01\x01")  # one security type: None
        if read(1) != b"\x01":
            raise ValueError("the viewer did not choose None")
        send(struct.pack(">I", 0))
        read(1)  # ClientInit (shared flag)
        fmt = dict(bpp=32, big=0, rs=16, gs=8, bs=0)
        send(struct.pack(">HHBBBBHHHBBB3x", FB_W, FB_H, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
             + struct.pack(">I", 11) + b"Fake screen")
        while not self.stop.is_set():
            kind = read(1)[0]
            if kind == 0:  # SetPixelFormat
                pf = read(19)[3:]
                bpp, _, big, _, _, _, _, rs, gs, bs = struct.unpack(">BBBBHHHBBB", pf[:13])
                if bpp != 32:
                    raise ValueError(f"a {bpp}-bit pixel format")
                fmt = dict(bpp=bpp, big=big, rs=rs, gs=gs, bs=bs)
            elif kind == 2:  # SetEncodings
                n = struct.unpack(">xH", read(3))[0]
                read(4 * n)
            elif kind == 3:  # FramebufferUpdateRequest
                incremental = read(9)[0]
                if not incremental:
                    send(self._update(fmt))
                    text = b"copied on the screen"
                    send(struct.pack(">B3xI", 3, len(text)) + text)  # ServerCutText
            elif kind == 4:  # KeyEvent
                down, keysym = struct.unpack(">B2xI", read(7))
                self.keys.append((down, keysym))
            elif kind == 5:  # PointerEvent
                mask, x, y = struct.unpack(">BHH", read(5))
                self.pointer.append((mask, x, y))
            elif kind == 6:  # ClientCutText
                n = struct.unpack(">3xI", read(7))[0]
                self.cut_text.append(read(n).decode("latin-1"))
            else:
                raise ValueError(f"RFB client message {kind}")

    def _update(self, fmt):
        def pixel(rgb):
            v = (rgb[0] << fmt["rs"]) | (rgb[1] << fmt["gs"]) | (rgb[2] << fmt["bs"])
            return struct.pack(">I" if fmt["big"] else "<I", v)
        row = pixel(LEFT) * (FB_W // 2) + pixel(RIGHT) * (FB_W - FB_W // 2)
        return (struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, FB_W, FB_H, 0) + row * FB_H)


# ---------------------------------------------------------------- helpers

@pytest.fixture
def admin(server):
    return api_login(server, server.admin_login, server.admin_password)


@pytest.fixture
def fake_screen(server, admin):
    made = []

    def make(**kw):
        s = FakeScreen(server, admin, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
        # relays stay registered: end them for the next test's choice (the newest healthy one is fine)
        admin.delete(server.url + f"/api/v1/relays/{s.relay_id}", timeout=30)


def needs_session_secret(server, admin, screen):
    """Skips when the server does not hand out the session secret (older than the E2E change)."""
    r = admin.post(server.url + f"/api/v1/screens/{screen.screen_id}/remote", timeout=60)
    assert r.status_code == 201, r.text
    # the host double hears of this one: drain it, and end it (a live session would make the next view-only)
    try:
        screen.sessions.get(timeout=TIMEOUT)
    except queue.Empty:
        pass
    admin.delete(server.url + f"/api/v1/remote-sessions/{r.json()['session_id']}", timeout=30)
    if "session_secret" not in r.json():
        pytest.skip("this vitrine-server sends no session_secret in POST /api/v1/screens/{id}/remote yet")


def canvas_pixel(driver, fx, fy):
    """The RGB of the noVNC canvas at framebuffer coordinates (fx, fy)."""
    return driver.execute_script("""
        const c = document.querySelector('#remote-screen canvas');
        if (!c || !c.width) return null;
        const d = c.getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data;
        return [d[0], d[1], d[2]];""", fx, fy)


def close_to(got, want, slack=8):
    return got is not None and all(abs(a - b) <= slack for a, b in zip(got, want))


def click(driver, element_id):
    """Clicks a control of the page once it is scrolled clear of the sticky header."""
    el = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def fingerprint(key_bytes):
    hexa = hashlib.sha256(key_bytes).hexdigest()[:32]
    return " ".join(hexa[i:i + 4] for i in range(0, 32, 4))


# ---------------------------------------------------------------- tests

def test_remote_page_renders_the_screen_and_a_click_reaches_it(server, driver, admin, fake_screen):
    screen = fake_screen()
    needs_session_secret(server, admin, screen)
    browser_login(driver, server, server.admin_login, server.admin_password)

    # the screen page shows the host key fingerprint and the way in
    driver.get(server.url + f"/#/screens/{screen.screen_id}")
    wait(driver).until(lambda d: d.find_element(By.ID, "screen-fingerprint").text == fingerprint(screen.pinned))
    driver.find_element(By.ID, "screen-remote-open").click()

    wait(driver, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#remote-screen[data-connected]")
                                or not d.find_element(By.ID, "remote-error").get_attribute("hidden") is not None)
    err = driver.find_element(By.ID, "remote-error")
    assert err.get_attribute("hidden") is not None, err.text + "\n" + "\n".join(screen.errors)
    assert driver.find_element(By.ID, "remote-fingerprint").text == fingerprint(screen.pinned)
    assert "end-to-end" in driver.find_element(By.ID, "remote-status").text

    # the framebuffer, pixel by pixel: the left half and the right half
    wait(driver, TIMEOUT).until(lambda d: close_to(canvas_pixel(d, 10, 10), LEFT))
    assert close_to(canvas_pixel(driver, FB_W - 10, FB_H - 10), RIGHT)
    assert close_to(canvas_pixel(driver, FB_W // 2 - 3, FB_H // 2), LEFT)
    assert close_to(canvas_pixel(driver, FB_W // 2 + 3, FB_H // 2), RIGHT)

    # a click in the canvas reaches the screen as an RFB PointerEvent with button 1
    canvas = driver.find_element(By.CSS_SELECTOR, "#remote-screen canvas")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(driver).move_to_element(canvas).click().perform()
    wait(driver, TIMEOUT).until(lambda d: any(m & 1 for m, _, _ in screen.pointer))
    mask, x, y = next(p for p in screen.pointer if p[0] & 1)
    assert abs(x - FB_W // 2) <= 12 and abs(y - FB_H // 2) <= 12, screen.pointer
    pressed_at = screen.pointer.index((mask, x, y))
    wait(driver, TIMEOUT).until(lambda d: any(m == 0 for m, _, _ in screen.pointer[pressed_at:]))  # the release

    # clipboard both ways, Ctrl-Alt-Del
    wait(driver).until(lambda d: d.find_element(By.ID, "remote-clipboard").get_attribute("value")
                       == "copied on the screen")
    clip = driver.find_element(By.ID, "remote-clipboard")
    clip.clear()
    clip.send_keys("pasted from the console")
    click(driver, "remote-clipboard-send")
    wait(driver).until(lambda d: "pasted from the console" in screen.cut_text)
    click(driver, "remote-cad")
    ctrl, alt, delete = 0xFFE3, 0xFFE9, 0xFFFF
    wait(driver).until(lambda d: (0, ctrl) in screen.keys)
    down = [k for d_, k in screen.keys if d_]
    assert [ctrl, alt, delete] == down[-3:], screen.keys

    # view only: clicks stay in the page
    click(driver, "remote-view-only")
    seen = len(screen.pointer)
    ActionChains(driver).move_to_element_with_offset(canvas, 20, 20).click().perform()
    time.sleep(1)  # a click that must NOT arrive: give it the time it would take
    assert not any(m & 1 for m, _, _ in screen.pointer[seen:]), screen.pointer[seen:]

    # ending the session from the page is a clean end
    click(driver, "remote-disconnect")
    wait(driver).until(lambda d: "ended" in d.find_element(By.ID, "remote-status").text)
    assert driver.find_element(By.ID, "remote-error").get_attribute("hidden") is not None
    assert not screen.errors, screen.errors
    assert not csp_problems(driver)


def test_a_wrong_host_key_or_an_altered_frame_ends_the_session_with_its_code(server, driver, admin, fake_screen):
    liar = fake_screen(other_key=True)
    needs_session_secret(server, admin, liar)
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + f"/#/remote/{liar.screen_id}")
    wait(driver, TIMEOUT).until(lambda d: d.find_element(By.ID, "remote-error").get_attribute("hidden") is None)
    err = driver.find_element(By.ID, "remote-error")
    assert err.get_attribute("data-code") == "host_key_mismatch", err.text
    assert not driver.find_elements(By.CSS_SELECTOR, "#remote-screen canvas"), "a viewer was started anyway"
    admin.delete(server.url + f"/api/v1/relays/{liar.relay_id}", timeout=30)

    tamperer = fake_screen(tamper=True)
    driver.get(server.url + f"/#/remote/{tamperer.screen_id}")
    wait(driver, TIMEOUT).until(lambda d: d.find_element(By.ID, "remote-error").get_attribute("hidden") is None)
    err = driver.find_element(By.ID, "remote-error")
    assert err.get_attribute("data-code") == "frame_tampered", err.text
    assert "altered" in err.text


def test_consent_set_on_the_screen_page_refused_then_given(server, driver, admin, fake_screen):
    screen = fake_screen(consent=False)
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + f"/#/screens/{screen.screen_id}")
    box = wait(driver).until(lambda d: d.find_element(By.ID, "screen-remote-consent"))
    assert not box.is_selected()
    box.click()
    driver.find_element(By.ID, "screen-save").click()
    wait(driver).until(lambda d: admin.get(server.url + f"/api/v1/screens/{screen.screen_id}", timeout=30)
                       .json()["screen"]["remote_consent"] is True)

    # refused: the guest gets the server's reason, and no session. The save
    # left the page scrolled with the button under the sticky top bar, where
    # a click would reach the bar: bring it to the middle first, as a person would
    button = driver.find_element(By.ID, "screen-remote-open")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait(driver, 45).until(lambda d: d.find_element(By.ID, "remote-error").get_attribute("hidden") is None)
    err = driver.find_element(By.ID, "remote-error")
    assert err.get_attribute("data-code") == "consent_refused", err.text
    assert "refused remote control" in err.text
    assert screen.consent_asked and screen.consent_asked[-1]["guest"] == server.admin_login
    assert not driver.find_elements(By.CSS_SELECTOR, "#remote-screen canvas")

    # allowed: the same page connects
    screen.consent = True
    click(driver, "remote-reconnect")
    wait(driver, 45).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#remote-screen[data-connected]")
                           or d.find_element(By.ID, "remote-error").get_attribute("hidden") is None)
    assert driver.find_element(By.ID, "remote-error").get_attribute("hidden") is not None, \
        driver.find_element(By.ID, "remote-error").text
    wait(driver, TIMEOUT).until(lambda d: close_to(canvas_pixel(d, 10, 10), LEFT))
    assert len(screen.consent_asked) == 2
    assert not screen.errors, screen.errors
    assert not csp_problems(driver)


def test_sessions_page_lists_a_session_and_ends_it(server, driver, admin, fake_screen):
    screen = fake_screen()
    r = admin.post(server.url + f"/api/v1/screens/{screen.screen_id}/remote", timeout=60)
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.find_element(By.ID, "nav-sessions").click()
    row = f'#remote-sessions-table tr[data-session-id="{sid}"]'
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
    text = driver.find_element(By.CSS_SELECTOR, row).text
    assert server.admin_login in text and "Fake screen" in text and f"127.0.0.1:{screen.port}" in text
    driver.find_element(By.CSS_SELECTOR, f'{row} button[data-session-id="{sid}"]').click()
    driver.switch_to.alert.accept()
    # the table is redrawn every 5 s and after the End: read the row's text in one go
    row_text = lambda d: d.execute_script("const r = document.querySelector(arguments[0]); return r ? r.innerText : '';", row)
    wait(driver).until(lambda d: "ended_by_admin" in row_text(d))
    assert not driver.find_elements(By.CSS_SELECTOR, f'{row} button')
    listed = {s["id"]: s for s in admin.get(server.url + "/api/v1/remote-sessions", timeout=30).json()["sessions"]}
    assert listed[sid]["end_reason"] == "ended_by_admin" and listed[sid]["ended_at"]
    assert not csp_problems(driver)


# ---------------------------------------------------------------- the whole chain

X_W, X_H = 320, 240


@pytest.fixture
def display():
    """An Xvfb display painted red | blue (through libX11 with ctypes); its name (":N")."""
    with painted_display(X_W, X_H, tools=("Xvfb", "x11vnc", "xdotool")) as name:
        yield name


@pytest.fixture
def relay(server, tmp_path):
    """vitrine-relay with the server's ticket key: raw TCP and a plain WebSocket listener."""
    binary = build_binary("vitrine-relay")
    key = tmp_path / "server-key.pub"
    out = subprocess.run([str(build_binary("vitrine-server")), "--data", str(server.data_dir), "relay-key", "--out",
                          str(key)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    ports = {k: free_port() for k in ("tcp", "ws", "admin")}
    log = open(tmp_path / "relay.log", "w+")
    proc = subprocess.Popen([str(binary), "--listen", f"127.0.0.1:{ports['tcp']}", "--server-key", str(key),
                             "--admin-listen", f"127.0.0.1:{ports['admin']}", "--ws-listen",
                             f"127.0.0.1:{ports['ws']}"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail("vitrine-relay exited: " + log.read())
        try:
            if requests.get(f"http://127.0.0.1:{ports['admin']}/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "vitrine-relay did not start"
        time.sleep(0.05)  # readiness probe, not a test wait
    yield ports
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def mouse(display):
    out = subprocess.run(["xdotool", "getmouselocation"], env=dict(os.environ, DISPLAY=display), capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    fields = dict(f.split(":", 1) for f in out.stdout.split())
    return int(fields["x"]), int(fields["y"])


def test_remote_page_through_the_real_chain(server, driver, admin, display, relay, start_player, monkeypatch):
    """Xvfb + x11vnc + vitrine-player (the host) + vitrine-relay (its WebSocket for the browser) + Chromium:
    the canvas shows the display's red | blue halves, and a click in it moves the display's pointer there."""
    monkeypatch.setenv("DISPLAY", display)
    player = start_player()
    r = admin.post(server.url + "/api/v1/pairings", json={"user_code": player.wait_code(), "name": "Lobby"},
                   timeout=30)
    assert r.status_code == 201, r.text
    screen_id = r.json()["screen"]["id"]
    deadline = time.monotonic() + 60
    while not admin.get(server.url + f"/api/v1/screens/{screen_id}", timeout=30).json()["screen"].get("last_seen"):
        assert time.monotonic() < deadline, "the player did not come online:\n" + player.log()
        time.sleep(0.2)  # polling for the player's first contact, not a test wait
    r = admin.post(server.url + "/api/v1/relays", timeout=30, json={
        "host": "127.0.0.1", "port": relay["tcp"], "ws_url": f"ws://127.0.0.1:{relay['ws']}/relay", "shared": True})
    assert r.status_code == 201, r.text
    relay_id, token = r.json()["relay"]["id"], r.json()["token"]
    # the relay runs without --server-url here: report for it (the server picks only relays heard of in 15 s)
    reporting = threading.Event()

    def report():
        while not reporting.is_set():
            requests.post(server.url + f"/api/v1/relays/{relay_id}/report", timeout=30,
                          headers={"Authorization": "Bearer " + token}, json={"sessions": 0, "bytes": 0})
            reporting.wait(3)

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        browser_login(driver, server, server.admin_login, server.admin_password)
        driver.get(server.url + f"/#/remote/{screen_id}")
        wait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#remote-screen[data-connected]")
                               or d.find_element(By.ID, "remote-error").get_attribute("hidden") is None)
        err = driver.find_element(By.ID, "remote-error")
        assert err.get_attribute("hidden") is not None, err.text + "\n--- player log ---\n" + player.log()
        key = base64.b64decode(admin.get(server.url + f"/api/v1/screens/{screen_id}", timeout=30)
                               .json()["screen"]["public_key"])
        assert driver.find_element(By.ID, "remote-fingerprint").text == fingerprint(key)

        red, blue = (255, 0, 0), (0, 0, 255)
        wait(driver, TIMEOUT).until(lambda d: close_to(canvas_pixel(d, 10, 10), red, 40))
        for fx, fy in ((X_W // 4, X_H // 2), (X_W // 2 - 10, X_H - 10)):
            assert close_to(canvas_pixel(driver, fx, fy), red, 40), (fx, fy, canvas_pixel(driver, fx, fy))
        for fx, fy in ((X_W // 2 + 10, 10), (3 * X_W // 4, X_H // 2), (X_W - 10, X_H - 10)):
            assert close_to(canvas_pixel(driver, fx, fy), blue, 40), (fx, fy, canvas_pixel(driver, fx, fy))

        # a click at framebuffer (80, 60) moves the display's pointer there (x11vnc got the event)
        canvas = driver.find_element(By.CSS_SELECTOR, "#remote-screen canvas")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        box = driver.execute_script("const c = arguments[0], r = c.getBoundingClientRect();"
                                    "return [r.width, r.height, c.width, c.height];", canvas)
        fx, fy = 80, 60
        dx = (fx + 0.5) * box[0] / box[2] - box[0] / 2
        dy = (fy + 0.5) * box[1] / box[3] - box[1] / 2
        ActionChains(driver).move_to_element_with_offset(canvas, int(dx), int(dy)).click().perform()
        deadline = time.monotonic() + TIMEOUT
        while True:
            x, y = mouse(display)
            if abs(x - fx) <= 3 and abs(y - fy) <= 3:
                break
            assert time.monotonic() < deadline, f"the display's pointer is at {(x, y)}, not near {(fx, fy)}"
            time.sleep(0.1)  # polling the X server, not a test wait

        click(driver, "remote-disconnect")
        wait(driver).until(lambda d: "ended" in d.find_element(By.ID, "remote-status").text)
        deadline = time.monotonic() + 20
        while "remote session ended" not in player.log():
            assert time.monotonic() < deadline, "the host did not end the session cleanly:\n" + player.log()
            time.sleep(0.1)  # polling the player's log, not a test wait
        assert not csp_problems(driver)
    finally:
        reporting.set()
        reporter.join(timeout=30)
        admin.delete(server.url + f"/api/v1/relays/{relay_id}", timeout=30)
