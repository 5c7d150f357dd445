"""Fixtures for the console browser tests: a running vitrine-server and Chromium.

The server binary comes from $VITRINE_BUILD (default `build`, relative to the
repository root) as <build>/vitrine-server (and the player, for the screens
tests, as <build>/vitrine-player). Each test session gets a fresh data
folder, a first admin, and a free loopback port. Browsers are headless
Debian Chromium driven by chromedriver (python3-selenium); run the tests with
the system Python: /usr/bin/python3 -m pytest tests/browser
The server sends its mail to an SMTP server of the session on loopback
(fixture smtp, aiosmtpd); chat calls go through a coturn of the session on
loopback (fixture turn), relays only. Its maps have no tiles (map_tile_url
empty), so the browser fetches nothing from outside; test_map.py runs a
server of its own with a tile server on loopback.
"""
import email
import email.policy
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import ports  # noqa: E402
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "Correct-Horse-Battery-42"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class Server:
    url: str
    admin_login: str
    admin_password: str
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def build_binary(name):
    build = Path(os.environ.get("VITRINE_BUILD", "build"))
    if not build.is_absolute():
        build = REPO_ROOT / build
    binary = build / name
    if not binary.is_file():
        pytest.skip(f"{binary} is not built (set VITRINE_BUILD to the Meson build folder)")
    return binary


def server_binary():
    return build_binary("vitrine-server")


def free_port():
    return ports.free_port()


def wait_healthy(url, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vitrine-server exited with status {proc.returncode}")
        try:
            r = requests.get(url + "/healthz", timeout=1)
            if r.status_code == 200:
                return
            last = f"status {r.status_code}"
        except requests.RequestException as e:
            last = str(e)
        time.sleep(0.1)  # polling interval of a readiness probe, not a test wait
    raise RuntimeError(f"vitrine-server not healthy after {timeout} s: {last}")


class Inbox:
    """A real SMTP server on loopback (Debian's python3-aiosmtpd): the mails the server sends."""

    def __init__(self):
        self.mails = queue.Queue()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.mails.put((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def next(self, timeout=15):
        return self.mails.get(timeout=timeout)


@pytest.fixture(scope="session")
def smtp():
    from aiosmtpd.controller import Controller
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    inbox.port = ctl.port
    yield inbox
    ctl.stop()


TURN_SECRET = "vitrine-browser-tests-turn-secret"


@pytest.fixture(scope="session")
def turn():
    """coturn (Debian's turnserver) on loopback with TURN REST credentials (use-auth-secret): the
    relay every chat call of the browser tests goes through (the server sets webrtc_relay_only)."""
    exe = shutil.which("turnserver") or "/usr/bin/turnserver"
    if not os.path.exists(exe):
        pytest.fail("turnserver is missing: scripts/deps installs coturn")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="vitrine-turn-"))
    log = open(workdir / "turn.log", "wb")
    proc = subprocess.Popen([exe, "-n", "--no-cli", "--listening-ip=127.0.0.1", f"--listening-port={port}",
                             "--relay-ip=127.0.0.1", "--min-port=49200", "--max-port=49400", "--use-auth-secret",
                             f"--static-auth-secret={TURN_SECRET}", "--realm=vitrine.test", "--no-tls", "--no-dtls",
                             "--allow-loopback-peers", "--fingerprint", "--no-stun-backward-compatibility", "--verbose",
                             f"--pidfile={workdir / 'turn.pid'}", "--log-file=stdout", "--simple-log"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    if proc.poll() is not None:
        pytest.fail("turnserver did not start:\n" + (workdir / "turn.log").read_text(errors="replace"))
    yield {"port": port, "log": workdir / "turn.log"}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def server(smtp, turn):
    binary = server_binary()
    data = Path(tempfile.mkdtemp(prefix="vitrine-browser-"))
    log_path = data.parent / (data.name + ".log")
    env = dict(os.environ, VITRINE_ADMIN_PASSWORD=ADMIN_PASSWORD, VITRINE_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
               VITRINE_SMTP_FROM="chat@vitrine.test",
               VITRINE_WEBRTC_TURN_URLS=f"turn:127.0.0.1:{turn['port']}?transport=udp",
               VITRINE_WEBRTC_TURN_SECRET=TURN_SECRET, VITRINE_WEBRTC_RELAY_ONLY="1",
               VITRINE_MAP_TILE_URL="")  # the screens' maps without tiles: nothing is fetched from outside
    init = subprocess.run([str(binary), "--data", str(data), "init", "--admin", ADMIN_LOGIN],
                          env=env, capture_output=True, text=True, timeout=60)
    if init.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail(f"vitrine-server init failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "--data", str(data), "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(url, proc)
    except RuntimeError as e:
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail(f"{e}\n--- server log ---\n{log_path.read_text(errors='replace')}")

    yield Server(url, ADMIN_LOGIN, ADMIN_PASSWORD, data, log_path, proc)

    crashed = proc.poll()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(data, ignore_errors=True)
    if crashed is None:  # keep the log of a server that died, for the report
        try:
            log_path.unlink()
        except OSError:
            pass


@pytest.fixture(autouse=True)
def server_stays_up(server):
    """Fails the test, with the server's log, if vitrine-server died during it."""
    yield
    status = server.proc.poll()
    if status is not None:
        tail = "\n".join(server.log().splitlines()[-40:])
        pytest.fail(f"vitrine-server exited with status {status} during the test "
                    f"(log kept at {server.log_path}):\n{tail}", pytrace=False)


def make_driver(width=1280, height=900):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="vitrine-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                # WebRTC calls: a generated camera and microphone, no permission prompt
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    return driver, profile


@pytest.fixture
def driver():
    d, profile = make_driver()
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def new_driver():
    """Factory for extra, independent browser sessions (fresh profiles)."""
    made = []

    def factory(width=1280, height=900):
        d, profile = make_driver(width, height)
        made.append((d, profile))
        return d

    yield factory
    for d, profile in made:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------- player

def write_png(path, width=160, height=90):
    """Writes a small RGB PNG (a blue-to-green gradient with a bar) for --screenshot-command."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            bar = height // 3 <= y < height // 3 + 8
            row += bytes((250, 250, 250) if bar else (30 + x * 60 // width, 80 + y * 120 // height, 200))
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)
    return path


class Player:
    """A real vitrine-player process (own data folder) talking to the test server."""

    def __init__(self, binary, server_url, folder, extra=()):
        self.folder = Path(folder)
        self.out_path = self.folder / "player.out"
        self.log_path = self.folder / "player.log"
        self._out = open(self.out_path, "wb")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "--data", str(self.folder / "data"), "--server", server_url,
             "--kiosk-listen", "127.0.0.1:0", "--heartbeat-seconds", "2", *extra],
            stdout=self._out, stderr=self._log)

    def output(self):
        return self.out_path.read_text(errors="replace")

    def log(self):
        return self.log_path.read_text(errors="replace")

    def codes(self):
        return [line.split(": ", 1)[1].strip() for line in self.output().splitlines()
                if line.startswith("PAIRING CODE: ")]

    def wait_code(self, previous=None, timeout=30):
        """The newest `PAIRING CODE: XXXX-XXXX` printed on stdout, other than previous."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = self.codes()
            if codes and codes[-1] != previous:
                return codes[-1]
            if self.proc.poll() is not None:
                raise AssertionError(f"vitrine-player exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.05)  # polling a file the player writes, not a test wait
        raise AssertionError(f"vitrine-player printed no pairing code in {timeout} s:\n{self.log()}")

    def stop(self):
        """SIGTERM, as a service manager would; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vitrine-player did not stop on SIGTERM")
        self._out.close()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_player(server):
    """Factory: start_player(*extra_args) runs an unpaired vitrine-player against the test
    server (heartbeat every 2 s, kiosk on a free loopback port). Every player is stopped
    with SIGTERM at the end of the test and must exit cleanly."""
    binary = build_binary("vitrine-player")
    made = []

    def start(*extra):
        folder = tempfile.mkdtemp(prefix="vitrine-player-")
        player = Player(binary, server.url, folder, extra)
        made.append(player)
        return player

    yield start
    problems = []
    for player in made:
        status = player.stop()
        if status != 0:
            problems.append(f"vitrine-player exited with status {status}:\n{player.log()}")
        shutil.rmtree(player.folder, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
