"""`vitrine remote SCREEN` end to end without the player: a real
vitrine-server and vitrine-relay, a screen paired through the device API
with an Ed25519 key this test made, and tests/tools/host_tool playing the
screen's host with that key in front of a TCP echo server. Bytes go through
both ways and the session ends cleanly; the host key is pinned on first use
and a changed key is refused before any connection; a host with another
key, a relay that flips a byte (handshake or frame), a TCP port that does
not answer (the WebSocket fallback, plain and TLS with a test CA, and an
untrusted certificate) -- each with its exit code and reason."""
import base64
import datetime
import hashlib
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from conftest import BUILD, CLI_BIN, SERVER_BIN, free_port, wait_for

RELAY_BIN = os.path.join(BUILD, "vitrine-relay")
HOST_TOOL = os.path.join(BUILD, "host_tool")


def sanitizer_clean(text):
    assert "ERROR: AddressSanitizer" not in text and "runtime error:" not in text, text
    assert "LeakSanitizer" not in text, text


def fingerprint(pk):
    h = hashlib.sha256(pk).digest()[:16].hex()
    return " ".join(h[i:i + 4] for i in range(0, 32, 4))


def relay_has_websocket():
    out = subprocess.run([RELAY_BIN, "--help"], capture_output=True, text=True, timeout=10)
    return "--ws-plain-listen" in out.stdout + out.stderr


class Relay:
    def __init__(self, tmp, key_file, args=(), name="relay"):
        self.port = free_port()
        self.admin_port = free_port()
        self.log = open(os.path.join(tmp, name + ".log"), "w+")
        self.proc = subprocess.Popen(
            [RELAY_BIN, "--listen", "127.0.0.1:%d" % self.port, "--server-key", key_file,
             "--admin-listen", "127.0.0.1:%d" % self.admin_port, "--pair-timeout", "20", *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.healthy, what="the relay")

    def healthy(self):
        try:
            return requests.get("http://127.0.0.1:%d/healthz" % self.admin_port, timeout=1).text == "ok\n"
        except requests.RequestException:
            return False

    def metric(self, name):
        for line in requests.get("http://127.0.0.1:%d/metrics" % self.admin_port, timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return int(line.rsplit(" ", 1)[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        sanitizer_clean(text)


class Echo:
    """A TCP echo server: the stand-in for the screen's VNC server."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    @staticmethod
    def echo(c):
        with c:
            c.sendall(b"HELLO\n")  # the host speaks first, as an RFB server does
            while True:
                data = c.recv(65536)
                if not data:
                    return
                c.sendall(data)


class Flipper:
    """A TCP relay in front of the real one that flips one byte of what the
    relay sends to the first connection (the guest's) at offset `at`."""

    def __init__(self, target_port, at):
        self.target_port = target_port
        self.at = at
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target_port))
            flip = self.at if self.count == 0 else None
            self.count += 1
            threading.Thread(target=self.pipe, args=(c, up, None), daemon=True).start()
            threading.Thread(target=self.pipe, args=(up, c, flip), daemon=True).start()

    @staticmethod
    def pipe(src, dst, flip):
        seen = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if flip is not None and seen <= flip < seen + len(data):
                    b = bytearray(data)
                    b[flip - seen] ^= 0x20
                    data = bytes(b)
                seen += len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class WsGateway:
    """A WebSocket server (RFC 6455 by hand, plain or TLS) that carries the
    relay's byte stream in binary messages to the real relay's TCP port, as
    vitrine-relay's --ws-listen does."""

    def __init__(self, target_port, tls_ctx=None):
        self.target_port = target_port
        self.tls_ctx = tls_ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.upgrades = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def recv_exact(s, n):
        buf = b""
        while len(buf) < n:
            d = s.recv(n - len(buf))
            if not d:
                raise EOFError
            buf += d
        return buf

    def serve(self, c):
        try:
            if self.tls_ctx:
                c = self.tls_ctx.wrap_socket(c, server_side=True)
            req = b""
            while b"\r\n\r\n" not in req:
                d = c.recv(1)
                if not d:
                    return
                req += d
            key = [l.split(b":", 1)[1].strip() for l in req.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.upgrades += 1
            up = socket.create_connection(("127.0.0.1", self.target_port))
            lock = threading.Lock()

            def down():
                try:
                    while True:
                        d = up.recv(65536)
                        if not d:
                            break
                        n = len(d)
                        hdr = bytes([0x82, n]) if n < 126 else (struct.pack(">BBH", 0x82, 126, n) if n < 65536
                                                                else struct.pack(">BBQ", 0x82, 127, n))
                        with lock:
                            c.sendall(hdr + d)
                    with lock:
                        c.sendall(b"\x88\x02\x03\xe8")
                except OSError:
                    pass

            threading.Thread(target=down, daemon=True).start()
            while True:
                b0, b1 = self.recv_exact(c, 2)
                n = b1 & 0x7f
                if n == 126:
                    n = struct.unpack(">H", self.recv_exact(c, 2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self.recv_exact(c, 8))[0]
                assert b1 & 0x80, "client frames are masked"
                mask = self.recv_exact(c, 4)
                payload = bytes(x ^ mask[i % 4] for i, x in enumerate(self.recv_exact(c, n)))
                op = b0 & 0x0f
                if op == 8:
                    break
                if op == 9:
                    with lock:
                        c.sendall(bytes([0x8a, len(payload)]) + payload)
                elif op in (0, 2):
                    up.sendall(payload)
            up.shutdown(socket.SHUT_WR)
        except (OSError, EOFError, IndexError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


def make_ca(tmp):
    """A test CA and a certificate for 127.0.0.1 signed by it; returns
    (ca_pem_path, cert_path, key_path)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vitrine test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(tmp, n) for n in ("ca.pem", "relay.pem", "relay.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class World:
    """Server + relay + a paired screen whose key this test holds + a logged-in CLI."""

    def __init__(self, server, admin, tmp):
        self.server, self.admin, self.tmp = server, admin, tmp
        key_file = self.key_file = os.path.join(tmp, "relay-key")
        out = subprocess.run([SERVER_BIN, "--data", server.data, "relay-key", "--out", key_file],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        self.relay = Relay(tmp, key_file)
        self.seed = secrets.token_bytes(32)
        self.pk = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        r = requests.post(server.url + "/api/v1/device/pair",
                          json={"hardware_id": "remote-1", "public_key": base64.b64encode(self.pk).decode()})
        assert r.status_code == 200, r.text
        p = r.json()
        screen = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": "Lobby"}).json()["screen"]
        self.screen_id = screen["id"]
        self.device = requests.post(server.url + "/api/v1/device/token",
                                    json={"device_code": p["device_code"]}).json()["access_token"]
        self.after = 0
        self.poll(wait=0)  # online
        self.config = os.path.join(tmp, "cli")
        out = subprocess.run([CLI_BIN, "--config-dir", self.config, "--server", server.url, "login", "--user",
                              "admin", "--password-stdin"], input="admin-password-for-tests\n",
                             capture_output=True, text=True, timeout=60, start_new_session=True)
        assert out.returncode == 0, out.stderr
        self.echo = Echo()
        self.relay_id = None

    def use_relay(self, port, ws_url):
        if self.relay_id:
            assert self.admin.delete("/api/v1/relays/" + self.relay_id).status_code == 204
        r = self.admin.post("/api/v1/relays", json={"host": "127.0.0.1", "port": port, "ws_url": ws_url,
                                                    "shared": True})
        assert r.status_code == 201, r.text
        self.relay_id, token = r.json()["relay"]["id"], r.json()["token"]
        r = requests.post(self.server.url + "/api/v1/relays/%s/report" % self.relay_id,
                          headers={"Authorization": "Bearer " + token}, json={"sessions": 0, "bytes": 0})
        assert r.status_code == 200, r.text

    def poll(self, wait=5):
        r = requests.get(self.server.url + "/api/v1/device/instructions?after=%d&wait=%d" % (self.after, wait),
                         headers={"Authorization": "Bearer " + self.device}, timeout=wait + 10)
        assert r.status_code == 200, r.text
        ins = r.json()["instructions"]
        for i in ins:
            self.after = max(self.after, i["seq"])
        return ins

    def remote(self, *args, env=None):
        return subprocess.Popen([CLI_BIN, "--config-dir", self.config, "remote", "Lobby", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                env=dict(os.environ, **(env or {})))

    def host(self, seed=None, env=None):
        """Waits for the remote_session instruction and starts host_tool on it."""
        payload = wait_for(lambda: next((i["payload"] for i in self.poll() if i["type"] == "remote_session"), None),
                           timeout=30, what="the remote_session instruction")
        path = os.path.join(self.tmp, "instruction-%s.json" % payload["session_id"])
        with open(path, "w") as f:
            json.dump(payload, f)
        return subprocess.Popen([HOST_TOOL, "--seed", (seed or self.seed).hex(), "--instruction", path,
                                 "--target", "127.0.0.1:%d" % self.echo.port], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})))

    def stop(self):
        self.relay.stop()


@pytest.fixture
def world(server, admin, tmp_path):
    w = World(server, admin, str(tmp_path))
    w.use_relay(w.relay.port, "ws://127.0.0.1:9/relay")
    yield w
    w.stop()


def vnc_line(proc, timeout=40):
    """Reads the CLI's stdout up to the VNC line; returns (port, lines before)."""
    lines = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("VNC: 127.0.0.1:"):
            return int(line.strip().rsplit(":", 1)[1]), lines
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError("no VNC line: %r %r %r" % (lines, out, err))


def finish(proc, timeout=30):
    out, err = proc.communicate(timeout=timeout)
    sanitizer_clean(err)
    return proc.returncode, out, err


def exchange(port, size=300000):
    data = secrets.token_bytes(size)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        got = b""
        while len(got) < 6:
            got += s.recv(6 - len(got))
        assert got == b"HELLO\n"
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        back = b""
        while len(back) < size:
            chunk = s.recv(65536)
            assert chunk, "the tunnel closed after %d bytes" % len(back)
            back += chunk
        sender.join()
        assert back == data
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b""  # the session ends cleanly


def test_bytes_go_through_both_ways_and_the_key_is_pinned(world):
    cli = world.remote()
    host = world.host()
    port, before = vnc_line(cli)
    assert any("pinned the host key of Lobby, fingerprint " + fingerprint(world.pk) in l for l in before), before
    exchange(port)
    rc, out, err = finish(cli)
    assert rc == 0, err
    assert "session ended" in out
    hrc, hout, herr = finish(host)
    assert hrc == 0 and "host_tool: ended" in hout, hout + herr
    with open(os.path.join(world.config, "known_hosts")) as f:
        pins = f.read().splitlines()
    assert pins == ["%s %s %s" % (world.server.url, world.screen_id, base64.b64encode(world.pk).decode())]
    assert os.stat(os.path.join(world.config, "known_hosts")).st_mode & 0o077 == 0

    # a second session: the pin matches, nothing printed about it; a given --port is used
    fixed = free_port()
    cli = world.remote("--port", str(fixed))
    host = world.host()
    port, before = vnc_line(cli)
    assert port == fixed and not any("pinned" in l for l in before)
    exchange(port, 1000)
    assert finish(cli)[0] == 0 and finish(host)[0] == 0


def test_a_changed_host_key_is_refused_before_connecting(world):
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                   serialization.PublicFormat.Raw)
    os.makedirs(world.config, exist_ok=True)
    with open(os.path.join(world.config, "known_hosts"), "w") as f:
        f.write("%s %s %s\n" % (world.server.url, world.screen_id, base64.b64encode(other).decode()))
    cli = world.remote()
    rc, out, err = finish(cli)
    assert rc == 1, out + err
    assert "HOST KEY OF SCREEN Lobby" in err and "HAS CHANGED" in err
    assert fingerprint(other) in err and fingerprint(world.pk) in err
    assert "VNC:" not in out
    assert world.relay.metric("vitrine_relay_connections") == 0

    # --forget-host-key drops the pin: the session runs and the new key is pinned
    world.poll(wait=0)  # past the refused session's instruction
    cli = world.remote("--forget-host-key")
    host = world.host()
    port, before = vnc_line(cli)
    assert any(fingerprint(world.pk) in l for l in before)
    exchange(port, 1000)
    assert finish(cli)[0] == 0 and finish(host)[0] == 0


def test_a_host_with_another_key_is_host_key_mismatch(world):
    cli = world.remote()
    host = world.host(seed=secrets.token_bytes(32))
    rc, out, err = finish(cli)
    assert rc == 1 and "host_key_mismatch" in err and "VNC:" not in out, out + err
    hrc, hout, _ = finish(host)
    assert hrc == 1 and "failed" in hout


@pytest.mark.parametrize("at, code", [(7 + 10, "handshake_invalid"), (7 + 134 + 30, "frame_tampered")])
def test_a_relay_flipping_a_byte_ends_the_session(world, at, code):
    flipper = Flipper(world.relay.port, at)
    world.use_relay(flipper.port, "ws://127.0.0.1:9/relay")
    cli = world.remote()
    # the guest must be the flipper's first connection: the host joins after it
    wait_for(lambda: flipper.count >= 1, timeout=30, what="the guest to reach the relay")
    host = world.host()
    if code == "frame_tampered":
        port, _ = vnc_line(cli)
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"x" * 1000)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    rc, out, err = finish(cli)
    assert rc == 1 and code in err, out + err
    finish(host)


def test_websocket_fallback_plain_and_tls(world, tmp_path):
    closed = free_port()  # nothing listens: TCP fails at once
    gw = WsGateway(world.relay.port)
    world.use_relay(closed, "ws://127.0.0.1:%d/relay" % gw.port)
    cli = world.remote()
    host = world.host()
    port, _ = vnc_line(cli)
    exchange(port, 200000)
    assert finish(cli)[0] == 0 and finish(host)[0] == 0
    assert gw.upgrades == 2

    import ssl
    ca, cert, key = make_ca(str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    gws = WsGateway(world.relay.port, tls_ctx=ctx)
    world.use_relay(closed, "wss://127.0.0.1:%d/relay" % gws.port)
    cli = world.remote("--relay-ca", ca)
    host = world.host(env={"VITRINE_RELAY_CA": ca})
    port, _ = vnc_line(cli)
    exchange(port, 200000)
    assert finish(cli)[0] == 0 and finish(host)[0] == 0
    assert gws.upgrades == 2

    # without the test CA the certificate is not trusted: no session, a reason
    cli = world.remote()
    rc, out, err = finish(cli, timeout=60)
    assert rc == 1 and "relay_unreachable" in err and "not trusted" in err, err


def test_bad_use_is_refused_with_a_sentence(world):
    out = subprocess.run([CLI_BIN, "--config-dir", world.config, "remote"], capture_output=True, text=True,
                         timeout=30, start_new_session=True)
    assert out.returncode == 2 and "needs SCREEN" in out.stderr
    out = subprocess.run([CLI_BIN, "--config-dir", world.config, "remote", "Lobby", "--port", "70000"],
                         capture_output=True, text=True, timeout=30, start_new_session=True)
    assert out.returncode == 2 and "--port" in out.stderr
    out = subprocess.run([CLI_BIN, "--config-dir", world.config, "remote", "no-such-screen"], capture_output=True,
                         text=True, timeout=30, start_new_session=True)
    assert out.returncode == 1, out.stderr
    sanitizer_clean(out.stderr)


VIEWER = r'''
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
got = b""
while len(got) < 6:
    got += s.recv(6 - len(got))
assert got == b"HELLO\n", got
s.sendall(b"ping" * 1000)
back = b""
while len(back) < 4000:
    back += s.recv(65536)
assert back == b"ping" * 1000
print("viewer: ok", flush=True)
'''


def test_exec_starts_the_viewer_and_its_exit_ends_the_session(world, tmp_path):
    viewer = tmp_path / "viewer.py"
    viewer.write_text(VIEWER)
    cli = world.remote("--exec", "/usr/bin/python3 %s {port}" % viewer)
    host = world.host()
    rc, out, err = finish(cli, timeout=60)
    assert rc == 0, out + err
    assert "VNC: 127.0.0.1:" in out and "viewer: ok" in out and "session ended" in out, out
    hrc, hout, herr = finish(host)
    assert hrc == 0 and "host_tool: ended" in hout, hout + herr


def test_consent_refused_is_the_servers_message(world):
    r = world.admin.patch("/api/v1/screens/" + world.screen_id, json={"remote_consent": True})
    if r.status_code != 200 or "remote_consent" not in r.json().get("screen", {}):
        pytest.skip("this server has no remote_consent setting")
    cli = world.remote()
    q = wait_for(lambda: next((i for i in world.poll() if i["type"] == "remote_consent"), None), timeout=20,
                 what="the consent question")
    a = requests.post(world.server.url + "/api/v1/device/remote-sessions/%s/consent" % q["payload"]["session_id"],
                      headers={"Authorization": "Bearer " + world.device}, json={"accepted": False}, timeout=15)
    assert a.status_code in (200, 204), a.text
    rc, out, err = finish(cli)
    assert rc == 1 and "refused remote control" in err and "VNC:" not in out, out + err


def test_websocket_fallback_through_vitrine_relay(world, tmp_path):
    """The same through vitrine-relay's own WebSocket listeners (WSS with a
    test CA, and plain WS), when this relay has them."""
    if not relay_has_websocket():
        pytest.skip("this vitrine-relay has no WebSocket listeners")
    ca, cert, key = make_ca(str(tmp_path))
    wss, ws = free_port(), free_port()
    relay = Relay(str(tmp_path), world.key_file, name="relay-ws",
                  args=("--ws-listen", "127.0.0.1:%d" % wss, "--tls-cert", cert, "--tls-key", key,
                        "--ws-plain-listen", "127.0.0.1:%d" % ws))
    try:
        closed = free_port()
        for url, env in (("wss://127.0.0.1:%d/relay" % wss, {"VITRINE_RELAY_CA": ca}),
                         ("ws://127.0.0.1:%d/relay" % ws, {})):
            world.use_relay(closed, url)
            cli = world.remote(env=env)
            host = world.host(env=env)
            port, _ = vnc_line(cli)
            exchange(port, 500000)
            rc, out, err = finish(cli)
            assert rc == 0, out + err
            hrc, hout, herr = finish(host)
            assert hrc == 0 and "paired ws" in hout, hout + herr
    finally:
        relay.stop()


OTHER_USER_CONNECT = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.settimeout(10)
try:
    print("closed" if s.recv(16) == b"" else "served")
except ConnectionResetError:
    print("closed")
"""


@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_the_viewer_port_serves_only_this_user(world):
    """Any local user can reach a loopback port: another user's connection is closed with a
    warning (its owner in /proc/net/tcp), and this user's viewer is still served."""
    cli = world.remote()
    host = world.host()
    port, _ = vnc_line(cli)
    other = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                            sys.executable, "-c", OTHER_USER_CONNECT, str(port)],
                           capture_output=True, text=True, timeout=30)
    assert other.stdout.strip() == "closed", other.stdout + other.stderr
    exchange(port, 1000)
    rc, out, err = finish(cli)
    assert rc == 0, err
    assert "refused a viewer connection on 127.0.0.1:%d from another user (uid 65534)" % port in err, err
    assert finish(host)[0] == 0
