"""Screens (SPEC section 2): pairing by code, the player agent, instant
instructions by long-poll, revocation, heartbeats, survival of restarts."""
import base64
import csv
import io
import os
import signal
import subprocess
import threading
import time

import requests

from conftest import PLAYER_BIN, Client, wait_for

PUBKEY = base64.b64encode(bytes(range(32))).decode()


def pair_device(admin, name="Sim", hardware_id="sim-1"):
    """Pairs a simulated device through the API; returns (token, screen_id)."""
    r = requests.post(admin.url + "/api/v1/device/pair", json={"hardware_id": hardware_id, "public_key": PUBKEY})
    assert r.status_code == 200, r.text
    p = r.json()
    screen = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": name}).json()["screen"]
    t = requests.post(admin.url + "/api/v1/device/token", json={"device_code": p["device_code"]})
    assert t.status_code == 200, t.text
    return t.json()["access_token"], screen["id"]


def text_channel(admin, name="Words"):
    """A channel of the admin's account (change_channel needs a real one)."""
    r = admin.post("/api/v1/channels", json={"name": name, "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080, "items": [{"text": "Hello", "duration": 5}]}]})
    assert r.status_code == 201, r.text
    return r.json()["channel"]["id"]


def send(admin, screen_id, type_, **payload):
    r = admin.post("/api/v1/screens/%s/instructions" % screen_id, json={"type": type_, "payload": payload})
    assert r.status_code == 201, r.text
    return r.json()


def wait_ack(admin, screen_id, ins_id, wait=10):
    r = admin.get("/api/v1/screens/%s/instructions/%s?wait=%d" % (screen_id, ins_id, wait))
    assert r.status_code == 200, r.text
    return r.json()["instruction"]


def test_pairing_by_code_printed_by_the_player(server, admin, make_player):
    player = make_player(server).start()
    code = player.wait_code()
    assert len(code) == 9 and code[4] == "-"
    assert all(c in "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" for c in code.replace("-", ""))
    # the confirm step shows what is being added
    preview = admin.get("/api/v1/pairings/" + code).json()["pairing"]
    assert preview["ip"] == "127.0.0.1" and preview["info"]["version"] == "0.1.0"
    r = admin.post("/api/v1/pairings", json={"user_code": code.lower(), "name": "Lobby"})
    assert r.status_code == 201, r.text
    screen = r.json()["screen"]
    assert screen["name"] == "Lobby"
    wait_for(player.token, what="the player's token")
    assert oct(os.stat(os.path.join(player.data, "token")).st_mode & 0o777) == "0o600"
    assert oct(os.stat(player.data).st_mode & 0o777) == "0o700"
    s = wait_for(lambda: next((x for x in admin.get("/api/v1/screens").json()["screens"]
                               if x["online"] and x["state"].get("version")), None), what="online with heartbeat")
    assert s["id"] == screen["id"] and s["version"] == "0.1.0"
    # the code is single use
    assert admin.post("/api/v1/pairings", json={"user_code": code, "name": "Again"}).status_code == 404
    entries = admin.get("/api/v1/audit").json()["entries"]
    assert any(e["action"] == "screen.paired" and e["target"] == "Lobby" for e in entries)


def test_device_token_polling_slow_down_and_expiry(make_server):
    server = make_server(env={"VITRINE_PAIRING_TTL_SECONDS": "2"}).start()
    r = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": "x", "public_key": PUBKEY}).json()
    assert r["expires_in"] == 2 and r["interval"] == 5
    assert r["verification_uri_complete"].endswith("#/pair?code=%s-%s" % (r["user_code"][:4], r["user_code"][4:]))
    first = requests.post(server.url + "/api/v1/device/token", json={"device_code": r["device_code"]})
    assert first.status_code == 400 and first.json()["error"]["code"] == "authorization_pending"
    again = requests.post(server.url + "/api/v1/device/token", json={"device_code": r["device_code"]})
    assert again.status_code == 400 and again.json()["error"]["code"] == "slow_down"
    assert again.json()["error"]["interval"] == 10
    time.sleep(3.1)
    gone = requests.post(server.url + "/api/v1/device/token", json={"device_code": r["device_code"]})
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "expired_token"
    admin = server.client()
    admin.login()
    late = admin.post("/api/v1/pairings", json={"user_code": r["user_code"], "name": "Late"})
    assert late.status_code == 404
    bad = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": "x", "public_key": "AAAA"})
    assert bad.status_code == 400 and "public_key" in bad.json()["error"]["message"]


def test_wrong_codes_are_rate_limited_and_audited(server, admin):
    for i in range(10):
        r = admin.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZ%d" % (2 + i % 8), "name": "x"})
        assert r.status_code == 404, r.text
    r = admin.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZZ", "name": "x"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"
    # even a right code is refused during the penalty
    p = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": "x", "public_key": PUBKEY}).json()
    assert admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": "x"}).status_code == 429
    actions = [e["action"] for e in admin.get("/api/v1/audit").json()["entries"]]
    assert actions.count("pairing.wrong_code") == 10 and "pairing.guess_limited" in actions


def test_instruction_reaches_a_waiting_player_in_under_a_second(server, admin, make_player):
    player = make_player(server).start()
    code = player.wait_code()
    sid = admin.post("/api/v1/pairings", json={"user_code": code, "name": "Fast"}).json()["screen"]["id"]
    wait_for(lambda: admin.get("/api/v1/screens/" + sid).json()["screen"]["online"], what="online")
    for _ in range(3):
        # timed from when the player is parked in its long-poll (a fixed sleep was too short under load)
        wait_for(lambda: "vitrine_http_suspended_requests 1" in requests.get(server.url + "/metrics").text,
                 what="the player's long-poll parked")
        start = time.monotonic()
        ins = send(admin, sid, "identify")
        done = wait_ack(admin, sid, ins["id"])
        elapsed = time.monotonic() - start
        assert done["status"] == "ok" and done["result"] == {"seconds": 10}
        assert elapsed < 1.0, elapsed
    # unknown to this player version: acknowledged as failed, with the reason
    ins = send(admin, sid, "change_channel", channel_id=text_channel(admin))
    done = wait_ack(admin, sid, ins["id"])
    assert done["status"] == "failed" and "cannot play channels" in done["result"]["reason"]
    detail = admin.get("/api/v1/screens/" + sid).json()["screen"]
    assert [i["type"] for i in detail["instructions"]][:2] == ["change_channel", "identify"]


def test_commands_and_screenshot(server, admin, make_player, tmp_path):
    out = tmp_path / "volume"
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    player = make_player(server, extra=["--volume-command", "echo {level} > %s" % out,
                                        "--brightness-command", "exit 3",
                                        "--screenshot-command", "cat %s" % png]).start()
    sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": "Cmd"}).json()["screen"]["id"]
    ins = send(admin, sid, "set_volume", level=35)
    assert wait_ack(admin, sid, ins["id"])["status"] == "ok"
    assert out.read_text().strip() == "35"
    ins = send(admin, sid, "set_brightness", level=10)
    done = wait_ack(admin, sid, ins["id"])
    assert done["status"] == "failed" and done["result"]["exit_status"] == 3
    ins = send(admin, sid, "screenshot")
    assert wait_ack(admin, sid, ins["id"])["status"] == "ok"
    shot = admin.get("/api/v1/screens/%s/screenshot" % sid)
    assert shot.status_code == 200 and shot.content == png.read_bytes()
    assert admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "set_volume",
                                                                      "payload": {"level": 101}}).status_code == 400
    assert admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "format_disk"}).status_code == 400


def test_revocation_ends_a_waiting_long_poll_with_401(server, admin):
    token, sid = pair_device(admin)
    result = {}

    def poll():
        r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=30",
                         headers={"Authorization": "Bearer " + token}, timeout=40)
        result["status"], result["body"], result["at"] = r.status_code, r.json(), time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    wait_for(lambda: "vitrine_http_suspended_requests 1" in requests.get(server.url + "/metrics").text,
             what="the long-poll to be parked")
    start = time.monotonic()
    assert admin.delete("/api/v1/screens/" + sid).status_code == 200
    th.join(5)
    assert result["status"] == 401 and result["body"]["error"]["code"] == "invalid_token"
    assert result["at"] - start < 1.0
    # the token is dead for good
    r = requests.post(server.url + "/api/v1/device/heartbeat", json={}, headers={"Authorization": "Bearer " + token})
    assert r.status_code == 401
    assert admin.get("/api/v1/screens/" + sid).status_code == 404


def test_revoked_player_goes_back_to_pairing(server, admin, make_player):
    player = make_player(server).start()
    code = player.wait_code()
    sid = admin.post("/api/v1/pairings", json={"user_code": code, "name": "Stolen"}).json()["screen"]["id"]
    wait_for(player.token, what="token")
    admin.delete("/api/v1/screens/" + sid)
    new_code = player.wait_code(previous=code)
    assert new_code != code and player.token() is None


def test_instructions_queued_while_the_player_is_down(server, admin, make_player):
    player = make_player(server).start()
    sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": "Down"}).json()["screen"]["id"]
    wait_for(player.token, what="token")
    assert player.stop() == 0
    queued = [send(admin, sid, "identify") for _ in range(3)]
    player.start()
    for ins in queued:
        assert wait_ack(admin, sid, ins["id"], wait=15)["status"] == "ok"


def test_instructions_survive_a_server_crash(make_server, make_player):
    server = make_server().start()
    admin = server.client()
    admin.login()
    player = make_player(server).start()
    sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": "Crash"}).json()["screen"]["id"]
    wait_for(player.token, what="token")
    assert player.stop() == 0
    ins = send(admin, sid, "identify")
    server.proc.send_signal(signal.SIGKILL)  # no clean shutdown at all
    server.proc.wait()
    server.log.close()
    server.proc = None
    server.start()  # same port, same data
    player.start()
    admin = server.client()
    admin.login()
    assert wait_ack(admin, sid, ins["id"], wait=20)["status"] == "ok"
    # and a graceful restart while the player waits: it reconnects by itself
    assert server.stop() == 0
    server.start()
    admin = server.client()
    admin.login()
    ins = send(admin, sid, "identify")
    assert wait_ack(admin, sid, ins["id"], wait=20)["status"] == "ok"


def test_device_api_refuses_bad_input(server, admin):
    token, sid = pair_device(admin)
    h = {"Authorization": "Bearer " + token}
    r = requests.get(server.url + "/api/v1/device/instructions?wait=31", headers=h)
    assert r.status_code == 400 and "wait" in r.json()["error"]["message"]
    r = requests.get(server.url + "/api/v1/device/instructions?after=-1", headers=h)
    assert r.status_code == 400
    r = requests.post(server.url + "/api/v1/device/instructions/nope/ack", json={"status": "ok"}, headers=h)
    assert r.status_code == 404
    r = requests.post(server.url + "/api/v1/device/instructions/nope/ack", json={"status": "maybe"}, headers=h)
    assert r.status_code == 400
    r = requests.post(server.url + "/api/v1/device/screenshot", data=b"GIF89a", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_image"
    # a user token is not a device token and the reverse
    assert requests.get(server.url + "/api/v1/screens", headers=h).status_code == 401
    user_token = admin.post("/api/v1/tokens", json={"name": "u"}).json()["token"]
    assert requests.get(server.url + "/api/v1/device/instructions?wait=0",
                        headers={"Authorization": "Bearer " + user_token}).status_code == 401
    # wait=0 answers at once; an instruction is redelivered until acknowledged
    ins = send(admin, sid, "identify")
    for _ in range(2):
        r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0", headers=h)
        assert [i["id"] for i in r.json()["instructions"]] == [ins["id"]]
    r = requests.post(server.url + "/api/v1/device/instructions/%s/ack" % ins["id"],
                      json={"status": "ok", "result": {"x": 1}}, headers=h)
    assert r.status_code == 200
    r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0", headers=h)
    assert r.status_code == 200 and r.json()["instructions"] == [], (r.status_code, r.text)
    # another account's user cannot see or command this screen: covered by
    # ids being per account (404); editors cannot send instructions
    admin.post("/api/v1/users", json={"login": "ed", "password": "a-long-password-1", "role": "editor"})
    ed = Client(server.url)
    ed.login("ed", "a-long-password-1")
    assert ed.post("/api/v1/screens/%s/instructions" % sid, json={"type": "identify"}).status_code == 403


def test_diagnose_against_a_live_server_and_a_dead_address(server, tmp_path):
    out = subprocess.run([PLAYER_BIN, "--server", server.url, "--data", str(tmp_path / "d"), "--diagnose"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    for check in ("dns", "tcp", "tls", "http", "clock", "longpoll", "relay"):
        assert any(l.startswith(check) for l in out.stdout.splitlines()), (check, out.stdout)
    assert "All checks passed." in out.stdout
    dead = subprocess.run([PLAYER_BIN, "--server", "http://127.0.0.1:9", "--data", str(tmp_path / "d"),
                           "--diagnose"], capture_output=True, text=True, timeout=60)
    assert dead.returncode == 1
    assert "tcp        FAILED" in dead.stdout
    assert "network administrator: allow outbound TCP from this screen to 127.0.0.1 port 9 (HTTP)" in dead.stdout
    nodns = subprocess.run([PLAYER_BIN, "--server", "https://no-such-host.invalid", "--diagnose",
                            "--data", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert nodns.returncode == 1 and "dns        FAILED" in nodns.stdout
    assert "make no-such-host.invalid resolvable" in nodns.stdout


def test_an_idle_paired_player_sleeps(server, admin, make_player):
    """A paired player waiting in its long-poll uses (almost) no CPU."""
    player = make_player(server).start()
    sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": "Idle"}).json()["screen"]["id"]
    wait_for(lambda: admin.get("/api/v1/screens/" + sid).json()["screen"]["online"], what="online")
    ins = send(admin, sid, "identify")
    assert wait_ack(admin, sid, ins["id"])["status"] == "ok"

    def cpu_seconds():
        fields = open("/proc/%d/stat" % player.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu_seconds()
    time.sleep(5)
    used = cpu_seconds() - before
    assert used < 0.5, "the idle player used %.2f s of CPU in 5 s" % used


def test_a_long_poll_alone_keeps_the_screen_online(server, admin):
    """The poll's last_seen is kept even though the request then waits."""
    token, sid = pair_device(admin)
    h = {"Authorization": "Bearer " + token}
    requests.get(server.url + "/api/v1/device/instructions?wait=1", headers=h)
    screen = admin.get("/api/v1/screens/" + sid).json()["screen"]
    assert screen["online"] and screen["last_seen"] > 0


def test_change_channel_refuses_another_accounts_channel(server, admin):
    """A channel id of another account is as unknown as a made-up one."""
    _, sid = pair_device(admin)
    server.sql("INSERT INTO accounts(id, name, created_at) VALUES('otheraccountaaaa', 'Other', 0)")
    server.sql("INSERT INTO channels(id, account_id, name, body, created_at, updated_at) "
               "VALUES('otherchannelaaaa', 'otheraccountaaaa', 'Theirs', '{}', 0, 0)")
    r = admin.post("/api/v1/screens/%s/instructions" % sid,
                   json={"type": "change_channel", "payload": {"channel_id": "otherchannelaaaa"}})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    r = admin.post("/api/v1/screens/%s/instructions" % sid,
                   json={"type": "change_channel", "payload": {"channel_id": "nosuchchannelaaa"}})
    assert r.status_code == 404
    r = admin.post("/api/v1/screens/%s/instructions" % sid,
                   json={"type": "change_channel", "payload": {"channel_id": text_channel(admin)}})
    assert r.status_code == 201, r.text


def test_one_users_wrong_codes_do_not_lock_out_others_behind_the_address(server, admin):
    """Pairing guesses are limited per (user, address), with a larger cap per
    address: a school behind NAT is not blocked by one user's typos."""
    def user(login):
        r = admin.post("/api/v1/users", json={"login": login, "password": "a-long-password-1", "role": "admin"})
        assert r.status_code == 201, r.text
        c = Client(server.url)
        assert c.login(login, "a-long-password-1").status_code == 200
        return c

    for i in range(10):
        assert admin.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZZ", "name": "x"}).status_code == 404
    assert admin.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZZ", "name": "x"}).status_code == 429
    colleague = user("colleague")
    assert colleague.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZZ", "name": "x"}).status_code == 404
    p = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": "x", "public_key": PUBKEY}).json()
    r = colleague.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": "Hall"})
    assert r.status_code == 201, r.text
    # many accounts guessing from one address meet the address's cap (50)
    for n in range(4):
        c = user("guesser%d" % n)
        for i in range(10):
            c.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZZ", "name": "x"})
    late = user("latecomer")
    r = late.post("/api/v1/pairings", json={"user_code": "ZZZZ-ZZZZ", "name": "x"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"


def play(at, item="intro", **kw):
    return dict({"channel_id": "", "zone": "main", "item": item, "sha256": "", "started_at": int(at),
                 "duration_ms": 5000}, **kw)


def test_proof_of_play_is_rate_limited_per_screen(make_server):
    """One device token can no longer write rows without end (755,000 in 10 s)."""
    server = make_server(env={"VITRINE_PLAYED_ROWS_PER_HOUR": "1500"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    token, sid = pair_device(admin)
    h = {"Authorization": "Bearer " + token}
    now = time.time()
    r = requests.post(server.url + "/api/v1/device/played", json={"plays": [play(now)] * 1000}, headers=h)
    assert r.status_code == 200 and r.json()["recorded"] == 1000
    r = requests.post(server.url + "/api/v1/device/played", json={"plays": [play(now)] * 1000}, headers=h)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests", r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    # requests per minute, whatever their size (the default is 12)
    codes = [requests.post(server.url + "/api/v1/device/played", json={"plays": [play(now)]},
                           headers=h).status_code for _ in range(20)]
    assert codes.count(200) <= 11 and codes[-1] == 429, codes
    rows = admin.get("/api/v1/reports/plays?screen_id=" + sid).json()["plays"]
    assert len(rows) == 1000 + codes.count(200)
    # another screen has its own quota
    token2, _ = pair_device(admin, name="Other", hardware_id="sim-2")
    r = requests.post(server.url + "/api/v1/device/played", json={"plays": [play(now)]},
                      headers={"Authorization": "Bearer " + token2})
    assert r.status_code == 200


def test_proof_of_play_csv_defuses_formula_cells(server, admin):
    token, sid = pair_device(admin)
    h = {"Authorization": "Bearer " + token}
    now = time.time()
    plays = [play(now + i, item=x) for i, x in enumerate(["=1+2", "+1", "-1", "@SUM(A1)", "\tcmd", "\rcmd", "ok"])]
    assert requests.post(server.url + "/api/v1/device/played", json={"plays": plays}, headers=h).status_code == 200
    r = admin.get("/api/v1/reports/plays?format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    items = [row[4] for row in rows[1:]]
    assert items == ["'=1+2", "'+1", "'-1", "'@SUM(A1)", "'\tcmd", "'\rcmd", "ok"], items


def test_retention_prunes_audit_instructions_and_folds_old_plays(make_server):
    server = make_server(env={"VITRINE_AUDIT_RETENTION_DAYS": "2", "VITRINE_INSTRUCTIONS_RETENTION_DAYS": "2",
                              "VITRINE_PLAYED_RETENTION_DAYS": "2", "VITRINE_RETENTION_CHECK_SECONDS": "1"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    token, sid = pair_device(admin)
    h = {"Authorization": "Bearer " + token}
    now = int(time.time())
    old_day = now - 5 * 86400
    plays = [play(old_day), play(old_day + 10), play(now - 60, item="recent")]
    assert requests.post(server.url + "/api/v1/device/played", json={"plays": plays}, headers=h).status_code == 200
    done = send(admin, sid, "identify")
    pending = send(admin, sid, "identify")
    acked = requests.post(server.url + "/api/v1/device/instructions/%s/ack" % done["id"], json={"status": "ok"},
                          headers=h)
    assert acked.status_code == 200, acked.text
    account = server.sql("SELECT account_id FROM screens WHERE id = ?", (sid,))[0][0]
    server.sql("INSERT INTO audit(id, account_id, at, actor, ip, action) "
               "VALUES('oldauditentryaaa', ?, ?, 'admin', '127.0.0.1', 'old.event')", (account, now - 9 * 86400))
    server.sql("UPDATE instructions SET created_at = ? WHERE id IN (?, ?)", (now - 9 * 86400, done["id"],
                                                                          pending["id"]))

    def count(query, *args):
        return int(server.sql(query, args)[0][0])

    def pruned():
        return (count("SELECT COUNT(*) FROM audit WHERE action = 'old.event'") == 0 and
                count("SELECT COUNT(*) FROM instructions WHERE id = ?", done["id"]) == 0 and
                count("SELECT COUNT(*) FROM proof_of_play WHERE started_at < ?", now - 86400) == 0)
    wait_for(pruned, timeout=15, what="the retention task")
    daily = server.sql("SELECT day, plays, duration_ms FROM proof_of_play_daily WHERE screen_id = ?", (sid,))
    assert daily == [[str(old_day - old_day % 86400), "2", "10000"]], daily
    # a pending instruction stays until it expires; recent rows stay
    assert count("SELECT COUNT(*) FROM instructions WHERE id = ?", pending["id"]) == 1
    assert count("SELECT COUNT(*) FROM audit") > 0
    # the audit log is still append-only for what is younger than the cutoff
    try:
        server.sql("DELETE FROM audit")
        raise AssertionError("recent audit rows could be deleted")
    except Exception as e:  # sqlite3.DatabaseError or psql's failure
        assert "append-only" in str(e)
    rows = admin.get("/api/v1/reports/plays?screen_id=" + sid).json()["plays"]
    assert [p["item"] for p in rows] == ["recent"]
    # the per-day report reads the folded counts and the raw rows together
    days = admin.get("/api/v1/reports/plays?group=day&screen_id=" + sid).json()["days"]
    assert [(d["day"], d["plays"], d["duration_ms"]) for d in days] == [
        (old_day - old_day % 86400, 2, 10000), ((now - 60) - (now - 60) % 86400, 1, 5000)], days
    r = admin.get("/api/v1/reports/plays?group=week")
    assert r.status_code == 400 and "group" in r.json()["error"]["message"]
