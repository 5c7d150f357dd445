"""A sync group of real players on a namespace LAN (tests/support/lan.py),
for the integration test of sync groups and for bench/sync.

- HubForwarder: the server runs in the test's own namespace on loopback;
  players reach it at lan.hub_addr(k):port, where a listener in the hub
  namespace hands every connection to the server (a thread per direction).
- NsPlayer: vitrine-player in player namespace k (its kiosk page on
  127.0.0.1:8181 of that namespace), optionally under faketime (its wall
  clock off by some seconds), and headless Chromium on its kiosk page.
  The kiosk is read with curl inside the namespace.
- agreement(): lines the transitions the pages reported up by their
  target instant on the group clock and gives, for each, the spread
  (latest minus earliest) of the group time and of the wall time (all
  namespaces share one kernel clock: performance.timeOrigin + the
  requestAnimationFrame timestamp is comparable between the pages) of the
  frame that showed it, and the spread of the pages' clocks themselves
  (wall minus group time at that frame: what the frames' quantisation
  does not hide)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=640,360", "--autoplay-policy=no-user-gesture-required"]
KIOSK_PORT = 8181


class HubForwarder:
    """Listens on 0.0.0.0:port in the hub namespace; every connection is
    spliced to 127.0.0.1:target_port of the test's namespace."""

    def __init__(self, lan, target_port):
        self.target = target_port
        self.sock = lan.hub_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                up.settimeout(None)
            except OSError:
                conn.close()
                continue
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()


class NsPlayer:
    """vitrine-player (and its kiosk browser) in namespace k of the LAN."""

    def __init__(self, lan, k, binary, server_port, tmp, wall_offset_s=0):
        self.lan, self.k, self.binary = lan, k, binary
        self.dir = os.path.join(tmp, "p%d" % k)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.server = "http://%s:%d" % (lan.hub_addr(k), server_port)
        self.wall_offset_s = wall_offset_s
        self.proc = self.browser = None
        self.out_path = os.path.join(self.dir, "player.out")
        self.log_path = os.path.join(self.dir, "player.log")

    def start(self):
        env = dict(os.environ)
        argv = [self.binary, "--data", self.data, "--server", self.server,
                "--kiosk-listen", "127.0.0.1:%d" % KIOSK_PORT, "--heartbeat-seconds", "2"]
        if self.wall_offset_s:
            # only the wall clock is off, as on a screen without NTP; the
            # steady clock is the kernel's
            argv = ["faketime", "-f", "%+ds" % self.wall_offset_s] + argv
            env.update(FAKETIME_DONT_FAKE_MONOTONIC="1", ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") +
                       ":verify_asan_link_order=0")
        self.out = open(self.out_path, "ab")
        self.log = open(self.log_path, "ab")
        self.proc = self.lan.run(self.k, argv, env=env, stdout=self.out, stderr=self.log)
        return self

    def start_browser(self):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.dir)
        self.browser = self.lan.run(
            self.k, ["chromium"] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile,
                                                      "http://127.0.0.1:%d/" % KIOSK_PORT],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self, sig=15):
        for p in (self.browser, self.proc):
            if p and p.poll() is None:
                p.send_signal(sig)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        rc = self.proc.returncode if self.proc else 0
        if self.proc:
            self.out.close()
            self.log.close()
        self.proc = self.browser = None
        return rc

    def read_out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def code(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            codes = [l.split(": ", 1)[1].strip() for l in self.read_out().splitlines()
                     if l.startswith("PAIRING CODE: ")]
            if codes:
                return codes[-1]
            if self.proc.poll() is not None:
                raise AssertionError("player %d exited: %s" % (self.k, self.read_log()))
            time.sleep(0.05)
        raise AssertionError("player %d printed no pairing code: %s" % (self.k, self.read_log()))

    def kiosk(self, path, timeout=5):
        """GET path of the kiosk (JSON), with curl in the namespace; None
        when it does not answer."""
        out = subprocess.run(["ip", "netns", "exec", self.lan.ns(self.k), "curl", "-s", "--max-time", str(timeout),
                              "http://127.0.0.1:%d%s" % (KIOSK_PORT, path)], capture_output=True, text=True)
        try:
            return json.loads(out.stdout) if out.returncode == 0 else None
        except ValueError:
            return None

    def clock(self):
        return self.kiosk("/clock")

    def transitions(self):
        j = self.kiosk("/transitions")
        return j["transitions"] if j else []


def pair(admin, player, name):
    r = admin.post("/api/v1/pairings", json={"user_code": player.code(), "name": name})
    assert r.status_code in (200, 201), r.text
    sid = r.json()["screen"]["id"]
    token = os.path.join(player.data, "token")
    deadline = time.time() + 20
    while not os.path.exists(token):
        assert time.time() < deadline, "player %d got no token: %s" % (player.k, player.read_log())
        time.sleep(0.05)
    return sid


def agreement(players, since_ms=None, zone=None):
    """[(target_ms, group spread ms, wall spread ms, clock spread ms, n)]
    for every target instant all the given players reported (after
    since_ms, on the group clock)."""
    by_target = {}
    for p in players:
        for t in p.transitions():
            if t.get("kind") or (zone is not None and t.get("zone") != zone):
                continue
            if since_ms is not None and t["target_ms"] < since_ms:
                continue
            key = (round(t["target_ms"]), t.get("zone"))
            by_target.setdefault(key, {})[p.k] = t
    rows = []
    for (target, _), seen in sorted(by_target.items()):
        if len(seen) < len(players):
            continue
        g = [t["group_ms"] for t in seen.values()]
        w = [t["wall_ms"] for t in seen.values()]
        o = [t["wall_ms"] - t["group_ms"] for t in seen.values()]
        rows.append((target, max(g) - min(g), max(w) - min(w), max(o) - min(o), len(seen)))
    return rows


def video_drifts(player, since_wall_ms=0):
    """The synced video's drift reports of a player's page: [(wall_ms,
    drift_ms of that frame, smoothed_ms, playbackRate)]."""
    return [(t["wall_ms"], t["drift_ms"], t["smoothed_ms"], t["rate"]) for t in player.transitions()
            if t.get("kind") == "video" and t["wall_ms"] >= since_wall_ms]


def test_video(path, seconds=4):
    """A VP8 WebM of a moving ball (GStreamer), 320x180 at 30 fps."""
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=%d" % (30 * seconds), "pattern=ball", "!",
                    "video/x-raw,width=320,height=180,framerate=30/1", "!", "vp8enc", "deadline=1", "!", "webmmux",
                    "!", "filesink", "location=" + path], check=True, timeout=60)
    with open(path, "rb") as f:
        return f.read()


def percentile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    i = min(len(v) - 1, max(0, int(round(q / 100 * (len(v) - 1)))))
    return v[i]


def chromium_path():
    return shutil.which("chromium")
