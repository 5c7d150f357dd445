"""The relay <-> server link, both sides: vitrine-relay reports its load and
session events (--server-url, --relay-id, --relay-token-file) and holds the
cuts long-poll; an admin's DELETE /api/v1/remote-sessions/{id} makes the
relay cut both sides within a second, and the session row and audit log
get what the relay saw (started_at, bytes, end reason, remote.started /
remote.closed). Also: the report and cuts routes refuse hostile input."""
import os
import socket
import struct
import subprocess
import time

import pytest
import requests

from conftest import SERVER_BIN, free_port, wait_for
from test_relay import RELAY_BIN, status_line
from test_relay_ws import WSClient
from test_remote import pair_device


class LinkedRelay:
    def __init__(self, tmp, server, admin, args=()):
        self.port, self.ws_port, self.admin_port = free_port(), free_port(), free_port()
        r = admin.post("/api/v1/relays", json={"host": "127.0.0.1", "port": self.port, "shared": True,
                                                "ws_url": "ws://127.0.0.1:%d/relay" % self.ws_port})
        assert r.status_code == 201, r.text
        self.id, self.token = r.json()["relay"]["id"], r.json()["token"]
        self.key = os.path.join(tmp, "server.pk")
        out = subprocess.run([SERVER_BIN, "--data", server.data, "relay-key", "--out", self.key],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        token_file = os.path.join(tmp, "relay.token")
        with open(token_file, "w") as f:
            f.write(self.token + "\n")
        self.log_path = os.path.join(tmp, "relay-link-%s.log" % self.id)
        self.log = open(self.log_path, "w+")
        self.cmd = [RELAY_BIN, "--listen", "127.0.0.1:%d" % self.port, "--ws-listen", "127.0.0.1:%d" % self.ws_port,
                    "--admin-listen", "127.0.0.1:%d" % self.admin_port, "--server-key", self.key,
                    "--server-url", server.url, "--relay-id", self.id, "--relay-token-file", token_file,
                    "--public-address", "127.0.0.1:%d" % self.port, *args]
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._healthy(admin), timeout=15, what="the relay's first report")

    def kill(self):
        """SIGKILL: the relay reports nothing more of its sessions."""
        self.proc.kill()
        self.proc.wait()

    def start_again(self):
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def _healthy(self, admin):
        relays = admin.get("/api/v1/relays").json()["relays"]
        return any(r["id"] == self.id and r["healthy"] for r in relays)

    def connect(self, ticket):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(struct.pack(">H", len(ticket)) + ticket)
        return s

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            assert self.proc.wait(timeout=10) == 0
        self.log.close()
        assert "vr_" not in self.read_log()  # the token is never logged


@pytest.fixture
def linked(tmp_path, server, admin):
    r = LinkedRelay(str(tmp_path), server, admin)
    yield r
    r.stop()


def new_session(server, admin, hardware_id="sim-1"):
    """A remote session on a fresh screen: (session id, guest ticket, host ticket)."""
    sid, guest, host, _ = session_on(server, admin, *pair_device(admin, hardware_id=hardware_id))
    return sid, guest, host


def session_on(server, admin, device, screen):
    """A remote session on this screen: (session id, guest ticket, host ticket, host payload)."""
    r = admin.post("/api/v1/screens/%s/remote" % screen)
    assert r.status_code == 201, r.text
    body = r.json()
    got = requests.get(server.url + "/api/v1/device/instructions?wait=5",
                       headers={"Authorization": "Bearer " + device}).json()["instructions"]
    host = [i for i in got if i["type"] == "remote_session"][-1]["payload"]
    assert host["session_id"] == body["session_id"]
    return body["session_id"], body["ticket"].encode(), host["ticket"].encode(), host


def session_row(admin, sid):
    return [s for s in admin.get("/api/v1/remote-sessions").json()["sessions"] if s["id"] == sid][0]


def closed_within(sock, seconds):
    """Reads until EOF; returns the bytes, or None when the end did not come in time."""
    sock.settimeout(seconds)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    except ConnectionResetError:
        return data
    except socket.timeout:
        return None


def test_admin_end_cuts_both_sides_within_a_second(server, admin, linked):
    sid, guest_ticket, host_ticket = new_session(server, admin)
    guest = linked.connect(guest_ticket)
    host = WSClient(linked.ws_port)  # the host by WebSocket, the guest by TCP
    host.send_ticket(host_ticket)
    assert status_line(guest) == "paired\n"
    assert host.status_line() == "paired\n"
    guest.sendall(b"g" * 100000)
    assert host.read_stream(100000) == b"g" * 100000
    host.send(b"h" * 5000)
    got = b""
    while len(got) < 5000:
        got += guest.recv(65536)
    wait_for(lambda: session_row(admin, sid)["started_at"] is not None, timeout=10, what="started_at")

    started = time.time()
    r = admin.delete("/api/v1/remote-sessions/" + sid)
    assert r.status_code == 200, r.text
    rest = closed_within(guest, 1.5)
    assert rest is not None, "the guest side was not cut"
    assert rest.endswith(b"error session_ended\n")
    assert host.wait_close() is not None
    elapsed = time.time() - started
    assert elapsed < 1.0, "cut after %.2f s" % elapsed

    def ended_reported():
        return server.sql("SELECT relay_ended_at FROM remote_sessions WHERE id = ?", (sid,))[0][0]

    wait_for(ended_reported, timeout=10, what="the relay's ended event")
    row = session_row(admin, sid)
    assert row["started_at"] and row["ended_at"]
    assert row["end_reason"] == "ended_by_admin"
    assert row["bytes_guest_to_host"] == 100000 and row["bytes_host_to_guest"] == 5000
    actions = [e["action"] for e in admin.get("/api/v1/audit").json()["entries"] if sid in e.get("detail", "")]
    for action in ("remote.started", "remote.ended", "remote.closed"):
        assert action in actions, actions
    closed = [e for e in admin.get("/api/v1/audit").json()["entries"]
              if e["action"] == "remote.closed" and sid in e["detail"]]
    assert closed[0]["actor"] == "relay:" + linked.id
    # the ended session is not reopened, even with a fresh pair of connections
    late = linked.connect(guest_ticket)
    assert status_line(late) in ("error ticket_replayed\n", "error session_ended\n")
    m = requests.get("http://127.0.0.1:%d/metrics" % linked.admin_port, timeout=5).text
    assert "vitrine_relay_sessions_active 0" in m


def test_closed_session_is_recorded_with_its_bytes(server, admin, linked):
    sid, guest_ticket, host_ticket = new_session(server, admin)
    guest, host = linked.connect(guest_ticket), linked.connect(host_ticket)
    assert status_line(guest) == "paired\n" and status_line(host) == "paired\n"
    host.sendall(b"x" * 3000)
    got = b""
    while len(got) < 3000:
        got += guest.recv(4096)
    guest.close()
    assert closed_within(host, 5) == b""
    wait_for(lambda: session_row(admin, sid)["end_reason"] == "closed", timeout=10, what="end_reason closed")
    row = session_row(admin, sid)
    assert row["bytes_host_to_guest"] == 3000 and row["bytes_guest_to_host"] == 0
    assert row["started_at"] <= row["ended_at"]


def test_session_ended_before_its_sides_come_is_refused(server, admin, linked):
    sid, guest_ticket, host_ticket = new_session(server, admin)
    assert admin.delete("/api/v1/remote-sessions/" + sid).status_code == 200
    time.sleep(0.5)
    assert status_line(linked.connect(guest_ticket)) == "error session_ended\n"


def relay_call(server, method, relay_id, token, path, **kw):
    return requests.request(method, server.url + "/api/v1/relays/%s/%s" % (relay_id, path),
                            headers={"Authorization": "Bearer " + token}, timeout=40, **kw)


def test_report_and_cuts_refuse_hostile_input(server, admin):
    r = admin.post("/api/v1/relays", json={"host": "127.0.0.1", "ws_url": "wss://127.0.0.1/relay", "shared": True})
    relay_id, token = r.json()["relay"]["id"], r.json()["token"]
    now = int(time.time())
    good = {"session_id": "aaaaaaaaaaaaaaaa", "event": "started", "at": now}
    bad = [
        ({"sessions": 0, "bytes": 0, "events": {}}, "events must be an array"),
        ({"sessions": 0, "bytes": 0, "events": [1]}, "events[0] must be an object"),
        ({"sessions": 0, "bytes": 0, "events": [dict(good, session_id="../etc")]}, "session_id"),
        ({"sessions": 0, "bytes": 0, "events": [good, dict(good, event="paused")]}, "events[1].event"),
        ({"sessions": 0, "bytes": 0, "events": [dict(good, at=now + 86400)]}, "events[0].at"),
        ({"sessions": 0, "bytes": 0, "events": [dict(good, at="now")]}, "events[0].at"),
        ({"sessions": 0, "bytes": 0, "events": [dict(good, event="ended", bytes_guest_to_host=-1)]}, "bytes_"),
        ({"sessions": 0, "bytes": 0, "events": [dict(good, event="ended", reason="DROP TABLE")]}, "reason"),
        ({"sessions": 0, "bytes": 0, "events": [good] * 1001}, "at most 1000 events"),
        ({"sessions": -1, "bytes": 0}, "sessions and bytes"),
        ({"sessions": 0, "bytes": 0, "boot": "'; DROP TABLE relays; --"}, "boot must be"),
        ({"sessions": 0, "bytes": 0, "boot": 12345}, "boot must be"),
        ({"sessions": 0, "bytes": 0, "boot": "ab" * 40}, "boot must be"),
    ]
    for body, words in bad:
        r = relay_call(server, "POST", relay_id, token, "report", json=body)
        assert r.status_code == 400, (body, r.text)
        assert words in r.json()["error"]["message"], (words, r.text)
    r = relay_call(server, "POST", relay_id, token, "report", data=b"{not json")
    assert r.status_code == 400
    # events of sessions that are not this relay's are ignored
    r2 = admin.post("/api/v1/relays", json={"host": "127.0.0.2", "ws_url": "wss://127.0.0.2/relay", "shared": True})
    other_id, other_token = r2.json()["relay"]["id"], r2.json()["token"]
    for rid, tok in ((relay_id, token), (other_id, other_token)):
        assert relay_call(server, "POST", rid, tok, "report", json={"sessions": 0, "bytes": 0}).status_code == 200
    _, screen = pair_device(admin)
    r = admin.post("/api/v1/screens/%s/remote" % screen)
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    owner = server.sql("SELECT relay_id FROM remote_sessions WHERE id = ?", (sid,))[0][0]
    stranger_id, stranger_token = (other_id, other_token) if owner == relay_id else (relay_id, token)
    r = relay_call(server, "POST", stranger_id, stranger_token, "report",
                   json={"sessions": 1, "bytes": 5, "events": [dict(good, session_id=sid),
                                                               dict(good, session_id=sid, event="ended")]})
    assert r.status_code == 200 and r.json()["events_ignored"] == 2 and r.json()["events_recorded"] == 0
    assert session_row(admin, sid)["started_at"] is None
    # the owner's report is recorded once, even when sent twice
    owner_token = token if owner == relay_id else other_token
    ended = dict(good, session_id=sid, event="ended", bytes_guest_to_host=7, bytes_host_to_guest=9, reason="closed")
    for _ in range(2):
        r = relay_call(server, "POST", owner, owner_token, "report",
                       json={"sessions": 0, "bytes": 0, "events": [dict(good, session_id=sid), ended]})
        assert r.status_code == 200, r.text
    assert r.json()["events_recorded"] == 0 and r.json()["events_ignored"] == 2
    row = session_row(admin, sid)
    assert row["started_at"] == now and row["end_reason"] == "closed" and row["bytes_host_to_guest"] == 9
    closed = [e for e in admin.get("/api/v1/audit").json()["entries"]
              if e["action"] == "remote.closed" and sid in e["detail"]]
    assert len(closed) == 1
    # the cuts route: token, wait and after are checked
    assert relay_call(server, "GET", relay_id, "vr_wrong", "cuts?wait=0").status_code == 401
    assert relay_call(server, "GET", relay_id, other_token, "cuts?wait=0").status_code == 401
    assert relay_call(server, "GET", relay_id, token, "cuts?wait=99").status_code == 400
    assert relay_call(server, "GET", relay_id, token, "cuts?wait=0&after=-1").status_code == 400
    r = relay_call(server, "GET", relay_id, token, "cuts?wait=0")
    assert r.status_code == 200 and r.json() == {"end": [], "cursor": 0}, r.text


def test_cuts_long_poll_wakes_at_once_and_moves_its_cursor(server, admin):
    r = admin.post("/api/v1/relays", json={"host": "127.0.0.1", "ws_url": "wss://127.0.0.1/relay", "shared": True})
    relay_id, token = r.json()["relay"]["id"], r.json()["token"]
    requests.post(server.url + "/api/v1/relays/%s/report" % relay_id, headers={"Authorization": "Bearer " + token},
                  json={"sessions": 0, "bytes": 0})
    _, screen = pair_device(admin)
    sid = admin.post("/api/v1/screens/%s/remote" % screen).json()["session_id"]
    import threading
    answer = {}

    def poll():
        t = time.time()
        answer["r"] = relay_call(server, "GET", relay_id, token, "cuts?wait=20")
        answer["t"] = time.time() - t

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    assert admin.delete("/api/v1/remote-sessions/" + sid).status_code == 200
    th.join(10)
    assert answer["r"].status_code == 200 and answer["r"].json()["end"] == [sid]
    assert answer["t"] < 2
    cursor = answer["r"].json()["cursor"]
    assert cursor >= 1
    r = relay_call(server, "GET", relay_id, token, "cuts?wait=1&after=%d" % cursor)
    assert r.status_code == 200 and r.json() == {"end": [], "cursor": cursor}


def test_relay_works_while_the_server_is_unreachable(tmp_path):
    from test_relay import Keys, Relay, session_id
    keys = Keys(str(tmp_path))
    token = tmp_path / "t"
    token.write_text("vr_" + "a" * 40 + "\n")
    r = Relay(str(tmp_path), keys, args=("--server-url", "http://127.0.0.1:%d" % free_port(),
                                         "--relay-id", "aaaaaaaaaaaaaaaa", "--relay-token-file", str(token)))
    try:
        sid = session_id()
        g, h = r.connect(keys.ticket(sid, "guest")), r.connect(keys.ticket(sid, "host"))
        assert status_line(g) == "paired\n" and status_line(h) == "paired\n"
        g.close()
    finally:
        r.stop()
    assert r.proc.returncode == 0
    bad = tmp_path / "bad"
    bad.write_text("not a token\n")
    out = subprocess.run([RELAY_BIN, "--listen", "127.0.0.1:0", "--server-key", keys.pk, "--server-url",
                          "http://127.0.0.1:1", "--relay-id", "aaaaaaaaaaaaaaaa", "--relay-token-file", str(bad)],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "vr_" in out.stderr
    out = subprocess.run([RELAY_BIN, "--listen", "127.0.0.1:0", "--server-key", keys.pk, "--server-url",
                          "http://127.0.0.1:1"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "go together" in out.stderr


def test_graceful_stop_reports_the_sessions_it_ended(server, admin, tmp_path):
    r = LinkedRelay(str(tmp_path), server, admin)
    sid, guest_ticket, host_ticket = new_session(server, admin)
    guest, host = r.connect(guest_ticket), r.connect(host_ticket)
    assert status_line(guest) == "paired\n" and status_line(host) == "paired\n"
    guest.sendall(b"z" * 777)
    got = b""
    while len(got) < 777:
        got += host.recv(4096)
    wait_for(lambda: session_row(admin, sid)["started_at"] is not None, timeout=10, what="started_at")
    started = time.time()
    r.stop()  # SIGTERM: exit 0
    assert time.time() - started < 2.5
    row = session_row(admin, sid)
    assert row["end_reason"] == "relay_stopped" and row["ended_at"], row
    assert row["bytes_guest_to_host"] == 777


def test_a_killed_relay_leaves_no_session_open_behind(tmp_path, server, admin):
    """SIGKILL reports nothing: the relay's next run (a new "boot") ends what the
    earlier one had started (relay_restarted); a relay that stays gone has its
    sessions ended when the screen's next session is made (relay_lost), so
    that session is not view-only behind one that no longer exists."""
    a = LinkedRelay(str(tmp_path), server, admin)
    device, screen = pair_device(admin, hardware_id="sim-killed")

    def started(sid, relay):
        guest_ticket, host_ticket = sessions[sid]
        g, h = relay.connect(guest_ticket), relay.connect(host_ticket)
        assert status_line(g) == "paired\n" and status_line(h) == "paired\n"
        wait_for(lambda: session_row(admin, sid)["started_at"] is not None, timeout=10, what="started_at")
        return g, h

    sessions = {}
    s1, gt, ht, _ = session_on(server, admin, device, screen)
    sessions[s1] = (gt, ht)
    socks = started(s1, a)
    a.kill()
    assert session_row(admin, s1)["ended_at"] is None  # nobody told the server
    a.start_again()
    wait_for(lambda: session_row(admin, s1)["end_reason"] == "relay_restarted", timeout=15,
             what="the restarted relay's first report")
    s2, gt, ht, host = session_on(server, admin, device, screen)
    assert host["view_only"] is False  # s1 is over
    sessions[s2] = (gt, ht)
    socks += started(s2, a)
    a.kill()
    b = LinkedRelay(str(tmp_path), server, admin)
    # a has been silent for two minutes
    server.sql("UPDATE relays SET last_report = ? WHERE id = ?", (int(time.time()) - 120, a.id))
    s3, _, _, host = session_on(server, admin, device, screen)
    assert host["view_only"] is False and host["relay"]["port"] == b.port
    assert session_row(admin, s2)["end_reason"] == "relay_lost"
    closed = [e for e in admin.get("/api/v1/audit", params={"limit": 200}).json()["entries"]
              if e["action"] == "remote.closed"]
    assert any(s1 in str(e) and "restarted" in str(e) for e in closed), closed
    assert any(s2 in str(e) and "has not reported" in str(e) for e in closed), closed
    for s in socks:
        s.close()
    b.stop()
    a.log.close()
