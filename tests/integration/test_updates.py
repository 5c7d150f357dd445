"""Over-the-air updates (SPEC section 7) with real player builds: the player
installed as INSTALL/releases/0.1.0 with INSTALL/current pointing at it, and
release 0.2.0 built from vitrine-player-next (the same code reporting 0.2.0),
signed and uploaded, then rolled out. Also: a release whose new version
fails its health check rolls back by itself; releases signed by another key,
tampered on the way or older than the running version are refused by the
player; an interrupted download resumes from its offset; and the rollout
engine's phases, failure threshold, pause, resume, cancel and maintenance
windows with simulated screens."""
import base64
import io
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import time

import requests

from conftest import BUILD, wait_for
from test_screens import pair_device

PLAYER = os.path.join(BUILD, "vitrine-player")
PLAYER_NEXT = os.path.join(BUILD, "vitrine-player-next")
SERVER = os.path.join(BUILD, "vitrine-server")


def release_tarball(path, program=None, script=None, padding=0):
    """A player release: bin/vitrine-player (a copy of program, or a shell
    script), and padding random bytes in share/padding to make it big."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        if program:
            tar.add(program, arcname="bin/vitrine-player")
        else:
            data = script.encode()
            info = tarfile.TarInfo("bin/vitrine-player")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        if padding:
            data = os.urandom(padding)
            info = tarfile.TarInfo("share/padding")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sign_with_server(server, path, version, name="vitrine-player"):
    r = subprocess.run([SERVER, "--data", server.data, "release", "sign", path, "--name", name, "--version", version],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return path + ".vsig"


def upload(admin, path, sig_path):
    with open(sig_path, "rb") as f:
        sig = base64.b64encode(f.read()).decode()
    with open(path, "rb") as f:
        r = admin.post("/api/v1/releases", data=f, headers={"X-Release-Signature": sig,
                                                           "Content-Type": "application/octet-stream",
                                                           "Content-Length": str(os.path.getsize(path))})
    assert r.status_code == 201, r.text
    return r.json()["release"]["id"]


def installed_player(make_player, server, tmp_path, name, extra=(), env=None):
    """A player started as INSTALL/current/bin/vitrine-player (version 0.1.0)."""
    install = tmp_path / ("install-" + name)
    bindir = install / "releases" / "0.1.0" / "bin"
    bindir.mkdir(parents=True)
    shutil.copy(PLAYER, bindir / "vitrine-player")
    os.symlink("releases/0.1.0", install / "current")
    p = make_player(server, binary=str(install / "current" / "bin" / "vitrine-player"),
                    extra=["--install-dir", str(install)] + list(extra), env=env)
    p.install = install
    return p.start()


def pair(admin, player, name, tags=()):
    sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": name}).json()["screen"]["id"]
    wait_for(player.token, timeout=20, what="token")
    if tags:
        assert admin.patch("/api/v1/screens/" + sid, json={"tags": list(tags)}).ok
    return sid


def screen(admin, sid):
    return admin.get("/api/v1/screens/" + sid).json()["screen"]


def rollout(admin, release_id, target, **kw):
    r = admin.post("/api/v1/rollouts", json=dict(release_id=release_id, target=target, **kw))
    assert r.status_code == 201, r.text
    return r.json()["rollout"]


def get_rollout(admin, rid):
    return admin.get("/api/v1/rollouts/" + rid).json()["rollout"]


def wait_screen_status(admin, rid, statuses, timeout=90, player=None):
    deadline = time.time() + timeout
    while True:
        ro = get_rollout(admin, rid)
        if all(s["status"] in statuses for s in ro["screens"]):
            return ro
        assert time.time() < deadline, "the rollout's screens did not reach %s: %s%s" % (
            statuses, [(s["name"], s["status"], s["detail"]) for s in ro["screens"]],
            "\n" + player.read_log()[-3000:] if player else "")
        time.sleep(0.5)


def current_version(player):
    return os.readlink(os.path.join(player.install, "current")).rsplit("/", 1)[1]


def test_rollout_to_a_group_of_three_players_updates_each_and_restarts_it(server, admin, make_player, tmp_path):
    players = []
    for i in range(3):
        p = installed_player(make_player, server, tmp_path, "p%d" % i)
        players.append((p, pair(admin, p, "Hall %d" % i, tags=["hall"])))
    wait_for(lambda: all(screen(admin, s)["version"] == "0.1.0" for _, s in players), what="version 0.1.0 reported")
    tar = release_tarball(str(tmp_path / "player-0.2.0.tar.gz"), program=PLAYER_NEXT)
    release = upload(admin, tar, sign_with_server(server, tar, "0.2.0"))
    gid = admin.post("/api/v1/screen-groups", json={"name": "Hall", "rule": "tag = hall"}).json()["group"]["id"]
    ro = rollout(admin, release, {"group_id": gid}, phases=[34, 100], failure_threshold=0, health_s=60)
    assert ro["state"] == "running" and ro["counts"]["total"] == 3
    assert [p["total"] for p in ro["phase_progress"]] == [2, 1]  # ceil(3 * 34 %) then the rest
    ro = wait_screen_status(admin, ro["id"], {"committed"}, timeout=120)
    wait_for(lambda: get_rollout(admin, ro["id"])["state"] == "done", what="the rollout done")
    for p, sid in players:
        assert current_version(p) == "0.2.0"
        wait_for(lambda: screen(admin, sid)["version"] == "0.2.0", what="0.2.0 reported in the heartbeat")
        assert "restarting into the installed version" in p.read_log()
        assert not os.path.exists(os.path.join(p.data, "update.json"))  # every step delivered
    # each step was reported: the dynamic group of old versions is now empty
    assert admin.get("/api/v1/screens", params={"rule": "version < 0.2.0"}).json()["total"] == 0
    audit = [e["action"] for e in admin.get("/api/v1/audit").json()["entries"]]
    assert "rollout.created" in audit


def test_a_version_that_fails_its_health_check_rolls_back_by_itself(server, admin, make_player, tmp_path):
    p = installed_player(make_player, server, tmp_path, "bad")
    sid = pair(admin, p, "Bad luck")
    # 0.2.0 that cannot reach the server: it runs, but its health check fails
    script = "#!/bin/sh\nexec %s \"$@\" --server http://127.0.0.1:9\n" % PLAYER_NEXT
    tar = release_tarball(str(tmp_path / "bad-0.2.0.tar.gz"), script=script)
    release = upload(admin, tar, sign_with_server(server, tar, "0.2.0"))
    ro = rollout(admin, release, {"screen_ids": [sid]}, health_s=8)
    ro = wait_screen_status(admin, ro["id"], {"rolled_back"}, timeout=90, player=p)
    assert "did not reach the server" in ro["screens"][0]["detail"], ro
    assert current_version(p) == "0.1.0"
    wait_for(lambda: screen(admin, sid)["online"] and screen(admin, sid)["version"] == "0.1.0", timeout=30,
             what="back on 0.1.0")
    # one screen of one failed: over the threshold, the rollout paused itself
    ro = get_rollout(admin, ro["id"])
    assert ro["state"] == "paused" and "paused by itself" in ro["reason"]


def test_the_player_refuses_untrusted_tampered_and_older_releases(server, admin, make_player, tmp_path):
    p = installed_player(make_player, server, tmp_path, "picky")
    sid = pair(admin, p, "Picky")
    cli = os.path.join(BUILD, "vitrine")

    def refused(release_id, words, **kw):
        ro = rollout(admin, release_id, {"screen_ids": [sid]}, **kw)
        ro = wait_screen_status(admin, ro["id"], {"failed"}, timeout=60)
        assert words in ro["screens"][0]["detail"], ro["screens"][0]
        assert current_version(p) == "0.1.0"

    # signed by a key the account trusts now, but the player was not given at pairing
    key = tmp_path / "late.key"
    out = subprocess.run([cli, "release", "keygen", "--out", str(key)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    public = [w for w in out.stdout.split() if len(w) == 44 and w.endswith("=")][0]
    assert admin.post("/api/v1/release-keys", json={"name": "late", "public_key": public}).status_code == 201
    tar = release_tarball(str(tmp_path / "late-0.2.0.tar.gz"), program=PLAYER_NEXT)
    r = subprocess.run([cli, "release", "sign", "--key", str(key), "--name", "vitrine-player", "--version", "0.2.0",
                        tar], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    refused(upload(admin, tar, tar + ".vsig"), "not trusted")

    # tampered on the server's disk after the upload
    tar = release_tarball(str(tmp_path / "t-0.2.1.tar.gz"), program=PLAYER_NEXT)
    release = upload(admin, tar, sign_with_server(server, tar, "0.2.1"))
    sha = admin.get("/api/v1/releases/" + release).json()["release"]["sha256"]
    stored = os.path.join(server.data, "releases", sha)
    os.chmod(stored, 0o600)
    with open(stored, "r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 8)
    refused(release, "does not match its signed SHA-256")

    # older than the version running, and the rollout is not a rollback
    tar = release_tarball(str(tmp_path / "old-0.0.9.tar.gz"), program=PLAYER)
    refused(upload(admin, tar, sign_with_server(server, tar, "0.0.9")), "older than the version running")
    assert screen(admin, sid)["online"]


def test_an_interrupted_download_resumes_from_its_offset(server, admin, make_player, tmp_path):
    # 12 MB at 1.5 MB/s: about 8 s to download
    p = installed_player(make_player, server, tmp_path, "slow", extra=["--download-rate", "1500000"])
    sid = pair(admin, p, "Slow link")
    tar = release_tarball(str(tmp_path / "big-0.2.0.tar.gz"), program=PLAYER_NEXT, padding=12 << 20)
    release = upload(admin, tar, sign_with_server(server, tar, "0.2.0"))
    ro = rollout(admin, release, {"screen_ids": [sid]}, health_s=60)
    updates = os.path.join(p.data, "updates")

    def part_size():
        parts = [f for f in os.listdir(updates) if f.endswith(".part")] if os.path.isdir(updates) else []
        return os.path.getsize(os.path.join(updates, parts[0])) if parts else 0
    wait_for(lambda: part_size() > 2 << 20, timeout=30, what="a partial download")
    p.proc.send_signal(signal.SIGKILL)  # as a power cut would
    p.proc.wait()
    p.stop()
    offset = part_size()
    assert 0 < offset < os.path.getsize(tar)
    p.start()
    ro = wait_screen_status(admin, ro["id"], {"committed"}, timeout=120)
    log = p.read_log()
    assert "resuming the release download" in log
    resumed = [l for l in log.splitlines() if "resuming the release download" in l][0]
    assert int(resumed.split("offset=")[1].strip('"').split()[0].strip('"')) >= offset
    assert current_version(p) == "0.2.0"


# --- the engine, with simulated screens ---

def sim_screens(admin, n, tag):
    sims = []
    for i in range(n):
        token, sid = pair_device(admin, name="%s %02d" % (tag, i), hardware_id="%s-%d" % (tag, i))
        assert admin.patch("/api/v1/screens/" + sid, json={"tags": [tag]}).ok
        sims.append((token, sid))
    return sims


def pending_update(server, token):
    r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0",
                     headers={"Authorization": "Bearer " + token})
    return [i for i in r.json()["instructions"] if i["type"] == "update"]


def report(server, token, rollout_id, step, detail=""):
    r = requests.post(server.url + "/api/v1/device/update-status", headers={"Authorization": "Bearer " + token},
                      json={"rollout_id": rollout_id, "step": step, "detail": detail})
    assert r.status_code == 200, r.text


def any_release(server, admin, tmp_path, version="0.3.0"):
    tar = release_tarball(str(tmp_path / ("sim-%s.tar.gz" % version)), script="#!/bin/sh\n")
    return upload(admin, tar, sign_with_server(server, tar, version))


def test_phased_rollout_pauses_itself_above_the_failure_threshold_and_resume_continues(server, admin, tmp_path):
    sims = sim_screens(admin, 10, "wall")
    release = any_release(server, admin, tmp_path)
    ro = rollout(admin, release, {"rule": "tag = wall"}, phases=[10, 50, 100], failure_threshold=30)
    rid = ro["id"]
    assert [p["total"] for p in ro["phase_progress"]] == [1, 4, 5]
    by_id = dict((sid, token) for token, sid in sims)
    phase_of = {s["screen_id"]: s["phase"] for s in ro["screens"]}

    def in_phase(n):
        return [by_id[s] for s, ph in phase_of.items() if ph == n]
    # only phase 1 has its instruction
    sent = [t for t in by_id.values() if pending_update(server, t)]
    assert sent == in_phase(0)
    payload = pending_update(server, sent[0])[0]["payload"]
    assert payload["rollout_id"] == rid and payload["version"] == "0.3.0" and payload["release_id"] == release
    for step in ("accepted", "verified", "downloading", "downloaded", "installed", "restarting", "started",
                 "committed"):
        report(server, sent[0], rid, step)
    ro = get_rollout(admin, rid)
    assert ro["phase"] == 1 and all(pending_update(server, t) for t in in_phase(1))
    assert not any(pending_update(server, t) for t in in_phase(2))
    # one of the four fails (25 %, within 30 %), then a second one (50 %): paused by itself
    a, b, c, d = in_phase(1)
    report(server, a, rid, "committed")
    report(server, b, rid, "failed", "injected failure")
    assert get_rollout(admin, rid)["state"] == "running"
    report(server, c, rid, "rolled_back", "injected failure")
    ro = get_rollout(admin, rid)
    assert ro["state"] == "paused" and "2 of the 4 screens of phase 2 failed" in ro["reason"], ro
    report(server, d, rid, "committed")
    assert get_rollout(admin, rid)["phase"] == 1  # no next phase while paused
    assert not any(pending_update(server, t) for t in in_phase(2))
    # resume: the failures so far are accepted, the next phase starts
    r = admin.post("/api/v1/rollouts/%s/resume" % rid)
    assert r.status_code == 200, r.text
    ro = r.json()["rollout"]
    assert ro["state"] == "running" and ro["phase"] == 2
    assert all(pending_update(server, t) for t in in_phase(2))
    for t in in_phase(2):
        report(server, t, rid, "committed")
    ro = get_rollout(admin, rid)
    assert ro["state"] == "done" and ro["counts"]["committed"] == 8 and ro["counts"]["failed"] == 2
    assert admin.post("/api/v1/rollouts/%s/pause" % rid).status_code == 409
    audit = [e["action"] for e in admin.get("/api/v1/audit").json()["entries"]]
    assert "rollout.paused" in audit and "rollout.resume" in audit


def test_pause_cancel_windows_and_refusals(server, admin, tmp_path):
    sims = sim_screens(admin, 3, "menu")
    release = any_release(server, admin, tmp_path, "0.4.0")
    # a maintenance window that does not hold now: nothing is sent
    now = time.gmtime()
    later = (now.tm_hour + 3) % 24
    window = [{"on": "%02d:00" % later, "off": "%02d:30" % later}]
    ro = rollout(admin, release, {"rule": "tag = menu"}, maintenance_window=window)
    assert ro["counts"]["waiting"] == 3 and not any(pending_update(server, t) for t, _ in sims)
    r = admin.post("/api/v1/rollouts/%s/cancel" % ro["id"])
    assert r.status_code == 200 and r.json()["rollout"]["state"] == "cancelled"
    assert admin.post("/api/v1/rollouts/%s/resume" % ro["id"]).status_code == 409
    # a group's own window is the default of a rollout to it
    gid = admin.post("/api/v1/screen-groups", json={"name": "Menus", "rule": "tag = menu"}).json()["group"]["id"]
    r = admin.patch("/api/v1/screen-groups/" + gid, json={"maintenance_window": window})
    assert r.status_code == 200, r.text
    ro = rollout(admin, release, {"group_id": gid})
    assert ro["maintenance_window"] == window and ro["counts"]["waiting"] == 3
    admin.post("/api/v1/rollouts/%s/cancel" % ro["id"])
    # pause by hand, resume
    ro = rollout(admin, release, {"rule": "tag = menu"})
    assert ro["counts"]["sent"] == 3
    assert admin.post("/api/v1/rollouts/%s/pause" % ro["id"]).json()["rollout"]["state"] == "paused"
    assert admin.post("/api/v1/rollouts/%s/resume" % ro["id"]).json()["rollout"]["state"] == "running"
    for body, code in [({"release_id": "aaaaaaaaaaaaaaaa", "target": {"rule": "tag = menu"}}, 404),
                       ({"release_id": release, "target": {"rule": "tag = nobody"}}, 400),
                       ({"release_id": release, "target": {"rule": "tag = menu"}, "phases": [50, 10, 100]}, 400),
                       ({"release_id": release, "target": {"rule": "tag = menu"}, "phases": [10, 50]}, 400),
                       ({"release_id": release, "target": {"rule": "tag = menu"}, "failure_threshold": 101}, 400),
                       ({"release_id": release, "target": {"rule": "tag = menu"}, "health_s": 1}, 400),
                       ({"release_id": release, "target": {"rule": "tag = menu"},
                         "maintenance_window": [{"on": "x"}]}, 400),
                       ({"release_id": release, "target": {"rule": "tag = menu"}, "colour": 1}, 400)]:
        r = admin.post("/api/v1/rollouts", json=body)
        assert r.status_code == code, (body, r.text)
    # a screen reports only for rollouts it is in, with known steps
    token = sims[0][0]
    r = requests.post(server.url + "/api/v1/device/update-status", headers={"Authorization": "Bearer " + token},
                      json={"rollout_id": ro["id"], "step": "exploded"})
    assert r.status_code == 400
    other, _ = pair_device(admin, name="Outsider", hardware_id="outsider")
    r = requests.post(server.url + "/api/v1/device/update-status", headers={"Authorization": "Bearer " + other},
                      json={"rollout_id": ro["id"], "step": "committed"})
    assert r.status_code == 404
