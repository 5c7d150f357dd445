"""Signage content (SPEC section 3): the media library, channels, manifests,
and a player that syncs, verifies, resumes and keeps playing offline."""
import hashlib
import os
import signal
import struct
import time
import zlib

import requests

from conftest import Client, read_head, wait_for


def png(rgb, w=16, h=16):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(client, data, name="file.png"):
    sha = hashlib.sha256(data).hexdigest()
    r = client.put("/api/v1/media/" + sha, data=data, headers={"X-Filename": name})
    assert r.status_code in (200, 201), r.text
    return sha


def metric(server, name):
    for line in requests.get(server.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return 0


def three_zones(shas):
    return {"name": "Lobby", "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1280, "h": 1080, "items": [{"media": shas[0], "duration": 5}]},
        {"name": "side", "x": 1280, "y": 0, "w": 640, "h": 540,
         "items": [{"media": shas[1], "duration": 5}, {"media": shas[2], "duration": 5, "transition": "slide"}]},
        {"name": "ticker", "x": 1280, "y": 540, "w": 640, "h": 540,
         "items": [{"text": "Welcome", "duration": 10}, {"url": "https://example.org/", "duration": 10}]}]}


def paired_player(server, admin, make_player, name="Wall", **kw):
    player = make_player(server, **kw).start()
    sid = admin.post("/api/v1/pairings", json={"user_code": player.wait_code(), "name": name}).json()["screen"]["id"]
    wait_for(player.token, timeout=20, what="token")
    return player, sid


def kiosk_manifest(player, version=None, timeout=20):
    """The kiosk's manifest once it has a channel (and at least version)."""
    url = player.kiosk_url()

    def get():
        r = requests.get(url + "/manifest")
        if r.status_code == 200 and r.json()["channel"] and (version is None or r.json()["version"] >= version):
            return r.json()
        return None
    return wait_for(get, timeout=timeout, what="the kiosk to have the manifest")


def test_upload_is_verified_deduplicated_and_typed(server, admin):
    data = png((255, 0, 0))
    sha = hashlib.sha256(data).hexdigest()
    assert admin.s.head(server.url + "/api/v1/media/" + sha).status_code == 404
    r = admin.put("/api/v1/media/" + sha, data=data, headers={"X-Filename": "../../red.png"})
    assert r.status_code == 201 and r.json()["media"]["mime"] == "image/png"
    assert r.json()["media"]["filename"] == "....red.png"  # no path can be smuggled
    assert admin.put("/api/v1/media/" + sha, data=data).status_code == 200  # stored once
    assert admin.s.head(server.url + "/api/v1/media/" + sha).status_code == 200
    # a body that does not hash to the URL is refused and nothing is stored
    other = png((0, 0, 255))
    wrong = "0" * 64
    r = admin.put("/api/v1/media/" + wrong, data=other)
    assert r.status_code == 400 and r.json()["error"]["code"] == "hash_mismatch"
    assert r.json()["error"]["actual"] == hashlib.sha256(other).hexdigest()
    assert admin.s.head(server.url + "/api/v1/media/" + wrong).status_code == 404
    assert os.listdir(os.path.join(server.data, "media", "tmp")) == []
    # the type is sniffed, not trusted from the name
    exe = b"\x7fELF" + os.urandom(200)
    r = admin.put("/api/v1/media/" + hashlib.sha256(exe).hexdigest(), data=exe, headers={"X-Filename": "x.png"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_type"
    assert admin.put("/api/v1/media/NOTHEX", data=data).status_code == 400
    listing = admin.get("/api/v1/media").json()
    assert [m["sha256"] for m in listing["media"]] == [sha] and listing["used_bytes"] == len(data)
    assert listing["quota_bytes"] > 0
    assert admin.patch("/api/v1/media/" + sha, json={"tags": ["lobby"]}).json()["media"]["tags"] == ["lobby"]
    assert [m["sha256"] for m in admin.get("/api/v1/media?tag=lobby").json()["media"]] == [sha]
    assert admin.get("/api/v1/media?tag=none").json()["media"] == []
    r = admin.get("/api/v1/media/%s/content" % sha, headers={"Range": "bytes=0-7"})
    assert r.status_code == 206 and r.content == data[:8]
    r = admin.get("/api/v1/media/%s/content" % sha, headers={"Range": "bytes=999-"})
    assert r.status_code == 416 and "immutable" not in r.headers.get("Cache-Control", "")
    # a name that is not UTF-8 (Latin-1 here) is cleaned, not fatal
    latin = png((7, 7, 7))
    r = admin.put("/api/v1/media/" + hashlib.sha256(latin).hexdigest(), data=latin,
                  headers={"X-Filename": "caf\xe9.png".encode("latin-1")})
    assert r.status_code == 201 and r.json()["media"]["filename"] == "caf.png"
    assert admin.s.head(server.url + "/api/v1/media/" + hashlib.sha256(latin).hexdigest()).status_code == 200


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_images_get_thumbnails(server, admin):
    wide = png((0, 128, 255), w=1000, h=500)
    r = admin.put("/api/v1/media/" + hashlib.sha256(wide).hexdigest(), data=wide, headers={"X-Filename": "w.png"})
    assert r.status_code == 201 and r.json()["media"]["thumbnail"] is True
    sha = r.json()["media"]["sha256"]
    assert admin.get("/api/v1/media/" + sha).json()["media"]["thumbnail"] is True
    assert [m["thumbnail"] for m in admin.get("/api/v1/media").json()["media"]] == [True]
    r = admin.get("/api/v1/media/%s/thumbnail" % sha)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert png_size(r.content) == (320, 160)  # the aspect ratio is kept
    assert r.headers["ETag"] == '"t%s"' % sha and r.headers["Cache-Control"] == "private, max-age=86400"
    r = admin.get("/api/v1/media/%s/thumbnail" % sha, headers={"If-None-Match": '"t%s"' % sha})
    assert r.status_code == 304 and r.content == b""
    assert os.listdir(os.path.join(server.data, "media", "tmp")) == []
    # a video has none
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(4096)
    vsha = upload(admin, mp4, "clip.mp4")
    assert admin.get("/api/v1/media/" + vsha).json()["media"]["thumbnail"] is False
    r = admin.get("/api/v1/media/%s/thumbnail" % vsha)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # an image that cannot be decoded is still uploaded, without a thumbnail
    corrupt = png((1, 2, 3), w=64, h=64)[:33] + os.urandom(2000)
    r = admin.put("/api/v1/media/" + hashlib.sha256(corrupt).hexdigest(), data=corrupt)
    assert r.status_code == 201 and r.json()["media"]["kind"] == "image", r.text
    assert r.json()["media"]["thumbnail"] is False
    assert admin.get("/api/v1/media/%s/thumbnail" % r.json()["media"]["sha256"]).status_code == 404
    # so is one whose header claims more than 40 megapixels: never decoded
    bomb = png((1, 2, 3), w=10000, h=5000)[:33] + zlib.compress(b"\x00" * 100000)
    r = admin.put("/api/v1/media/" + hashlib.sha256(bomb).hexdigest(), data=bomb)
    assert r.status_code == 201 and r.json()["media"]["thumbnail"] is False
    # no thumbnail of another account's media, nor for a malformed hash
    assert admin.get("/api/v1/media/%s/thumbnail" % ("0" * 64)).status_code == 404
    assert admin.get("/api/v1/media/NOTHEX/thumbnail").status_code == 404


def test_channel_validation_names_the_json_path(admin):
    sha = upload(admin, png((1, 2, 3)))
    base = three_zones([sha, sha, sha])
    cases = [
        (lambda c: c["zones"][1].update(w=700), "zones[1].w"),
        (lambda c: c["zones"][0]["items"][0].update(duration=0), "zones[0].items[0].duration"),
        (lambda c: c["zones"][2]["items"][1].update(url="ftp://x"), "zones[2].items[1].url"),
        (lambda c: c["zones"][0]["items"][0].update(media="a" * 64), "zones[0].items[0].media"),
        (lambda c: c["zones"][0].update(colour="red"), "zones[0].colour"),
        (lambda c: c["zones"][1]["items"][0].update(valid={"days": [0]}), "zones[1].items[0].valid.days"),
        (lambda c: c["zones"][1].update(name="main"), "zones[1].name"),
    ]
    import copy
    for mutate, path in cases:
        body = copy.deepcopy(base)
        mutate(body)
        r = admin.post("/api/v1/channels", json=body)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"]["path"] == path and r.json()["error"]["message"].startswith(path)
    # the sentences are the CLI's own (one schema: src/common/channel_schema.c)
    body = copy.deepcopy(base)
    body["zones"][1]["w"] = 700
    assert admin.post("/api/v1/channels", json=body).json()["error"]["message"] == (
        "zones[1].w: the zone is outside the canvas: from x=1280 it is 700 wide and ends at 1980, "
        "past the canvas width 1920")
    assert admin.get("/api/v1/channels").json()["channels"] == []  # nothing half-written
    assert admin.post("/api/v1/channels", json=base).status_code == 201
    r = admin.post("/api/v1/channels", json=base)
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"


def test_player_syncs_exactly_what_it_needs(server, admin, make_player):
    imgs = [png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255))]
    shas = [upload(admin, d) for d in imgs]
    cid = admin.post("/api/v1/channels", json=three_zones(shas)).json()["channel"]["id"]
    player, sid = paired_player(server, admin, make_player)
    before = metric(server, "vitrine_device_object_bytes_total")
    assert admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid}).status_code == 200
    m = kiosk_manifest(player)
    assert sorted(o["sha256"] for o in m["objects"]) == sorted(shas)
    assert metric(server, "vitrine_device_object_bytes_total") - before == sum(len(d) for d in imgs)
    url = player.kiosk_url()
    for sha, data in zip(shas, imgs):
        r = requests.get(url + "/objects/" + sha)
        assert r.content == data and r.headers["Content-Type"] == "image/png"
        assert r.headers["Content-Security-Policy"] == "sandbox allow-scripts"
    # the page reports what it played; the player forwards it to the server
    play = {"channel_id": cid, "zone": "main", "item": "z0i0", "sha256": shas[0],
            "started_at": int(time.time()) - 5, "duration_ms": 5000}
    assert requests.post(url + "/played", json={"plays": [play]},
                         headers={"Origin": "https://evil.example"}).status_code == 403
    assert requests.post(url + "/played", data="x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert requests.post(url + "/played", json={"plays": [play]}).status_code == 200
    wait_for(lambda: admin.get("/api/v1/reports/plays?screen_id=" + sid).json()["plays"], timeout=30,
             what="proof of play at the server")
    # change one item: only the new object moves
    new = png((9, 9, 9))
    body = three_zones([shas[0], shas[1], upload(admin, new)])
    before = metric(server, "vitrine_device_object_bytes_total")
    r = admin.put("/api/v1/channels/" + cid, json=body)
    assert r.status_code == 200 and r.json()["changed"] is True
    m2 = kiosk_manifest(player, version=m["version"] + 1)
    assert metric(server, "vitrine_device_object_bytes_total") - before == len(new)
    # the object no manifest needs is collected from the cache
    objects = os.listdir(os.path.join(player.data, "objects"))
    assert shas[2] not in objects and len(objects) == 3
    # saving the same body again changes nothing anywhere
    assert admin.put("/api/v1/channels/" + cid, json=body).json()["changed"] is False
    assert requests.get(url + "/manifest").json()["version"] == m2["version"]
    # a medium in use cannot be deleted
    r = admin.delete("/api/v1/media/" + shas[0])
    assert r.status_code == 409 and "Lobby" in r.json()["error"]["message"]
    # the console sees what the screen plays
    wait_for(lambda: admin.get("/api/v1/screens/" + sid).json()["screen"]["now_playing"] == "Lobby",
             timeout=15, what="now playing")


def test_interrupted_download_resumes_from_its_offset(server, admin, make_player):
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(6 * 1024 * 1024)  # sniffed as PNG by its magic
    r = admin.put("/api/v1/media/" + hashlib.sha256(big).hexdigest(), data=big)
    if r.status_code == 415:  # libmagic wants a full PNG header: use an MP4-like header instead
        big = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(6 * 1024 * 1024)
        r = admin.put("/api/v1/media/" + hashlib.sha256(big).hexdigest(), data=big)
    assert r.status_code == 201, r.text
    sha = hashlib.sha256(big).hexdigest()
    kind = r.json()["media"]["kind"]
    body = {"name": "Big", "width": 100, "height": 100,
            "zones": [{"name": "z", "x": 0, "y": 0, "w": 100, "h": 100, "items": [{"media": sha, "duration": 5}]}]}
    cid = admin.post("/api/v1/channels", json=body).json()["channel"]["id"]
    player, sid = paired_player(server, admin, make_player, extra=["--download-rate", "1500000"])
    admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid})
    part = os.path.join(player.data, "objects", sha + ".part")
    wait_for(lambda: os.path.exists(part) and os.path.getsize(part) > 1024 * 1024, timeout=30,
             what="a partial download")
    player.stop(signal.SIGKILL)  # the connection dies mid-way
    done = os.path.getsize(part)
    assert 0 < done < len(big)
    before = metric(server, "vitrine_device_object_bytes_total")
    player.extra = []  # full speed now
    player.start()
    kiosk_manifest(player, timeout=30)
    moved = metric(server, "vitrine_device_object_bytes_total") - before
    assert moved == len(big) - done, (moved, len(big), done)  # from the offset, not from zero
    assert kind in ("image", "video")
    assert metric(server, "vitrine_device_object_responses_total") >= 2


def test_damaged_cache_is_detected_and_fetched_again(server, admin, make_player):
    data = png((200, 100, 50))
    sha = upload(admin, data)
    body = {"name": "One", "width": 100, "height": 100,
            "zones": [{"name": "z", "x": 0, "y": 0, "w": 100, "h": 100, "items": [{"media": sha, "duration": 5}]}]}
    cid = admin.post("/api/v1/channels", json=body).json()["channel"]["id"]
    player, sid = paired_player(server, admin, make_player)
    admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid})
    kiosk_manifest(player)
    assert player.stop() == 0
    path = os.path.join(player.data, "objects", sha)
    with open(path, "r+b") as f:
        f.seek(20)
        f.write(b"\x00\xff\x00\xff")  # four damaged bytes
    before = metric(server, "vitrine_device_object_bytes_total")
    player.start()
    wait_for(lambda: metric(server, "vitrine_device_object_bytes_total") - before == len(data), timeout=20,
             what="the damaged object to be fetched again")
    wait_for(lambda: open(path, "rb").read() == data, timeout=10, what="the repaired object")


def test_offline_playback_survives_server_and_player_restarts(server, admin, make_player):
    data = png((10, 20, 30))
    sha = upload(admin, data)
    body = {"name": "Offline", "width": 100, "height": 100,
            "zones": [{"name": "z", "x": 0, "y": 0, "w": 100, "h": 100, "items": [{"media": sha, "duration": 5}]}]}
    cid = admin.post("/api/v1/channels", json=body).json()["channel"]["id"]
    player, sid = paired_player(server, admin, make_player)
    admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid})
    m = kiosk_manifest(player)
    assert server.stop() == 0  # the server is gone
    url = player.kiosk_url()
    assert requests.get(url + "/manifest").json() == m
    assert player.stop() == 0
    player.start()  # a reboot of the screen without the server
    time.sleep(0.5)
    url = player.kiosk_url()
    assert wait_for(lambda: requests.get(url + "/manifest").status_code == 200, what="manifest after restart")
    assert requests.get(url + "/manifest").json()["version"] == m["version"]
    assert requests.get(url + "/objects/" + sha).content == data
    assert requests.get(url + "/").status_code == 200
    # and it catches up when the server returns
    server.start()
    admin = server.client()
    admin.login()
    body["zones"][0]["items"].append({"text": "back", "duration": 5})
    assert admin.put("/api/v1/channels/" + cid, json=body).status_code == 200
    kiosk_manifest(player, version=m["version"] + 1, timeout=60)


def test_editor_outside_their_zones_gets_403(server, admin):
    sha = upload(admin, png((1, 1, 1)))
    body = three_zones([sha, sha, sha])
    cid = admin.post("/api/v1/channels", json=body).json()["channel"]["id"]
    uid = admin.post("/api/v1/users", json={"login": "ed", "password": "a-long-password-1",
                                           "role": "editor"}).json()["user"]["id"]
    ed = Client(server.url)
    ed.login("ed", "a-long-password-1")
    assert ed.get("/api/v1/channels/" + cid).status_code == 403
    assert ed.get("/api/v1/channels").json()["channels"] == []
    r = admin.put("/api/v1/channels/%s/grants" % cid, json={"grants": [{"user_id": uid, "zones": ["ticker"]}]})
    assert r.status_code == 200, r.text
    assert ed.get("/api/v1/channels/" + cid).json()["channel"]["editable_zones"] == ["ticker"]
    grants = admin.get("/api/v1/channels/" + cid).json()["channel"]["grants"]
    assert grants == [{"user_id": uid, "login": "ed", "zones": ["ticker"]}]
    ok = three_zones([sha, sha, sha])
    ok["zones"][2]["items"][0]["text"] = "Changed by the editor"
    assert ed.put("/api/v1/channels/" + cid, json=ok).status_code == 200
    bad = three_zones([sha, sha, sha])
    bad["zones"][2]["items"][0]["text"] = "Changed by the editor"
    bad["zones"][0]["items"][0]["duration"] = 99
    r = ed.put("/api/v1/channels/" + cid, json=bad)
    assert r.status_code == 403 and "main" in r.json()["error"]["message"]
    layout = three_zones([sha, sha, sha])
    layout["zones"][2]["items"][0]["text"] = "Changed by the editor"
    layout["width"] = 3840
    assert ed.put("/api/v1/channels/" + cid, json=layout).status_code == 403
    assert ed.post("/api/v1/channels", json=ok).status_code == 403
    assert ed.delete("/api/v1/channels/" + cid).status_code == 403


def test_schedules_play_now_and_proof_of_play(server, admin):
    import base64
    sha = upload(admin, png((5, 5, 5)))
    mk = lambda n: {"name": n, "width": 10, "height": 10,
                    "zones": [{"name": "z", "x": 0, "y": 0, "w": 10, "h": 10, "items": [{"media": sha}]}]}
    a = admin.post("/api/v1/channels", json=mk("A")).json()["channel"]["id"]
    b = admin.post("/api/v1/channels", json=mk("B")).json()["channel"]["id"]
    r = requests.post(server.url + "/api/v1/device/pair",
                      json={"hardware_id": "s", "public_key": base64.b64encode(bytes(32)).decode()}).json()
    sid = admin.post("/api/v1/pairings", json={"user_code": r["user_code"], "name": "S"}).json()["screen"]["id"]
    token = requests.post(server.url + "/api/v1/device/token", json={"device_code": r["device_code"]}).json()["access_token"]
    h = {"Authorization": "Bearer " + token}
    admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": a})
    admin.patch("/api/v1/screens/" + sid, json={"group": "menus"})
    r = admin.post("/api/v1/schedules", json={"target": "group:menus", "channel_id": b, "days": [1, 2, 3, 4, 5],
                                             "start": "11:00", "end": "14:00", "priority": 5})
    assert r.status_code == 201, r.text
    assert admin.post("/api/v1/schedules", json={"target": "group:menus", "channel_id": b,
                                                  "start": "14:00", "end": "11:00"}).status_code == 400
    assert admin.post("/api/v1/schedules", json={"target": "group:menus", "channel_id": b,
                                                  "from": "2026-05-02", "until": "2026-05-01"}).status_code == 400
    assert admin.get("/api/v1/schedules").json()["schedules"][0]["days"] == [1, 2, 3, 4, 5]
    m = requests.get(server.url + "/api/v1/device/manifest", headers=h).json()
    assert set(m["channels"]) == {a, b} and m["default_channel"] == a
    assert m["schedule"][0]["days"] == [1, 2, 3, 4, 5] and m["schedule"][0]["start"] == "11:00"
    until = int(time.time()) + 600
    assert admin.post("/api/v1/screens/%s/play-now" % sid, json={"channel_id": b, "until": until}).status_code == 200
    m2 = requests.get(server.url + "/api/v1/device/manifest", headers=h).json()
    assert m2["play_now"] == {"channel_id": b, "until": until} and m2["version"] > m["version"]
    # each change reached the screen as a manifest_changed instruction
    ins = requests.get(server.url + "/api/v1/device/instructions?wait=0", headers=h).json()["instructions"]
    assert [i["type"] for i in ins].count("manifest_changed") >= 3
    now = int(time.time())
    plays = [{"channel_id": a, "zone": "z", "item": "z0i0", "sha256": sha, "started_at": now - 10, "duration_ms": 5000}]
    assert requests.post(server.url + "/api/v1/device/played", json={"plays": plays}, headers=h).status_code == 200
    bad = [dict(plays[0], started_at="yesterday")]
    assert requests.post(server.url + "/api/v1/device/played", json={"plays": bad}, headers=h).status_code == 400
    rep = admin.get("/api/v1/reports/plays?screen_id=" + sid).json()["plays"]
    assert len(rep) == 1 and rep[0]["screen"] == "S" and rep[0]["duration_ms"] == 5000
    csv = admin.get("/api/v1/reports/plays?format=csv")
    assert csv.headers["Content-Type"].startswith("text/csv") and sha in csv.text


def pair_screen(server, admin, name):
    """A paired screen without a player: (screen id, device headers)."""
    import base64
    r = requests.post(server.url + "/api/v1/device/pair",
                      json={"hardware_id": name, "public_key": base64.b64encode(bytes(32)).decode()}).json()
    sid = admin.post("/api/v1/pairings", json={"user_code": r["user_code"], "name": name}).json()["screen"]["id"]
    token = requests.post(server.url + "/api/v1/device/token",
                          json={"device_code": r["device_code"]}).json()["access_token"]
    return sid, {"Authorization": "Bearer " + token}


def test_manifests_of_many_screens_are_exact_and_each_save_is_one_version(server, admin):
    """The manifest is exactly the one SPEC 3 describes, byte for byte in its
    key order (the channels' bodies with id and version; default, play-now
    and scheduled channels in that order; each object once, first met
    first), and a save of a channel that many screens play (compiled for
    all of them at once inside the PUT) moves each of them on by exactly
    one version and one manifest_changed: the screens' own GET then
    compiles the same manifest (If-None-Match answers 304)."""
    import json
    shas = [upload(admin, png((40 + i, 7, 9)), "m%d.png" % i) for i in range(4)]
    lobby = admin.post("/api/v1/channels", json=three_zones(shas[:3])).json()["channel"]["id"]
    menu_body = {"name": "Menu", "width": 1080, "height": 1920, "zones": [
        {"name": "top", "x": 0, "y": 0, "w": 1080, "h": 960, "items": [{"media": shas[3], "duration": 7}]},
        {"name": "bottom", "x": 0, "y": 960, "w": 1080, "h": 960,
         "items": [{"media": shas[0], "duration": 3}, {"text": "Today", "duration": 4}]}]}
    menu = admin.post("/api/v1/channels", json=menu_body).json()["channel"]["id"]
    promo = admin.post("/api/v1/channels", json=dict(three_zones(shas[1:4]), name="Promo")).json()["channel"]["id"]
    screens = [pair_screen(server, admin, "S%d" % i) for i in range(4)]
    for sid, _ in screens[:3]:
        assert admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": lobby}).status_code == 200
    assert admin.put("/api/v1/screens/%s/channel" % screens[3][0], json={"channel_id": menu}).status_code == 200
    for sid, _ in screens[1:3]:
        assert admin.patch("/api/v1/screens/" + sid, json={"group": "hall"}).status_code == 200
    assert admin.post("/api/v1/schedules", json={"target": "group:hall", "channel_id": menu, "days": [1, 3],
                                                 "start": "08:00", "end": "10:30", "priority": 2}).status_code == 201
    assert admin.post("/api/v1/schedules", json={"target": "screen:" + screens[3][0], "channel_id": lobby,
                                                 "from": "2026-01-01", "until": "2030-12-31"}).status_code == 201
    until = int(time.time()) + 900
    assert admin.post("/api/v1/screens/%s/play-now" % screens[2][0],
                      json={"channel_id": promo, "until": until}).status_code == 200

    def body(cid):
        b = admin.get("/api/v1/channels/" + cid).json()
        b = b.get("channel", b)
        return {k: v for k, v in b.items() if k not in ("created_at", "updated_at", "updated_by", "editable_zones", "grants")}

    def expected(sid, default, play_now=None):
        rules = [{k: r[k] for k in ("id", "channel_id", "days", "start", "end", "from", "until", "priority")}
                 for r in admin.get("/api/v1/schedules").json()["schedules"]
                 if r["target"] in ("screen:" + sid, "group:" + (admin.get("/api/v1/screens/" + sid).json()
                                                                  .get("screen", {}).get("group") or "-"))]
        rules.sort(key=lambda r: (-r["priority"], r["id"]))
        order = [default] + ([play_now] if play_now else []) + [r["channel_id"] for r in rules]
        channels = {}
        for cid in order:
            channels.setdefault(cid, body(cid))
        objects, seen = [], set()
        for ch in channels.values():
            for zone in ch["zones"]:
                for item in zone["items"]:
                    if "media" in item and item["media"] not in seen:
                        seen.add(item["media"])
                        objects.append({"sha256": item["media"], "size": item["size"], "mime": item["mime"],
                                        "url": "/api/v1/device/objects/" + item["media"]})
        m = {"channel": channels[default], "channels": channels, "default_channel": default, "schedule": rules,
             "play_now": {"channel_id": play_now, "until": until} if play_now else None, "objects": objects}
        return m

    def check(versions=None):
        got = []
        for k, (sid, h) in enumerate(screens):
            r = requests.get(server.url + "/api/v1/device/manifest", headers=h)
            assert r.status_code == 200
            m = json.loads(r.content)
            version = m.pop("version")
            assert r.headers["ETag"] == '"m%d"' % version
            want = expected(sid, menu if k == 3 else lobby, promo if k == 2 else None)
            assert json.dumps(m) == json.dumps(want), (k, m, want)
            assert requests.get(server.url + "/api/v1/device/manifest",
                                headers=dict(h, **{"If-None-Match": r.headers["ETag"]})).status_code == 304
            got.append(version)
        if versions:
            assert got == [v + 1 for v in versions]
        return got

    def notices(h):
        ins = requests.get(server.url + "/api/v1/device/instructions?wait=0", headers=h).json()["instructions"]
        return [i for i in ins if i["type"] == "manifest_changed"]

    versions = check()
    before = [len(notices(h)) for _, h in screens]
    changed = three_zones(shas[:3])
    changed["zones"][2]["items"][0]["text"] = "Welcome back"
    assert admin.put("/api/v1/channels/" + lobby, json=changed).json()["changed"] is True
    versions = check(versions)  # every screen plays Lobby: by default, or scheduled (S3)
    after = [notices(h) for _, h in screens]
    assert [len(n) for n in after] == [b + 1 for b in before]
    assert [json.loads(n[-1]["payload"]) if isinstance(n[-1]["payload"], str) else n[-1]["payload"]
            for n in after] == [{"version": v} for v in versions]
    # a save of Menu reaches only those playing it (S1, S2 by group, S3 by default)
    menu_body["zones"][1]["items"][1]["text"] = "Tomorrow"
    assert admin.put("/api/v1/channels/" + menu, json=menu_body).json()["changed"] is True
    got = [json.loads(requests.get(server.url + "/api/v1/device/manifest", headers=h).content)["version"]
           for _, h in screens]
    assert got == [versions[0], versions[1] + 1, versions[2] + 1, versions[3] + 1]
    check([v - 1 for v in got])


# --- RSS/Atom feeds ---

RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>News</title>
<item><title>%s</title><description>&lt;p&gt;First &lt;b&gt;story&lt;/b&gt;&lt;/p&gt;</description>
<link>https://example.org/1</link><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>%s</title><description>&lt;p&gt;It&amp;#8217;s caf&amp;eacute;&lt;/p&gt;</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>
<entry><title>Atom one</title><summary>Summary one</summary>
<link rel="alternate" href="https://example.org/a1"/><updated>2026-11-23T10:00:00Z</updated></entry>
<entry><title type="html">Atom two</title><content type="html">&lt;i&gt;Body&lt;/i&gt;</content></entry>
</feed>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>Leak &e; here</title></item></channel></rss>"""


class FeedServer:
    """Serves a few in-memory feeds on 127.0.0.1 from a thread."""

    def __init__(self):
        import http.server
        import threading
        self.files = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def rss_channel(name, *feeds):
    return {"name": name, "width": 100, "height": 100, "zones": [
        {"name": "z%d" % i, "x": 0, "y": 0, "w": 100, "h": 100,
         "items": [dict({"rss": url, "duration": 20}, **extra)]} for i, (url, extra) in enumerate(feeds)]}


def device_manifest(server, admin, cid):
    import base64
    r = requests.post(server.url + "/api/v1/device/pair",
                      json={"hardware_id": "feeds", "public_key": base64.b64encode(bytes(32)).decode()}).json()
    sid = admin.post("/api/v1/pairings", json={"user_code": r["user_code"], "name": "F"}).json()["screen"]["id"]
    token = requests.post(server.url + "/api/v1/device/token",
                          json={"device_code": r["device_code"]}).json()["access_token"]
    assert admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid}).status_code == 200
    h = {"Authorization": "Bearer " + token}
    return lambda: requests.get(server.url + "/api/v1/device/manifest", headers=h).json()


def feeds_of(m, cid):
    return [z["items"][0]["feed"] for z in m["channels"][cid]["zones"]]


def test_rss_and_atom_feeds_reach_the_manifest(make_server):
    feeds = FeedServer()
    try:
        feeds.files["/news.xml"] = RSS % ("Hello &amp; welcome", "Second title")
        feeds.files["/blog.atom"] = ATOM
        server = make_server(env={"VITRINE_FEED_REFRESH_SECONDS": "5", "VITRINE_FEED_ALLOW_PRIVATE": "1"}).start()
        admin = server.client()
        assert admin.login().status_code == 200
        r = admin.post("/api/v1/channels", json=rss_channel("Bad", ("ftp://x/feed", {})))
        assert r.status_code == 400 and r.json()["error"]["path"] == "zones[0].items[0].rss"
        r = admin.post("/api/v1/channels", json=rss_channel("Bad", (feeds.url + "/n", {"max_items": 51})))
        assert r.status_code == 400 and r.json()["error"]["path"] == "zones[0].items[0].max_items"
        body = rss_channel("News", (feeds.url + "/news.xml", {}), (feeds.url + "/blog.atom", {"max_items": 1}))
        r = admin.post("/api/v1/channels", json=body)
        assert r.status_code == 201, r.text
        cid = r.json()["channel"]["id"]
        item = r.json()["channel"]["zones"][0]["items"][0]
        assert item["type"] == "rss" and item["max_items"] == 10
        manifest = device_manifest(server, admin, cid)

        def fetched():
            m = manifest()
            return m if all(f["items"] for f in feeds_of(m, cid)) else None
        m = wait_for(fetched, timeout=20, interval=0.3, what="the feeds in the manifest")
        rss, atom = feeds_of(m, cid)
        assert [i["title"] for i in rss["items"]] == ["Hello & welcome", "Second title"]
        assert rss["items"][0]["summary"] == "First story"
        assert rss["items"][1]["summary"] == "It\u2019s caf\u00e9"  # HTML entities decoded (issue 8)
        assert rss["items"][0]["link"] == "https://example.org/1"
        assert rss["items"][0]["published"].startswith("Mon, 23 Nov 2026")
        assert "error" not in rss and rss["fetched_at"] > 0
        assert [i["title"] for i in atom["items"]] == ["Atom one"]  # max_items
        assert atom["items"][0]["link"] == "https://example.org/a1" and atom["items"][0]["summary"] == "Summary one"
        version = m["version"]
        # a changed feed is a new manifest version, pushed within a refresh
        feeds.files["/news.xml"] = RSS % ("Breaking", "Other")
        m = wait_for(lambda: (lambda x: x if [i["title"] for i in feeds_of(x, cid)[0]["items"]]
                              == ["Breaking", "Other"] else None)(manifest()),
                     timeout=20, interval=0.5, what="the new feed titles")
        assert m["version"] > version
        # a feed that fails keeps its last good items and says why
        del feeds.files["/news.xml"]
        m = wait_for(lambda: (lambda x: x if "error" in feeds_of(x, cid)[0] else None)(manifest()),
                     timeout=20, interval=0.5, what="the feed error")
        assert "404" in feeds_of(m, cid)[0]["error"]
        assert [i["title"] for i in feeds_of(m, cid)[0]["items"]] == ["Breaking", "Other"]
    finally:
        feeds.close()


def test_feeds_refuse_private_addresses_and_entities(make_server, tmp_path):
    feeds = FeedServer()
    try:
        feeds.files["/news.xml"] = RSS % ("Private", "Feed")
        feeds.files["/xxe.xml"] = XXE
        # default: a feed on a private address is not fetched
        server = make_server(env={"VITRINE_FEED_REFRESH_SECONDS": "5"}).start()
        admin = server.client()
        assert admin.login().status_code == 200
        cid = admin.post("/api/v1/channels",
                         json=rss_channel("Local", (feeds.url + "/news.xml", {}))).json()["channel"]["id"]
        manifest = device_manifest(server, admin, cid)
        m = wait_for(lambda: (lambda x: x if "error" in feeds_of(x, cid)[0] else None)(manifest()),
                     timeout=20, interval=0.3, what="the refused feed")
        feed = feeds_of(m, cid)[0]
        assert feed["items"] == [] and "private" in feed["error"]
        server.stop()
        # allowed, but an external entity is never read
        server2 = make_server(env={"VITRINE_FEED_REFRESH_SECONDS": "5", "VITRINE_FEED_ALLOW_PRIVATE": "1"}).start()
        admin2 = server2.client()
        assert admin2.login().status_code == 200
        cid = admin2.post("/api/v1/channels",
                          json=rss_channel("XXE", (feeds.url + "/xxe.xml", {}))).json()["channel"]["id"]
        manifest = device_manifest(server2, admin2, cid)
        m = wait_for(lambda: (lambda x: x if feeds_of(x, cid)[0]["items"] or "error" in feeds_of(x, cid)[0]
                              else None)(manifest()), timeout=20, interval=0.3, what="the XXE feed")
        text = str(feeds_of(m, cid)[0])
        assert "root:" not in text and "/bin/" not in text
        assert [i["title"] for i in feeds_of(m, cid)[0]["items"]] == ["Leak here"]
    finally:
        feeds.close()


# --- disk space (issue 9): crash leftovers, deleted media, a full disk ---

def html_page(n, tag="x"):
    """An HTML medium of about n bytes (libmagic calls it text/html)."""
    head = ("<!DOCTYPE html>\n<html><head><title>%s</title></head><body>\n" % tag).encode()
    return head + b"<p>" + (tag.encode() * n)[:max(0, n - len(head) - 20)] + b"</p></body></html>\n"


def object_path(server, sha):
    return os.path.join(server.data, "media", sha[:2], sha)


def tmp_files(server):
    d = os.path.join(server.data, "media", "tmp")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def start_slow_upload(server, admin, data):
    """Sends the headers and half the body of an upload, and holds on."""
    import socket
    sha = hashlib.sha256(data).hexdigest()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    cookies = "; ".join("%s=%s" % (c.name, c.value) for c in admin.s.cookies)
    s.sendall(("PUT /api/v1/media/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"
               "X-Filename: slow.html\r\nContent-Length: %d\r\n\r\n" % (sha, cookies, admin.csrf, len(data))).encode())
    s.sendall(data[:len(data) // 2])
    return s, data[len(data) // 2:]


def finish_upload(s, rest):
    s.sendall(rest)
    status = read_head(s)[0]
    s.close()
    return status


def test_sweep_removes_crash_leftovers(make_server):
    server = make_server().start()
    admin = server.client()
    assert admin.login().status_code == 200
    kept = upload(admin, png((4, 5, 6)), "kept.png")
    server.stop()
    # what a kill -9 leaves: upload and thumbnail temp files, an object
    # moved into place whose row was never committed
    tmp = os.path.join(server.data, "media", "tmp")
    os.makedirs(tmp, exist_ok=True)
    for name in ("0123456789abcdef01234567.part", "fedcba9876543210fedcba98.part", "aaaaaaaaaaaaaaaaaaaaaaaa.thumb"):
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(os.urandom(100000))
    orphan = hashlib.sha256(b"never committed").hexdigest()
    os.makedirs(os.path.dirname(object_path(server, orphan)), exist_ok=True)
    with open(object_path(server, orphan), "wb") as f:
        f.write(b"never committed")
    server.start()
    assert tmp_files(server) == []
    assert not os.path.exists(object_path(server, orphan))
    assert os.path.exists(object_path(server, kept))  # linked: kept
    assert "disk space reclaimed" in server.read_log()

    # later sweeps (each upload runs one) keep the temp file of a live upload
    admin = server.client()
    assert admin.login().status_code == 200
    sock, rest = start_slow_upload(server, admin, html_page(300000, "slow"))
    live = wait_for(lambda: tmp_files(server) or None, timeout=10, interval=0.05, what="the live upload's file")
    stale = os.path.join(tmp, "bbbbbbbbbbbbbbbbbbbbbbbb.part")
    with open(stale, "wb") as f:
        f.write(b"left by a crash an hour ago")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    upload(admin, png((7, 8, 9)), "another.png")
    assert not os.path.exists(stale)
    assert tmp_files(server) == live  # the live one stays
    assert finish_upload(sock, rest) == 201
    assert tmp_files(server) == []


def test_deleted_media_frees_its_bytes_at_once(server, admin):
    sha = upload(admin, png((10, 20, 30), w=64, h=64), "soon-gone.png")
    thumb = os.path.join(server.data, "media", "thumbs", sha + ".png")
    assert os.path.exists(object_path(server, sha)) and os.path.exists(thumb)
    assert admin.delete("/api/v1/media/" + sha).status_code == 200
    # the old code kept objects younger than 10 minutes, and never came back for them
    wait_for(lambda: not (os.path.exists(object_path(server, sha)) or os.path.exists(thumb)) or None, timeout=5,
             what="the bytes freed")
    # and it uploads again
    assert upload(admin, png((10, 20, 30), w=64, h=64)) == sha
    assert os.path.exists(object_path(server, sha))


class Tmpfs:
    """A small tmpfs mounted on dir (the tests run as root)."""

    def __init__(self, path, size="4m"):
        import subprocess
        self.path = path
        os.makedirs(path, exist_ok=True)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path],
                             capture_output=True, text=True)
        if out.returncode != 0:
            import pytest
            pytest.skip("cannot mount a tmpfs: " + out.stderr.strip())

    def umount(self):
        import subprocess
        subprocess.run(["umount", "-l", self.path], check=False)


def test_disk_full_gives_507_and_recovers(tmp_path):
    import http.client
    import json as jsonlib
    import subprocess
    from conftest import CLI_BIN, Server, ADMIN_PASSWORD
    disk = Tmpfs(str(tmp_path / "data"))
    server = None
    try:
        server = Server(str(tmp_path)).start()  # its data folder is the 4 MiB tmpfs
        admin = server.client()
        assert admin.login().status_code == 200
        # fill the disk with media until the next one does not fit
        shas = []
        for i in range(10):
            data = html_page(700000, "fill%d" % i)
            sha = hashlib.sha256(data).hexdigest()
            r = admin.put("/api/v1/media/" + sha, data=data, headers={"X-Filename": "fill%d.html" % i})
            if r.status_code == 507:
                break
            assert r.status_code == 201, r.text
            shas.append(sha)
        assert shas and r.status_code == 507, "the disk never filled"
        err = r.json()["error"]
        assert err["code"] == "insufficient_storage" and "no room" in err["message"], err
        assert tmp_files(server) == []  # nothing half-written is left
        # announced with Expect: 100-continue, the refusal comes before the body
        big = html_page(5 << 20, "big")
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        cookies = "; ".join("%s=%s" % (k.name, k.value) for k in admin.s.cookies)
        c.putrequest("PUT", "/api/v1/media/" + hashlib.sha256(big).hexdigest())
        for k, v in (("Cookie", cookies), ("X-CSRF-Token", admin.csrf), ("Content-Length", str(len(big))),
                     ("Expect", "100-continue")):
            c.putheader(k, v)
        c.endheaders()
        resp = c.getresponse()
        assert resp.status == 507 and resp.getheader("Content-Type").startswith("application/json")
        assert jsonlib.loads(resp.read())["error"]["code"] == "insufficient_storage"
        c.close()
        # chunked (no Content-Length): the write fails on the full disk, the
        # rest is read and dropped, and the answer is the same 507
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        c.putrequest("PUT", "/api/v1/media/" + hashlib.sha256(big).hexdigest())
        for k, v in (("Cookie", cookies), ("X-CSRF-Token", admin.csrf), ("Transfer-Encoding", "chunked")):
            c.putheader(k, v)
        c.endheaders()
        for i in range(0, len(big), 65536):
            part = big[i:i + 65536]
            c.send(b"%x\r\n" % len(part) + part + b"\r\n")
        c.send(b"0\r\n\r\n")
        resp = c.getresponse()
        assert resp.status == 507, resp.read()
        assert jsonlib.loads(resp.read())["error"]["code"] == "insufficient_storage"
        c.close()
        assert tmp_files(server) == []
        # vitrine publish says what happened, not "cannot reach the server"
        site = tmp_path / "site"
        site.mkdir()
        (site / "big.html").write_bytes(big)
        (site / "channel.json").write_text(jsonlib.dumps({"name": "Big", "width": 100, "height": 100, "zones": [
            {"name": "m", "x": 0, "y": 0, "w": 100, "h": 100, "items": [{"file": "big.html"}]}]}))
        config = tmp_path / "cli"
        env = dict(os.environ)
        run = lambda *a, **kw: subprocess.run([CLI_BIN, "--config-dir", str(config)] + list(a), capture_output=True,
                                              text=True, timeout=90, start_new_session=True, env=env, **kw)
        assert run("--server", server.url, "login", "--user", "admin", "--password-stdin",
                   input=ADMIN_PASSWORD + "\n").returncode == 0
        out = run("publish", str(site))
        assert out.returncode == 1
        assert "cannot reach" not in out.stderr, out.stderr
        assert "disk is full: no room for big.html" in out.stderr, out.stderr
        # the server recovers: delete media, and later uploads work
        assert admin.delete("/api/v1/media/" + shas[0]).status_code == 200
        wait_for(lambda: not os.path.exists(object_path(server, shas[0])) or None, timeout=5, what="bytes freed")
        assert upload(admin, html_page(500000, "after")) and upload(admin, png((1, 1, 1)))
        assert admin.get("/api/v1/media").status_code == 200
    finally:
        if server:
            server.stop()
        disk.umount()


SLOW_FSYNC_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
/* fsync of an upload's temporary file takes 3 s, like a large file on a slow disk */
int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n > 0) {
		path[n] = '\0';
		if (strstr(path, "/media/tmp/") && strstr(path, ".part"))
			sleep(3);
	}
	return real(fd);
}
"""


def test_upload_fsync_does_not_hold_the_write_lock(make_server, tmp_path):
    """Issue 9: a large upload's fsync ran inside the write transaction, so
    every other write waited for it. Now it runs before the lock is taken."""
    import shutil
    import subprocess
    import threading
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        import pytest
        pytest.skip("no C compiler for the fsync shim")
    src, so = tmp_path / "slow_fsync.c", tmp_path / "slow_fsync.so"
    src.write_text(SLOW_FSYNC_C)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src), "-ldl"], check=True)
    from conftest import SERVER_BIN
    preload = str(so)
    asan = [w for w in subprocess.run(["ldd", SERVER_BIN], capture_output=True, text=True).stdout.split()
            if "libasan" in w and w.startswith("/")]
    if asan:  # the sanitizer's runtime must come first
        preload = asan[0] + ":" + preload
    server = make_server(env={"LD_PRELOAD": preload}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    other = upload(admin, png((3, 3, 3)), "other.png")  # its fsync is slow too: before the test
    data = png((200, 100, 50), w=300, h=300)
    result = {}
    other_client = server.client()
    assert other_client.login().status_code == 200

    def slow_upload():
        r = admin.put("/api/v1/media/" + hashlib.sha256(data).hexdigest(), data=data, headers={"X-Filename": "s.png"})
        result["status"] = r.status_code
    t = threading.Thread(target=slow_upload)
    t.start()
    wait_for(lambda: tmp_files(server) or None, timeout=10, interval=0.02, what="the upload's temp file")
    time.sleep(0.7)  # the upload is in its 3 s fsync now
    # a new connection: the network thread busy with the upload does not
    # accept it, so only the write lock could hold this request up
    fresh = server.client()
    fresh.s.cookies.update(other_client.s.cookies)
    fresh.csrf = other_client.csrf
    started = time.time()
    r = fresh.patch("/api/v1/media/" + other, json={"tags": ["lobby"]})
    took = time.time() - started
    assert r.status_code == 200, r.text
    t.join(timeout=30)
    assert result.get("status") == 201
    assert took < 1.5, "a write waited %.2f s for an upload's fsync" % took


def test_publish_takes_every_item_the_server_takes(server, tmp_path):
    """One schema (issue 8): the CLI once refused rss items the server took.
    A folder with every kind of item publishes, and a dry run after it
    finds the channel unchanged (its defaults are the server's)."""
    import json as jsonlib
    import subprocess
    from conftest import CLI_BIN, ADMIN_PASSWORD
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.png").write_bytes(png((50, 60, 70)))
    (site / "channel.json").write_text(jsonlib.dumps({"name": "Every kind", "width": 200, "height": 100, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 100, "h": 100, "items": [
            {"file": "a.png"}, {"url": "http://127.0.0.1:9/", "duration": 20},
            {"text": "Hello", "valid": {"days": [1, 2, 3]}}]},
        {"name": "news", "x": 100, "y": 0, "w": 100, "h": 100, "z": 2, "items": [
            # the server fetches feeds: tests only ever name loopback
            {"rss": "http://127.0.0.1:9/feed.xml", "max_items": 5}, {"rss": "http://127.0.0.1:9/other.xml"}]}]}))
    config = tmp_path / "cli"
    run = lambda *a, **kw: subprocess.run([CLI_BIN, "--config-dir", str(config)] + list(a), capture_output=True,
                                          text=True, timeout=90, start_new_session=True, **kw)
    assert run("--server", server.url, "login", "--user", "admin", "--password-stdin",
               input=ADMIN_PASSWORD + "\n").returncode == 0
    out = run("publish", str(site))
    assert out.returncode == 0, out.stderr
    out = run("publish", "--dry-run", str(site))
    assert out.returncode == 0 and "unchanged" in out.stdout, out.stdout + out.stderr
