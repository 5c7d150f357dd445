"""Remote control, the server's part (issue 10, connection manager): the
ticket-signing key and `relay-key`, the relays registry and the choice of a
relay (by the guest's region, then by load), POST /api/v1/screens/{id}/remote
(tickets and the session secret for guest and host, the host's through its
long-poll; view-only beside a live session), support users' remote grants,
the sessions list and ending a session. Consent: test_remote_consent.py."""
import base64
import hashlib
import json
import os
import secrets
import stat
import subprocess
import time

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import SERVER_BIN, Client
from mmdb import write_mmdb  # test_chat.py takes it from here too

PUBKEY = base64.b64encode(bytes(range(32))).decode()
PASSWORD = "a-long-password-1"


def relay_key(server, *extra):
    out = subprocess.run([SERVER_BIN, "--data", server.data, "relay-key", *extra], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_ticket(ticket, key_b64):
    """The ticket format of src/common/ticket.h, checked with the key that
    `relay-key` printed; returns the payload."""
    prefix, payload, sig = ticket.split(".")
    assert prefix == "vt1"
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64))
    key.verify(b64url(sig), b"vitrine-ticket-v1\0" + b64url(payload))  # raises InvalidSignature
    return json.loads(b64url(payload))


def pair_device(admin, hardware_id="sim-1", online=True):
    r = requests.post(admin.url + "/api/v1/device/pair", json={"hardware_id": hardware_id, "public_key": PUBKEY})
    assert r.status_code == 200, r.text
    p = r.json()
    screen = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": hardware_id}).json()["screen"]
    token = requests.post(admin.url + "/api/v1/device/token", json={"device_code": p["device_code"]}).json()
    token = token["access_token"]
    if online:  # one long-poll makes it online
        requests.get(admin.url + "/api/v1/device/instructions?wait=0", headers={"Authorization": "Bearer " + token})
    return token, screen["id"]


def add_relay(client, host="127.0.0.1", **kw):
    body = dict(host=host, ws_url="wss://%s/relay" % host, **kw)
    r = client.post("/api/v1/relays", json=body)
    assert r.status_code == 201, r.text
    return r.json()["relay"]["id"], r.json()["token"]


def report(server, relay_id, token, sessions=0, bytes_=0):
    return requests.post(server.url + "/api/v1/relays/%s/report" % relay_id,
                         headers={"Authorization": "Bearer " + token}, json={"sessions": sessions, "bytes": bytes_})


def user(admin, server, login, role):
    r = admin.post("/api/v1/users", json={"login": login, "password": PASSWORD, "role": role})
    assert r.status_code == 201, r.text
    c = Client(server.url)
    assert c.login(login, PASSWORD).status_code == 200
    return c


def other_account_admin(server):
    """An admin of a second account (through an API token made in the store)."""
    token = "vt_" + secrets.token_hex(26)
    server.sql("INSERT INTO accounts(id, name, created_at) VALUES('otheraccountaaaa', 'Other', ?)",
               (int(time.time()) + 5,))
    server.sql("INSERT INTO users(id, account_id, login, role, password_hash, created_at, updated_at) "
               "VALUES('otheruseraaaaaaa', 'otheraccountaaaa', 'other-admin', 'admin', 'x', 0, 0)")
    server.sql("INSERT INTO api_tokens(id, token_hash, user_id, name, created_at) "
               "VALUES('othertokenaaaaaa', ?, 'otheruseraaaaaaa', 't', 0)",
               (hashlib.sha256(token.encode()).hexdigest(),))
    return Client(server.url, token=token)


def test_relay_key_verifies_both_tickets_and_the_host_gets_its_own(server, admin, tmp_path):
    key = relay_key(server).strip()
    assert len(base64.b64decode(key)) == 32
    relay_key(server, "--out", str(tmp_path / "k"))
    assert (tmp_path / "k").read_text().strip() == key
    mode = os.stat(os.path.join(server.data, "keys", "relay-signing.secret")).st_mode
    assert stat.S_IMODE(mode) == 0o600

    relay_id, relay_token = add_relay(admin, shared=True)
    assert report(server, relay_id, relay_token).status_code == 200
    device, sid = pair_device(admin)
    before = time.time()
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"session_id", "relay", "ticket", "host_public_key", "session_secret", "view_only"}
    secret = base64.b64decode(body["session_secret"], validate=True)
    assert len(secret) == 32 and body["view_only"] is False
    assert body["relay"] == {"host": "127.0.0.1", "port": 1970, "ws_url": "wss://127.0.0.1/relay"}
    assert body["host_public_key"] == PUBKEY
    me = admin.get("/api/v1/me").json()["user"]
    guest = verify_ticket(body["ticket"], key)
    assert guest["sid"] == body["session_id"] and guest["role"] == "guest"
    assert guest["relay"] == "127.0.0.1:1970" and guest["screen"] == sid and guest["user"] == me["id"]
    assert before < guest["exp"] <= time.time() + 60
    # a changed payload no longer verifies
    prefix, payload, sig = body["ticket"].split(".")
    forged = dict(guest, role="host")
    forged_text = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    try:
        verify_ticket(".".join([prefix, forged_text, sig]), key)
        raise AssertionError("a forged ticket verified")
    except InvalidSignature:
        pass

    # the host hears of it through its long-poll, with a host ticket
    polled = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=5",
                          headers={"Authorization": "Bearer " + device}).json()["instructions"]
    ins = [i for i in polled if i["type"] == "remote_session"]
    assert len(ins) == 1, polled
    p = ins[0]["payload"]
    assert p["session_id"] == body["session_id"] and p["relay"] == body["relay"]
    host = verify_ticket(p["ticket"], key)
    assert host["role"] == "host" and host["sid"] == body["session_id"] and host["screen"] == sid
    assert ins[0]["expires_at"] <= time.time() + 60
    # the payload the shared contract lists: the guest ticket's hash (hex
    # BLAKE2b-256 of its text) and the same secret as the guest's
    assert set(p) == {"session_id", "relay", "ticket", "guest_ticket_hash", "session_secret", "guest", "view_only",
                      "expires_at"}, p
    assert p["guest_ticket_hash"] == hashlib.blake2b(body["ticket"].encode(), digest_size=32).hexdigest()
    assert p["session_secret"] == body["session_secret"] and p["guest"] == "admin" and p["view_only"] is False
    assert p["expires_at"] == guest["exp"]
    # users of the account see that it was sent, neither the host's ticket nor the secret
    seen = admin.get("/api/v1/screens/%s/instructions/%s" % (sid, ins[0]["id"])).json()["instruction"]
    assert seen["type"] == "remote_session" and "ticket" not in seen["payload"], seen
    assert not {"session_secret", "secret_sealed"} & set(seen["payload"]), seen
    assert seen["payload"]["session_id"] == body["session_id"]
    # the secret is stored nowhere in plain: not in the database, not in the log
    raw = secret.hex()
    for table in ("instructions", "remote_sessions", "audit"):
        for row in server.sql("SELECT * FROM " + table):
            text = " ".join(v or "" for v in row)
            assert body["session_secret"] not in text and raw not in text, (table, row)
    assert body["session_secret"] not in server.read_log()
    # a redelivery opens the sealed secret again
    again = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0",
                         headers={"Authorization": "Bearer " + device}).json()["instructions"]
    assert [i["payload"]["session_secret"] for i in again if i["type"] == "remote_session"] == [p["session_secret"]]
    # a second session while this one is live: view-only, for both sides, with its own secret
    r2 = admin.post("/api/v1/screens/%s/remote" % sid).json()
    assert r2["view_only"] is True and r2["session_secret"] != body["session_secret"]
    polled = requests.get(server.url + "/api/v1/device/instructions?after=%d&wait=5" % ins[0]["seq"],
                          headers={"Authorization": "Bearer " + device}).json()["instructions"]
    assert [i["payload"]["view_only"] for i in polled if i["type"] == "remote_session"] == [True]
    assert [s["consent"] for s in admin.get("/api/v1/remote-sessions").json()["sessions"]] == ["none", "none"]

    audit = admin.get("/api/v1/audit").json()["entries"]
    assert any(e["action"] == "remote.requested" and e["target"] == sid for e in audit)


def test_an_older_data_folder_gets_its_key_on_first_start(make_server):
    s = make_server()
    path = os.path.join(s.data, "keys", "relay-signing.secret")
    os.remove(path)
    s.start()
    assert os.path.getsize(path) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = relay_key(s).strip()
    s.stop()
    s.start()
    assert relay_key(s).strip() == key  # kept, not made again


def test_relay_choice_private_first_unhealthy_skipped_lowest_load(server, admin):
    _, sid = pair_device(admin)
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 503 and r.json()["error"]["code"] == "no_relay", r.text

    busy, busy_token = add_relay(admin, host="busy.example", shared=True)
    idle, idle_token = add_relay(admin, host="idle.example", shared=True, port=2000, region="eu-west")
    # registered but never heard of: unhealthy
    assert admin.post("/api/v1/screens/%s/remote" % sid).status_code == 503
    assert report(server, busy, busy_token, sessions=9, bytes_=10).status_code == 200
    assert report(server, idle, idle_token, sessions=1, bytes_=99999).status_code == 200
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201 and r.json()["relay"]["host"] == "idle.example" and r.json()["relay"]["port"] == 2000
    # the idle one stops reporting for more than 15 s: skipped
    server.sql("UPDATE relays SET last_report = last_report - 16 WHERE id = ?", (idle,))
    listed = {x["id"]: x for x in admin.get("/api/v1/relays").json()["relays"]}
    assert not listed[idle]["healthy"] and listed[busy]["healthy"] and listed[idle]["region"] == "eu-west"
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201 and r.json()["relay"]["host"] == "busy.example"

    # another account's private relay is never used for this one, and is unknown to it
    other = other_account_admin(server)
    theirs, theirs_token = add_relay(other, host="theirs.example")
    assert report(server, theirs, theirs_token).status_code == 200
    assert admin.post("/api/v1/screens/%s/remote" % sid).json()["relay"]["host"] == "busy.example"
    assert theirs not in {x["id"] for x in admin.get("/api/v1/relays").json()["relays"]}
    assert admin.delete("/api/v1/relays/" + theirs).status_code == 404

    # a private relay of the account: used first; silent, no fallback to shared ones
    mine, mine_token = add_relay(admin, host="mine.example")
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 503 and r.json()["error"]["code"] == "no_relay" and "private" in r.text
    assert report(server, mine, mine_token, sessions=50).status_code == 200
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201 and r.json()["relay"]["host"] == "mine.example"

    # /firewall lists the relays this account's screens may use
    rules = admin.get("/api/v1/firewall").json()["rules"]
    tcp = [x for x in rules if x["to"] == "mine.example"]
    assert {(x["port"], x["protocol"]) for x in tcp} == {(1970, "vitrine-relay"), (443, "WSS")}, tcp
    assert not any(x["to"] in ("busy.example", "theirs.example") for x in rules)
    assert admin.delete("/api/v1/relays/" + mine).status_code == 204
    rules = admin.get("/api/v1/firewall").json()["rules"]
    assert any(x["to"] == "busy.example" and x["port"] == 1970 for x in rules)


def test_who_may_ask_for_a_session(server, admin):
    relay_id, relay_token = add_relay(admin, shared=True)
    report(server, relay_id, relay_token)
    _, sid = pair_device(admin)
    editor = user(admin, server, "ed", "editor")
    operator = user(admin, server, "op", "operator")
    support = user(admin, server, "sup", "support")
    assert editor.post("/api/v1/screens/%s/remote" % sid).status_code == 403
    assert operator.post("/api/v1/screens/%s/remote" % sid).status_code == 403
    r = support.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text  # not granted yet
    assert "grant" in r.json()["error"]["message"]
    sup_id = support.get("/api/v1/me").json()["user"]["id"]
    assert admin.put("/api/v1/users/%s/remote-grants" % sup_id, json={"screens": [sid]}).status_code == 200
    r = support.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201, r.text
    assert support.get("/api/v1/remote-sessions").status_code == 403
    assert support.delete("/api/v1/remote-sessions/" + r.json()["session_id"]).status_code == 403
    assert editor.get("/api/v1/relays").status_code == 403
    # with an API token (what `vitrine remote` will use): the ticket names the token's user
    by_token = Client(server.url, token=admin_token(support))
    r = by_token.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201, r.text
    assert verify_ticket(r.json()["ticket"], relay_key(server).strip())["user"] == support.get(
        "/api/v1/me").json()["user"]["id"]

    # another account's screen is unknown here
    other = other_account_admin(server)
    assert other.post("/api/v1/screens/%s/remote" % sid).status_code == 404
    assert admin.post("/api/v1/screens/nosuchscreenaaaa/remote").status_code == 404
    # an offline screen, a screen without a key
    _, offline = pair_device(admin, hardware_id="sim-2", online=False)
    r = admin.post("/api/v1/screens/%s/remote" % offline)
    assert r.status_code == 409 and r.json()["error"]["code"] == "screen_offline", r.text
    server.sql("UPDATE screens SET public_key = '' WHERE id = ?", (sid,))
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_host_key", r.text


def test_admin_lists_and_ends_sessions(server, admin):
    relay_id, relay_token = add_relay(admin, shared=True)
    report(server, relay_id, relay_token)
    _, sid = pair_device(admin)
    first = admin.post("/api/v1/screens/%s/remote" % sid).json()["session_id"]
    second = admin.post("/api/v1/screens/%s/remote" % sid).json()["session_id"]
    sessions = admin.get("/api/v1/remote-sessions").json()["sessions"]
    assert [s["id"] for s in sessions] == [second, first]
    s = sessions[0]
    assert s["screen_id"] == sid and s["user"] == "admin" and s["relay"]["host"] == "127.0.0.1"
    assert s["ended_at"] is None and s["end_reason"] is None and s["bytes_guest_to_host"] == 0

    r = admin.delete("/api/v1/remote-sessions/" + first)
    assert r.status_code == 200, r.text
    ended = r.json()["session"]
    assert ended["ended_at"] and ended["end_reason"] == "ended_by_admin"
    r = admin.delete("/api/v1/remote-sessions/" + first)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_ended"
    assert admin.delete("/api/v1/remote-sessions/nosuchsessionaaa").status_code == 404
    audit = admin.get("/api/v1/audit").json()["entries"]
    assert any(e["action"] == "remote.ended" and first in e["detail"] for e in audit)
    # another account sees none of them and cannot end them
    other = other_account_admin(server)
    assert other.get("/api/v1/remote-sessions").json()["sessions"] == []
    assert other.delete("/api/v1/remote-sessions/" + second).status_code == 404


def test_bad_relay_input_is_refused_with_a_message(server, admin):
    bad = [
        {"ws_url": "wss://x/"},
        {"host": "", "ws_url": "wss://x/"},
        {"host": "a b", "ws_url": "wss://x/"},
        {"host": "x", "ws_url": "https://x/"},
        {"host": "x", "ws_url": "wss://x:99999/"},
        {"host": "x", "ws_url": "wss:///"},
        {"host": "x", "port": 0, "ws_url": "wss://x/"},
        {"host": "x", "port": "1970", "ws_url": "wss://x/"},
        {"host": "x", "ws_url": "wss://x/", "region": "r" * 65},
        {"host": "x", "ws_url": "wss://x/", "shared": "yes"},
    ]
    for body in bad:
        r = admin.post("/api/v1/relays", json=body)
        assert r.status_code == 400 and r.json()["error"]["message"], (body, r.text)
    # only the server's first account registers shared relays
    other = other_account_admin(server)
    r = other.post("/api/v1/relays", json={"host": "x", "ws_url": "wss://x/", "shared": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "shared_relay_forbidden"
    shared, token = add_relay(admin, shared=True)
    assert other.delete("/api/v1/relays/" + shared).status_code == 403
    # reports: the relay's own token only, and a sane body
    assert report(server, shared, "vr_wrong").status_code == 401
    assert report(server, shared, admin_token(admin)).status_code == 401
    r = requests.post(server.url + "/api/v1/relays/%s/report" % shared, json={"sessions": 1, "bytes": 1})
    assert r.status_code == 401
    r = requests.post(server.url + "/api/v1/relays/%s/report" % shared, headers={"Authorization": "Bearer " + token},
                      json={"sessions": -1, "bytes": 0})
    assert r.status_code == 400 and "sessions" in r.json()["error"]["message"]
    r = requests.post(server.url + "/api/v1/relays/%s/report" % shared, headers={"Authorization": "Bearer " + token},
                      data="not json")
    assert r.status_code == 400
    assert admin.delete("/api/v1/relays/nosuchrelayaaaaa").status_code == 404
    assert admin.delete("/api/v1/relays/" + shared).status_code == 204
    assert report(server, shared, token).status_code == 401  # a removed relay's token is dead


def admin_token(admin):
    r = admin.post("/api/v1/tokens", json={"name": "t"})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def test_relay_key_command_refuses_bad_use_with_a_sentence(make_server, tmp_path):
    s = make_server().start()

    def run(*args):
        return subprocess.run([SERVER_BIN, *args], capture_output=True, text=True, timeout=30)

    out = run("--data", s.data, "relay-key", "--out", str(tmp_path / "no" / "such" / "k"))
    assert out.returncode == 1 and "cannot write" in out.stderr
    out = run("--data", str(tmp_path / "empty"), "relay-key")
    assert out.returncode == 1 and "not initialised" in out.stderr
    out = run("--data", s.data, "--out", str(tmp_path / "k"))
    assert out.returncode == 2 and "--out goes with relay-key" in out.stderr
    out = run("--data", s.data, "relay-key", "extra")
    assert out.returncode == 2 and "unknown argument" in out.stderr
    assert "relay-key [--out FILE]" in run("--help").stdout
    # a damaged key is never replaced by a new one (tickets signed with it would change)
    path = os.path.join(s.data, "keys", "relay-signing.secret")
    with open(path, "wb") as f:
        f.write(b"short")
    out = run("--data", s.data, "relay-key")
    assert out.returncode == 1 and "damaged" in out.stderr
    with open(path, "rb") as f:
        assert f.read() == b"short"


def test_remote_requests_are_limited_per_user(server, admin):
    """Each request queues an instruction and a session row: 30 per user in
    10 minutes, then 429 with Retry-After (other users are not held up)."""
    relay_id, relay_token = add_relay(admin, shared=True)
    assert report(server, relay_id, relay_token).status_code == 200
    _, sid = pair_device(admin)
    codes = [admin.post("/api/v1/screens/%s/remote" % sid).status_code for _ in range(30)]
    assert codes == [201] * 30, codes
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests", r.text
    assert 0 < int(r.headers["Retry-After"]) <= 600
    support = user(admin, server, "helpdesk", "support")
    sup_id = support.get("/api/v1/me").json()["user"]["id"]
    assert admin.put("/api/v1/users/%s/remote-grants" % sup_id, json={"screens": [sid]}).status_code == 200
    assert support.post("/api/v1/screens/%s/remote" % sid).status_code == 201


def test_remote_grants_by_screen_and_by_tag(server, admin):
    relay_id, relay_token = add_relay(admin, shared=True)
    report(server, relay_id, relay_token)
    _, lobby = pair_device(admin, hardware_id="lobby")
    _, office = pair_device(admin, hardware_id="office")
    _, kitchen = pair_device(admin, hardware_id="kitchen")
    support = user(admin, server, "sup", "support")
    sup_id = support.get("/api/v1/me").json()["user"]["id"]
    editor = user(admin, server, "ed", "editor")
    ed_id = editor.get("/api/v1/me").json()["user"]["id"]
    grants = "/api/v1/users/%s/remote-grants" % sup_id
    assert admin.get(grants).json() == {"screens": [], "tags": []}
    # nothing granted: every screen refused with a sentence, and audited
    for sid in (lobby, office, kitchen):
        r = support.post("/api/v1/screens/%s/remote" % sid)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    assert any(e["action"] == "remote.denied" for e in admin.get("/api/v1/audit").json()["entries"])

    # by id
    r = admin.put(grants, json={"screens": [office], "tags": []})
    assert r.status_code == 200 and r.json() == {"screens": [office], "tags": []}, r.text
    assert support.post("/api/v1/screens/%s/remote" % office).status_code == 201
    assert support.post("/api/v1/screens/%s/remote" % lobby).status_code == 403
    # by tag: a screen carrying one of the user's tags
    assert admin.patch("/api/v1/screens/" + lobby, json={"tags": ["floor-1", "entrance"]}).status_code == 200
    r = admin.put(grants, json={"screens": [office], "tags": ["entrance"]})
    assert r.status_code == 200 and r.json() == {"screens": [office], "tags": ["entrance"]}, r.text
    assert admin.get(grants).json() == {"screens": [office], "tags": ["entrance"]}
    assert support.post("/api/v1/screens/%s/remote" % lobby).status_code == 201
    assert support.post("/api/v1/screens/%s/remote" % kitchen).status_code == 403
    # the tag leaves the screen: so does the grant
    admin.patch("/api/v1/screens/" + lobby, json={"tags": ["floor-1"]})
    assert support.post("/api/v1/screens/%s/remote" % lobby).status_code == 403
    # a PUT replaces; a missing list is an empty one
    assert admin.put(grants, json={"tags": ["floor-1"]}).json() == {"screens": [], "tags": ["floor-1"]}
    assert support.post("/api/v1/screens/%s/remote" % office).status_code == 403
    assert support.post("/api/v1/screens/%s/remote" % lobby).status_code == 201
    assert any(e["action"] == "remote.grants_changed" and e["target"] == "sup"
               for e in admin.get("/api/v1/audit").json()["entries"])

    # unknown screen ids (made up, or another account's) -> 400 naming them; nothing changed
    other = other_account_admin(server)
    r = admin.put(grants, json={"screens": [office, "nosuchscreenaaaa", "../x"], "tags": []})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_screens", r.text
    assert r.json()["error"]["unknown"] == ["nosuchscreenaaaa", "../x"]
    assert "nosuchscreenaaaa" in r.json()["error"]["message"]
    assert admin.get(grants).json() == {"screens": [], "tags": ["floor-1"]}
    bad = [{"screens": "x"}, {"screens": [1]}, {"tags": "x"}, {"tags": [""]}, {"tags": ['a"b']},
           {"screens": [], "extra": 1}]
    for body in bad:
        r = admin.put(grants, json=body)
        assert r.status_code == 400 and r.json()["error"]["message"], (body, r.text)
    assert admin.put(grants, data="not json").status_code == 400
    # grants are for support users; admins only set them; users of the account only
    r = admin.put("/api/v1/users/%s/remote-grants" % ed_id, json={"screens": [office]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_support_user", r.text
    assert support.get(grants).status_code == 403
    assert support.put(grants, json={"screens": [kitchen]}).status_code == 403
    assert other.get(grants).status_code == 404
    assert other.put(grants, json={"screens": []}).status_code == 404
    assert admin.get("/api/v1/users/nosuchuseraaaaaa/remote-grants").status_code == 404
    # other roles: 403 with a sentence, whatever the grants
    r = editor.post("/api/v1/screens/%s/remote" % office)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden" and r.json()["error"]["message"]
    # a removed screen drops out of the list
    assert admin.put(grants, json={"screens": [office, kitchen]}).status_code == 200
    assert admin.delete("/api/v1/screens/" + kitchen).status_code == 200
    assert admin.get(grants).json()["screens"] == [office]


# --- regions in a MaxMind DB written by the test (tests/support/mmdb.py) ---

def region(country, continent):
    return {"country": {"iso_code": country, "names": {"en": country}}, "continent": {"code": continent}}


def test_relay_nearest_to_the_guest_by_region_then_by_load(make_server, tmp_path):
    mmdb = str(tmp_path / "regions.mmdb")
    write_mmdb(mmdb, [("127.0.0.0/8", region("DE", "EU")), ("10.0.0.0/8", region("US", "NA")),
                      ("10.1.0.0/16", region("FR", "EU")), ("10.2.0.0/16", region("JP", "AS")),
                      ("10.3.0.0/16", {"city": {"names": {"en": "nowhere"}}}),
                      ("10.4.0.0/16", region("toolong", "E"))])
    s = make_server(env={"VITRINE_GEOIP_DATABASE": mmdb, "VITRINE_TRUSTED_PROXIES": "127.0.0.1/32"}).start()
    admin = s.client()
    assert admin.login().status_code == 200
    loads = {"de.example": ("DE Frankfurt", 5), "eu.example": ("eu-west", 3), "us.example": ("us-east/US", 2),
             "any.example": ("", 0)}
    for host, (where, load) in loads.items():
        rid, tok = add_relay(admin, host=host, shared=True, region=where)
        assert report(s, rid, tok, sessions=load).status_code == 200
    _, sid = pair_device(admin)

    def chosen(xff=None):
        r = admin.post("/api/v1/screens/%s/remote" % sid, headers={"X-Forwarded-For": xff} if xff else {})
        assert r.status_code == 201, r.text
        return r.json()["relay"]["host"]

    assert chosen() == "de.example"  # 127.0.0.1: the same country, though busier
    assert chosen("10.1.2.3") == "eu.example"  # France: no French relay, the same continent
    assert chosen("10.9.9.9") == "us.example"  # the US: "us-east/US" names the country
    assert chosen("10.2.3.4") == "any.example"  # Japan: nothing near, the lowest load
    assert chosen("10.3.0.1") == "any.example"  # a record without codes
    assert chosen("10.4.0.1") == "any.example"  # codes that are not two letters are ignored
    assert chosen("192.0.2.1") == "any.example"  # not in the database
    assert chosen("2001:db8::1") == "any.example"  # IPv6, not in it either
    assert chosen("::ffff:10.1.2.3") == "eu.example"  # v4-mapped: the server sees 10.1.2.3


def test_without_the_database_by_load_and_a_bad_one_stops_the_start(make_server, tmp_path):
    s = make_server().start()
    admin = s.client()
    assert admin.login().status_code == 200
    for host, where, load in (("de.example", "DE", 5), ("any.example", "", 1)):
        rid, tok = add_relay(admin, host=host, shared=True, region=where)
        report(s, rid, tok, sessions=load)
    _, sid = pair_device(admin)
    r = admin.post("/api/v1/screens/%s/remote" % sid)
    assert r.status_code == 201 and r.json()["relay"]["host"] == "any.example", r.text
    s.stop()
    for content in (None, b"not a maxmind database"):
        path = tmp_path / ("bad-%s.mmdb" % (content is None))
        if content is not None:
            path.write_bytes(content)
        out = subprocess.run([SERVER_BIN, "--data", s.data, "--listen", "127.0.0.1:0", "--geoip-database",
                              str(path)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 1 and "geoip_database" in out.stderr and str(path) in out.stderr, out.stderr
