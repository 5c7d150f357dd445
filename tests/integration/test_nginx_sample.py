"""The sample reverse-proxy configuration, dist/nginx/vitrine.conf, run by
Debian's nginx in front of a real vitrine-server: the sample is rewritten
to loopback ports and a self-signed certificate made here (every rewrite
must find its line, so the sample cannot drift away from the test), then
HTTPS, the HTTP redirect, X-Forwarded-For with trusted_proxies, a screen's
long-poll, an SSE stream and a 50 MiB upload go through it."""
import hashlib
import http.client
import os
import re
import ssl
import subprocess
import threading
import time

import pytest
import requests

from conftest import ROOT, Client, free_port, wait_for
from test_http import read_sse_event
from test_screens import pair_device, send

NGINX = "/usr/sbin/nginx"
SAMPLE = os.path.join(ROOT, "dist", "nginx", "vitrine.conf")

pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="nginx is not installed")


def rewrite(sample, http_port, https_port, upstream_port, cert, key):
    """The sample for this test: loopback ports, the test's certificate."""
    edits = [
        ("    listen 80;\n", "    listen 127.0.0.1:%d;\n" % http_port),
        ("    listen [::]:80;\n", ""),
        ("    listen 443 ssl http2;\n", "    listen 127.0.0.1:%d ssl http2;\n" % https_port),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("    server 127.0.0.1:8080;\n", "    server 127.0.0.1:%d;\n" % upstream_port),
        ("    ssl_certificate /etc/ssl/certs/signage.example.org.pem;\n", "    ssl_certificate %s;\n" % cert),
        ("    ssl_certificate_key /etc/ssl/private/signage.example.org.key;\n",
         "    ssl_certificate_key %s;\n" % key),
    ]
    for old, new in edits:  # whole lines only (not the commented-out relay server)
        sample, n = re.subn("^" + re.escape(old), new.replace("\\", "\\\\"), sample, flags=re.M)
        assert n == 1, "the sample has no single line %r" % old
    return sample


class Nginx:
    """nginx with its whole prefix (pid, logs, temporary files) in tmp."""

    def __init__(self, tmp, upstream_port):
        self.tmp = tmp
        self.http_port, self.https_port = free_port(), free_port()
        self.cert, self.key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
        with open(SAMPLE) as f:
            site = rewrite(f.read(), self.http_port, self.https_port, upstream_port, self.cert, self.key)
        with open(os.path.join(tmp, "vitrine.conf"), "w") as f:
            f.write(site)
        temp = {name: os.path.join(tmp, name) for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write("daemon off;\n"
                    "worker_processes 1;\n"
                    # the workers would be nobody, who may not enter the 0700 temporary folder
                    + ("user root;\n" if os.geteuid() == 0 else "")
                    + "pid %s/nginx.pid;\n"
                    "error_log stderr notice;\n"
                    "events { worker_connections 1024; }\n"
                    "http {\n"
                    "    access_log %s/access.log;\n"
                    "    client_body_temp_path %s;\n"
                    "    proxy_temp_path %s;\n"
                    "    fastcgi_temp_path %s;\n"
                    "    uwsgi_temp_path %s;\n"
                    "    scgi_temp_path %s;\n"
                    "    include %s/vitrine.conf;\n"
                    "}\n" % (tmp, tmp, temp["client_body"], temp["proxy"], temp["fastcgi"], temp["uwsgi"],
                             temp["scgi"], tmp))
        self.url = "https://127.0.0.1:%d" % self.https_port
        self.log_path = os.path.join(tmp, "nginx.log")

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([NGINX, "-p", self.tmp, "-c", os.path.join(self.tmp, "nginx.conf"),
                                      "-e", "stderr"], stdout=self.log, stderr=self.log)

        def up():
            assert self.proc.poll() is None, "nginx exited: " + self.read_log()
            try:
                return requests.get(self.url + "/healthz", verify=self.cert, timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, timeout=20, what="nginx in front of the server")
        return self

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


@pytest.fixture
def proxied(make_server, tmp_path, monkeypatch):
    """(server, nginx, admin client logged in through nginx)."""
    server = make_server(env={"VITRINE_TRUSTED_PROXIES": "127.0.0.1/32"}).start()
    tmp = str(tmp_path / "nginx")
    os.mkdir(tmp)
    nginx = Nginx(tmp, server.port).start()
    # module-level requests calls of the shared helpers (pair_device) check
    # the certificate against this one
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", nginx.cert)
    admin = Client(nginx.url)
    assert admin.login().status_code == 200
    yield server, nginx, admin
    nginx.stop()
    assert "[emerg]" not in nginx.read_log() and "[alert]" not in nginx.read_log(), nginx.read_log()


def suspended(server, n=1):
    return ("vitrine_http_suspended_requests %d" % n) in requests.get(server.url + "/metrics", timeout=5).text


def test_the_sample_is_valid_for_nginx(tmp_path):
    Nginx(str(tmp_path), 8080)  # writes the configuration
    out = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "[warn]" not in out.stderr, out.stderr


def test_timeouts_outlast_long_polls_and_keepalives():
    """Every proxy_read_timeout of the sample is above the server's longest
    wait (SCREENS_MAX_WAIT_S and the other waits: 30 s) and its SSE
    keep-alive (15 s)."""
    with open(SAMPLE) as f:
        sample = f.read()
    with open(os.path.join(ROOT, "src", "server", "screens", "screens.h")) as f:
        max_wait = int(re.search(r"#define SCREENS_MAX_WAIT_S\s+(\d+)", f.read()).group(1))
    with open(os.path.join(ROOT, "src", "server", "http", "sse.c")) as f:
        keepalive = int(re.search(r"#define SSE_KEEPALIVE_MS\s+(\d+)", f.read()).group(1)) / 1000
    seconds = {"s": 1, "m": 60, "h": 3600}
    timeouts = [int(n) * seconds[u] for n, u in re.findall(r"^\s*proxy_read_timeout (\d+)([smh]);", sample, re.M)]
    assert timeouts and min(timeouts) >= 2 * max(max_wait, keepalive), timeouts
    assert re.search(r"client_max_body_size 4g;", sample)


def test_https_healthz_redirect_and_headers(proxied):
    server, nginx, admin = proxied
    r = requests.get(nginx.url + "/healthz", verify=nginx.cert, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = requests.get("http://127.0.0.1:%d/healthz?x=1" % nginx.http_port, allow_redirects=False, timeout=5)
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/healthz?x=1"
    # the session cookie set through nginx is Secure (the server does not see TLS)
    c = Client(nginx.url)
    r = c.login()
    assert r.status_code == 200
    assert "secure" in r.headers["Set-Cookie"].lower(), r.headers["Set-Cookie"]


def test_forwarded_for_names_the_client_not_a_spoof(proxied):
    """The client comes from 127.0.0.2 and claims to be 203.0.113.7: the
    server, trusting only nginx (127.0.0.1), logs 127.0.0.2."""
    server, nginx, admin = proxied
    ctx = ssl.create_default_context(cafile=nginx.cert)
    conn = http.client.HTTPSConnection("127.0.0.1", nginx.https_port, context=ctx, timeout=10,
                                       source_address=("127.0.0.2", 0))
    conn.request("GET", "/healthz?from=spoof", headers={"X-Forwarded-For": "203.0.113.7"})
    assert conn.getresponse().status == 200
    conn.close()

    def logged():
        lines = [l for l in server.read_log().splitlines() if "path=/healthz" in l and "route=/healthz" in l]
        return [l for l in lines if "ip=127.0.0.2" in l]
    assert wait_for(logged, what="the request's log line")
    assert "ip=203.0.113.7" not in server.read_log()


def test_a_long_poll_through_nginx_is_held_then_answered(proxied):
    server, nginx, admin = proxied
    token, sid = pair_device(admin)
    result = {}

    def poll():
        r = requests.get(nginx.url + "/api/v1/device/instructions?after=0&wait=30",
                         headers={"Authorization": "Bearer " + token}, verify=nginx.cert, timeout=40)
        result["status"], result["body"], result["at"] = r.status_code, r.json(), time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    wait_for(lambda: suspended(server), what="the long-poll to be parked in the server")
    time.sleep(0.5)
    assert "at" not in result, "the long-poll was answered before there was anything to say"
    sent = time.monotonic()
    ins = send(admin, sid, "identify", seconds=3)
    th.join(10)
    assert result["status"] == 200, result
    assert [i["id"] for i in result["body"]["instructions"]] == [ins["id"]], result["body"]
    assert result["at"] - sent < 1.0


def test_an_event_stream_through_nginx_is_not_buffered(proxied):
    server, nginx, admin = proxied
    token = admin.post("/api/v1/tokens", json={"name": "sse"}).json()["token"]
    t = Client(nginx.url, token=token)
    with t.s.get(nginx.url + "/api/v1/events", stream=True, timeout=10) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/event-stream"
        wait_for(lambda: suspended(server), what="the stream to be parked")
        sent = time.monotonic()
        r = admin.post("/api/v1/users", json={"login": "live", "password": "a-long-password-1", "role": "editor"})
        assert r.status_code == 201
        ev = read_sse_event(resp, time.time() + 5)
        elapsed = time.monotonic() - sent
    assert ev is not None and '"user.created"' in ev["data"]
    assert elapsed < 1.0, elapsed


def test_a_50_mib_upload_through_nginx(proxied):
    server, nginx, admin = proxied
    body = b"<!DOCTYPE html><html><body><p>" + b"a" * (50 << 20) + b"</p></body></html>\n"
    sha = hashlib.sha256(body).hexdigest()
    start = time.monotonic()
    r = admin.put("/api/v1/media/" + sha, data=body, headers={"X-Filename": "big.html"}, timeout=120)
    assert r.status_code in (200, 201), r.text
    assert r.json()["media"]["size"] == len(body)
    assert admin.s.head(nginx.url + "/api/v1/media/" + sha).status_code == 200
    assert time.monotonic() - start < 60
    # streamed to the server as it came, not spooled first (nginx warns
    # "a client request body is buffered to a temporary file" when it does)
    assert "buffered to a temporary file" not in nginx.read_log(), nginx.read_log()
