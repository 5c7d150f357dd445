"""Device management (SPEC section 7): inventory reported by real players
and shown, screen rules and dynamic groups, actions sent to a whole group,
collected logs, display power schedules, and the player's watchdog that
restores damaged local state from the server."""
import base64
import io
import os
import platform
import tarfile
import time

import pytest
import requests

from conftest import wait_for
from test_content import paired_player
from test_screens import pair_device, wait_ack


def screen(admin, sid):
    return admin.get("/api/v1/screens/" + sid).json()["screen"]


def inventory_of(admin, sid, timeout=20):
    return wait_for(lambda: screen(admin, sid)["inventory"] or None, timeout=timeout, what="the inventory")


def test_inventory_is_reported_shown_and_filtered_by(server, admin, make_player):
    player, sid = paired_player(server, admin, make_player)
    inv = inventory_of(admin, sid)
    assert inv["player_version"] == "0.1.0"
    assert inv["os"]["kernel"] == platform.release()
    assert inv["cpu"]["cores"] == os.cpu_count() and inv["cpu"]["arch"] == platform.machine()
    assert inv["memory"]["total_bytes"] > 100 << 20
    data_disks = [d for d in inv["disks"] if d["player_data"]]
    assert len(data_disks) == 1 and 0 < data_disks[0]["free_bytes"] <= data_disks[0]["total_bytes"]
    assert inv["hostname"] == platform.node()
    assert isinstance(inv["network"], list) and isinstance(inv["displays"], list)
    assert screen(admin, sid)["inventory_at"] > 0

    def listed(rule):
        r = admin.get("/api/v1/screens", params={"rule": rule})
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["screens"]]
    other_token, other = pair_device(admin, name="Sim", hardware_id="sim-inv")
    assert listed("kernel = \"%s\"" % platform.release()) == [sid]
    assert listed("memory_mb > 100 and cores >= 1") == [sid]
    assert listed("memory_mb < 1") == []
    assert listed("not kernel ~ \"%s\"" % platform.release()) == [other]
    assert sorted(listed("version = 0.1.0 or name = Sim")) == sorted([sid, other])
    assert listed("version < 0.10.0") == [sid]  # 0.1.0 < 0.10.0: numbers, not text
    r = admin.get("/api/v1/screens", params={"rule": "version << 2"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_rule"
    assert "at character" in r.json()["error"]["message"]
    r = admin.get("/api/v1/screens", params={"rule": "colour = red"})
    assert r.status_code == 400 and "unknown field" in r.json()["error"]["message"]
    # paging with a rule: total counts every match, the page holds limit
    page = admin.get("/api/v1/screens", params={"rule": "id != x", "limit": 1}).json()
    assert page["total"] == 2 and len(page["screens"]) == 1


def test_inventory_of_the_wrong_shape_is_refused(server, admin):
    token, sid = pair_device(admin, hardware_id="sim-shape")
    h = {"Authorization": "Bearer " + token}
    url = server.url + "/api/v1/device/inventory"
    for bad, field in [([], "object"), ({"model": 5}, "model"), ({"disks": {"a": 1}}, "disks"),
                       ({"disks": [{"free_bytes": "lots"}]}, "disks[0].free_bytes"),
                       ({"network": [{"name": "eth0", "addresses": [7]}]}, "addresses"),
                       ({"memory": {"total_bytes": -1}}, "memory.total_bytes"),
                       ({"model": "x" * 300}, "model")]:
        r = requests.post(url, json=bad, headers=h)
        assert r.status_code == 400 and r.json()["error"]["code"] in ("invalid_inventory", "invalid_json"), \
            (bad, r.text)
        assert field in r.json()["error"]["message"], (bad, r.text)
    assert screen(admin, sid)["inventory"] == {}
    r = requests.post(url, json={"model": "Pi 5", "disks": [{"mount": "/", "free_bytes": 1 << 30}]}, headers=h)
    assert r.status_code == 200
    assert screen(admin, sid)["inventory"]["model"] == "Pi 5"
    assert requests.post(url, json={"model": "x"}).status_code == 401


def test_dynamic_group_action_reaches_every_screen_of_the_group(server, admin, make_player):
    players = []
    for i in range(3):
        p, sid = paired_player(server, admin, make_player, name="Lobby %d" % i)
        assert admin.patch("/api/v1/screens/" + sid, json={"tags": ["lobby"]}).status_code == 200
        players.append((p, sid))
    other, other_sid = paired_player(server, admin, make_player, name="Office")
    r = admin.post("/api/v1/screen-groups", json={"name": "Lobbies", "rule": "tag = lobby"})
    assert r.status_code == 201, r.text
    gid = r.json()["group"]["id"]
    assert admin.post("/api/v1/screen-groups", json={"name": "Lobbies", "rule": "tag = x"}).status_code == 409
    bad = admin.post("/api/v1/screen-groups", json={"name": "Bad", "rule": "tag ="})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_rule"
    members = admin.get("/api/v1/screen-groups/%s/screens" % gid).json()
    assert sorted(s["id"] for s in members["screens"]) == sorted(s for _, s in players)
    groups = admin.get("/api/v1/screen-groups").json()["groups"]
    assert [(g["name"], g["members"]) for g in groups] == [("Lobbies", 3)]

    r = admin.post("/api/v1/screen-actions", json={"target": {"group_id": gid}, "type": "identify"})
    assert r.status_code == 201, r.text
    batch = r.json()["batch"]
    assert batch["screens"] == 3 and len(r.json()["instructions"]) == 3
    for ins in r.json()["instructions"]:
        assert wait_ack(admin, ins["screen_id"], ins["id"])["status"] == "ok"
    action = admin.get("/api/v1/screen-actions/" + batch["id"]).json()["action"]
    assert action["counts"]["ok"] == 3 and {i["status"] for i in action["instructions"]} == {"ok"}
    for _, sid in players:  # the acknowledgement is in each screen's own history
        assert any(i["type"] == "identify" and i["status"] == "ok" for i in screen(admin, sid)["instructions"])
    assert not any(i["type"] == "identify" for i in screen(admin, other_sid)["instructions"])
    assert admin.get("/api/v1/screen-actions").json()["actions"][0]["id"] == batch["id"]

    # targets by rule and by ids; refusals
    r = admin.post("/api/v1/screen-actions", json={"target": {"rule": "name = Office"}, "type": "set_volume",
                                                   "payload": {"level": 30}})
    assert r.status_code == 201 and [i["screen_id"] for i in r.json()["instructions"]] == [other_sid]
    for body, code in [({"target": {"rule": "name = Nobody"}, "type": "identify"}, "no_screens"),
                       ({"target": {"group_id": gid}, "type": "explode"}, "invalid_type"),
                       ({"target": {"group_id": gid, "rule": "x"}, "type": "identify"}, "invalid_target"),
                       ({"target": {"screen_ids": ["aaaaaaaaaaaaaaaa"]}, "type": "identify"}, "not_found"),
                       ({"target": {"group_id": gid}, "type": "set_volume", "payload": {"level": 101}},
                        "invalid_payload")]:
        r = admin.post("/api/v1/screen-actions", json=body)
        assert r.json()["error"]["code"] == code, (body, r.text)
    audit = [e["action"] for e in admin.get("/api/v1/audit").json()["entries"]]
    assert "screen_action.sent" in audit and "screen_group.created" in audit


def test_collect_logs_round_trip(server, admin, make_player):
    player, sid = paired_player(server, admin, make_player,
                                extra=["--logs-command", "echo SYSTEM-JOURNAL-MARKER"])
    inventory_of(admin, sid)
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "collect_logs"})
    assert r.status_code == 201, r.text
    ack = wait_ack(admin, sid, r.json()["id"], wait=20)
    assert ack["status"] == "ok", ack
    logs = admin.get("/api/v1/screens/%s/logs" % sid).json()["logs"]
    assert [l["id"] for l in logs] == [ack["result"]["log_id"]]
    d = admin.get("/api/v1/screens/%s/logs/%s" % (sid, logs[0]["id"]))
    assert d.status_code == 200 and d.headers["Content-Type"] == "application/gzip"
    assert "attachment" in d.headers["Content-Disposition"] and len(d.content) == logs[0]["size"]
    with tarfile.open(fileobj=io.BytesIO(d.content), mode="r:gz") as tar:
        names = tar.getnames()
        own = tar.extractfile("logs/player.log").read().decode()
        system = tar.extractfile("logs/system.log").read().decode()
        inv = tar.extractfile("logs/inventory.json").read().decode()
    assert "vitrine-player started" in own and "SYSTEM-JOURNAL-MARKER" in system and '"kernel"' in inv, names
    # a bound is kept: max_bytes cuts each part to its newest bytes
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "collect_logs",
                                                                 "payload": {"max_bytes": 4096}})
    ack = wait_ack(admin, sid, r.json()["id"], wait=20)
    small = admin.get("/api/v1/screens/%s/logs/%s" % (sid, ack["result"]["log_id"])).content
    with tarfile.open(fileobj=io.BytesIO(small), mode="r:gz") as tar:
        assert sum(m.size for m in tar.getmembers()) <= 4096
    bad = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "collect_logs",
                                                                   "payload": {"max_bytes": 1 << 30}})
    assert bad.status_code == 400
    # the device side only takes archives it was asked for
    token = player.token()
    r = requests.post(server.url + "/api/v1/device/logs?instruction=aaaaaaaaaaaaaaaa", data=b"\x1f\x8b" + b"\0" * 30,
                      headers={"Authorization": "Bearer " + token})
    assert r.status_code == 404
    r = requests.post(server.url + "/api/v1/device/logs?instruction=" + ack["id"], data=b"not gzip at all....",
                      headers={"Authorization": "Bearer " + token})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_archive"


def test_power_schedule_switches_the_display(server, admin, make_player, tmp_path):
    marks = tmp_path / "display"
    player, sid = paired_player(
        server, admin, make_player, env={"TZ": "UTC"},
        extra=["--display-on-command", "echo on >> %s" % marks, "--display-off-command", "echo off >> %s" % marks])
    now = time.gmtime()
    minute = now.tm_hour * 60 + now.tm_min

    def hhmm(m):
        m %= 1440
        return "%02d:%02d" % (m // 60, m % 60)
    today = now.tm_wday + 1
    # on from two hours ago to one hour ago, today only: the display goes off now
    off_now = [{"days": [today], "on": hhmm(minute - 120), "off": hhmm(minute - 60)}]
    if minute < 120:  # the period would run past midnight and include now
        off_now = [{"days": [today % 7 + 1], "on": "10:00", "off": "11:00"}]
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "power_schedule",
                                                                 "payload": {"schedule": off_now}})
    assert r.status_code == 201, r.text
    ack = wait_ack(admin, sid, r.json()["id"])
    assert ack["status"] == "ok" and ack["result"]["display"] == "off", ack
    assert marks.read_text().split() == ["off"]
    assert screen(admin, sid)["power_schedule"] == off_now  # kept by the server for a restore
    wait_for(lambda: screen(admin, sid)["state"].get("display_power") == "off", what="display_power in heartbeat")
    # a period that holds now (past midnight included): on
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "power_schedule", "payload": {
        "schedule": [{"on": hhmm(minute - 5), "off": hhmm(minute + 5)}]}})
    assert wait_ack(admin, sid, r.json()["id"])["result"]["display"] == "on"
    # display_power by hand
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "display_power", "payload": {"on": False}})
    assert wait_ack(admin, sid, r.json()["id"])["status"] == "ok"
    assert marks.read_text().split() == ["off", "on", "off"]
    for bad in [[{"on": "25:00", "off": "07:00"}], [{"on": "07:00", "off": "07:00"}],
                [{"on": "07:00", "off": "08:00", "days": [0]}], [{"on": "07:00", "off": "08:00", "x": 1}],
                "always", [{}] * 29]:
        r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "power_schedule",
                                                                     "payload": {"schedule": bad}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_payload", (bad, r.text)


# --- the watchdog ---

def online_again(admin, sid, since):
    return wait_for(lambda: screen(admin, sid)["last_seen"] >= since and screen(admin, sid)["online"],
                    timeout=30, what="the screen back online")


def garbage(path):
    with open(path, "wb") as f:
        f.write(b"\x00garbage\xff" * 3)


DAMAGE = {
    "token": lambda d: garbage(os.path.join(d, "token")),
    "token-deleted": lambda d: os.unlink(os.path.join(d, "token")),
    "device.key": lambda d: garbage(os.path.join(d, "device.key")),
    "device.key-bit": lambda d: _flip(os.path.join(d, "device.key"), 40),
    "state.json": lambda d: garbage(os.path.join(d, "state.json")),
    "device_id": lambda d: garbage(os.path.join(d, "device_id")),
    "hardware_id": lambda d: garbage(os.path.join(d, "hardware_id")),
    "power.json": lambda d: garbage(os.path.join(d, "power.json")),
    "manifests": lambda d: [garbage(os.path.join(d, n)) for n in ("manifest.json", "manifest.backup.json")],
    "object": lambda d: [garbage(os.path.join(d, "objects", n)) for n in os.listdir(os.path.join(d, "objects"))
                         if "." not in n],
}


def _flip(path, at):
    data = bytearray(open(path, "rb").read())
    data[at] ^= 0x01
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_watchdog_restores_after_each_damaged_file(server, admin, make_player, damage):
    from test_content import kiosk_manifest, png, upload
    player, sid = paired_player(server, admin, make_player)
    sha = upload(admin, png((0, 200, 0)))
    ch = admin.post("/api/v1/channels", json={"name": "W", "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080, "items": [{"media": sha, "duration": 5}]}]})
    assert admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": ch.json()["channel"]["id"]}).ok
    version = kiosk_manifest(player)["version"]
    schedule = [{"on": "00:00", "off": "23:59"}]
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "power_schedule",
                                                                 "payload": {"schedule": schedule}})
    assert wait_ack(admin, sid, r.json()["id"])["status"] == "ok"
    old_key = screen(admin, sid)["public_key"]
    old_token = player.token()
    assert player.stop() == 0
    DAMAGE[damage](player.data)
    started = int(time.time())
    player.start()
    online_again(admin, sid, started)
    # the same screen, never a new pairing
    assert player.read_out().count("PAIRING CODE") == 1
    # it works: an instruction is carried out, the content plays
    r = admin.post("/api/v1/screens/%s/instructions" % sid, json={"type": "identify"})
    assert wait_ack(admin, sid, r.json()["id"], wait=20)["status"] == "ok"
    assert kiosk_manifest(player, version)["version"] == version
    name = damage.split("-")[0]
    if name not in ("manifests", "object"):  # those the content sync repairs, as before
        restored = wait_for(lambda: screen(admin, sid)["state"].get("restored"), what="the watchdog's report")
        assert name in [x["file"] for x in restored], restored
    if name == "token":
        assert player.token() != old_token
        assert requests.get(server.url + "/api/v1/device/config",
                            headers={"Authorization": "Bearer " + old_token}).status_code == 401
        assert any(e["action"] == "screen.recovered" for e in admin.get("/api/v1/audit").json()["entries"])
    if name == "device.key":
        assert screen(admin, sid)["public_key"] != old_key
        wait_for(lambda: any(e["action"] == "screen.key_replaced"
                             for e in admin.get("/api/v1/audit").json()["entries"]), what="key_replaced audit")
    if name == "power.json":
        wait_for(lambda: os.path.exists(os.path.join(player.data, "power.json")) and
                 open(os.path.join(player.data, "power.json")).read().startswith("[{"), what="power.json restored")
    if name in ("state.json", "device_id"):
        wait_for(lambda: os.path.exists(os.path.join(player.data, "device_id")) and
                 open(os.path.join(player.data, "device_id")).read().strip() == sid, what="device_id restored")


def _challenge(server):
    r = requests.post(server.url + "/api/v1/device/challenge")
    assert r.status_code == 200, r.text
    return r.json()["challenge"]


def test_recovery_refuses_wrong_proofs_and_deleted_screens(server, admin, make_player):
    player, sid = paired_player(server, admin, make_player)
    pk = screen(admin, sid)["public_key"]
    url = server.url + "/api/v1/device/recover"
    c = _challenge(server)
    wrong_sig = base64.b64encode(b"\x01" * 64).decode()
    r = requests.post(url, json={"public_key": pk, "challenge": c, "signature": wrong_sig})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
    # the challenge was used up by that attempt
    r = requests.post(url, json={"public_key": pk, "challenge": c, "signature": wrong_sig})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_challenge"
    r = requests.post(url, json={"public_key": pk, "challenge": "made-up", "signature": wrong_sig})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_challenge"
    for body in [{}, {"public_key": "short", "challenge": c, "signature": wrong_sig},
                 {"public_key": pk, "challenge": _challenge(server), "signature": "!!"}]:
        assert requests.post(url, json=body).status_code == 400
    # a deleted screen is not recovered: its player pairs again
    assert admin.delete("/api/v1/screens/" + sid).status_code == 200
    first = player.wait_code()
    assert player.wait_code(previous=first, timeout=30) != first
    assert "the token could not be recovered" in player.read_log()
