"""The HTTP core: errors, limits, health, metrics, headers, TLS, live
events through the wake hub, graceful stop, and the command line."""
import glob
import json
import os
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import ADMIN_PASSWORD, SERVER_BIN, Client, wait_for


def test_bad_json_is_400_with_a_message(admin):
    for body, text in (("{bad", "malformed JSON at line 1"), ("[1,2]", "must be a JSON object"),
                       ("", "JSON object body is required"), ("[" * 40 + "]" * 40, "nested deeper"),
                       ('{"name":"a","name":"b"}', "duplicate")):
        r = admin.post("/api/v1/tokens", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] == "invalid_json"
        assert text in r.json()["error"]["message"], r.json()
    r = admin.post("/api/v1/tokens", json={"name": 5})
    assert r.status_code == 400 and "name" in r.json()["error"]["message"]


def test_body_over_the_limit_is_413(server, admin):
    r = requests.post(server.url + "/api/v1/session", data=b"x" * 10000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    # a chunked upload (no Content-Length) over the limit is read to its end
    # without being kept, then refused
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(50):
            s.sendall(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    # routes without a body refuse one
    r = admin.delete("/api/v1/session", data=b"{}")
    assert r.status_code == 413
    assert server.client().login().status_code == 200  # the server is fine


def test_unknown_route_404_and_wrong_method_405_are_json(server):
    r = requests.get(server.url + "/api/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "GET /api/v1/nope" in r.json()["error"]["message"]
    r = requests.put(server.url + "/healthz")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = requests.get(server.url + "/api/v1/users")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_healthz_metrics_and_request_log(server, admin):
    r = requests.get(server.url + "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    admin.get("/api/v1/users")
    m = requests.get(server.url + "/metrics")
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = m.text
    assert 'vitrine_http_requests_total{method="GET",route="/api/v1/users",status="200"} 1' in text
    assert 'vitrine_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"}' in text
    assert "vitrine_http_open_connections " in text and "vitrine_http_suspended_requests 0" in text
    log = server.read_log()
    assert "msg=request method=GET path=/api/v1/users route=/api/v1/users status=200" in log
    # no secret ever reaches the log
    assert ADMIN_PASSWORD not in log and admin.csrf not in log
    assert admin.s.cookies.get("vitrine_session") not in log


def test_console_is_served_with_strict_headers(server):
    r = requests.get(server.url + "/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" in r.text and "<script>" not in r.text  # modules only, no inline code
    js = requests.get(server.url + "/assets/app.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(server.url + "/assets/../../etc/passwd").status_code == 404
    assert requests.get(server.url + "/assets/nope.js").status_code == 404


def read_sse_event(resp, deadline):
    buf = b""
    for chunk in resp.iter_content(chunk_size=None):
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
            if fields.get("event") == "audit":
                return fields
        if time.time() > deadline:
            break
    return None


def test_live_audit_events_arrive_at_once(server, admin):
    token = admin.post("/api/v1/tokens", json={"name": "sse"}).json()["token"]
    t = Client(server.url, token=token)
    with t.s.get(server.url + "/api/v1/events", stream=True, timeout=10) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/event-stream"
        deadline = time.time() + 5
        while "vitrine_http_suspended_requests 1" not in requests.get(server.url + "/metrics").text:
            assert time.time() < deadline
            time.sleep(0.01)
        sent = time.monotonic()
        r = admin.post("/api/v1/users", json={"login": "live", "password": "a-long-password-1", "role": "editor"})
        assert r.status_code == 201
        ev = read_sse_event(resp, time.time() + 5)
        elapsed = time.monotonic() - sent
    assert ev is not None
    data = json.loads(ev["data"])
    assert data["action"] == "user.created" and data["target"] == "live"
    assert elapsed < 1.0, elapsed


def test_revoked_token_ends_its_event_stream(server, admin):
    r = admin.post("/api/v1/tokens", json={"name": "sse"}).json()
    t = Client(server.url, token=r["token"])
    with t.s.get(server.url + "/api/v1/events", stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        assert admin.delete("/api/v1/tokens/" + r["id"]).status_code == 200
        # the revocation is audited: that wakes the stream, which then ends
        start = time.time()
        for _ in resp.iter_content(chunk_size=None):
            assert time.time() - start < 5
    assert time.time() - start < 5


def test_sigterm_finishes_requests_in_flight(make_server):
    server = make_server().start()
    results = []

    def login():
        try:
            r = requests.post(server.url + "/api/v1/session",
                              json={"login": "admin", "password": ADMIN_PASSWORD}, timeout=20)
            results.append(r.status_code)
        except requests.RequestException as e:
            results.append(repr(e))

    token = server.client()
    token.login()
    tok = token.post("/api/v1/tokens", json={"name": "sse"}).json()["token"]
    stream = requests.get(server.url + "/api/v1/events", headers={"Authorization": "Bearer " + tok},
                          stream=True, timeout=20)
    threads = [threading.Thread(target=login) for _ in range(4)]
    for th in threads:
        th.start()
    time.sleep(0.15)  # the logins are hashing passwords on the work pool
    start = time.time()
    assert server.stop() == 0
    for th in threads:
        th.join()
    assert results == [200, 200, 200, 200], results
    # the open event stream was ended, not left hanging
    list(stream.iter_content(chunk_size=None))
    assert time.time() - start < 15
    assert "msg=stopped" in server.read_log()


def test_tls_redirect_hsts_and_secure_cookie(make_server, tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    from conftest import free_port
    http_port = free_port()
    server = make_server(tls=(cert, key), args=["--http-listen", "127.0.0.1:%d" % http_port]).start()
    r = requests.get(server.url + "/healthz", verify=cert)
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    c = Client(server.url)
    c.s.verify = cert
    r = c.login()
    assert r.status_code == 200 and "; Secure" in r.headers["Set-Cookie"]
    r = requests.get("http://127.0.0.1:%d/some/page?x=1" % http_port, allow_redirects=False)
    assert r.status_code == 308
    assert r.headers["Location"] == "https://127.0.0.1:%d/some/page" % server.port
    out = subprocess.run(["curl", "-sS", "--tlsv1.2", "--tls-max", "1.1", "--cacert", cert, server.url + "/healthz"],
                         capture_output=True, text=True)
    assert out.returncode != 0  # TLS 1.1 is refused


def test_init_and_run_errors_are_sentences(tmp_path):
    data = str(tmp_path / "d")
    env = dict(os.environ)
    env.pop("VITRINE_ADMIN_PASSWORD", None)
    out = subprocess.run([SERVER_BIN, "--data", data, "init", "--admin", "boss"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith("admin password: ")]
    assert len(lines) == 1 and len(lines[0].split(": ")[1]) == 16
    again = subprocess.run([SERVER_BIN, "--data", data, "init", "--admin", "boss"], capture_output=True, text=True)
    assert again.returncode == 1 and "already initialised" in again.stderr
    weak = subprocess.run([SERVER_BIN, "--data", str(tmp_path / "e"), "init", "--admin", "boss"],
                          capture_output=True, text=True, env=dict(env, VITRINE_ADMIN_PASSWORD="short"))
    assert weak.returncode == 2 and "at least 10 characters" in weak.stderr
    fresh = subprocess.run([SERVER_BIN, "--data", str(tmp_path / "none"), "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=10)
    assert fresh.returncode == 1 and "is not initialised" in fresh.stderr
    bad = subprocess.run([SERVER_BIN, "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument" in bad.stderr
    helptext = subprocess.run([SERVER_BIN, "--help"], capture_output=True, text=True)
    assert helptext.returncode == 0 and "VITRINE_LISTEN" in helptext.stdout
    cfg = tmp_path / "bad.ini"
    cfg.write_text("[server]\nthreads = lots\n")
    out = subprocess.run([SERVER_BIN, "--data", data, "--config", str(cfg)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2 and "threads must be a number" in out.stderr


def test_firewall_rules_come_from_the_running_configuration(make_server):
    server = make_server(env={"VITRINE_PUBLIC_URL": "https://signage.example.org/"}).start()
    admin = server.client()
    admin.login()
    rules = admin.get("/api/v1/firewall").json()["rules"]
    screens = rules[0]
    assert (screens["to"], screens["port"], screens["protocol"], screens["transport"]) == \
        ("signage.example.org", 443, "HTTPS", "TCP")
    assert any(r["protocol"] == "NTP" and r["port"] == 123 for r in rules)
    share = {(r["transport"], r["port"], r.get("port_last")): r for r in rules if r.get("scope") == "share"}
    assert set(share) == {("TCP", 7385, None), ("TCP", 49200, 49400), ("UDP", 49200, 49400)}
    assert share[("TCP", 7385, None)]["alternatives"] == [29736, 2067, 39458]
    assert share[("UDP", 49200, 49400)]["from"].startswith("displays")
    assert requests.get(server.url + "/firewall").headers["Content-Type"].startswith("text/html")
    admin.post("/api/v1/users", json={"login": "ed", "password": "a-long-password-1", "role": "editor"})
    ed = Client(server.url)
    ed.login("ed", "a-long-password-1")
    assert ed.get("/api/v1/firewall").status_code == 403


# ---------- hardening of the HTTP listener (issue 9) ----------

PUBKEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # 32 bytes, base64


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


def raw_request(port, data, timeout=10, source=None):
    """Sends data on a fresh connection; returns everything read until the
    server closes (or the timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def pair_devices(server, admin, n):
    """n device tokens (the pairing limit is per address: each device
    comes from its own address through a trusted proxy)."""
    tokens = []
    for i in range(n):
        xff = {"X-Forwarded-For": "198.51.%d.%d" % (100 + i // 250, 1 + i % 250)}
        p = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": "hw-%d" % i, "public_key": PUBKEY},
                          headers=xff)
        assert p.status_code == 200, p.text
        p = p.json()
        r = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": "S%d" % i})
        assert r.status_code == 201 or r.status_code == 200, r.text
        t = requests.post(server.url + "/api/v1/device/token", json={"device_code": p["device_code"]}, headers=xff)
        assert t.status_code == 200, t.text
        tokens.append(t.json()["access_token"])
    return tokens


def test_unauthenticated_bodies_are_refused_before_they_are_read(server):
    """An unauthenticated 8 MiB upload gets 401 at once and is never kept:
    50 of them at the same time leave the server's peak memory flat."""
    body = b"x" * (8 << 20)
    url = server.url + "/api/v1/device/screenshot"
    start = time.monotonic()
    r = requests.post(url, data=body, headers={"Content-Type": "image/png"}, timeout=20)
    assert r.status_code == 401 and r.json()["error"]["code"] in ("unauthenticated", "invalid_token"), r.text
    assert time.monotonic() - start < 5
    peak_before = proc_status(server.proc.pid, "VmHWM")
    results = []

    def send():
        try:
            results.append(requests.post(url, data=body, headers={"Authorization": "Bearer nope"},
                                         timeout=60).status_code)
        except requests.RequestException as e:
            results.append(repr(e))

    threads = [threading.Thread(target=send) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [401] * 50, results
    grown = proc_status(server.proc.pid, "VmHWM") - peak_before
    assert grown < (32 << 20), "peak memory grew by %d MiB" % (grown >> 20)


def test_two_different_content_lengths_are_refused(server):
    reply = raw_request(server.port, b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: 2\r\nContent-Length: 20\r\n\r\n{}")
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert b"two different Content-Length" in reply


def test_non_utf8_paths_get_a_clear_404(server):
    r = requests.get(server.url + "/%ff")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"
    assert r.json()["error"]["message"].startswith("no such route: GET /")
    # a message cut inside a two-byte character is still valid JSON
    r = requests.get(server.url + "/" + "%C3%A9" * 250)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["message"].startswith("no such route: GET /\u00e9\u00e9")


def test_bodies_in_memory_are_capped(make_server):
    server = make_server(env={"VITRINE_BODY_MEMORY_MB": "16"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    token = pair_devices(server, admin, 1)[0]
    head = ("POST /api/v1/device/screenshot HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: image/png\r\nContent-Length: %d\r\n\r\n" % (token, 8 << 20)).encode()
    held = []
    for _ in range(2):  # two bodies of 8 MiB on their way: the cap is full
        s = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        s.sendall(head + b"y" * (6 << 20))
        held.append(s)
        time.sleep(0.5)
    reply = raw_request(server.port, head + b"z" * (8 << 20), timeout=20)
    assert reply.startswith(b"HTTP/1.1 503"), reply[:200]
    assert b"Retry-After: 2\r\n" in reply and b"too many request bodies" in reply
    for s in held:
        s.close()
    # once they are gone there is room again
    time.sleep(0.5)
    reply = raw_request(server.port, head + b"z" * (8 << 20), timeout=20)
    assert not reply.startswith(b"HTTP/1.1 503"), reply[:200]


def test_one_address_cannot_hold_every_connection(make_server):
    server = make_server(env={"VITRINE_PER_IP_CONNECTION_LIMIT": "20"}).start()
    socks = []
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        socks.append(s)
    time.sleep(0.5)
    refused = 0
    for s in socks:
        s.settimeout(0.2)
        try:
            if s.recv(1) == b"":
                refused += 1
        except socket.timeout:
            pass
        except OSError:
            refused += 1
    assert refused >= 10, refused
    # another address still gets in
    reply = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        source="127.0.0.2")
    assert reply.startswith(b"HTTP/1.1 200"), reply
    for s in socks:
        s.close()


def test_slow_headers_and_trickled_bodies_are_dropped(make_server):
    server = make_server(env={"VITRINE_HEADER_TIMEOUT_SECONDS": "2", "VITRINE_BODY_TIMEOUT_SECONDS": "2"}).start()

    def trickle(first, byte, seconds=8):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(first)
        start = time.monotonic()
        try:
            while time.monotonic() - start < seconds:
                s.sendall(byte)
                time.sleep(0.3)
                s.settimeout(0.01)
                try:
                    if s.recv(4096) == b"":
                        break
                except socket.timeout:
                    pass
        except OSError:
            pass
        s.close()
        return time.monotonic() - start

    # slowloris: a header line that never ends
    assert trickle(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a") < 4.5
    # a body of 1,000 bytes sent a byte at a time
    assert trickle(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 1000\r\n\r\n", b" ") < 4.5
    # a prompt client is not affected
    assert requests.get(server.url + "/healthz").status_code == 200


def test_refusal_during_a_chunked_upload_reaches_the_client(make_server):
    server = make_server()
    server.sql("UPDATE accounts SET quota_bytes = 1048576")
    server.start()
    admin = server.client()
    assert admin.login().status_code == 200
    body = os.urandom(24 << 20)
    import hashlib
    sha = hashlib.sha256(body).hexdigest()
    path = os.path.join(server.data, "..", "upload.bin")
    with open(path, "wb") as f:
        f.write(body)
    cookie = "vitrine_session=" + admin.s.cookies.get("vitrine_session")
    out = subprocess.run(["curl", "-sS", "-X", "PUT", "-H", "Transfer-Encoding: chunked", "-H", "Cookie: " + cookie,
                          "-H", "X-CSRF-Token: " + admin.csrf, "-H", "Content-Type: application/octet-stream",
                          "--data-binary", "@" + path, "-w", "\n%{http_code}",
                          server.url + "/api/v1/media/" + sha], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text, code = out.stdout.rsplit("\n", 1)
    assert code == "413", out.stdout
    assert json.loads(text)["error"]["code"] == "quota_exceeded"


def make_cert(tmp_path, kind):
    cert, key = str(tmp_path / ("%s-cert.pem" % kind)), str(tmp_path / ("%s-key.pem" % kind))
    newkey = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    subprocess.run(["openssl", "req", "-x509"] + newkey + ["-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_redirect_never_echoes_the_host_header(make_server, tmp_path):
    from conftest import free_port
    tls = make_cert(tmp_path, "ec")
    http_port = free_port()
    server = make_server(tls=tls, args=["--http-listen", "127.0.0.1:%d" % http_port]).start()
    r = requests.get("http://127.0.0.1:%d/x" % http_port, headers={"Host": "evil.example"}, allow_redirects=False)
    assert r.status_code == 308
    assert r.headers["Location"] == "https://127.0.0.1:%d/x" % server.port
    # listening on every address, without public_url, names no host to send users to
    port2, http2 = free_port(), free_port()
    wild = make_server(tls=tls, args=["--listen", "0.0.0.0:%d" % port2, "--http-listen", "127.0.0.1:%d" % http2])
    wild.port, wild.url = port2, "https://127.0.0.1:%d" % port2
    wild.start()
    r = requests.get("http://127.0.0.1:%d/x" % http2, headers={"Host": "evil.example"}, allow_redirects=False)
    assert r.status_code == 421 and "Location" not in r.headers
    assert "public_url" in r.text
    # with public_url the redirect goes there
    http3 = free_port()
    pub = make_server(tls=tls, args=["--http-listen", "127.0.0.1:%d" % http3],
                      env={"VITRINE_PUBLIC_URL": "https://signage.example.org"}).start()
    r = requests.get("http://127.0.0.1:%d/x" % http3, headers={"Host": "evil.example"}, allow_redirects=False)
    assert r.status_code == 308 and r.headers["Location"] == "https://signage.example.org/x"
    assert pub.port


def tls_handshake(port, *args):
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost"]
                         + list(args), input=b"", capture_output=True, timeout=20)
    return out.returncode == 0 and b"Cipher is (NONE)" not in out.stdout


def test_tls_offers_only_forward_secret_aead_suites(make_server, tmp_path):
    rsa = make_server(tls=make_cert(tmp_path, "rsa")).start()
    assert tls_handshake(rsa.port, "-tls1_3")
    assert tls_handshake(rsa.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert tls_handshake(rsa.port, "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305")
    for weak in ("AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                 "DHE-RSA-AES128-GCM-SHA256"):
        assert not tls_handshake(rsa.port, "-tls1_2", "-cipher", weak), weak
    ec = make_server(tls=make_cert(tmp_path, "ec")).start()
    assert tls_handshake(ec.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384")
    assert not tls_handshake(ec.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA")


def test_sigterm_with_a_fleet_waiting_and_an_upload_in_flight(make_server):
    """200 waiting long-polls each get 503 + Retry-After + Connection: close
    at once (not an empty 200 to repeat), the upload in flight finishes,
    and the process is gone within the grace period."""
    server = make_server(env={"VITRINE_TRUSTED_PROXIES": "127.0.0.1/32"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    tokens = pair_devices(server, admin, 200)
    polls = []
    for t in tokens:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        s.sendall(("GET /api/v1/device/instructions?after=0&wait=30 HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\n\r\n" % t).encode())
        polls.append(s)
    wait_for_metric(server, "vitrine_http_suspended_requests 200")
    body = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom((16 << 20) - 24)  # an MP4 by its magic
    import hashlib
    sha = hashlib.sha256(body).hexdigest()
    up = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    up.sendall(("PUT /api/v1/media/%s HTTP/1.1\r\nHost: x\r\nCookie: vitrine_session=%s\r\nX-CSRF-Token: %s\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                % (sha, admin.s.cookies.get("vitrine_session"), admin.csrf, len(body))).encode())
    up.sendall(body[:1 << 20])
    # in flight: the server has the upload's headers and takes its body
    # (its .part file exists) before it is told to stop
    wait_for(lambda: glob.glob(os.path.join(server.data, "**", "*.part"), recursive=True), timeout=10,
             what="the upload to start")
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for i in range(1, 16):  # the rest of the upload over a second and a half
        time.sleep(0.1)
        up.sendall(body[i << 20:(i + 1) << 20])
    answers = []
    for s in polls:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        answers.append(data)
        s.close()
    for a in answers:
        assert a.startswith(b"HTTP/1.1 503"), a[:200]
        assert b"Retry-After: 5\r\n" in a and b"Connection: close\r\n" in a.replace(b"connection", b"Connection")
    up_reply = up.recv(65536)
    up.close()
    assert up_reply.startswith(b"HTTP/1.1 201") or up_reply.startswith(b"HTTP/1.1 200"), up_reply[:300]
    server.proc.wait(timeout=15)
    assert time.monotonic() - start < 11
    assert server.proc.returncode == 0
    assert "msg=stopped" in server.read_log()


def wait_for_metric(server, text, timeout=20):
    deadline = time.time() + timeout
    while text not in requests.get(server.url + "/metrics").text:
        assert time.time() < deadline, "metrics never showed " + text
        time.sleep(0.05)


def test_slow_clients_of_the_redirect_listener_are_dropped(make_server, tmp_path):
    from conftest import free_port
    http_port = free_port()
    make_server(tls=make_cert(tmp_path, "ec"), args=["--http-listen", "127.0.0.1:%d" % http_port],
                env={"VITRINE_HEADER_TIMEOUT_SECONDS": "2"}).start()
    s = socket.create_connection(("127.0.0.1", http_port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    start = time.monotonic()
    try:
        while time.monotonic() - start < 8:
            s.sendall(b"a")
            time.sleep(0.3)
            s.settimeout(0.01)
            try:
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                pass
    except OSError:
        pass
    s.close()
    assert time.monotonic() - start < 4.5
    r = requests.get("http://127.0.0.1:%d/x" % http_port, allow_redirects=False)
    assert r.status_code == 308
