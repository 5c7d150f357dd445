"""Backup and restore (vitrine-server backup DEST / restore SRC, ops/backup.c):
an online backup taken while a writer keeps uploading, linking and deleting
media holds everything acknowledged before it started, and whatever else it
holds is whole (every medium a restored row names downloads with its
bytes, also one the live server deleted meanwhile); a server that is not
running is backed up the same way; the refusals (a non-empty DEST or DIR, a
tampered file, no manifest, a full disk) name what is wrong and write
nothing; PostgreSQL through pg_dump/pg_restore (skipped until the backend
is in the build)."""
import base64
import gzip
import hashlib
import json
import os
import secrets
import shutil
import struct
import subprocess
import threading
import time
import zlib

import pytest
import requests

import pg
from test_screens import pair_device
from conftest import ADMIN_PASSWORD, SERVER_BIN, Server

# these cases pick their backend themselves (SQLite in the folder, or a
# cluster of their own): run once, in the SQLite pass
pytestmark = pytest.mark.skipif(pg.enabled(), reason="runs in the SQLite pass (it picks its own backends)")



def png(seed, w=4, h=4):
    """A small valid PNG, different for each seed."""
    raw = b"".join(b"\x00" + struct.pack(">I", seed)[1:] * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"tEXt", b"seed\x00%d" % seed) + chunk(b"IEND", b""))


def vitrine_server(data, *args, env=None, timeout=60):
    return subprocess.run([SERVER_BIN, "--data", data] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


def serves_restored(restored, sha, blob, cid):
    """A server started on a restored folder logs the admin in and serves
    the medium and the channel the backup held."""
    restored.start()
    try:
        admin = restored.client()
        assert admin.login().status_code == 200
        assert admin.get("/api/v1/media/%s/content" % sha).content == blob
        assert admin.get("/api/v1/channels/" + cid).status_code == 200
    finally:
        assert restored.stop() == 0, restored.read_log()


def upload(admin, data, name):
    sha = hashlib.sha256(data).hexdigest()
    r = admin.put("/api/v1/media/" + sha, data=data, headers={"X-Filename": name})
    assert r.status_code in (200, 201), r.text
    return sha


def channel(admin, name, sha):
    body = {"name": name, "width": 1920, "height": 1080,
            "zones": [{"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080,
                       "items": [{"media": sha, "duration": 5}]}]}
    r = admin.post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    return r.json()["channel"]["id"]


def device(server, token, method, path, **kw):
    kw.setdefault("headers", {})["Authorization"] = "Bearer " + token
    return requests.request(method, server.url + path, timeout=30, **kw)


def base_content(server, admin, tmp_path):
    """Users, a paired screen with a log archive and a screenshot, media, a
    channel, a release: what a restore must bring back whole."""
    c = {"users": [], "media": {}}
    for login, role in (("ed", "editor"), ("op", "operator")):
        r = admin.post("/api/v1/users", json={"login": login, "password": "a-long-password-1", "role": role})
        assert r.status_code == 201, r.text
        c["users"].append(login)
    for i in range(4):
        data = png(1000 + i, w=40, h=40)  # images get thumbnails
        c["media"][upload(admin, data, "base%d.png" % i)] = data
    shas = list(c["media"])
    c["channel"] = channel(admin, "Base", shas[0])
    c["token"], c["screen"] = pair_device(admin)
    r = admin.post("/api/v1/screens/%s/instructions" % c["screen"], json={"type": "collect_logs"})
    assert r.status_code == 201, r.text
    c["log_bytes"] = gzip.compress(b"player log lines\n" * 100)
    r = device(server, c["token"], "POST", "/api/v1/device/logs?instruction=" + r.json()["id"], data=c["log_bytes"])
    assert r.status_code == 201, r.text
    c["log"] = r.json()["id"]
    c["screenshot"] = png(7, w=32, h=18)
    r = device(server, c["token"], "POST", "/api/v1/device/screenshot", data=c["screenshot"],
               headers={"Content-Type": "image/png"})
    assert r.status_code in (200, 201, 204), r.text
    release = tmp_path / "player.bin"
    c["release_bytes"] = os.urandom(70000)
    release.write_bytes(c["release_bytes"])
    out = vitrine_server(server.data, "release", "sign", str(release), "--name", "vitrine-player", "--version",
                         "1.0.0", "--out", str(tmp_path / "player.bin.vsig"))
    assert out.returncode == 0, out.stderr
    r = admin.post("/api/v1/releases", data=c["release_bytes"],
                   headers={"X-Release-Signature": base64.b64encode((tmp_path / "player.bin.vsig").read_bytes())})
    assert r.status_code == 201, r.text
    c["release"] = r.json()["release"]["id"]
    return c


def check_base_content(server, admin, c):
    logins = [u["login"] for u in admin.get("/api/v1/users").json()["users"]]
    assert set(c["users"]) <= set(logins), logins
    for sha, data in c["media"].items():
        r = admin.get("/api/v1/media/%s/content" % sha)
        assert r.status_code == 200 and r.content == data, sha
        assert admin.get("/api/v1/media/" + sha).json()["media"]["thumbnail"] is True
        assert admin.get("/api/v1/media/%s/thumbnail" % sha).status_code == 200
    assert admin.get("/api/v1/channels/" + c["channel"]).status_code == 200
    # the screen's token still works: screens go on without pairing again
    assert device(server, c["token"], "GET", "/api/v1/device/releases/" + c["release"]).content == c["release_bytes"]
    r = admin.get("/api/v1/screens/%s/logs/%s" % (c["screen"], c["log"]))
    assert r.status_code == 200 and r.content == c["log_bytes"]
    r = admin.get("/api/v1/screens/%s/screenshot" % c["screen"])
    assert r.status_code == 200 and r.content == c["screenshot"]


def all_media(admin):
    out, offset = {}, 0
    while True:
        page = admin.get("/api/v1/media?limit=1000&offset=%d" % offset).json()
        out.update((m["sha256"], m) for m in page["media"])
        offset += len(page["media"])
        if not page["media"] or offset >= page["total"]:
            return out


class Writer(threading.Thread):
    """Keeps uploading media, linking some into channels, deleting others
    and now and then adding a user; records when each was acknowledged."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.admin = server.client()
        assert self.admin.login().status_code == 200
        self.stop = threading.Event()
        self.media = {}       # sha -> (bytes, time acknowledged)
        self.channels = {}    # id -> (sha, time acknowledged)
        self.users = {}       # login -> time acknowledged
        self.deleting = {}    # sha -> (time the request was sent, time acknowledged or None)
        self.error = None

    def run(self):
        try:
            unlinked, i = [], 0
            while not self.stop.is_set():
                i += 1
                data = png(i)
                sha = upload(self.admin, data, "w%d.png" % i)
                self.media[sha] = (data, time.monotonic())
                if i % 3 == 0:
                    self.channels[channel(self.admin, "W%d" % i, sha)] = (sha, time.monotonic())
                else:
                    unlinked.append(sha)
                if i % 2 == 0 and len(unlinked) > 2:
                    old = unlinked.pop(0)
                    self.deleting[old] = (time.monotonic(), None)
                    r = self.admin.delete("/api/v1/media/" + old)
                    assert r.status_code == 200, r.text
                    self.deleting[old] = (self.deleting[old][0], time.monotonic())
                if i % 15 == 0:
                    r = self.admin.post("/api/v1/users", json={"login": "w%d" % i, "password": "a-long-password-1",
                                                               "role": "operator"})
                    assert r.status_code == 201, r.text
                    self.users["w%d" % i] = time.monotonic()
        except Exception as e:  # reported by the test
            self.error = e


def test_online_backup_while_writing_restores_everything_acknowledged_before_it(make_server, tmp_path):
    live = make_server().start()
    admin = live.client()
    assert admin.login().status_code == 200
    base = base_content(live, admin, tmp_path)
    writer = Writer(live)
    writer.start()
    deadline = time.time() + 20
    while len(writer.deleting) < 3 and time.time() < deadline and writer.error is None:
        time.sleep(0.05)
    assert writer.error is None, writer.error
    dest = str(tmp_path / "backup")
    started = time.monotonic()
    # a pause after the snapshot keeps the writer deleting media the
    # snapshot still links while the backup copies
    out = vitrine_server(live.data, "backup", dest, env={"VITRINE_BACKUP_PAUSE_MS": "1500"})
    finished = time.monotonic()
    time.sleep(0.3)
    writer.stop.set()
    writer.join(30)
    assert writer.error is None, writer.error
    assert out.returncode == 0, out.stderr
    assert "backed up %s into %s" % (live.data, dest) in out.stdout and "warning" not in out.stdout + out.stderr, out
    assert finished - started >= 1.5
    assert not [n for n in os.listdir(live.data) if n.startswith(".backup-")]  # the staging links are gone
    manifest = json.load(open(os.path.join(dest, "backup.json")))
    assert manifest["format"] == "vitrine-backup" and manifest["backend"] == "sqlite"
    assert manifest["schema_version"] >= 28 and manifest["missing"] == []
    paths = {f["path"]: f for f in manifest["files"]}
    assert paths["keys/server.secret"]["mode"] == "0600"
    assert oct(os.stat(os.path.join(dest, "keys", "server.secret")).st_mode & 0o777) == "0o600"
    for p, f in paths.items():
        assert hashlib.sha256(open(os.path.join(dest, p), "rb").read()).hexdigest() == f["sha256"], p
    assert not [n for n in os.listdir(dest) if n.endswith(".tmp")]

    data = str(tmp_path / "restored")
    out = vitrine_server(data, "restore", dest)
    assert out.returncode == 0, out.stderr
    assert "restored %s into %s" % (dest, data) in out.stdout
    assert not os.path.exists(os.path.join(data, "restore.incomplete"))
    assert oct(os.stat(os.path.join(data, "keys", "server.secret")).st_mode & 0o777) == "0o600"
    restored = Server(str(tmp_path), data=data).start()
    try:
        admin2 = restored.client()
        assert admin2.login(password=ADMIN_PASSWORD).status_code == 200  # the same admin, the same keys
        check_base_content(restored, admin2, base)
        media = all_media(admin2)
        for sha, (blob, acked) in writer.media.items():
            deleting = writer.deleting.get(sha)
            if acked < started and not deleting:
                assert sha in media, "uploaded before the backup, missing after the restore: " + sha
            if deleting and deleting[1] < started:
                assert sha not in media, "deleted before the backup, back after the restore: " + sha
        # whatever was restored is whole: every medium a row names has its bytes
        for sha in media:
            r = admin2.get("/api/v1/media/%s/content" % sha)
            assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha, sha
        # media the live server deleted (and unlinked) while the backup ran,
        # still linked by the snapshot, came through the staging links
        gone = [s for s, (_, acked) in writer.deleting.items()
                if acked and started < acked < finished and s in media]
        assert gone, "no medium was deleted after the snapshot: the race was not exercised"
        for sha in gone:
            assert not os.path.exists(os.path.join(live.data, "media", sha[:2], sha))
        channels = {c["id"]: c for c in admin2.get("/api/v1/channels?limit=500").json()["channels"]}
        for cid, (sha, acked) in writer.channels.items():
            if acked < started:
                assert cid in channels, "channel acknowledged before the backup is missing: " + cid
        for cid in channels:
            full = admin2.get("/api/v1/channels/" + cid).json()["channel"]
            for zone in full["zones"]:
                for item in zone["items"]:
                    if "media" in item:
                        assert item["media"] in media, (cid, item)
        logins = {u["login"] for u in admin2.get("/api/v1/users").json()["users"]}
        for login, acked in writer.users.items():
            if acked < started:
                assert login in logins, login
    finally:
        assert restored.stop() == 0, restored.read_log()


def test_backup_of_a_stopped_server_and_the_refusals(make_server, tmp_path):
    live = make_server().start()
    admin = live.client()
    assert admin.login().status_code == 200
    blob = png(424242, w=24, h=24)
    sha = upload(admin, blob, "kept.png")
    cid = channel(admin, "Kept", sha)
    live.stop()

    # usage errors
    assert vitrine_server(live.data, "backup").returncode == 2
    assert vitrine_server(live.data, "restore").returncode == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "precious.txt").write_text("mine")
    out = vitrine_server(live.data, "backup", str(busy))
    assert out.returncode == 2 and "is not empty (it has precious.txt)" in out.stderr, out.stderr
    assert os.listdir(busy) == ["precious.txt"]
    uninitialised = vitrine_server(str(tmp_path / "nothing"), "backup", str(tmp_path / "b0"))
    assert uninitialised.returncode == 1 and "is not initialised" in uninitialised.stderr
    assert not (tmp_path / "b0").exists()

    # a server that is not running: the same backup; an empty DEST is fine
    dest = tmp_path / "backup"
    dest.mkdir()
    out = vitrine_server(live.data, "backup", str(dest))
    assert out.returncode == 0, out.stderr
    manifest = json.load(open(dest / "backup.json"))
    assert "media/%s/%s" % (sha[:2], sha) in [f["path"] for f in manifest["files"]]

    out = vitrine_server(str(busy), "restore", str(dest))
    assert out.returncode == 2 and "is not empty (it has precious.txt)" in out.stderr, out.stderr
    assert os.listdir(busy) == ["precious.txt"]
    out = vitrine_server(str(tmp_path / "r0"), "restore", str(tmp_path))
    assert out.returncode == 2 and "is not a Vitrine backup (it has no backup.json" in out.stderr, out.stderr
    out = vitrine_server(str(tmp_path / "r0"), "--db", "postgresql://localhost/x", "restore", str(dest))
    assert out.returncode == 2 and "holds a sqlite database" in out.stderr, out.stderr
    assert not (tmp_path / "r0").exists()

    # a tampered file: named, and nothing is written
    tampered = tmp_path / "tampered"
    shutil.copytree(dest, tampered)
    obj = tampered / "media" / sha[:2] / sha
    obj.write_bytes(obj.read_bytes()[:-1] + b"\x00")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = vitrine_server(str(empty), "restore", str(tampered))
    assert out.returncode == 1, out.stderr
    assert "%s does not match backup.json" % obj in out.stderr and "nothing was restored" in out.stderr, out.stderr
    assert os.listdir(empty) == []
    out = vitrine_server(str(tmp_path / "r1"), "restore", str(tampered))
    assert out.returncode == 1 and not (tmp_path / "r1").exists()
    (tampered / "backup.json").write_text(json.dumps(dict(manifest, files=manifest["files"] + [
        {"path": "../escape", "size": 1, "sha256": "0" * 64, "mode": "0600"}])))
    out = vitrine_server(str(empty), "restore", str(tampered))
    assert out.returncode == 1 and "is not a file of a backup (../escape)" in out.stderr, out.stderr
    assert os.listdir(empty) == []

    # the good one into the empty folder; the server starts on it
    out = vitrine_server(str(empty), "restore", str(dest))
    assert out.returncode == 0, out.stderr
    serves_restored(Server(str(tmp_path), data=str(empty)), sha, blob, cid)

    # a half-finished restore is obvious: the server refuses to start on it
    (empty / "restore.incomplete").write_text("x")
    out = subprocess.run([SERVER_BIN, "--data", str(empty), "--listen", "127.0.0.1:0"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1 and "holds a restore that did not finish" in out.stderr, out.stderr


def test_a_full_disk_is_named_and_the_partial_backup_removed(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    live = Server(str(tmp_path))  # initialised, never started
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(small)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs: " + mounted.stderr.strip())
    try:
        # vitrine.db alone is larger than the disk: refused from the estimate
        out = vitrine_server(live.data, "backup", str(small / "backup"))
        assert out.returncode == 1, out
        assert "the disk of %s is full" % (small / "backup") in out.stderr, out.stderr
        assert "(the partial backup %s was removed)" % (small / "backup") in out.stderr and os.listdir(small) == []
        # room when it starts, none once the copy runs: the write fails
        subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True)
        backup = subprocess.Popen([SERVER_BIN, "--data", live.data, "backup", str(small / "backup")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, VITRINE_BACKUP_PAUSE_MS="1000"))
        deadline = time.time() + 10
        while not (small / "backup").exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        with open(small / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        stdout, stderr = backup.communicate(timeout=30)
        assert backup.returncode == 1, (stdout, stderr)
        assert "the disk of %s is full" % (small / "backup") in stderr, stderr
        assert os.listdir(small) == ["filler"]
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


class PgCluster(pg.Cluster):
    """A throwaway cluster (tests/support/pg.py) with password
    authentication: the backup must never show the password."""

    def __init__(self):
        super().__init__(password="pw-" + secrets.token_hex(8))

    def psql(self, db, sql):
        return "\n".join("|".join(v or "" for v in row) for row in self.sql(db, sql))


def test_postgresql_plumbing_with_a_schema_of_its_own(tmp_path):
    """pg_dump, pg_restore and psql as backup and restore run them, before
    the backend is in the build: a data folder (keys, files) whose files the
    rows of a hand-made PostgreSQL schema link."""
    live = Server(str(tmp_path))  # the keys
    blob = png(5150, w=8, h=8)
    sha = hashlib.sha256(blob).hexdigest()
    os.makedirs(os.path.join(live.data, "media", sha[:2]))
    with open(os.path.join(live.data, "media", sha[:2], sha), "wb") as f:
        f.write(blob)
    screen, log = "abcdefghijklmnop", "qrstuvwxyz234567"
    os.makedirs(os.path.join(live.data, "logs", screen))
    with open(os.path.join(live.data, "logs", screen, log + ".tar.gz"), "wb") as f:
        f.write(gzip.compress(b"logs"))
    lost = "f" * 64  # a row whose file is not in the data folder
    with PgCluster() as pg:
        url = pg.create_database("live")
        pg.psql("live", "CREATE TABLE schema_migrations(version integer PRIMARY KEY, name text);"
                        "INSERT INTO schema_migrations VALUES (27, 'rollouts'), (28, 'ddi');"
                        "CREATE TABLE media(account_id text, sha256 text, size bigint, filename text);"
                        "INSERT INTO media VALUES ('a', '%s', %d, 'tab\tin name.png'), ('a', '%s', 1, 'x');"
                        "CREATE TABLE screens(id text PRIMARY KEY, name text);"
                        "INSERT INTO screens VALUES ('%s', 'Lobby');"
                        "CREATE TABLE screen_logs(id text PRIMARY KEY, screen_id text REFERENCES screens(id));"
                        "INSERT INTO screen_logs VALUES ('%s', '%s');" % (sha, len(blob), lost, screen, log, screen))
        dest = str(tmp_path / "backup")
        out = vitrine_server(live.data, "--db", url, "backup", dest)
        assert out.returncode == 0, out.stderr
        assert pg.password not in out.stdout + out.stderr
        assert "warning: %s/media/ff/%s is linked by the database but not in the data folder" % (live.data, lost) \
            in out.stderr, out.stderr
        manifest = json.load(open(os.path.join(dest, "backup.json")))
        assert manifest["backend"] == "postgresql" and manifest["database"] == "database.pgdump"
        assert manifest["schema_version"] == 28 and manifest["missing"] == ["media/ff/" + lost]
        paths = [f["path"] for f in manifest["files"]]
        assert "media/%s/%s" % (sha[:2], sha) in paths and "logs/%s/%s.tar.gz" % (screen, log) in paths
        assert "database.pgdump" in paths and "vitrine.db" not in paths and "keys/server.secret" in paths

        restored_url = pg.create_database("restored")
        data = str(tmp_path / "restored")
        out = vitrine_server(data, "--db", restored_url, "restore", dest)
        assert out.returncode == 0, out.stderr
        assert pg.psql("restored", "SELECT sha256 FROM media ORDER BY sha256").split() == [sha, lost]
        assert open(os.path.join(data, "media", sha[:2], sha), "rb").read() == blob
        assert not os.path.exists(os.path.join(data, "vitrine.db"))
        assert not os.path.exists(os.path.join(data, "database.pgdump"))
        again = vitrine_server(str(tmp_path / "again"), "--db", restored_url, "restore", dest)
        assert again.returncode == 2 and "has 4 tables in its public schema" in again.stderr, again.stderr
        assert not (tmp_path / "again").exists()

        wrong = "wrong-" + secrets.token_hex(4)
        out = vitrine_server(live.data, "--db", pg.url("live", wrong), "backup", str(tmp_path / "b2"))
        assert out.returncode == 1 and "pg_dump failed" in out.stderr, out.stderr
        assert wrong not in out.stdout + out.stderr and not (tmp_path / "b2").exists()


def postgresql_supported(tmp_path):
    out = vitrine_server(str(tmp_path / "probe"), "--db", "postgresql://localhost/probe", "init", "--admin", "admin",
                         env={"VITRINE_ADMIN_PASSWORD": ADMIN_PASSWORD})
    return "unsupported database URL" not in out.stdout + out.stderr


def test_postgresql_backup_and_restore(make_server, tmp_path):
    if not postgresql_supported(tmp_path):
        pytest.skip("PostgreSQL backend not in this build")
    with PgCluster() as pg:
        live_url, restored_url = pg.create_database("live"), pg.create_database("restored")
        live = make_server(db=live_url).start()  # init and run on PostgreSQL
        admin = live.client()
        assert admin.login().status_code == 200
        blob = png(99, w=20, h=20)
        sha = upload(admin, blob, "pg.png")
        cid = channel(admin, "PG", sha)
        dest = str(tmp_path / "backup")
        out = vitrine_server(live.data, "--db", live_url, "backup", dest)
        assert out.returncode == 0, out.stderr
        assert pg.password not in out.stdout + out.stderr
        manifest = json.load(open(os.path.join(dest, "backup.json")))
        assert manifest["backend"] == "postgresql" and os.path.exists(os.path.join(dest, "database.pgdump"))
        data = str(tmp_path / "restored")
        out = vitrine_server(data, "--db", restored_url, "restore", dest)
        assert out.returncode == 0, out.stderr
        again = vitrine_server(str(tmp_path / "again"), "--db", restored_url, "restore", dest)
        assert again.returncode == 2 and "tables in its public schema" in again.stderr, again.stderr
        serves_restored(Server(str(tmp_path), data=data, db=restored_url), sha, blob, cid)
