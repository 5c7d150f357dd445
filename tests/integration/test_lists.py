"""The list routes at fleet size (issue 8, item 9): paging, sorting and
filtering on the server for screens, media, channels and the audit log
(limit, offset, sort, q), a 400 naming the fault for every bad value, the
old answers kept without the new parameters, a channel's grants read
back, and the console's ES modules served from their folders."""
import hashlib
import json
import time

import pytest
import requests

from conftest import Client

FLEET = 30


def insert_screens(server, count, now=None):
    """Writes count screens straight into the store (the server is stopped):
    names in shuffled order, three groups, tags, a hostname, every third
    one seen just now (online). Returns the rows as dicts."""
    now = int(now or time.time())
    account = server.sql("SELECT id FROM accounts")[0][0]
    rows, values = [], []
    for i in range(count):
        n = (i * 7) % count  # not in insertion order
        row = {
            "id": hashlib.sha256(b"screen-%d" % i).hexdigest()[:16].translate(str.maketrans("01890", "abcde")),
            "name": ("screen %03d" if n % 2 else "Screen %03d") % n,  # mixed case: sorted without regard to it
            "group": ["Lobby", "Cafeteria", "Warehouse"][n % 3],
            "tags": ["portrait"] if n % 5 == 0 else [],
            "hostname": "host-%03d" % n,
            "last_seen": now if n % 3 == 0 else now - 3600,
            "created_at": now - 100000 + n,
        }
        values.append((row["id"], account, row["name"], "hw-%d" % i, "AAAA",
                       json.dumps({"hostname": row["hostname"]}), json.dumps(row["tags"]), row["group"],
                       row["last_seen"], row["created_at"]))
        rows.append(row)
    for at in range(0, len(values), 1000):  # one statement per 1,000 rows
        chunk = values[at:at + 1000]
        server.sql("INSERT INTO screens(id, account_id, name, hardware_id, public_key, info, tags, group_name, "
                   "last_seen, created_at) VALUES" + ",".join(["(?,?,?,?,?,?,?,?,?,?)"] * len(chunk)),
                   [v for row in chunk for v in row])
    return rows


@pytest.fixture
def fleet(make_server):
    server = make_server()
    rows = insert_screens(server, FLEET)
    server.start()
    admin = server.client()
    assert admin.login().status_code == 200
    return server, admin, rows


def names(screens):
    return [s["name"] for s in screens]


def by_name(rows):
    return sorted(rows, key=lambda r: (r["name"].lower(), r["id"]))


def bad(client, path, says):
    r = client.get(path)
    assert r.status_code == 400, (path, r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "invalid_parameter", (path, err)
    assert says in err["message"], (path, err["message"])


# ---------------------------------------------------------------- screens

def test_screens_without_parameters_answer_as_before(fleet):
    _, admin, rows = fleet
    r = admin.get("/api/v1/screens")
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["screens"]) == FLEET
    # the old order (ORDER BY name, byte-wise) and the old fields
    assert names(body["screens"]) == sorted(r["name"] for r in rows)
    assert isinstance(body["change_seq"], int)
    assert body["total"] == FLEET
    assert body["online"] == sum(1 for r in rows if r["last_seen"] > time.time() - 75)


def test_screens_page_by_page_cover_the_fleet_once(fleet):
    _, admin, rows = fleet
    seen = []
    for offset in range(0, FLEET, 8):
        page = admin.get("/api/v1/screens?limit=8&offset=%d&sort=name" % offset).json()
        assert page["total"] == FLEET
        assert len(page["screens"]) == min(8, FLEET - offset)
        seen += page["screens"]
    assert [s["id"] for s in seen] == [r["id"] for r in by_name(rows)]
    assert admin.get("/api/v1/screens?limit=8&offset=%d" % (FLEET + 10)).json()["screens"] == []


def test_screens_sort_each_way(fleet):
    _, admin, rows = fleet
    down = admin.get("/api/v1/screens?sort=-name").json()["screens"]
    assert [s["id"] for s in down] == [r["id"] for r in reversed(by_name(rows))]
    recent = admin.get("/api/v1/screens?sort=-last_seen&limit=5").json()["screens"]
    assert all(s["online"] for s in recent)
    groups = [s["group"] for s in admin.get("/api/v1/screens?sort=group").json()["screens"]]
    assert groups == sorted(groups, key=str.lower)
    created = [s["created_at"] for s in admin.get("/api/v1/screens?sort=created_at").json()["screens"]]
    assert created == sorted(created)


def test_screens_filter_by_name_group_tag_or_hostname(fleet):
    _, admin, rows = fleet
    lobby = admin.get("/api/v1/screens?q=lobby&limit=3").json()
    assert lobby["total"] == sum(1 for r in rows if r["group"] == "Lobby")
    assert len(lobby["screens"]) == 3
    assert lobby["online"] == sum(1 for r in rows if r["group"] == "Lobby" and r["last_seen"] > time.time() - 75)
    assert {s["name"] for s in admin.get("/api/v1/screens?q=HOST-007").json()["screens"]} == {"screen 007"}
    tagged = admin.get("/api/v1/screens?q=portrait").json()
    assert tagged["total"] == sum(1 for r in rows if r["tags"])
    assert admin.get("/api/v1/screens?q=reen%2000").json()["total"] == 10  # "Screen 000" .. "screen 009"
    # LIKE wildcards are plain characters
    assert admin.get("/api/v1/screens?q=%25").json()["total"] == 0
    assert admin.get("/api/v1/screens?q=_").json()["total"] == 0
    assert admin.get("/api/v1/screens?q=").json()["total"] == FLEET


def test_screens_bad_parameters_are_400(fleet):
    _, admin, _ = fleet
    bad(admin, "/api/v1/screens?limit=0", "limit must be a whole number from 1 to 500")
    bad(admin, "/api/v1/screens?limit=501", "limit")
    bad(admin, "/api/v1/screens?limit=ten", "limit")
    bad(admin, "/api/v1/screens?offset=-1", "offset must be a whole number")
    bad(admin, "/api/v1/screens?sort=hardware_id", "sort must be one of name, -name, last_seen")
    bad(admin, "/api/v1/screens?sort=name%3B%20DROP%20TABLE%20screens", "sort must be one of")
    bad(admin, "/api/v1/screens?q=" + "x" * 201, "q must be at most 200 bytes")
    assert admin.get("/api/v1/screens").json()["total"] == FLEET  # nothing was harmed


# ---------------------------------------------------------------- media

def upload(client, data, name):
    sha = hashlib.sha256(data).hexdigest()
    r = client.put("/api/v1/media/" + sha, data=data, headers={"X-Filename": name,
                                                             "Content-Type": "application/octet-stream"})
    assert r.status_code in (200, 201), r.text
    return sha


def html(i):
    return b"<!doctype html><title>page %d</title><p>%s</p>" % (i, b"x" * (i * 10))


def test_media_pages_sorts_filters_and_totals(server, admin):
    files = {"b_%d.html" % i if i % 2 else "a%d.html" % i: html(i) for i in range(6)}
    for name, data in files.items():
        upload(admin, data, name)
    everything = admin.get("/api/v1/media").json()
    assert len(everything["media"]) == 6 and everything["total"] == 6
    assert everything["total_bytes"] == sum(len(d) for d in files.values())
    first = admin.get("/api/v1/media?sort=filename&limit=4").json()
    rest = admin.get("/api/v1/media?sort=filename&limit=4&offset=4").json()
    assert [m["filename"] for m in first["media"] + rest["media"]] == sorted(files, key=str.lower)
    assert first["total"] == 6 and len(rest["media"]) == 2
    sizes = [m["size"] for m in admin.get("/api/v1/media?sort=-size").json()["media"]]
    assert sizes == sorted(sizes, reverse=True)
    # q: "_" is a plain character, not LIKE's any-character
    under = admin.get("/api/v1/media?q=b_").json()
    assert under["total"] == 3 and all(m["filename"].startswith("b_") for m in under["media"])
    assert under["total_bytes"] == sum(len(d) for n, d in files.items() if n.startswith("b_"))
    assert admin.get("/api/v1/media?q=a_").json()["total"] == 0
    bad(admin, "/api/v1/media?limit=1001", "limit must be a whole number from 1 to 1000")
    bad(admin, "/api/v1/media?sort=mime", "sort must be one of created_at, -created_at, filename")
    bad(admin, "/api/v1/media?offset=x", "offset")


# ---------------------------------------------------------------- channels

def channel(name):
    return {"name": name, "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080, "items": [{"text": name, "duration": 5}]}]}


def test_channels_pages_sorts_and_filters(server, admin):
    made = ["Menu board", "lobby left", "Lobby right", "Entrance", "menu specials"]
    ids = {}
    for n in made:
        r = admin.post("/api/v1/channels", json=channel(n))
        assert r.status_code == 201, r.text
        ids[n] = r.json()["channel"]["id"]
    assert [c["name"] for c in admin.get("/api/v1/channels").json()["channels"]] == sorted(made)  # as before
    page = admin.get("/api/v1/channels?sort=name&limit=2&offset=2").json()
    assert page["total"] == 5
    assert [c["name"] for c in page["channels"]] == sorted(made, key=str.lower)[2:4]
    assert [c["name"] for c in admin.get("/api/v1/channels?sort=-name").json()["channels"]] == \
        sorted(made, key=str.lower, reverse=True)
    menus = admin.get("/api/v1/channels?q=MENU").json()
    assert menus["total"] == 2 and {c["name"] for c in menus["channels"]} == {"Menu board", "menu specials"}
    changed = channel("Entrance")
    changed["zones"][0]["items"][0]["text"] = "Welcome"
    assert admin.put("/api/v1/channels/" + ids["Entrance"], json=changed).status_code == 200
    updated = [c["updated_at"] for c in admin.get("/api/v1/channels?sort=-updated_at").json()["channels"]]
    assert updated == sorted(updated, reverse=True)
    newest = admin.get("/api/v1/channels?sort=-version&limit=1").json()["channels"][0]
    assert (newest["name"], newest["version"]) == ("Entrance", 2)
    bad(admin, "/api/v1/channels?sort=body", "sort must be one of name, -name, updated_at")
    bad(admin, "/api/v1/channels?limit=-3", "limit")

    # an editor's list is limited to their grants, with the same parameters
    uid = admin.post("/api/v1/users", json={"login": "ed", "password": "a-long-password-1",
                                           "role": "editor"}).json()["user"]["id"]
    assert admin.put("/api/v1/channels/%s/grants" % ids["lobby left"],
                     json={"grants": [{"user_id": uid, "zones": ["main"]}]}).status_code == 200
    ed = Client(server.url)
    ed.login("ed", "a-long-password-1")
    mine = ed.get("/api/v1/channels?q=lobby&limit=10").json()
    assert mine["total"] == 1 and [c["name"] for c in mine["channels"]] == ["lobby left"]


def test_channels_say_how_many_screens_play_them(fleet):
    _, admin, rows = fleet
    played = admin.post("/api/v1/channels", json=channel("Played")).json()["channel"]["id"]
    admin.post("/api/v1/channels", json=channel("Idle"))
    for row in rows[:3]:
        r = admin.put("/api/v1/screens/%s/channel" % row["id"], json={"channel_id": played})
        assert r.status_code == 200, r.text
    admin.delete("/api/v1/screens/" + rows[2]["id"])  # a deleted screen plays nothing
    page = admin.get("/api/v1/channels?limit=10").json()
    counts = {c["name"]: page["default_screens"][c["id"]] for c in page["channels"]}
    assert counts == {"Idle": 0, "Played": 2}
    assert "default_screens" not in page["channels"][0]  # the channel objects stay as they were (the CLI compares them)
    assert set(admin.get("/api/v1/channels?limit=1").json()["default_screens"]) == {page["channels"][0]["id"]}


def test_channel_grants_read_back(server, admin):
    cid = admin.post("/api/v1/channels", json=channel("Cafeteria")).json()["channel"]["id"]
    assert admin.get("/api/v1/channels/%s/grants" % cid).json() == {"grants": []}
    uids = {}
    for login in ("zoe", "adam"):
        uids[login] = admin.post("/api/v1/users", json={"login": login, "password": "a-long-password-1",
                                                        "role": "editor"}).json()["user"]["id"]
    put = [{"user_id": uids["zoe"], "zones": ["*"]}, {"user_id": uids["adam"], "zones": ["main"]}]
    assert admin.put("/api/v1/channels/%s/grants" % cid, json={"grants": put}).status_code == 200
    got = admin.get("/api/v1/channels/%s/grants" % cid)
    assert got.status_code == 200, got.text
    assert got.json()["grants"] == [  # by login
        {"user_id": uids["adam"], "login": "adam", "zones": ["main"]},
        {"user_id": uids["zoe"], "login": "zoe", "zones": ["*"]}]
    # what GET gives, PUT takes back unchanged
    again = [{"user_id": g["user_id"], "zones": g["zones"]} for g in got.json()["grants"]]
    assert admin.put("/api/v1/channels/%s/grants" % cid, json={"grants": again}).status_code == 200
    assert admin.get("/api/v1/channels/%s/grants" % cid).json() == got.json()
    assert admin.get("/api/v1/channels/aaaaaaaaaaaaaaaa/grants").status_code == 404
    assert admin.get("/api/v1/channels/not-an-id/grants").status_code == 404
    zoe = Client(server.url)
    zoe.login("zoe", "a-long-password-1")
    assert zoe.get("/api/v1/channels/%s/grants" % cid).status_code == 403


# ---------------------------------------------------------------- audit

def test_audit_filter_sort_offset_and_total(server, admin):
    for _ in range(3):
        Client(server.url).login("admin", "wrong password")
    all_entries = admin.get("/api/v1/audit?limit=500").json()
    assert all_entries["total"] == len(all_entries["entries"])
    failed = admin.get("/api/v1/audit?q=login.failed").json()
    assert failed["total"] == 3 and all(e["action"] == "login.failed" for e in failed["entries"])
    one = admin.get("/api/v1/audit?q=login.failed&limit=1&offset=1").json()
    assert one["entries"] == [failed["entries"][1]] and one["total"] == 3
    # before still pages backwards, now within the filter
    older = admin.get("/api/v1/audit?q=login.failed&before=%d" % failed["entries"][0]["seq"]).json()
    assert older["entries"] == failed["entries"][1:]
    oldest_first = admin.get("/api/v1/audit?sort=seq").json()["entries"]
    assert [e["seq"] for e in oldest_first] == sorted(e["seq"] for e in all_entries["entries"])
    actions = [e["action"] for e in admin.get("/api/v1/audit?sort=action").json()["entries"]]
    assert actions == sorted(actions)
    bad(admin, "/api/v1/audit?sort=ip", "sort must be one of seq, -seq, at, -at, actor")
    bad(admin, "/api/v1/audit?limit=501", "limit must be a whole number from 1 to 500")
    bad(admin, "/api/v1/audit?offset=1.5", "offset")


# ---------------------------------------------------------------- the console's modules

def test_console_modules_are_served_from_their_folders(server):
    for path in ("/assets/app.js", "/assets/views/screens.js", "/assets/channel-editor/editor.js"):
        r = requests.get(server.url + path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == "text/javascript; charset=utf-8", path
        assert "import " in r.text, path
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert requests.get(server.url + "/assets/views/nope.js").status_code == 404
    assert requests.get(server.url + "/assets/nope/screens.js").status_code == 404
    assert requests.get(server.url + "/assets/views/../app.js").status_code in (200, 404)  # normalised or refused
    assert requests.get(server.url + "/assets/views/index.html").status_code == 404
