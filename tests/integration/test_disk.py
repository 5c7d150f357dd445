"""A full disk (issue 9, reliability): the server's data folder on a small
tmpfs, filled by a filler file. Screens keep waiting in their long-poll
and stay online, refused writes say the disk is full (507), not "busy", and
once space is freed everything works again with nothing lost or corrupted.
Needs root (mount); skipped otherwise."""
import errno
import os
import sqlite3
import subprocess
import tempfile
import time

import pytest
import requests

import pg

from test_screens import pair_device
from conftest import Server, wait_for



@pytest.fixture
def small_disk():
    """(server, data folder): a server whose data folder is an 8 MiB tmpfs;
    unmounted afterwards, also when the test fails."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if pg.enabled():
        pytest.skip("the database is in PostgreSQL, not on the data folder's disk: these are SQLite's cases")
    tmp = tempfile.TemporaryDirectory(prefix="vitrine-disk-")
    data = os.path.join(tmp.name, "data")
    os.mkdir(data, 0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", data],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        tmp.cleanup()
        pytest.skip("cannot mount a tmpfs: " + mounted.stderr.strip())
    server = None
    try:
        server = Server(tmp.name)
        yield server
    finally:
        rc = server.stop() if server else 0
        log = server.read_log() if server else ""
        subprocess.run(["umount", "-l", data], check=False)
        tmp.cleanup()
    assert rc == 0, "server exit code %s\n%s" % (rc, log)
    assert "ERROR: AddressSanitizer" not in log and "runtime error:" not in log, log


def fill(folder, leave=0):
    """Writes folder/filler until the disk is full, then frees leave bytes."""
    path = os.path.join(folder, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while os.write(fd, b"\0" * size) == size:
                    pass
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)
    if leave:
        os.truncate(path, max(0, os.path.getsize(path) - leave))
    return path


def assert_disk_full(r):
    assert r.status_code == 507, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "insufficient_storage" and "disk is full" in err["message"], err
    assert "busy" not in err["message"], err


def check_store(server, check):
    """Stops the server and opens its database with Python's sqlite3."""
    assert server.stop() == 0
    db = sqlite3.connect(os.path.join(server.data, "vitrine.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check(db)
    finally:
        db.close()


def test_a_full_disk_does_not_stop_the_long_poll(small_disk):
    """The poll writes nothing: it answers and waits, the screen stays online,
    and what it saw reaches the store once space is freed."""
    server = small_disk.start()
    admin = server.client()
    assert admin.login().status_code == 200
    token, sid = pair_device(admin)
    device = {"Authorization": "Bearer " + token}
    queued = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "identify"})
    assert queued.status_code == 201, queued.text
    queued = queued.json()
    assert not admin.get("/api/v1/screens/" + sid).json()["screen"]["online"]  # never polled yet

    filler = fill(server.data)
    # the long-poll answers what is pending ...
    r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0", headers=device, timeout=10)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["instructions"]] == [queued["id"]]
    # ... and waits, then answers empty
    started = time.time()
    r = requests.get(server.url + "/api/v1/device/instructions?after=%d&wait=2" % queued["seq"], headers=device,
                     timeout=10)
    assert r.status_code == 200 and r.json()["instructions"] == [], r.text
    assert time.time() - started >= 1.8
    # the console sees it online
    screen = admin.get("/api/v1/screens/" + sid).json()["screen"]
    assert screen["online"] and screen["last_seen"] > 0
    # a heartbeat's state cannot be saved: 507, and the screen stays online
    assert_disk_full(requests.post(server.url + "/api/v1/device/heartbeat", headers=device,
                                   json={"version": "1", "now_playing": None}, timeout=10))
    assert admin.get("/api/v1/screens/" + sid).json()["screen"]["online"]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * (256 << 10)
    assert_disk_full(requests.post(server.url + "/api/v1/device/screenshot", headers=device, data=png, timeout=10))

    os.unlink(filler)
    assert requests.post(server.url + "/api/v1/device/screenshot", headers=device, data=png,
                         timeout=10).status_code == 200
    r = requests.post(server.url + "/api/v1/device/heartbeat", headers=device, json={"version": "1"}, timeout=10)
    assert r.status_code == 200, r.text
    wait_for(lambda: admin.get("/api/v1/screens/%s/instructions/%s" % (sid, queued["id"]))
             .json()["instruction"]["status"] == "delivered", timeout=20, what="the delivery mark")

    def stored(db):
        seen, = db.execute("SELECT last_seen FROM screens WHERE id = ?", (sid,)).fetchone()
        assert seen >= screen["last_seen"]
        deliveries, = db.execute("SELECT deliveries FROM instructions WHERE id = ?", (queued["id"],)).fetchone()
        assert deliveries >= 1
    check_store(server, stored)


def test_a_full_disk_refuses_writes_with_507_and_recovers(small_disk):
    """Login and writes say the disk is full (not "busy"); after space is
    freed they work again, and nothing refused was half-written."""
    server = small_disk.start()
    admin = server.client()
    assert admin.login().status_code == 200

    filler = fill(server.data)
    assert_disk_full(server.client().login())
    assert_disk_full(admin.post("/api/v1/users", json={"login": "refused", "password": "a-long-password-1",
                                                       "role": "editor"}))
    # a write whose transaction the HTTP core commits (route-level) says the same
    assert_disk_full(admin.post("/api/v1/tokens", json={"name": "refused"}))
    assert "the disk is full" in server.read_log()

    os.unlink(filler)
    fresh = server.client()
    assert fresh.login().status_code == 200
    r = fresh.post("/api/v1/users", json={"login": "after", "password": "a-long-password-1", "role": "editor"})
    assert r.status_code == 201, r.text

    def stored(db):
        logins = {row[0] for row in db.execute("SELECT login FROM users")}
        assert logins == {"admin", "after"}, logins
        assert db.execute("SELECT COUNT(*) FROM api_tokens WHERE name = 'refused'").fetchone()[0] == 0
    check_store(server, stored)


def test_the_audit_export_is_capped_in_memory_and_comes_in_parts(make_server):
    """The CSV is built in a buffer of at most 16 MiB: a bigger export is
    refused whole (422, never cut short) and says how to get it in parts."""
    server = make_server()
    account = server.sql("SELECT id FROM accounts")[0][0]
    detail = "x" * 1000
    for at in range(0, 20000, 1000):
        rows = [("bulk%012d" % i, account, int(time.time()), "bulk", "127.0.0.1", "test.bulk", str(i), detail)
                for i in range(at, at + 1000)]
        server.sql("INSERT INTO audit(id, account_id, at, actor, ip, action, target, detail) VALUES" +
                   ",".join(["(?,?,?,?,?,?,?,?)"] * len(rows)), [v for row in rows for v in row])
    server.start()
    admin = server.client()
    assert admin.login().status_code == 200
    r = admin.get("/api/v1/audit.csv")
    assert r.status_code == 422, r.status_code
    err = r.json()["error"]
    assert err["code"] == "export_too_large" and "in parts" in err["message"]
    fit, older = err["rows_that_fit"], err["next_before"]
    assert 0 < fit < 20000 and older > 0
    newest = admin.get("/api/v1/audit.csv", params={"limit": fit})
    assert newest.status_code == 200 and len(newest.content) <= err["max_bytes"]
    rows = newest.text.split("\r\n")
    assert rows[0].startswith("seq,") and len([l for l in rows[1:] if l]) == fit
    assert int(rows[fit].split(",", 1)[0]) == older  # the last row of the part
    rest = admin.get("/api/v1/audit.csv", params={"before": older})
    assert rest.status_code == 200, rest.text[:200]
    assert int(rest.text.split("\r\n")[1].split(",", 1)[0]) < older
    assert admin.get("/api/v1/audit.csv", params={"limit": "0"}).status_code == 400
    assert admin.get("/api/v1/audit.csv", params={"before": "x"}).status_code == 400
