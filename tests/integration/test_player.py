"""The player under faults (issue 9): a server that asks for quiet, a cache
too small for the new content, damaged bytes in the cache and in its
manifest, and resumed downloads that must not mix two versions of a file.
Where the real server cannot produce the fault, a tiny device API written
here (http.server) plays the server and records what the player sent."""
import glob
import hashlib
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import wait_for
from test_content import kiosk_manifest, paired_player, png, upload


def one_item_channel(name, sha):
    return {"name": name, "width": 100, "height": 100,
            "zones": [{"name": "z", "x": 0, "y": 0, "w": 100, "h": 100, "items": [{"media": sha, "duration": 5}]}]}


def show(admin, sid, name, sha):
    cid = admin.post("/api/v1/channels", json=one_item_channel(name, sha)).json()["channel"]["id"]
    assert admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid}).status_code == 200


class FakeDeviceAPI:
    """A device API on a loopback port: `route(handler)` answers each
    request (it returns (status, headers, body) or None when it answered by
    itself); every request is recorded as (time, method, path, headers)."""

    def __init__(self, route):
        self.route = route
        self.requests = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                api.requests.append((time.time(), self.command, self.path, dict(self.headers)))
                answer = api.route(self)
                if answer is None:
                    return
                status, headers, body = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def times(self, prefix):
        return [t for t, _, path, _ in self.requests if path.startswith(prefix)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def as_json(obj, status=200, **headers):
    return status, dict({"Content-Type": "application/json"}, **headers), json.dumps(obj).encode()


def heartbeat(version=0):
    return as_json({"server_time": int(time.time() * 1000), "manifest_version": version})


@pytest.fixture
def fake_api():
    made = []

    def make(route):
        api = FakeDeviceAPI(route)
        made.append(api)
        return api
    yield make
    for api in made:
        api.close()


def paired_offline(player):
    """Gives the player's data folder a device token, as after pairing."""
    os.makedirs(player.data, mode=0o700, exist_ok=True)
    with open(os.path.join(player.data, "token"), "w") as f:
        f.write("vd_" + "a" * 52)  # the shape of a device token
    with open(os.path.join(player.data, "device_id"), "w") as f:
        f.write("aaaaaaaaaaaaaaaa")
    return player


def test_a_server_asking_for_quiet_is_not_polled_before_retry_after(fake_api, make_player):
    """Issue 9: on graceful stop the server answers long-polls 503 with
    Retry-After and Connection: close; the player waits that long (with
    jitter) before it polls again, and polls again at once after a 200."""
    mode = {"poll": "stopping"}

    def route(h):
        if h.path.startswith("/api/v1/device/instructions"):
            if mode["poll"] == "stopping":
                return as_json({"error": {"code": "unavailable", "message": "the server is stopping"}}, 503,
                               **{"Retry-After": "4", "Connection": "close"})
            time.sleep(0.2)  # a long-poll that ends with nothing new
            return as_json({"instructions": [], "server_time": int(time.time() * 1000)})
        if h.path == "/api/v1/device/heartbeat":
            return heartbeat()
        if h.path == "/api/v1/device/manifest":
            return as_json({"error": {"code": "not_found", "message": "no content"}}, 404)
        return as_json({"ok": True})

    api = fake_api(route)
    player = paired_offline(make_player(api)).start()
    first = wait_for(lambda: api.times("/api/v1/device/instructions"), what="the first poll")[0]
    time.sleep(max(0, first + 3.5 - time.time()))
    assert len(api.times("/api/v1/device/instructions")) == 1, "polled again before Retry-After"
    second = wait_for(lambda: api.times("/api/v1/device/instructions")[1:], timeout=10, what="a later poll")[0]
    assert 4.0 <= second - first <= 8.0, second - first
    # nothing at all left while the server asked for quiet (heartbeats are due every 2 s)
    assert not [t for t, _, _, _ in api.requests if first + 1.0 < t < first + 3.5]
    # a long-poll answered 200 is followed by the next one at once
    mode["poll"] = "ok"
    wait_for(lambda: len([t for t in api.times("/api/v1/device/instructions") if t > time.time() - 2]) >= 5,
             timeout=15, what="polls following each other")
    assert "server asked for quiet" in player.read_log()


@pytest.fixture
def small_cache(tmp_path):
    """A 2 MiB file system for the player's data folder."""
    mnt = tmp_path / "small-cache"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    yield str(mnt)
    if subprocess.run(["umount", str(mnt)]).returncode != 0:
        subprocess.run(["umount", "-l", str(mnt)])


def big_medium(admin, size):
    """An upload of `size` random bytes the server accepts as a medium."""
    for head in (b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"):
        data = head + os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        r = admin.put("/api/v1/media/" + sha, data=data)
        if r.status_code == 201:
            return sha
    raise AssertionError(r.text)


def test_content_larger_than_the_cache_is_refused_and_later_content_still_plays(small_cache, server, admin,
                                                                                 make_player):
    """Issue 9: a manifest bigger than the player's free cache does not wedge
    it: nothing is downloaded, no partial file stays, the current content
    keeps playing, the heartbeat says why, and a later manifest that fits is
    applied."""
    player = make_player(server)
    player.data = os.path.join(small_cache, "player")
    try:
        player.start()
        sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": "Small"}).json()
        sid = sid["screen"]["id"]
        wait_for(player.token, timeout=20, what="token")
        show(admin, sid, "First", upload(admin, png((1, 2, 3))))
        m1 = kiosk_manifest(player)
        log_start = len(player.read_log())
        show(admin, sid, "Too big", big_medium(admin, 3 * 1024 * 1024))

        def last_error():
            return admin.get("/api/v1/screens/" + sid).json()["screen"]["state"].get("last_error", "")
        err = wait_for(lambda: "space" in last_error() and last_error(), timeout=30, what="the cause in a heartbeat")
        assert "content cache" in err and "unreachable" not in err, err
        assert not glob.glob(os.path.join(player.data, "objects", "*.part"))
        url = player.kiosk_url()
        assert requests.get(url + "/manifest").json() == m1  # still playing what it had
        # and so after a restart: no partial file wedges it
        assert player.stop() == 0
        player.start()
        url = player.kiosk_url()
        assert wait_for(lambda: requests.get(url + "/manifest").status_code == 200, what="the manifest")
        assert requests.get(url + "/manifest").json() == m1
        wait_for(lambda: "not enough space in the content cache" in player.read_log()[player.log_offset:],
                 timeout=20, what="the refusal after the restart")
        assert not glob.glob(os.path.join(player.data, "objects", "*.part"))
        # later content that fits is applied
        small = png((4, 5, 6))
        show(admin, sid, "Third", upload(admin, small))
        m3 = kiosk_manifest(player, version=m1["version"] + 2, timeout=40)
        assert m3["channel"]["name"] == "Third"
        sha = m3["objects"][0]["sha256"]
        assert requests.get(url + "/objects/" + sha).content == small
        wait_for(lambda: "space" not in last_error(), timeout=15, what="the cause to be cleared")
        log = player.read_log()[log_start:]
        assert "server unreachable" not in log, log
        assert "not enough space in the content cache" in log
    finally:
        assert player.stop() == 0


def test_a_byte_flipped_in_the_cache_is_not_served_and_is_fetched_again(server, admin, make_player):
    """Issue 9: objects are verified when they are served to the kiosk page:
    a damaged one is logged, dropped and downloaded again, never shown."""
    data = png((200, 100, 50), w=64, h=64)
    player, sid = paired_player(server, admin, make_player)
    sha = upload(admin, data)
    show(admin, sid, "Flip", sha)
    kiosk_manifest(player)
    url = player.kiosk_url()
    assert requests.get(url + "/objects/" + sha).content == data
    path = os.path.join(player.data, "objects", sha)
    damaged = data[:30] + bytes([data[30] ^ 0x01]) + data[31:]
    with open(path, "r+b") as f:
        f.seek(30)
        f.write(damaged[30:31])  # one flipped bit, while the player runs
    r = requests.get(url + "/objects/" + sha)
    assert r.content != damaged, "the damaged object was served"
    assert r.status_code == 404
    assert "cached object damaged" in player.read_log()
    wait_for(lambda: requests.get(url + "/objects/" + sha).content == data, timeout=20,
             what="the object fetched again")
    assert open(path, "rb").read() == data


def test_a_damaged_manifest_in_the_cache_is_not_served_offline(server, admin, make_player):
    """Issue 9: a truncated manifest.json is checked on load and the last
    good copy is used, also without a server."""
    player, sid = paired_player(server, admin, make_player)
    data = png((7, 7, 7))
    show(admin, sid, "Kept", upload(admin, data))
    m = kiosk_manifest(player)
    assert player.stop() == 0
    assert server.stop() == 0  # offline from now on
    path = os.path.join(player.data, "manifest.json")
    text = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(text[: len(text) // 2])  # cut in the middle
    player.start()
    url = player.kiosk_url()
    r = wait_for(lambda: (lambda r: r if r.status_code != 404 else None)(requests.get(url + "/manifest")),
                 what="the kiosk manifest")
    assert r.status_code == 200 and r.json() == m
    assert requests.get(url + "/objects/" + m["objects"][0]["sha256"]).content == data
    assert json.load(open(path)) == m  # the good copy was written back
    assert "damaged" in player.read_log()


def test_a_resumed_download_sends_if_range(fake_api, make_player):
    """Issue 9: a download cut half-way is resumed with Range and, beside it,
    If-Range with the ETag of the first answer, so that a changed file
    cannot be glued to the old half."""
    data = png((90, 80, 70), w=256, h=256) + os.urandom(200000)
    sha = hashlib.sha256(data).hexdigest()
    manifest = {"version": 1, "generated_at": 0, "channel": {"id": "c", "name": "Resumed", "zones": []},
                "channels": [], "schedule": [], "play_now": None,
                "objects": [{"sha256": sha, "size": len(data), "mime": "image/png"}]}
    half = len(data) // 2
    downloads = []

    def route(h):
        if h.path.startswith("/api/v1/device/instructions"):
            time.sleep(1)
            return as_json({"instructions": [], "server_time": int(time.time() * 1000)})
        if h.path == "/api/v1/device/heartbeat":
            return heartbeat(1)
        if h.path == "/api/v1/device/manifest":
            return as_json(manifest, ETag='"m1"')
        if h.path == "/api/v1/device/objects/" + sha:
            downloads.append(dict(h.headers))
            if len(downloads) == 1:  # the first answer is cut half-way
                h.send_response(200)
                h.send_header("Content-Type", "image/png")
                h.send_header("Content-Length", str(len(data)))
                h.send_header("ETag", '"%s"' % sha)
                h.send_header("Accept-Ranges", "bytes")
                h.end_headers()
                h.wfile.write(data[:half])
                h.wfile.flush()
                h.close_connection = True
                return None
            start = int(h.headers["Range"].split("=")[1].rstrip("-"))
            return 206, {"Content-Type": "image/png", "ETag": '"%s"' % sha,
                         "Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1, len(data))}, data[start:]
        return as_json({"ok": True})

    api = fake_api(route)
    player = paired_offline(make_player(api)).start()
    m = kiosk_manifest(player, timeout=30)
    assert m["version"] == 1
    assert len(downloads) == 2, downloads
    assert downloads[1].get("Range") == "bytes=%d-" % half, downloads[1]
    assert downloads[1].get("If-Range") == '"%s"' % sha, downloads[1]
    assert requests.get(player.kiosk_url() + "/objects/" + sha).content == data
