"""vitrine-relay's WebSocket transports (--ws-listen, --ws-plain-listen,
WSS with --tls-cert/--tls-key): the same byte stream as over raw TCP in
binary messages, pairing a WebSocket side with a TCP side of one session,
handshake refusals, text and oversized messages, ping/pong and close. The
WebSocket client is written here (socket + ssl), and the certificate is a
self-signed one made by `openssl req` for the test."""
import base64
import hashlib
import os
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from conftest import free_port
from test_relay import Keys, Relay, session_id, status_line

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WSClient:
    """A minimal RFC 6455 client: masked frames out, a byte stream in."""

    def __init__(self, port, tls_ca=None, path="/relay", extra_headers=b"", timeout=10, handshake=True):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls_ca:
            ctx = ssl.create_default_context(cafile=tls_ca)
            ctx.check_hostname = False
            raw = ctx.wrap_socket(raw, server_hostname="localhost")
        self.sock = raw
        self.buf = b""
        self.stream = b""
        self.closed = None  # (code, reason) once a close frame came
        self.key = base64.b64encode(os.urandom(16))
        if handshake:
            self.request = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n"
                            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + self.key +
                            b"\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + b"\r\n")
            self.sock.sendall(self.request)
            self.status, self.headers = self.read_head()

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return lines[0], headers

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1(self.key + GUID).digest()).decode()
        return self.status.startswith("HTTP/1.1 101") and self.headers.get("sec-websocket-accept") == want

    def send_frame(self, payload, opcode=2, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
        self.sock.sendall(head + mask + masked)

    def send(self, data, size=60000):
        for i in range(0, len(data), size):
            self.send_frame(data[i:i + size])

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv_frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "the relay masks nothing"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return b0 & 0x0F, payload

    def pump(self):
        """Reads one frame; binary payloads join the stream. False at the end."""
        try:
            op, payload = self.recv_frame()
        except (EOFError, ConnectionResetError, ssl.SSLError, OSError):
            return False
        if op == 2 or op == 0:
            self.stream += payload
        elif op == 8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            self.closed = (code, payload[2:])
            return False
        elif op == 10:
            self.pong = payload
        return True

    def read_stream(self, n):
        while len(self.stream) < n:
            if not self.pump():
                break
        out, self.stream = self.stream[:n], self.stream[n:]
        return out

    def status_line(self):
        while b"\n" not in self.stream:
            if not self.pump():
                break
        line, _, self.stream = self.stream.partition(b"\n")
        return line.decode() + "\n" if _ or line else ""

    def send_ticket(self, ticket):
        self.send(struct.pack(">H", len(ticket)) + ticket)

    def wait_close(self):
        while self.pump():
            pass
        return self.closed


def _mask(payload, mask):
    n = len(payload)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


@pytest.fixture
def keys(tmp_path):
    return Keys(str(tmp_path))


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("cert")
    crt, key = str(d / "relay.crt"), str(d / "relay.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


class WSRelay(Relay):
    def __init__(self, tmp, keys, tls=None, args=()):
        self.ws_port = free_port()
        self.plain_port = free_port()
        extra = ["--ws-listen", f"127.0.0.1:{self.ws_port}"]
        if tls:
            extra += ["--tls-cert", tls[0], "--tls-key", tls[1], "--ws-plain-listen", f"127.0.0.1:{self.plain_port}"]
        super().__init__(tmp, keys, args=(*extra, "--pair-timeout", "3", "--first-frame-timeout", "3", *args))


@pytest.fixture
def ws_relay(tmp_path, keys):
    r = WSRelay(str(tmp_path), keys)
    yield r
    r.stop()


@pytest.fixture
def wss_relay(tmp_path, keys, cert):
    r = WSRelay(str(tmp_path), keys, tls=cert)
    yield r
    r.stop()


def exchange_ws_tcp(ws, tcp, size):
    """size random bytes each way between a WebSocket side and a TCP side. The WebSocket side
    writes, then reads, on this thread only: an SSL socket must not be written and read from two
    threads at once (that stalled the WSS exchange now and then). The TCP side reads and writes
    on threads of its own meanwhile, so both directions are in flight together."""
    up, down = os.urandom(size), os.urandom(size)
    got = {}

    def tcp_reader():
        data = b""
        tcp.settimeout(20)
        while len(data) < size:
            chunk = tcp.recv(65536)
            if not chunk:
                break
            data += chunk
        got["tcp"] = data

    threads = [threading.Thread(target=tcp_reader), threading.Thread(target=tcp.sendall, args=(down,))]
    for t in threads:
        t.start()
    ws.send(up)
    got["ws"] = ws.read_stream(size)
    for t in threads:
        t.join(30)
    return got.get("tcp") == up and got["ws"] == down


def test_ws_guest_pairs_with_tcp_host_and_bytes_flow_both_ways(ws_relay, keys):
    sid = session_id()
    guest = WSClient(ws_relay.ws_port)
    assert guest.accept_ok(), guest.status
    guest.send_ticket(keys.ticket(sid, "guest"))
    host = ws_relay.connect(keys.ticket(sid, "host"))
    assert guest.status_line() == "paired\n"
    assert status_line(host) == "paired\n"
    assert exchange_ws_tcp(guest, host, 2 * 1024 * 1024)
    m = ws_relay.metrics()
    assert m['vitrine_relay_connections_open{transport="ws"}'] == 1
    assert m['vitrine_relay_connections_open{transport="tcp"}'] == 1
    assert m['vitrine_relay_bytes_total{direction="guest_to_host"}'] == 2 * 1024 * 1024
    # the TCP side goes: the WebSocket side gets a close frame and the end
    host.close()
    assert guest.wait_close()[0] == 1000


def test_message_boundaries_carry_no_meaning(ws_relay, keys):
    """The first frame split over many messages, the session bytes glued to
    its end in one message: the relay reads one stream."""
    sid = session_id()
    t = keys.ticket(sid, "host")
    frame = struct.pack(">H", len(t)) + t
    host = WSClient(ws_relay.ws_port)
    for i in range(0, 10):
        host.send_frame(frame[i:i + 1])
    host.send_frame(frame[10:] + b"early bytes")
    guest = WSClient(ws_relay.ws_port)
    guest.send_ticket(keys.ticket(sid, "guest"))
    assert host.status_line() == "paired\n"
    assert guest.status_line() == "paired\n"
    assert guest.read_stream(len(b"early bytes")) == b"early bytes"
    host.send_frame(b"", opcode=2)  # an empty message is nothing
    host.send_frame(b"frag", opcode=2, fin=False)  # a fragmented message
    host.send_frame(b"mented", opcode=0, fin=True)
    assert guest.read_stream(10) == b"fragmented"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wss_guest_with_tcp_host_and_plain_ws_beside(wss_relay, keys, cert):
    sid = session_id()
    guest = WSClient(wss_relay.ws_port, tls_ca=cert[0])
    assert guest.accept_ok()
    assert guest.sock.version() in ("TLSv1.2", "TLSv1.3")
    guest.send_ticket(keys.ticket(sid, "guest"))
    host = wss_relay.connect(keys.ticket(sid, "host"))
    assert guest.status_line() == "paired\n" and status_line(host) == "paired\n"
    assert exchange_ws_tcp(guest, host, 1024 * 1024)
    # the plain listener beside the WSS one: a WS host pairs with a WSS guest
    sid2 = session_id()
    g2 = WSClient(wss_relay.ws_port, tls_ca=cert[0])
    g2.send_ticket(keys.ticket(sid2, "guest"))
    h2 = WSClient(wss_relay.plain_port)
    h2.send_ticket(keys.ticket(sid2, "host"))
    assert g2.status_line() == "paired\n" and h2.status_line() == "paired\n"
    payload = os.urandom(300000)
    h2.send(payload)
    assert g2.read_stream(len(payload)) == payload
    m = wss_relay.metrics()
    assert m['vitrine_relay_connections_open{transport="wss"}'] == 2
    assert m['vitrine_relay_connections_open{transport="ws"}'] == 1
    # TLS 1.1 is refused
    raw = socket.create_connection(("127.0.0.1", wss_relay.ws_port), timeout=5)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        ctx.wrap_socket(raw, server_hostname="localhost")
    # garbage on the TLS port: refused, the relay goes on
    junk = socket.create_connection(("127.0.0.1", wss_relay.ws_port), timeout=5)
    junk.sendall(b"GET / HTTP/1.1\r\n\r\n")
    junk.settimeout(5)
    try:
        while junk.recv(100):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    assert wss_relay.metrics()['vitrine_relay_refusals_total{reason="tls_handshake"}'] >= 1
    payload = os.urandom(1000)
    g2.send(payload)
    assert h2.read_stream(1000) == payload


def raw_request(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(request)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data.decode(errors="replace")


def test_handshake_refusals(ws_relay):
    r = raw_request(ws_relay.ws_port, b"GET /relay HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith("HTTP/1.1 400 ") and "Upgrade: websocket" in r
    r = raw_request(ws_relay.ws_port, b"GET /relay HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      b"Sec-WebSocket-Version: 8\r\n\r\n")
    assert r.startswith("HTTP/1.1 426 ") and "Sec-WebSocket-Version: 13" in r
    r = raw_request(ws_relay.ws_port, b"GET /relay HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert r.startswith("HTTP/1.1 400 ") and "Sec-WebSocket-Key" in r
    r = raw_request(ws_relay.ws_port, b"POST /relay HTTP/1.1\r\n\r\n")
    assert r.startswith("HTTP/1.1 400 ")
    r = raw_request(ws_relay.ws_port, b"GET /relay HTTP/1.1\r\nX-Filler: " + b"a" * 9000 + b"\r\n\r\n")
    assert r.startswith("HTTP/1.1 431 ")
    # the RFC 6455 example key gives the RFC's accept value
    r = raw_request(ws_relay.ws_port, b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
                                      b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: "
                                      b"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: binary\r\n"
                                      b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert r.startswith("HTTP/1.1 101 ")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in r
    assert "Sec-WebSocket-Protocol: binary" in r
    m = ws_relay.metrics()
    assert m['vitrine_relay_refusals_total{reason="ws_handshake"}'] == 5
    # a client that upgrades and says nothing is dropped at the first-frame timeout
    assert m['vitrine_relay_refusals_total{reason="first_frame_timeout"}'] <= 1


def test_text_and_oversized_messages_are_refused(ws_relay, keys):
    c = WSClient(ws_relay.ws_port)
    c.send_frame(b"hello", opcode=1)
    assert c.wait_close()[0] == 1003
    c = WSClient(ws_relay.ws_port)
    c.send_frame(os.urandom(65 * 1024))
    assert c.wait_close()[0] == 1009
    # in a paired session, a text message ends the session: the other side is closed
    sid = session_id()
    g = WSClient(ws_relay.ws_port)
    g.send_ticket(keys.ticket(sid, "guest"))
    h = ws_relay.connect(keys.ticket(sid, "host"))
    assert g.status_line() == "paired\n" and status_line(h) == "paired\n"
    g.send_frame(b"text", opcode=1)
    assert g.wait_close()[0] == 1003
    h.settimeout(5)
    assert h.recv(10) == b""
    assert ws_relay.metrics()['vitrine_relay_refusals_total{reason="ws_protocol"}'] == 3


def test_ping_pong_and_client_close(ws_relay, keys):
    sid = session_id()
    g = WSClient(ws_relay.ws_port)
    g.send_ticket(keys.ticket(sid, "guest"))
    h = ws_relay.connect(keys.ticket(sid, "host"))
    assert g.status_line() == "paired\n" and status_line(h) == "paired\n"
    g.send_frame(b"are you there", opcode=9)
    g.pong = None
    deadline = time.time() + 5
    while g.pong is None and time.time() < deadline:
        assert g.pump()
    assert g.pong == b"are you there"
    g.send_frame(struct.pack(">H", 1000), opcode=8)
    assert g.wait_close()[0] == 1000
    h.settimeout(5)
    assert h.recv(10) == b""
    m = ws_relay.metrics()
    assert m["vitrine_relay_sessions_active"] == 0
    assert m['vitrine_relay_refusals_total{reason="ws_protocol"}'] == 0


def test_refusal_codes_over_ws(ws_relay, keys, tmp_path):
    other = Keys(str(tmp_path), "other")
    c = WSClient(ws_relay.ws_port)
    c.send_ticket(other.ticket(session_id(), "guest"))
    assert c.status_line() == "error ticket_invalid\n"
    assert c.wait_close()[0] == 1000
    c = WSClient(ws_relay.ws_port)
    c.send_ticket(keys.ticket(session_id(), "guest", expires_in=-1))
    assert c.status_line() == "error ticket_expired\n"


def test_tls_options_are_checked(keys, cert, tmp_path):
    from test_relay import RELAY_BIN
    base = [RELAY_BIN, "--listen", "127.0.0.1:0", "--server-key", keys.pk]
    out = subprocess.run(base + ["--ws-listen", "127.0.0.1:0", "--tls-cert", cert[0]], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 2 and "go together" in out.stderr
    bad = str(tmp_path / "bad.pem")
    with open(bad, "w") as f:
        f.write("not a key\n")
    out = subprocess.run(base + ["--ws-listen", "127.0.0.1:0", "--tls-cert", cert[0], "--tls-key", bad],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "--tls-key" in out.stderr
    out = subprocess.run(base + ["--tls-cert", cert[0], "--tls-key", cert[1]], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2 and "--ws-listen" in out.stderr


def test_sigterm_closes_ws_sides_and_exits_0(wss_relay, keys, cert):
    sid = session_id()
    g = WSClient(wss_relay.ws_port, tls_ca=cert[0])
    g.send_ticket(keys.ticket(sid, "guest"))
    h = WSClient(wss_relay.plain_port)
    h.send_ticket(keys.ticket(sid, "host"))
    assert g.status_line() == "paired\n" and h.status_line() == "paired\n"
    started = time.time()
    wss_relay.proc.send_signal(15)
    assert wss_relay.proc.wait(timeout=5) == 0
    assert time.time() - started < 2
    assert not g.pump() and not h.pump()


def test_back_pressure_across_transports(ws_relay, keys):
    """A WebSocket guest writing to a TCP host that does not read is held
    back; so is a TCP host writing to a WebSocket guest that does not read.
    Nothing is lost once they read."""
    sid = session_id()
    guest = WSClient(ws_relay.ws_port)
    guest.send_ticket(keys.ticket(sid, "guest"))
    host = ws_relay.connect(keys.ticket(sid, "host"))
    assert guest.status_line() == "paired\n" and status_line(host) == "paired\n"
    before = ws_relay.rss_kib()
    for sender, send in ((guest.sock, lambda b: guest.send_frame(b)), (host, host.sendall)):
        sender.settimeout(1.5)
        sent = 0
        try:
            while sent < 128 * 1024 * 1024:
                send(b"\0" * 60000)
                sent += 60000
        except (socket.timeout, ssl.SSLError, BlockingIOError):
            pass
        assert sent < 32 * 1024 * 1024, "the relay kept reading from a side whose peer does not read"
        sender.settimeout(10)
    grown = ws_relay.rss_kib() - before
    assert grown < 16 * 1024 or "asan" in os.environ.get("VITRINE_BUILD", ""), grown
    assert ws_relay.proc.poll() is None


def test_relay_pings_websocket_clients_and_pings_are_no_activity(tmp_path, keys):
    r = WSRelay(str(tmp_path), keys, args=("--ws-ping", "1", "--idle-timeout", "3"))
    try:
        sid = session_id()
        g = WSClient(r.ws_port)
        g.send_ticket(keys.ticket(sid, "guest"))
        h = WSClient(r.ws_port)
        h.send_ticket(keys.ticket(sid, "host"))
        assert g.status_line() == "paired\n" and h.status_line() == "paired\n"
        pings = 0
        started = time.time()
        while time.time() - started < 6:
            try:
                op, payload = g.recv_frame()
            except EOFError:
                break
            if op == 9:
                pings += 1
                g.send_frame(payload, opcode=10)  # pong
            elif op == 2:
                g.stream += payload
            elif op == 8:
                g.closed = struct.unpack(">H", payload[:2])[0]
                break
        assert pings >= 2
        # the pings kept nothing alive: the idle pair was ended after 3 s
        assert g.status_line() == "error session_ended\n"
        assert time.time() - started < 5.5
    finally:
        r.stop()
