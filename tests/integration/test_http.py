"""The HTTP core: errors, limits, health, metrics, headers, TLS, live
events through the wake hub, graceful stop, and the command line."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import ADMIN_PASSWORD, SERVER_BIN, Client


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
    assert requests.get(server.url + "/firewall").headers["Content-Type"].startswith("text/html")
    admin.post("/api/v1/users", json={"login": "ed", "password": "a-long-password-1", "role": "editor"})
    ed = Client(server.url)
    ed.login("ed", "a-long-password-1")
    assert ed.get("/api/v1/firewall").status_code == 403
