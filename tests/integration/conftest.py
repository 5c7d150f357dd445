"""Fixtures for the integration tests: each test gets a real vitrine-server
(the binary of VITRINE_BUILD, default build-asan under `make check`) on a
loopback port of its own, with a fresh data folder; with
VITRINE_TEST_DB=postgresql, also a fresh database in a throwaway
PostgreSQL cluster (tests/support/pg.py) instead of the folder's SQLite."""
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests
import urllib3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import pg  # noqa: E402
from ports import free_port  # noqa: E402,F401  (the tests import it from here)

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("VITRINE_BUILD", "build"))
SERVER_BIN = os.path.join(BUILD, "vitrine-server")
ADMIN_PASSWORD = "admin-password-for-tests"


# Modules that start no vitrine-server, or whose point is not the store
# (the relay, process identity, packaging, the proxy, the docs, the
# namespace LAN of sync groups): the PostgreSQL pass skips them, the SQLite
# pass has run them.
BACKEND_INDEPENDENT = {
    "test_api_doc", "test_demo", "test_e2e_vectors", "test_man_pages", "test_relay", "test_relay_robust",
    "test_relay_ws", "test_tools", "test_units", "test_deb", "test_nginx_sample", "test_drop_root",
    "test_lan", "test_ptp_reference", "test_sync_lan", "test_share",
}


def pytest_collection_modifyitems(config, items):
    if not pg.enabled():
        return
    skip = pytest.mark.skip(reason="does not depend on the database: runs in the SQLite pass")
    for item in items:
        if item.module.__name__ in BACKEND_INDEPENDENT:
            item.add_marker(skip)


def solve_challenge(challenge, difficulty):
    """The proof of work of POST /api/v1/session (see docs/PROTOCOL.md)."""
    n = 0
    while True:
        digest = hashlib.sha256(f"{challenge}:{n}".encode()).digest()
        bits = 0
        for b in digest:
            if b == 0:
                bits += 8
                continue
            bits += 8 - b.bit_length()
            break
        if bits >= difficulty:
            return str(n)
        n += 1


class Server:
    """One vitrine-server process with its own data folder (binary: another
    vitrine-server than the build's, e.g. an installed one)."""

    def __init__(self, tmp, env=None, args=(), tls=None, binary=None, db=None, data=None):
        """data: the folder of a server made before, shared with it (no
        init); db: its database URL (default: SQLite in the folder, or a
        new PostgreSQL database under VITRINE_TEST_DB=postgresql)."""
        self.binary = binary or SERVER_BIN
        self.data = data or os.path.join(tmp, "data")
        self.env = dict(os.environ, VITRINE_ADMIN_PASSWORD=ADMIN_PASSWORD, **(env or {}))
        self.database = None
        if db is None and data is None and pg.enabled():
            self.database, db = pg.new_database()
        self.db = db
        self.db_args = ["--db", db] if db else []
        self.args = list(args)
        self.tls = tls
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log_path = os.path.join(tmp, "server.log")
        self.proc = None
        if data:
            return
        out = subprocess.run([self.binary, "--data", self.data] + self.db_args + ["init", "--admin", "admin"],
                             env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr

    def start(self):
        cmd = [self.binary, "--data", self.data, "--listen", f"127.0.0.1:{self.port}"] + self.db_args + self.args
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited: " + self.read_log())
            try:
                if requests.get(self.url + "/healthz", timeout=1, verify=False).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become healthy: " + self.read_log())

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on SIGTERM")
        if self.proc:
            self.log.close()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def sql(self, query, params=()):
        """Runs one SQL statement on this server's database, whichever the
        backend (params are '?' placeholders, quoted here); returns the
        rows as lists of strings (None for NULL)."""
        for p in params:
            lit = "NULL" if p is None else str(p) if isinstance(p, int) else "'" + str(p).replace("'", "''") + "'"
            query = query.replace("?", lit, 1)
        if self.database:
            return pg.cluster().sql(self.database, query)
        import sqlite3
        con = sqlite3.connect(os.path.join(self.data, "vitrine.db"), timeout=10)
        try:
            rows = con.execute(query).fetchall()
            con.commit()
        finally:
            con.close()
        return [[None if v is None else str(v) for v in row] for row in rows]

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def client(self):
        return Client(self.url)


class Client:
    """A console-like API client: session cookie + CSRF header, or a Bearer token."""

    def __init__(self, url, token=None):
        self.url = url
        self.s = requests.Session()
        self.s.trust_env = False  # no proxy or CA bundle from the environment
        self.s.verify = False
        self.csrf = None
        if token:
            self.s.headers["Authorization"] = "Bearer " + token

    def login(self, login="admin", password=ADMIN_PASSWORD, **extra):
        r = self.s.post(self.url + "/api/v1/session", json=dict(login=login, password=password, **extra))
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
        return r

    def request(self, method, path, **kw):
        headers = kw.pop("headers", {})
        if self.csrf and method not in ("GET", "HEAD"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.s.request(method, self.url + path, headers=headers, timeout=kw.pop("timeout", 30), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def make_server():
    made = []
    tmps = []

    def make(**kw):
        tmp = tempfile.TemporaryDirectory(prefix="vitrine-it-")
        tmps.append(tmp)
        s = Server(tmp.name, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        rc = s.stop()
        assert rc == 0, "server exit code %s\n%s" % (rc, s.read_log())
        log = s.read_log()
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        # SQL that PostgreSQL refuses as malformed or mistyped (classes 42
        # and 22) is SQL that is not portable, whatever the test expected
        bad = [line for line in log.splitlines() if re.search(r"sqlstate=(42|22)", line)]
        assert not bad, "\n".join(bad)
    for t in tmps:
        t.cleanup()


@pytest.fixture
def server(make_server):
    return make_server().start()


@pytest.fixture
def admin(server):
    c = server.client()
    assert c.login().status_code == 200
    return c


PLAYER_BIN = os.path.join(BUILD, "vitrine-player")


class Player:
    """One vitrine-player process with its own data folder."""

    def __init__(self, tmp, server_url, extra=(), env=None, binary=None):
        self.binary = binary or PLAYER_BIN
        self.data = os.path.join(tmp, "player")
        self.server_url = server_url
        self.extra = list(extra)
        self.env = dict(os.environ, **(env or {}))
        self.out_path = os.path.join(tmp, "player.out")
        self.log_path = os.path.join(tmp, "player.log")
        self.proc = None

    def start(self):
        self.out = open(self.out_path, "ab")
        self.log = open(self.log_path, "ab")
        self.log_offset = self.log.tell()
        self.proc = subprocess.Popen(
            [self.binary, "--data", self.data, "--server", self.server_url, "--kiosk-listen", "127.0.0.1:0",
             "--heartbeat-seconds", "2"] + self.extra,
            env=self.env, stdout=self.out, stderr=self.log)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("player did not stop on SIGTERM")
        rc = self.proc.returncode if self.proc else 0
        if self.proc:
            self.out.close()
            self.log.close()
        self.proc = None
        return rc

    def read_out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_code(self, previous=None, timeout=15):
        """The newest PAIRING CODE line printed (other than previous)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            codes = [l.split(": ", 1)[1].strip() for l in self.read_out().splitlines()
                     if l.startswith("PAIRING CODE: ")]
            if codes and codes[-1] != previous:
                return codes[-1]
            if self.proc and self.proc.poll() is not None:
                raise AssertionError("player exited: " + self.read_log())
            time.sleep(0.05)
        raise AssertionError("no pairing code printed: " + self.read_log())

    def kiosk_url(self):
        """The kiosk page address, from the player's start-up log line."""
        def find():
            lines = [l for l in self.read_log()[self.log_offset:].splitlines() if "vitrine-player started" in l]
            return lines[-1].split(" kiosk=", 1)[1].split(" ", 1)[0].rstrip("/") if lines else None
        return wait_for(find, what="the kiosk address")

    def token(self):
        path = os.path.join(self.data, "token")
        return open(path).read().strip() if os.path.exists(path) else None


@pytest.fixture
def make_player():
    made = []
    tmps = []

    def make(server, **kw):
        tmp = tempfile.TemporaryDirectory(prefix="vitrine-pl-")
        tmps.append(tmp)
        p = Player(tmp.name, server.url, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        rc = p.stop()
        log = p.read_log()
        assert rc == 0, "player exit code %s\n%s" % (rc, log)
        assert "ERROR: AddressSanitizer" not in log and "runtime error:" not in log, log
    for t in tmps:
        t.cleanup()


def read_head(sock):
    """Reads an HTTP answer from a raw socket up to the end of its headers:
    (status, headers, what came after them)."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, rest


def wait_for(predicate, timeout=10, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def _cli_bin():
    """The vitrine command line: <build>/vitrine, or where src/cli/meson.build puts it."""
    for path in (os.path.join(BUILD, "vitrine"), os.path.join(BUILD, "src", "cli", "vitrine")):
        if os.path.isfile(path):
            return path
    return os.path.join(BUILD, "src", "cli", "vitrine")


CLI_BIN = _cli_bin()
