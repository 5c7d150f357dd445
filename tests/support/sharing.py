"""Screen sharing on a throwaway LAN, for tests/integration/test_share.py
and bench/share: Xvfb displays painted with known colours, the pixels of a
display read back, a display (vitrine-player --share in a namespace of a
tests/support/lan.py LAN, drawing on its own Xvfb) and senders (`vitrine
share` in the other namespaces, each capturing its own Xvfb).

X clients in a namespace reach an Xvfb of the test's namespace through its
socket file in /tmp/.X11-unix (the abstract socket is per namespace; libX11
falls back to the file)."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import syncfleet  # noqa: E402
import xdisplay  # noqa: E402

PYTHON = "/usr/bin/python3"

# Fills the display with one window per (x, y, w, h, rgb) of argv[4] (JSON),
# prints "painted", stays (its windows must stay).
PAINTER = xdisplay.XLIB + r"""
import json
for (left, top, w, h, rgb) in json.loads(sys.argv[4]):
    x.XMapWindow(d, x.XCreateSimpleWindow(d, root, left, top, w, h, 0, 0, rgb))
x.XSync(d, 0)
print("painted", flush=True)
time.sleep(3600)
"""

# Prints the RGB of each (x, y) of argv[2] (JSON) on display argv[1] as JSON.
SAMPLER = xdisplay.XLIB + r"""
import json
out = []
for (px, py) in json.loads(sys.argv[2]):
    img = x.XGetImage(d, root, px, py, 1, 1, 0xFFFFFFFF, 2)
    v = x.XGetPixel(img, 0, 0)
    out.append([(v >> 16) & 255, (v >> 8) & 255, v & 255])
print(json.dumps(out))
"""

COLOURS = {
    "red": 0xE01010, "blue": 0x1010E0, "green": 0x10C010, "yellow": 0xE0E010,
    "magenta": 0xE010E0, "cyan": 0x10E0E0, "white": 0xF0F0F0, "orange": 0xF08010,
}


def rgb(name):
    v = COLOURS[name]
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255]


def close_to(got, name, tolerance=48):
    return all(abs(a - b) <= tolerance for a, b in zip(got, rgb(name)))


class PaintedDisplay:
    """Xvfb -noreset w x h with its left half `left` and right half `right`."""

    def __init__(self, w, h, left, right):
        self.w, self.h = w, h
        self.xvfb, self.name = xdisplay.start_xvfb(w, h)
        spec = [[0, 0, w // 2, h, COLOURS[left]], [w // 2, 0, w - w // 2, h, COLOURS[right]]]
        self.painter = subprocess.Popen([PYTHON, "-c", PAINTER, self.name, str(w), str(h), json.dumps(spec)],
                                        stdout=subprocess.PIPE, text=True)
        assert self.painter.stdout.readline().strip() == "painted"

    def close(self):
        self.painter.kill()
        self.painter.wait()
        xdisplay.stop_xvfb(self.xvfb)


def sample(display, points):
    out = subprocess.run([PYTHON, "-c", SAMPLER, display, json.dumps(points)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class Display:
    """vitrine-player --share in LAN namespace k, drawing on X display xname;
    its kiosk answers on 127.0.0.1:kiosk_port inside the namespace."""

    def __init__(self, lan, k, build, xname, tmp, kiosk_port=8181, server="http://127.0.0.1:9", extra=()):
        """kiosk_port: the kiosk's port in the namespace (a KioskForwarder
        makes it the same port for the test's browser). server: the URL the
        player reaches its server at (by default none answers: a direct
        code needs no server). Waits for SHARE CODE unless a brokered code
        is expected (extra has --share-address of another range): then
        wait_line("SHARE CODE: ") once the screen is paired."""
        self.lan, self.k = lan, k
        self.kiosk = "http://127.0.0.1:%d" % kiosk_port
        self.data = os.path.join(tmp, "display-data")
        env = dict(os.environ, DISPLAY=xname, ASAN_OPTIONS="detect_leaks=0")
        self.log = open(os.path.join(tmp, "display.log"), "w")
        self.proc = lan.run(k, [os.path.join(build, "vitrine-player"), "--server", server, "--data", self.data,
                                "--kiosk-listen", "127.0.0.1:%d" % kiosk_port, "--share"] + list(extra),
                            env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.lines = []
        self._read = threading.Thread(target=self._reader, daemon=True)
        self._read.start()
        self.code = None
        if not any(a.startswith("--share-address") for a in extra):
            self.code = self.wait_line("SHARE CODE: ")
        deadline = time.monotonic() + 30
        while self.kiosk_request("GET", "/share")[0] != 200:  # the kiosk is up
            assert time.monotonic() < deadline and self.proc.poll() is None, "no kiosk: " + self.read_log()
            time.sleep(0.1)

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, prefix, timeout=30):
        """The rest of the first line of stdout that starts with prefix."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if self.proc.poll() is not None and not self._read.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no %r line: %s" % (prefix, self.read_log()))

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def kiosk_request(self, method, path, body=None):
        argv = ["curl", "-s", "-m", "10", "-X", method, self.kiosk + path, "-w", "\n%{http_code}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        out = subprocess.run(["ip", "netns", "exec", self.lan.ns(self.k)] + argv, capture_output=True, text=True,
                             timeout=30)
        text, _, code = out.stdout.rpartition("\n")
        return int(code or 0), (json.loads(text) if text.strip() else None)

    def status(self):
        code, doc = self.kiosk_request("GET", "/share")
        assert code == 200, doc
        return doc

    def streaming(self):
        return sum(1 for s in self.status()["senders"] if s["streaming"])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_sender(lan, k, build, xname, code, key, *extra, env_extra=None, **popen):
    """`vitrine share CODE --key KEY` in namespace k capturing xname."""
    env = dict(os.environ, DISPLAY=xname, ASAN_OPTIONS="detect_leaks=0", HOME=lan.tmp)
    env.update(env_extra or {})
    return lan.run(k, [os.path.join(build, "vitrine"), "share", code, "--key", key, "--name", "sender%d" % k]
                   + list(extra), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


class KioskForwarder:
    """Listens on 127.0.0.1:port of the test's namespace and splices every
    connection to 127.0.0.1:port in LAN namespace k: a browser of the test
    reaches a namespaced player's kiosk page at the address the page knows
    itself by (its POSTs are checked against that origin)."""

    def __init__(self, lan, k, port):
        self.lan, self.k, self.port = lan, k, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(32)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            up = self.lan.socket(self.k, socket.AF_INET, socket.SOCK_STREAM)
            try:
                up.settimeout(5)
                up.connect(("127.0.0.1", self.port))
                up.settimeout(None)
            except OSError:
                conn.close()
                up.close()
                continue
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=syncfleet.HubForwarder._pipe, args=(a, b), daemon=True).start()

    def close(self):
        self.sock.close()
