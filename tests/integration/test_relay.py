"""Integration tests of vitrine-relay (src/relay/): the real binary on
loopback ports of the test's choosing, tickets signed by the test-only
tests/tools/ticket_tool with a key of the test's own. The first frame and
the status lines are those of docs/PROTOCOL.md "Remote control: the
relay". WebSocket transports: test_relay_ws.py; the server link:
test_relay_link.py; hostile load: test_relay_robust.py."""
import hashlib
import os
import random
import resource
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
import requests

from conftest import BUILD, free_port

RELAY_BIN = os.path.join(BUILD, "vitrine-relay")
TICKET_TOOL = os.path.join(BUILD, "ticket_tool")
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def session_id():
    return "".join(random.choice(ID_ALPHABET) for _ in range(16))


class Keys:
    def __init__(self, tmp, name="server"):
        self.sk = os.path.join(tmp, name + ".sk")
        self.pk = os.path.join(tmp, name + ".pk")
        subprocess.run([TICKET_TOOL, "keygen", self.sk, self.pk], check=True)

    def ticket(self, sid, role, expires_in=30):
        out = subprocess.run([TICKET_TOOL, "sign", self.sk, sid, role, str(expires_in)],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip().encode()


class Relay:
    def __init__(self, tmp, keys, args=()):
        self.port = free_port()
        self.admin_port = free_port()
        self.log = open(os.path.join(tmp, "relay.log"), "w+")
        self.proc = subprocess.Popen(
            [RELAY_BIN, "--listen", f"127.0.0.1:{self.port}", "--server-key", keys.pk,
             "--admin-listen", f"127.0.0.1:{self.admin_port}", *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if requests.get(self.admin("/healthz"), timeout=1).text == "ok\n":
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("relay did not start")

    def admin(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def metrics(self):
        values = {}
        for line in requests.get(self.admin("/metrics"), timeout=5).text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = int(value)
        return values

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def connect(self, ticket=None, raw=None):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        if raw is not None:
            s.sendall(raw)
        elif ticket is not None:
            s.sendall(struct.pack(">H", len(ticket)) + ticket)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def status_line(sock, timeout=10):
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line.decode()


@pytest.fixture
def keys(tmp_path):
    return Keys(str(tmp_path))


@pytest.fixture
def relay(tmp_path, keys):
    # the attackers of these tests are all 127.0.0.1: the per-address limit has its own test
    # (test_relay_robust.py) and is raised out of the way here
    r = Relay(str(tmp_path), keys, args=("--pair-timeout", "2", "--first-frame-timeout", "2",
                                         "--per-address-limit", "5000"))
    yield r
    r.stop()


def pair(relay, keys):
    sid = session_id()
    guest = relay.connect(keys.ticket(sid, "guest"))
    host = relay.connect(keys.ticket(sid, "host"))
    assert status_line(guest) == "paired\n"
    assert status_line(host) == "paired\n"
    return guest, host


def exchange(a, b, size):
    """Sends size random bytes a->b and b->a at once; returns True when both
    arrive unchanged (sha256)."""
    data = {0: os.urandom(size), 1: os.urandom(size)}
    got = {0: hashlib.sha256(), 1: hashlib.sha256()}
    counts = {0: 0, 1: 0}

    def send(sock, payload):
        sock.sendall(payload)

    def recv(sock, key):
        sock.settimeout(20)
        while counts[key] < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got[key].update(chunk)
            counts[key] += len(chunk)

    threads = [threading.Thread(target=send, args=(a, data[0])), threading.Thread(target=send, args=(b, data[1])),
               threading.Thread(target=recv, args=(b, 0)), threading.Thread(target=recv, args=(a, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return (got[0].digest() == hashlib.sha256(data[0]).digest() and
            got[1].digest() == hashlib.sha256(data[1]).digest())


def test_guest_and_host_exchange_bytes_both_ways(relay, keys):
    guest, host = pair(relay, keys)
    assert exchange(guest, host, 4 * 1024 * 1024)
    m = relay.metrics()
    assert m["vitrine_relay_sessions_active"] == 1
    assert m["vitrine_relay_sessions_total"] == 1
    assert m['vitrine_relay_bytes_total{direction="guest_to_host"}'] == 4 * 1024 * 1024
    assert m['vitrine_relay_bytes_total{direction="host_to_guest"}'] == 4 * 1024 * 1024
    guest.close()  # one side goes: the other is closed
    host.settimeout(5)
    assert host.recv(10) == b""


def test_bytes_sent_before_pairing_are_delivered(relay, keys):
    sid = session_id()
    t = keys.ticket(sid, "guest")
    guest = relay.connect(raw=struct.pack(">H", len(t)) + t + b"hello before the host")
    time.sleep(0.2)
    host = relay.connect(keys.ticket(sid, "host"))
    assert status_line(host) == "paired\n"
    assert status_line(guest) == "paired\n"
    host.settimeout(5)
    got = b""
    while len(got) < len(b"hello before the host"):
        got += host.recv(100)
    assert got == b"hello before the host"


def test_forged_ticket_is_invalid(relay, keys, tmp_path):
    other = Keys(str(tmp_path), "other")
    s = relay.connect(other.ticket(session_id(), "guest"))
    assert status_line(s) == "error ticket_invalid\n"
    assert s.recv(10) == b""


def test_expired_ticket(relay, keys):
    s = relay.connect(keys.ticket(session_id(), "host", expires_in=-1))
    assert status_line(s) == "error ticket_expired\n"


def test_replayed_ticket_and_second_ticket_of_one_side(relay, keys):
    sid = session_id()
    ticket = keys.ticket(sid, "guest")
    first = relay.connect(ticket)
    time.sleep(0.2)
    again = relay.connect(ticket)
    assert status_line(again) == "error ticket_replayed\n"
    other_guest = relay.connect(keys.ticket(sid, "guest"))  # a new ticket, same side
    assert status_line(other_guest) == "error ticket_wrong_session\n"
    host = relay.connect(keys.ticket(sid, "host"))  # the first guest still pairs
    assert status_line(first) == "paired\n"
    assert status_line(host) == "paired\n"
    first.close()
    host.settimeout(5)
    assert host.recv(10) == b""
    # the session is over: even a fresh ticket for it does not reopen it
    late = relay.connect(keys.ticket(sid, "guest"))
    assert status_line(late) == "error session_ended\n"
    # and a used ticket stays used after its session has gone
    assert status_line(relay.connect(ticket)) == "error ticket_replayed\n"


def test_tickets_of_two_sessions_do_not_pair(relay, keys):
    started = time.time()
    guest = relay.connect(keys.ticket(session_id(), "guest"))
    host = relay.connect(keys.ticket(session_id(), "host"))
    assert status_line(guest) == "error session_ended\n"
    assert status_line(host) == "error session_ended\n"
    assert 1.5 < time.time() - started < 6
    assert relay.metrics()['vitrine_relay_refusals_total{reason="session_ended"}'] == 2


def test_garbage_and_half_open_sockets_do_not_stop_a_good_session(relay, keys):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    started = time.time()
    guest, host = pair(relay, keys)
    half_open = [relay.connect(raw=b"\x00") for _ in range(200)]  # a length byte, then nothing
    refused = 0
    for batch in range(10):
        socks = []
        for i in range(100):
            s = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
            s.sendall(os.urandom(random.randint(1, 3000)))
            socks.append(s)
        for s in socks:
            s.settimeout(10)
            try:
                data = s.recv(100)
                if data.startswith(b"error ticket_invalid"):
                    refused += 1
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
        assert exchange(guest, host, 128 * 1024), f"good session broken in batch {batch}"
    assert refused >= 900  # a random length over 1024 is refused at once; a short one waits
    assert exchange(guest, host, 1024 * 1024)
    # the half-open sockets are dropped after the first-frame timeout
    deadline = time.time() + 8
    dropped = 0
    for s in half_open:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            if s.recv(10) == b"":
                dropped += 1
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
    assert dropped == 200
    assert relay.proc.poll() is None
    m = relay.metrics()
    assert m['vitrine_relay_refusals_total{reason="first_frame_timeout"}'] >= 200
    assert m["vitrine_relay_sessions_active"] == 1
    assert time.time() - started < 25


def test_slow_reader_does_not_grow_relay_memory(relay, keys):
    guest, host = pair(relay, keys)
    before = relay.rss_kib()
    guest.setblocking(False)
    chunk = os.urandom(256 * 1024)
    sent = 0
    stalled_since = None
    while sent < 256 * 1024 * 1024:
        _, w, _ = select.select([], [guest], [], 0.2)
        if not w:
            stalled_since = stalled_since or time.time()
            if time.time() - stalled_since > 1.5:
                break  # the host reads nothing: the guest is held back
            continue
        stalled_since = None
        try:
            sent += guest.send(chunk)
        except BlockingIOError:
            pass
    assert sent < 64 * 1024 * 1024, "the relay kept reading from the guest"
    grown = relay.rss_kib() - before
    assert grown < 8 * 1024, f"relay RSS grew by {grown} KiB"
    # the host reads at last: everything comes through
    host.settimeout(10)
    received = 0
    while received < sent:
        received += len(host.recv(1 << 20))
    assert received == sent


def test_metrics_count_refusals_by_reason(relay, keys, tmp_path):
    other = Keys(str(tmp_path), "other")
    assert status_line(relay.connect(raw=b"\xff\xffjunk")) == "error ticket_invalid\n"
    assert status_line(relay.connect(other.ticket(session_id(), "host"))) == "error ticket_invalid\n"
    assert status_line(relay.connect(keys.ticket(session_id(), "host", -5))) == "error ticket_expired\n"
    t = keys.ticket(session_id(), "host")
    waiting = relay.connect(t)
    time.sleep(0.2)
    assert status_line(relay.connect(t)) == "error ticket_replayed\n"
    m = relay.metrics()
    assert m['vitrine_relay_refusals_total{reason="ticket_invalid"}'] == 2
    assert m['vitrine_relay_refusals_total{reason="ticket_expired"}'] == 1
    assert m['vitrine_relay_refusals_total{reason="ticket_replayed"}'] == 1
    assert m["vitrine_relay_sides_waiting"] == 1
    waiting.close()
    assert requests.get(relay.admin("/nope"), timeout=5).status_code == 404


def test_sigterm_stops_quickly_with_exit_0(relay, keys):
    guest, host = pair(relay, keys)
    waiting = relay.connect(keys.ticket(session_id(), "guest"))
    time.sleep(0.2)
    started = time.time()
    relay.proc.send_signal(signal.SIGTERM)
    assert relay.proc.wait(timeout=5) == 0
    assert time.time() - started < 2
    for s in (guest, host, waiting):
        s.settimeout(2)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass


def test_key_file_raw_or_base64_nothing_else(tmp_path, keys):
    import base64
    raw = os.path.join(str(tmp_path), "raw.pk")
    with open(keys.pk) as f, open(raw, "wb") as g:
        g.write(base64.b64decode(f.read().strip()))
    r = Relay(str(tmp_path), type("K", (), {"pk": raw})())
    try:
        sid = session_id()
        g = r.connect(keys.ticket(sid, "guest"))
        h = r.connect(keys.ticket(sid, "host"))
        assert status_line(g) == "paired\n" and status_line(h) == "paired\n"
    finally:
        r.stop()
    bad = os.path.join(str(tmp_path), "bad.pk")
    with open(bad, "w") as f:
        f.write("not a key\n")
    out = subprocess.run([RELAY_BIN, "--listen", "127.0.0.1:0", "--server-key", bad],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "not an Ed25519 public key" in out.stderr


def test_idle_pair_is_ended(tmp_path, keys):
    r = Relay(str(tmp_path), keys, args=("--idle-timeout", "1"))
    try:
        guest, host = pair(r, keys)
        assert exchange(guest, host, 1000)
        started = time.time()
        assert status_line(guest) == "error session_ended\n"
        assert status_line(host) == "error session_ended\n"
        assert time.time() - started < 4
        assert r.metrics()["vitrine_relay_sessions_active"] == 0
    finally:
        r.stop()


def test_connections_over_the_limit_are_closed(tmp_path, keys):
    r = Relay(str(tmp_path), keys, args=("--max-connections", "5"))
    try:
        held = [r.connect(raw=b"\x00") for _ in range(5)]
        time.sleep(0.2)
        extra = r.connect(raw=b"\x00")
        extra.settimeout(5)
        try:
            assert extra.recv(10) == b""
        except ConnectionResetError:
            pass
        assert r.metrics()['vitrine_relay_refusals_total{reason="connection_limit"}'] == 1
        for s in held:
            s.close()
        time.sleep(0.2)
        sid = session_id()
        g, h = r.connect(keys.ticket(sid, "guest")), r.connect(keys.ticket(sid, "host"))
        assert status_line(g) == "paired\n" and status_line(h) == "paired\n"
    finally:
        r.stop()


def test_public_address_refuses_tickets_for_another_relay(tmp_path, keys):
    """ticket_tool names the relay 127.0.0.1:1970 in its tickets."""
    r = Relay(str(tmp_path), keys, args=("--public-address", "127.0.0.1:1971"))
    try:
        assert status_line(r.connect(keys.ticket(session_id(), "guest"))) == "error ticket_invalid\n"
    finally:
        r.stop()
    r = Relay(str(tmp_path), keys, args=("--public-address", "127.0.0.1:1970"))
    try:
        sid = session_id()
        g, h = r.connect(keys.ticket(sid, "guest")), r.connect(keys.ticket(sid, "host"))
        assert status_line(g) == "paired\n" and status_line(h) == "paired\n"
    finally:
        r.stop()


def timed_transfer(sender, receiver, size):
    """Sends size bytes; returns (seconds until all arrived, intact)."""
    data = os.urandom(size)
    started = time.time()
    t = threading.Thread(target=sender.sendall, args=(data,))
    t.start()
    got = hashlib.sha256()
    n = 0
    receiver.settimeout(20)
    while n < size:
        chunk = receiver.recv(1 << 20)
        if not chunk:
            break
        got.update(chunk)
        n += len(chunk)
    t.join(20)
    return time.time() - started, got.digest() == hashlib.sha256(data).digest()


def test_session_rate_paces_reads_without_dropping_bytes(tmp_path, keys):
    r = Relay(str(tmp_path), keys, args=("--session-rate", "500000"))
    try:
        guest, host = pair(r, keys)
        took, intact = timed_transfer(guest, host, 1500000)
        assert intact
        # 1.5 MB at 500 kB/s, less a burst of 125 kB and a read of 64 KiB: at least 2.5 s
        assert 2.4 < took < 6, took
        # the other direction has its own bucket
        took, intact = timed_transfer(host, guest, 400000)
        assert intact and took < 1.5, took
        assert r.metrics()["vitrine_relay_rate_pauses_total"] > 5
    finally:
        r.stop()


def test_total_rate_is_shared_by_all_sessions(tmp_path, keys):
    r = Relay(str(tmp_path), keys, args=("--total-rate", "600000"))
    try:
        (g1, h1), (g2, h2) = pair(r, keys), pair(r, keys)
        results = {}

        def run(name, a, b):
            results[name] = timed_transfer(a, b, 600000)

        threads = [threading.Thread(target=run, args=("one", g1, h1)),
                   threading.Thread(target=run, args=("two", g2, h2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results["one"][1] and results["two"][1]
        # 1.2 MB through a 600 kB/s relay: at least 1.6 s for the slower one
        assert max(results["one"][0], results["two"][0]) > 1.6, results
    finally:
        r.stop()
