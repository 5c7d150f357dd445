"""Sync groups, the server's half (screens/sync_groups.c): screens of one LAN
that play in step. The API (/api/v1/sync-groups), its checks, the members'
numbers, the secret key in the members' manifests (drawn again on every
change of members, never shown to users), the manifests and long-polls a
change reaches, what the players report in their heartbeats, a deleted
screen leaving its group, and the LAN ports /api/v1/firewall lists."""
import base64
import re
import threading
import time

import requests

from conftest import Client, wait_for

PUBKEY = base64.b64encode(bytes(range(32))).decode()
GROUPS = "/api/v1/sync-groups"


def pair(server, admin, name):
    """A paired screen without a player: (screen id, device headers)."""
    r = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": name, "public_key": PUBKEY})
    assert r.status_code == 200, r.text
    p = r.json()
    screen = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": name}).json()["screen"]
    t = requests.post(server.url + "/api/v1/device/token", json={"device_code": p["device_code"]})
    assert t.status_code == 200, t.text
    return screen["id"], {"Authorization": "Bearer " + t.json()["access_token"]}


def manifest(server, headers):
    r = requests.get(server.url + "/api/v1/device/manifest", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def heartbeat(server, headers, **body):
    return requests.post(server.url + "/api/v1/device/heartbeat", json=body, headers=headers)


def ack_all(server, headers):
    """Acknowledges every instruction waiting for the screen."""
    ins = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0", headers=headers).json()
    for i in ins["instructions"]:
        r = requests.post(server.url + "/api/v1/device/instructions/%s/ack" % i["id"], json={"status": "ok"},
                          headers=headers)
        assert r.status_code == 200, r.text


def create(admin, name, screens):
    r = admin.post(GROUPS, json={"name": name, "screens": screens})
    assert r.status_code == 201, r.text
    return r.json()["sync_group"]


def test_create_list_get_patch_delete(server, admin):
    a, b, c, d = [pair(server, admin, n)[0] for n in ("Wall 1", "Wall 2", "Wall 3", "Wall 4")]
    before = int(time.time())
    g = create(admin, "  Video wall  ", [c, a, b])
    assert g["name"] == "Video wall" and before <= g["created_at"] <= time.time() + 1
    assert re.fullmatch(r"[a-z2-7]{16}", g["id"])
    assert [(m["member"], m["screen_id"], m["name"]) for m in g["members"]] == [
        (1, c, "Wall 3"), (2, a, "Wall 1"), (3, b, "Wall 2")]
    for m in g["members"]:
        assert m["leader"] is False and m["online"] is False
        assert m["state"] is None and m["offset_ms"] is None and m["delay_ms"] is None
        assert m["peers"] is None and m["reported_at"] is None
    assert "key" not in g and "secret" not in g
    # the list and the detail say the same, and never show the key
    listed = admin.get(GROUPS)
    assert listed.status_code == 200 and listed.json()["sync_groups"] == [g]
    got = admin.get(GROUPS + "/" + g["id"])
    assert got.status_code == 200 and got.json() == {"sync_group": g}
    assert not re.search(r"[0-9a-f]{64}", listed.text + got.text)
    # rename; members keep their numbers where they stay, a new one takes the lowest free
    r = admin.patch(GROUPS + "/" + g["id"], json={"name": "Lobby wall"})
    assert r.status_code == 200 and r.json()["sync_group"]["name"] == "Lobby wall"
    r = admin.patch(GROUPS + "/" + g["id"], json={"screens": [b, d, c]})
    assert r.status_code == 200, r.text
    assert [(m["member"], m["screen_id"]) for m in r.json()["sync_group"]["members"]] == [(1, c), (2, d), (3, b)]
    r = admin.patch(GROUPS + "/" + g["id"], json={"screens": [d, a, c, b]})
    assert [(m["member"], m["screen_id"]) for m in r.json()["sync_group"]["members"]] == [
        (1, c), (2, d), (3, b), (4, a)]
    # every change is in the audit log
    actions = [(e["action"], e["target"]) for e in admin.get("/api/v1/audit").json()["entries"]]
    assert ("sync_group.created", g["id"]) in actions
    assert actions.count(("sync_group.updated", g["id"])) == 3
    assert admin.delete(GROUPS + "/" + g["id"]).status_code == 204
    assert admin.get(GROUPS + "/" + g["id"]).status_code == 404
    assert admin.get(GROUPS).json()["sync_groups"] == []
    assert admin.delete(GROUPS + "/" + g["id"]).status_code == 404
    assert any(e["action"] == "sync_group.deleted" and e["target"] == g["id"]
               for e in admin.get("/api/v1/audit").json()["entries"])
    # its screens are free again
    create(admin, "Again", [a, b])


def test_bad_input_is_refused_with_a_reason(server, admin):
    a, b, c = [pair(server, admin, n)[0] for n in ("A", "B", "C")]
    server.sql("INSERT INTO accounts(id, name, created_at) VALUES('otheraccountaaaa', 'Other', ?)",
               (int(time.time()) + 5,))
    server.sql("INSERT INTO screens(id, account_id, name, hardware_id, public_key, created_at) "
               "VALUES('otherscreenaaaaa', 'otheraccountaaaa', 'Theirs', 'x', 'x', 0)")

    def refused(body, status, code, words, path=GROUPS, method="post"):
        r = getattr(admin, method)(path, json=body)
        assert r.status_code == status, (body, r.text)
        err = r.json()["error"]
        assert err["code"] == code, (body, r.text)
        for w in words:
            assert w in err["message"], (body, err["message"])
        return err

    refused({"screens": [a, b]}, 400, "invalid_field", ["name"])
    refused({"name": "", "screens": [a, b]}, 400, "invalid_field", ["name", "1 to 100"])
    refused({"name": "   ", "screens": [a, b]}, 400, "invalid_field", ["name"])
    refused({"name": "x" * 101, "screens": [a, b]}, 400, "invalid_field", ["100"])
    refused({"name": "two\nlines", "screens": [a, b]}, 400, "invalid_field", ["one line"])
    refused({"name": 7, "screens": [a, b]}, 400, "invalid_field", ["name"])
    refused({"name": "W"}, 400, "invalid_field", ["screens"])
    refused({"name": "W", "screens": [a]}, 400, "invalid_field", ["2 to 64"])
    refused({"name": "W", "screens": a}, 400, "invalid_field", ["2 to 64"])
    refused({"name": "W", "screens": ["s%015d" % i for i in range(65)]}, 400, "invalid_field", ["2 to 64"])
    refused({"name": "W", "screens": [a, a]}, 400, "invalid_field", ["twice", a])
    refused({"name": "W", "screens": [a, 5]}, 400, "invalid_field", ["screens[1]"])
    err = refused({"name": "W", "screens": [a, "nosuchscreenaaaa"]}, 400, "unknown_screens", ["nosuchscreenaaaa"])
    assert err["unknown"] == ["nosuchscreenaaaa"]
    err = refused({"name": "W", "screens": [a, "otherscreenaaaaa"]}, 400, "unknown_screens", ["otherscreenaaaaa"])
    assert err["unknown"] == ["otherscreenaaaaa"]
    refused({"name": "W", "screens": [a, b], "key": "00"}, 400, "unknown_field", ["key"])
    r = admin.post(GROUPS, data="not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    # a screen is in one group at most: the 409 names it and its group
    g = create(admin, "Wall", [a, b])
    err = refused({"name": "Other", "screens": [c, b]}, 409, "conflict", ['"B"', b, '"Wall"', g["id"]])
    assert err["screen_id"] == b and err["sync_group_id"] == g["id"] and err["sync_group_name"] == "Wall"
    h = create(admin, "Second", [c, pair(server, admin, "D")[0]])
    refused({"screens": [a, c]}, 409, "conflict", ['"C"', '"Second"'], path=GROUPS + "/" + g["id"], method="patch")
    refused({"screens": [a]}, 400, "invalid_field", ["2 to 64"], path=GROUPS + "/" + g["id"], method="patch")
    refused({"name": ""}, 400, "invalid_field", ["name"], path=GROUPS + "/" + g["id"], method="patch")
    refused({"members": []}, 400, "unknown_field", ["members"], path=GROUPS + "/" + g["id"], method="patch")
    # nothing was changed by the refusals
    assert [m["screen_id"] for m in admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"]] == [a, b]
    assert [x["name"] for x in admin.get(GROUPS).json()["sync_groups"]] == ["Second", "Wall"]
    # unknown and malformed ids are 404
    for gid in ("nosuchgroupaaaaa", "..", "x" * 200):
        assert admin.get(GROUPS + "/" + gid).status_code == 404
        assert admin.patch(GROUPS + "/" + gid, json={"name": "x"}).status_code == 404
        assert admin.delete(GROUPS + "/" + gid).status_code == 404
    # another account's admin neither sees nor changes them
    assert server.sql("SELECT COUNT(*) FROM sync_groups WHERE account_id = 'otheraccountaaaa'") == [["0"]]
    # users read, only admins change
    assert admin.post("/api/v1/users", json={"login": "ed", "password": "a-long-password-1",
                                             "role": "editor"}).status_code == 201
    ed = Client(server.url)
    assert ed.login("ed", "a-long-password-1").status_code == 200
    assert ed.get(GROUPS).status_code == 200 and len(ed.get(GROUPS).json()["sync_groups"]) == 2
    assert ed.get(GROUPS + "/" + g["id"]).status_code == 200
    for method, path, body in (("post", GROUPS, {"name": "E", "screens": [a, b]}),
                               ("patch", GROUPS + "/" + g["id"], {"name": "E"}),
                               ("delete", GROUPS + "/" + h["id"], None)):
        r = getattr(ed, method)(path, json=body)
        assert r.status_code == 403, (method, r.text)
    assert requests.get(server.url + GROUPS).status_code == 401


def test_members_manifests_carry_the_group_and_its_key(server, admin):
    screens = [pair(server, admin, n) for n in ("Left", "Middle", "Right", "Spare")]
    (left, hl), (mid, hm), (right, hr), (spare, hs) = screens
    plain = manifest(server, hl)
    assert "sync" not in plain
    g = create(admin, "Triptych", [right, left, mid])
    blocks = {}
    for sid, h in screens[:3]:
        m = manifest(server, h)
        assert m["version"] > plain["version"] or sid != left
        blocks[sid] = m["sync"]
    key = blocks[left]["key"]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    want_members = [{"member": 1, "screen_id": right, "name": "Right"},
                    {"member": 2, "screen_id": left, "name": "Left"},
                    {"member": 3, "screen_id": mid, "name": "Middle"}]
    for sid, number in ((right, 1), (left, 2), (mid, 3)):
        assert blocks[sid] == {"group": g["id"], "name": "Triptych", "key": key, "member": number,
                               "members": want_members, "epoch_ms": g["created_at"] * 1000}
    assert "sync" not in manifest(server, hs)
    # the key is nowhere a user can read it
    for path in (GROUPS, GROUPS + "/" + g["id"], "/api/v1/screens", "/api/v1/screens/" + left, "/api/v1/audit"):
        assert key not in admin.get(path).text, path

    # a rename keeps the key, and is a new version of every member's manifest
    versions = {sid: manifest(server, h)["version"] for sid, h in screens[:3]}
    assert admin.patch(GROUPS + "/" + g["id"], json={"name": "Wall"}).status_code == 200
    for sid, h in screens[:3]:
        m = manifest(server, h)
        assert m["version"] == versions[sid] + 1 and m["sync"]["name"] == "Wall" and m["sync"]["key"] == key
    # so is renaming a member's screen (the members are listed by name)
    assert admin.patch("/api/v1/screens/" + mid, json={"name": "Centre"}).status_code == 200
    m = manifest(server, hl)
    assert m["sync"]["members"][2]["name"] == "Centre" and m["sync"]["key"] == key
    # the same list in another order changes nothing
    v = manifest(server, hl)["version"]
    assert admin.patch(GROUPS + "/" + g["id"], json={"screens": [mid, left, right]}).status_code == 200
    assert manifest(server, hl)["version"] == v and manifest(server, hl)["sync"]["key"] == key

    # a change of members draws a new key: the one who left loses "sync", and its long-poll wakes
    for _, h in screens:
        ack_all(server, h)
    result = {}

    def poll():
        r = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=25", headers=hl, timeout=40)
        result["at"], result["body"] = time.monotonic(), r.json()

    th = threading.Thread(target=poll)
    th.start()
    wait_for(lambda: "vitrine_http_suspended_requests 1" in requests.get(server.url + "/metrics").text,
             what="the long-poll to be parked")
    start = time.monotonic()
    r = admin.patch(GROUPS + "/" + g["id"], json={"screens": [right, spare, mid]})
    assert r.status_code == 200, r.text
    th.join(10)
    assert result["at"] - start < 2.0
    assert [i["type"] for i in result["body"]["instructions"]] == ["manifest_changed"]
    assert "sync" not in manifest(server, hl)
    new = {sid: manifest(server, h)["sync"] for sid, h in ((right, hr), (spare, hs), (mid, hm))}
    assert new[spare]["member"] == 2 and new[right]["member"] == 1 and new[mid]["member"] == 3
    assert len({b["key"] for b in new.values()}) == 1 and new[mid]["key"] != key
    assert [x["screen_id"] for x in new[mid]["members"]] == [right, spare, mid]
    # the others were told too
    for h in (hr, hs, hm):
        ins = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0", headers=h).json()
        assert [i["type"] for i in ins["instructions"]] == ["manifest_changed"]

    # deleting the group takes "sync" out of every member's manifest
    assert admin.delete(GROUPS + "/" + g["id"]).status_code == 204
    for _, h in screens:
        assert "sync" not in manifest(server, h)


def test_heartbeats_report_each_members_state(server, admin):
    (a, ha), (b, hb), (c, hc) = [pair(server, admin, n) for n in ("A", "B", "C")]
    g = create(admin, "Pair", [a, b])
    r = heartbeat(server, ha, version="0.1.0",
                  sync={"group": g["id"], "state": "leader", "leader": 1, "offset_ms": 0, "delay_ms": 0, "peers": 1})
    assert r.status_code == 200, r.text
    r = heartbeat(server, hb, version="0.1.0", sync={"group": g["id"], "state": "member", "leader": 1,
                                                     "offset_ms": -1.25, "delay_ms": 0.5, "peers": 1})
    assert r.status_code == 200, r.text
    members = admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"]
    first, second = members
    assert first["online"] is True and first["state"] == "leader" and first["leader"] is True
    assert first["offset_ms"] == 0 and first["peers"] == 1 and abs(first["reported_at"] - time.time()) < 5
    assert second["state"] == "member" and second["leader"] is False
    assert second["offset_ms"] == -1.25 and second["delay_ms"] == 0.5 and second["peers"] == 1
    # the heartbeat itself is kept as before
    assert admin.get("/api/v1/screens/" + b).json()["screen"]["state"]["sync"]["state"] == "member"
    # offsets and delays may be null (not locked yet)
    r = heartbeat(server, hb, sync={"group": g["id"], "state": "locking", "leader": None, "offset_ms": None,
                                    "delay_ms": None, "peers": 0})
    assert r.status_code == 200, r.text
    second = admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"][1]
    assert second["state"] == "locking" and second["offset_ms"] is None and second["peers"] == 0
    # a malformed sync object is refused, and nothing of that heartbeat is kept
    bad = [[], "leader", {"state": "leader"}, {"group": g["id"]}, {"group": g["id"], "state": "boss"},
           {"group": 5, "state": "leader"}, {"group": g["id"], "state": "member", "offset_ms": "3"},
           {"group": g["id"], "state": "member", "delay_ms": -1}, {"group": g["id"], "state": "member", "peers": 1.5},
           {"group": g["id"], "state": "member", "leader": "1"}, {"group": g["id"], "state": "member", "peers": -1},
           {"group": g["id"], "state": "member", "offset_ms": 1e13}]
    for sync in bad:
        r = heartbeat(server, ha, version="9.9.9", sync=sync)
        assert r.status_code == 400, (sync, r.text)
        assert r.json()["error"]["code"] == "invalid_field" and "sync" in r.json()["error"]["message"], r.text
    assert admin.get("/api/v1/screens/" + a).json()["screen"]["version"] == "0.1.0"
    assert admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"][0]["state"] == "leader"
    # a report of a group the screen is not in is kept in the heartbeat only
    r = heartbeat(server, hc, sync={"group": g["id"], "state": "leader", "peers": 3})
    assert r.status_code == 200, r.text
    assert all(m["screen_id"] != c for m in admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"])
    # a leader that is offline is not shown as the leader (its state stays)
    d = pair(server, admin, "D")[0]
    assert admin.patch(GROUPS + "/" + g["id"], json={"screens": [a, b, d]}).status_code == 200
    server.sql("UPDATE sync_group_members SET state = 'leader', reported_at = 1 WHERE screen_id = ?", (d,))
    third = admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"][2]
    assert third["screen_id"] == d and third["state"] == "leader" and third["online"] is False
    assert third["leader"] is False
    assert admin.patch(GROUPS + "/" + g["id"], json={"screens": [a, b]}).status_code == 200
    # a heartbeat without "sync" leaves the last report
    assert heartbeat(server, hb, version="0.1.0").status_code == 200
    assert admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"][1]["state"] == "locking"
    # a screen that joins again starts with no report
    assert admin.patch(GROUPS + "/" + g["id"], json={"screens": [a, c]}).status_code == 200
    assert admin.patch(GROUPS + "/" + g["id"], json={"screens": [a, c, b]}).status_code == 200
    back = admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]["members"][2]
    assert back["screen_id"] == b and back["member"] == 3 and back["state"] is None


def test_a_deleted_screen_leaves_its_group(server, admin):
    screens = [pair(server, admin, n) for n in ("A", "B", "C")]
    (a, ha), (b, hb), (c, hc) = screens
    g = create(admin, "Trio", [a, b, c])
    key = manifest(server, ha)["sync"]["key"]
    assert admin.delete("/api/v1/screens/" + b).status_code == 200
    got = admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]
    assert [(m["member"], m["screen_id"]) for m in got["members"]] == [(1, a), (3, c)]
    blocks = [manifest(server, h)["sync"] for h in (ha, hc)]
    assert blocks[0]["key"] == blocks[1]["key"] != key
    assert [m["screen_id"] for m in blocks[0]["members"]] == [a, c]
    assert any(e["action"] == "sync_group.updated" and e["target"] == g["id"] and b in e["detail"]
               for e in admin.get("/api/v1/audit").json()["entries"])
    # a group left with one member stays, with its member
    assert admin.delete("/api/v1/screens/" + c).status_code == 200
    got = admin.get(GROUPS + "/" + g["id"]).json()["sync_group"]
    assert [m["screen_id"] for m in got["members"]] == [a]
    assert manifest(server, ha)["sync"]["members"] == [{"member": 1, "screen_id": a, "name": "A"}]
    # and can be given screens again
    d = pair(server, admin, "D")[0]
    r = admin.patch(GROUPS + "/" + g["id"], json={"screens": [a, d]})
    assert r.status_code == 200 and [m["member"] for m in r.json()["sync_group"]["members"]] == [1, 2]


def test_firewall_lists_the_lan_ports_of_sync_groups(server, admin):
    rules = admin.get("/api/v1/firewall").json()["rules"]
    lan = {r["port"]: r for r in rules if r.get("scope") == "lan"}
    assert set(lan) == {16732, 16733}
    assert lan[16732]["multicast_group"] == "239.255.67.32" and lan[16733]["multicast_group"] == "239.255.67.33"
    for r in lan.values():
        assert r["transport"] == "UDP" and r["ttl"] == 1
        assert "same LAN" in r["direction"] and "never to the server" in r["direction"]
