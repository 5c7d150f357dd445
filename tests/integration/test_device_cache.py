"""What a screen's poll no longer asks the store, kept right: the device
token cache (src/server/auth/device_cache.h) still refuses a revoked token
at once, here and on another server of the same PostgreSQL database; the
in-memory last_seen (screens/presence.h) shows a screen online at once and
reaches the store within about a second; the account's change counter
(screens/change_seq.c) still only increases and resumes the console's
stream."""
import json
import time

import pytest
import requests

import pg
from conftest import wait_for
from test_scaleout import long_poll, parked, two_servers  # noqa: F401 (a fixture)
from test_screens import pair_device


def poll_now(server, token):
    return requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0",
                        headers={"Authorization": "Bearer " + token}, timeout=10)


def test_a_deleted_screens_cached_token_is_refused_at_once(server, admin):
    token, sid = pair_device(admin)
    for _ in range(3):  # the token's answer is cached by now
        assert poll_now(server, token).status_code == 200
    assert admin.delete("/api/v1/screens/" + sid).status_code == 200
    r = poll_now(server, token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = requests.post(server.url + "/api/v1/device/heartbeat", json={}, headers={"Authorization": "Bearer " + token})
    assert r.status_code == 401


@pytest.mark.skipif(pg.enabled(), reason="runs once, in the SQLite pass (it makes its own database)")
def test_a_screen_deleted_on_one_server_is_refused_by_the_other_within_a_second(two_servers):
    a, b = two_servers
    admin = a.client()
    assert admin.login().status_code == 200
    token, sid = pair_device(admin)
    other, _ = pair_device(admin, name="Other", hardware_id="sim-2")
    for _ in range(3):  # B has cached the token
        assert poll_now(b, token).status_code == 200
    th, result = long_poll(b, token)
    wait_for(lambda: parked(b), what="the long-poll to be parked on B")
    start = time.monotonic()
    assert admin.delete("/api/v1/screens/" + sid).status_code == 200
    th.join(5)
    assert result["status"] == 401 and result["body"]["error"]["code"] == "invalid_token"
    assert result["at"] - start < 1.0
    r = poll_now(b, token)
    assert r.status_code == 401, r.text
    assert time.monotonic() - start < 1.0
    # the other screen's token is still good on both
    assert poll_now(b, other).status_code == 200 and poll_now(a, other).status_code == 200


def test_a_poll_shows_online_at_once_and_reaches_the_store_within_seconds(server, admin):
    token, sid = pair_device(admin)
    assert admin.get("/api/v1/screens/" + sid).json()["screen"]["online"] is False
    assert poll_now(server, token).status_code == 200
    screen = admin.get("/api/v1/screens/" + sid).json()["screen"]
    assert screen["online"] is True and screen["last_seen"] > 0
    # the store's copy: pushed back, then a poll of a screen already online
    # (no "came online" step) is written by the periodic flush
    wait_for(lambda: int(server.sql("SELECT last_seen FROM screens WHERE id = ?", (sid,))[0][0]) > 0,
             what="the first last_seen in the store")
    server.sql("UPDATE screens SET last_seen = last_seen - 50 WHERE id = ?", (sid,))
    before = int(time.time())
    assert poll_now(server, token).status_code == 200
    start = time.monotonic()
    listed = admin.get("/api/v1/screens").json()
    assert [s["online"] for s in listed["screens"] if s["id"] == sid] == [True]
    assert listed["online"] == 1
    wait_for(lambda: int(server.sql("SELECT last_seen FROM screens WHERE id = ?", (sid,))[0][0]) >= before,
             timeout=5, what="last_seen in the store")
    assert time.monotonic() - start < 2.5


def read_screen_events(resp, deadline, want):
    """Reads the stream until `want` screen events came (or deadline);
    returns (screen events, last cursor id)."""
    buf, events, cursor = b"", [], None
    for chunk in resp.iter_content(chunk_size=None):
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
            if fields.get("event") == "screen":
                events.append(json.loads(fields["data"]))
            elif fields.get("event") == "cursor":
                cursor = fields.get("id")
                if len(events) >= want:
                    return events, cursor
        if time.time() > deadline:
            break
    return events, cursor


def test_the_change_counter_only_increases_and_resumes_the_stream(server, admin):
    _, one = pair_device(admin, name="One", hardware_id="h-1")
    _, two = pair_device(admin, name="Two", hardware_id="h-2")
    seqs = [admin.get("/api/v1/screens").json()["change_seq"]]
    for sid, name in ((one, "One b"), (two, "Two b"), (one, "One c"), (two, "Two c")):
        assert admin.patch("/api/v1/screens/" + sid, json={"name": name}).status_code == 200
        seqs.append(admin.get("/api/v1/screens").json()["change_seq"])
    assert all(b > a for a, b in zip(seqs, seqs[1:])), seqs
    # a stream resumed after the second change sends the last two, in order
    headers = {"Last-Event-ID": "0.%d" % seqs[2]}
    with admin.s.get(server.url + "/api/v1/events", headers=headers, stream=True, timeout=10) as resp:
        assert resp.status_code == 200
        events, cursor = read_screen_events(resp, time.time() + 5, 2)
    assert [e["name"] for e in events] == ["One c", "Two c"]
    assert cursor.endswith(".%d" % seqs[-1])
    # a deletion is a change too
    assert admin.delete("/api/v1/screens/" + one).status_code == 200
    assert admin.get("/api/v1/screens").json()["change_seq"] > seqs[-1]
