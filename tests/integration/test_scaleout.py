"""Several servers on one PostgreSQL database and one data folder (the
media on a shared filesystem): a request may reach any of them. Each test
uses the throwaway cluster of tests/support/pg.py whichever backend the rest
of the suite runs on; under VITRINE_TEST_DB=postgresql they are skipped,
having run in the SQLite pass already."""
import json
import threading
import time

import pytest
import requests

import pg
from conftest import Client, Server, wait_for
from test_content import png, upload
from test_http import read_sse_event
from test_screens import pair_device, send

pytestmark = pytest.mark.skipif(pg.enabled(), reason="runs once, in the SQLite pass (it makes its own databases)")


@pytest.fixture
def two_servers(make_server, tmp_path):
    """Servers A and B on one new database and one data folder."""
    _, url = pg.new_database()
    a = make_server(db=url).start()
    b = Server(str(tmp_path), db=url, data=a.data)
    b.start()
    yield a, b
    assert b.stop() == 0, b.read_log()


def long_poll(server, token, after=0, wait=30):
    """Starts a device long-poll on server; returns (thread, result dict)."""
    result = {}

    def run():
        r = requests.get(server.url + "/api/v1/device/instructions?after=%d&wait=%d" % (after, wait),
                         headers={"Authorization": "Bearer " + token}, timeout=wait + 10)
        result["status"], result["body"], result["at"] = r.status_code, r.json(), time.monotonic()

    th = threading.Thread(target=run)
    th.start()
    return th, result


def parked(server, n=1):
    return "vitrine_http_suspended_requests %d" % n in requests.get(server.url + "/metrics").text


def test_accounts_devices_streams_and_media_work_on_either_server(two_servers):
    a, b = two_servers
    admin_a = a.client()
    assert admin_a.login().status_code == 200
    # a console session made on A is good on B
    admin_b = Client(b.url)
    admin_b.s.cookies.update(admin_a.s.cookies)
    admin_b.csrf = admin_a.csrf
    assert admin_b.get("/api/v1/me").status_code == 200
    # an instruction posted on A reaches a device waiting on B at once
    token, sid = pair_device(admin_a)
    th, result = long_poll(b, token)
    wait_for(lambda: parked(b), what="the long-poll to be parked on B")
    sent = time.monotonic()
    ins = send(admin_a, sid, "identify")
    th.join(10)
    assert result["status"] == 200, result
    assert [i["id"] for i in result["body"]["instructions"]] == [ins["id"]]
    assert result["at"] - sent < 1.0
    # a console stream on B hears of a change made on A
    with admin_b.s.get(b.url + "/api/v1/events", stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        wait_for(lambda: parked(b), what="the event stream to be parked on B")
        sent = time.monotonic()
        r = admin_a.post("/api/v1/users", json={"login": "live", "password": "a-long-password-1", "role": "editor"})
        assert r.status_code == 201, r.text
        ev = read_sse_event(resp, time.time() + 5)
        assert ev is not None and json.loads(ev["data"])["target"] == "live"
        assert time.monotonic() - sent < 1.0
    # media uploaded through A is served by B, and B's manifests name it
    data = png((10, 200, 30), 64, 64)
    sha = upload(admin_a, data, "shared.png")
    got = admin_b.get("/api/v1/media/%s/content" % sha)
    assert got.status_code == 200 and got.content == data
    r = admin_b.post("/api/v1/channels", json={"name": "Both", "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080, "items": [{"media": sha, "duration": 5}]}]})
    assert r.status_code == 201, r.text
    cid = r.json()["channel"]["id"]
    assert admin_a.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid}).status_code == 200
    h = {"Authorization": "Bearer " + token}
    m = requests.get(b.url + "/api/v1/device/manifest", headers=h)
    assert m.status_code == 200, m.text
    assert sha in json.dumps(m.json())
    obj = requests.get(b.url + "/api/v1/device/objects/" + sha, headers=h)
    assert obj.status_code == 200 and obj.content == data


def listener_pid(server_db):
    rows = pg.cluster().sql("postgres", "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND "
                            "query LIKE 'LISTEN%%'" % server_db)
    return [int(r[0]) for r in rows]


def test_a_killed_listener_loses_no_wake_up(make_server, tmp_path):
    """pg_terminate_backend on B's listener, then an instruction through A
    before the listener is back: B's waiting device still gets it."""
    name, url = pg.new_database()
    a = make_server(db=url).start()
    admin = a.client()
    assert admin.login().status_code == 200
    token, sid = pair_device(admin)
    b = Server(str(tmp_path), db=url, data=a.data).start()
    try:
        after = 0
        for attempt in range(3):
            th, result = long_poll(b, token, after=after)
            wait_for(lambda: parked(b), what="the long-poll to be parked on B")
            # both servers' listeners (A's and B's) are killed
            pids = wait_for(lambda: len(listener_pid(name)) == 2 and listener_pid(name), what="two listeners")
            killed = pg.cluster().sql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE pid IN (%s)" % ",".join(map(str, pids)))
            assert killed == [["t"], ["t"]], killed
            sent = time.monotonic()
            ins = send(admin, sid, "identify")
            th.join(15)
            assert result.get("status") == 200, (attempt, result, b.read_log()[-2000:])
            assert [i["id"] for i in result["body"]["instructions"]] == [ins["id"]], result
            assert result["at"] - sent < 5.0, result["at"] - sent
            after = result["body"]["instructions"][-1]["seq"]
            ack = requests.post(b.url + "/api/v1/device/instructions/%s/ack" % ins["id"], json={"status": "ok"},
                                headers={"Authorization": "Bearer " + token})
            assert ack.status_code == 200, ack.text
        assert "PostgreSQL listener lost its connection" in b.read_log()
    finally:
        assert b.stop() == 0, b.read_log()


def test_postgresql_stopped_and_started_while_devices_poll(make_server):
    """While PostgreSQL is down: clear 503s, no crash; after it is back,
    normal service without restarting Vitrine."""
    _, url = pg.new_database()
    server = make_server(db=url).start()
    admin = server.client()
    assert admin.login().status_code == 200
    token, sid = pair_device(admin)
    h = {"Authorization": "Bearer " + token}
    cluster = pg.cluster()
    cluster.stop()
    try:
        seen = set()
        deadline = time.time() + 10
        while time.time() < deadline and len(seen) < 2:
            r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=1", headers=h, timeout=15)
            seen.add(r.status_code)
            assert r.status_code == 503, r.text
            err = r.json()["error"]
            assert err["code"] == "store_unavailable" and "retry" in err["message"], err
            c = admin.get("/api/v1/screens")
            assert c.status_code == 503 and c.json()["error"]["code"] == "store_unavailable", c.text
            seen.add("console")
        assert server.proc.poll() is None
    finally:
        cluster.start()
    # back: the same server serves again, device and console
    r = wait_for(lambda: (x := requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0",
                                            headers=h, timeout=15)).status_code == 200 and x,
                 timeout=15, what="the device API to recover")
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "identify", "payload": {}})
    assert r.status_code == 201, r.text + server.read_log()[-3000:]
    ins = r.json()
    r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=5", headers=h, timeout=15)
    assert r.status_code == 200 and ins["id"] in [i["id"] for i in r.json()["instructions"]], \
        r.text + server.read_log()[-3000:]
    r = admin.get("/api/v1/screens")
    assert r.status_code == 200, r.text + server.read_log()[-3000:]
    assert "reconnected to PostgreSQL" in server.read_log()
