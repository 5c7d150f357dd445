"""Accounts, users and security (SPEC section 1) against the real server."""
import base64
import collections
import csv
import http.client
import hashlib
import hmac
import io
import itertools
import json
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import ADMIN_PASSWORD, Client, solve_challenge


def totp(secret_b32, at=None, step_offset=0):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((at or time.time()) // 30) + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = digest[-1] & 15
    code = (struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % code


def create_user(admin, login, role, password="a-long-password-1"):
    r = admin.post("/api/v1/users", json={"login": login, "password": password, "role": role})
    assert r.status_code == 201, r.text
    return r.json()["user"]


def test_login_sets_a_safe_cookie_and_logout_ends_it(server):
    c = server.client()
    r = c.login()
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["login"] == "admin" and body["user"]["role"] == "admin"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("vitrine_session=vs_")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert c.get("/api/v1/session").json()["csrf_token"] == c.csrf
    assert c.delete("/api/v1/session").status_code == 200
    r = c.get("/api/v1/session")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_wrong_password_is_401_without_saying_which_part(server):
    c = server.client()
    for login, pw in (("admin", "wrong-password-xx"), ("nobody", "wrong-password-xx")):
        r = c.login(login, pw)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
        assert r.json()["error"]["message"] == "wrong login or password"


def test_roles_editor_cannot_manage_users(admin, server):
    create_user(admin, "eddie", "editor")
    ed = server.client()
    assert ed.login("eddie", "a-long-password-1").status_code == 200
    r = ed.post("/api/v1/users", json={"login": "x1", "password": "a-long-password-1", "role": "admin"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert ed.get("/api/v1/users").status_code == 403
    assert ed.get("/api/v1/audit").status_code == 403
    assert ed.get("/api/v1/me").json()["user"]["role"] == "editor"


def test_csrf_header_required_for_cookie_writes(admin):
    no_header = admin.s.post(admin.url + "/api/v1/tokens", json={"name": "x"})
    assert no_header.status_code == 403 and no_header.json()["error"]["code"] == "csrf_failed"
    wrong = admin.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "vc_wrong"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "csrf_failed"
    assert admin.post("/api/v1/tokens", json={"name": "x"}).status_code == 201


def test_user_validation_errors_say_what_is_wrong(admin):
    cases = [
        ({"login": "ok-login", "password": "short", "role": "editor"}, "weak_password", "at least 10"),
        ({"login": "ok-login", "password": "a-long-password-1", "role": "boss"}, "invalid_role", "role"),
        ({"login": "bad login!", "password": "a-long-password-1", "role": "editor"}, "invalid_login", "login"),
        ({"login": "ok-login", "password": "a-long-password-1", "role": "editor", "rol": 1}, "unknown_field", "rol"),
        ({"login": "admin", "password": "a-long-password-1", "role": "editor"}, "login_taken", "already"),
    ]
    for body, code, text in cases:
        r = admin.post("/api/v1/users", json=body)
        assert r.status_code in (400, 409), (body, r.text)
        assert r.json()["error"]["code"] == code
        assert text in r.json()["error"]["message"]


def test_lockout_challenge_and_victim_still_logs_in(server):
    c = server.client()
    for _ in range(5):
        assert c.login("admin", "guessing-wrong-1").status_code == 401
    # even the right password now needs the proof of work
    r = c.login()
    assert r.status_code == 429
    err = r.json()["error"]
    assert err["code"] == "challenge_required"
    ch = err["challenge"]
    assert ch["algorithm"] == "sha256-leading-zero-bits" and ch["difficulty"] >= 16
    # a wrong answer is refused with a fresh challenge
    r = c.login(challenge=ch["challenge"], solution="not-it")
    assert r.status_code == 429 and r.json()["error"]["challenge"]["challenge"] != ch["challenge"]
    # a challenge issued for another login does not work
    other = c.login("someone-else", "guessing-wrong-1")
    # (someone-else has no failures, but the source address has 5: challenged too)
    assert other.status_code == 429
    och = other.json()["error"]["challenge"]
    sol = solve_challenge(och["challenge"], och["difficulty"])
    r = c.login(challenge=och["challenge"], solution=sol)
    assert r.status_code == 429
    # the victim, answering its own challenge, gets in
    sol = solve_challenge(ch["challenge"], ch["difficulty"])
    r = c.login(challenge=ch["challenge"], solution=sol)
    assert r.status_code == 200, r.text
    # the same answer cannot be replayed
    again = server.client().login(challenge=ch["challenge"], solution=sol)
    assert again.status_code == 429


def test_each_failure_makes_the_challenge_harder(server):
    c = server.client()
    for _ in range(5):
        c.login("admin", "guessing-wrong-1")
    d1 = c.login("admin", "guessing-wrong-1").json()["error"]["challenge"]
    sol = solve_challenge(d1["challenge"], d1["difficulty"])
    assert c.login("admin", "guessing-wrong-1", challenge=d1["challenge"], solution=sol).status_code == 401
    d2 = c.login("admin", "guessing-wrong-1").json()["error"]["challenge"]
    assert d2["difficulty"] == d1["difficulty"] + 1


def test_token_auth_needs_no_csrf_and_dies_when_revoked(admin, server):
    r = admin.post("/api/v1/tokens", json={"name": "ci"})
    assert r.status_code == 201
    token, tid = r.json()["token"], r.json()["id"]
    assert token.startswith("vt_")
    t = Client(server.url, token=token)
    assert t.get("/api/v1/users").status_code == 200
    assert t.post("/api/v1/tokens", json={"name": "from-token"}).status_code == 201
    names = [x["name"] for x in admin.get("/api/v1/tokens").json()["tokens"]]
    assert names == ["ci", "from-token"]
    assert admin.delete("/api/v1/tokens/" + tid).status_code == 200
    r = t.get("/api/v1/users")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    assert Client(server.url, token="vt_made_up").get("/api/v1/me").status_code == 401
    assert admin.delete("/api/v1/tokens/" + tid).status_code == 404


def test_totp_second_factor(admin, server):
    r = admin.post("/api/v1/me/totp", json={})
    assert r.status_code == 200
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/Vitrine:admin?secret=" + secret)
    assert admin.post("/api/v1/me/totp/confirm", json={"code": "000000" if totp(secret) != "000000" else "111111"}).status_code == 400
    code = totp(secret)
    assert admin.post("/api/v1/me/totp/confirm", json={"code": code}).json() == {"totp_enabled": True}
    c = server.client()
    r = c.login()
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    r = c.login(totp="12345x")
    assert r.status_code in (400, 401)
    # the code used to confirm cannot be used again (replay)
    r = c.login(totp=code)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"
    r = c.login(totp=totp(secret, step_offset=1))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["totp_enabled"] is True


def test_admin_resets_password_and_user_must_change_it(admin, server):
    u = create_user(admin, "sam", "support")
    sam = server.client()
    assert sam.login("sam", "a-long-password-1").status_code == 200
    sam_token = sam.post("/api/v1/tokens", json={"name": "script"}).json()["token"]
    r = admin.post("/api/v1/users/%s/password-reset" % u["id"], json={})
    assert r.status_code == 200
    temp = r.json()["password"]
    assert len(temp) == 16
    # the reset ended sam's sessions
    assert sam.get("/api/v1/me").status_code == 401
    assert sam.login("sam", temp).json()["user"]["must_change_password"] is True
    assert Client(server.url, token=sam_token).get("/api/v1/me").status_code == 401  # tokens end too
    r = sam.post("/api/v1/tokens", json={"name": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "password_change_required"
    r = sam.put("/api/v1/me/password", json={"current_password": "nope-nope-nope", "new_password": "another-password-2"})
    assert r.status_code == 403
    r = sam.put("/api/v1/me/password", json={"current_password": temp, "new_password": "another-password-2"})
    assert r.status_code == 200, r.text
    assert sam.post("/api/v1/tokens", json={"name": "x"}).status_code == 201
    assert server.client().login("sam", "another-password-2").status_code == 200


def test_disable_delete_and_last_admin_rules(admin, server):
    u = create_user(admin, "olga", "operator")
    olga = server.client()
    assert olga.login("olga", "a-long-password-1").status_code == 200
    r = admin.patch("/api/v1/users/" + u["id"], json={"disabled": True})
    assert r.status_code == 200 and r.json()["user"]["disabled"] is True
    assert olga.get("/api/v1/me").status_code == 401
    assert server.client().login("olga", "a-long-password-1").status_code == 401
    me = admin.get("/api/v1/me").json()["user"]
    r = admin.patch("/api/v1/users/" + me["id"], json={"role": "editor"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin"
    assert admin.delete("/api/v1/users/" + me["id"]).status_code == 409
    assert admin.delete("/api/v1/users/" + u["id"]).status_code == 200
    assert admin.get("/api/v1/users/" + u["id"]).status_code == 404
    assert admin.get("/api/v1/users/notanid").status_code == 404


def test_log_out_everywhere(admin, server):
    other = server.client()
    assert other.login().status_code == 200
    r = admin.delete("/api/v1/me/sessions")
    assert r.status_code == 200 and r.json()["sessions_ended"] == 2
    assert other.get("/api/v1/me").status_code == 401
    assert admin.get("/api/v1/me").status_code == 401


def test_ip_allowlist_with_trusted_proxy(make_server):
    server = make_server(env={"VITRINE_TRUSTED_PROXIES": "127.0.0.1/32"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    r = admin.put("/api/v1/account/allowlist", json={"console": ["10.0.0.0/8"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "would_lock_out"
    r = admin.put("/api/v1/account/allowlist", json={"console": ["10.0.0.1/8"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cidr"
    r = admin.put("/api/v1/account/allowlist", json={"console": ["127.0.0.0/8", "2001:db8::/32"]})
    assert r.status_code == 200, r.text
    assert r.json()["console"] == ["127.0.0.0/8", "2001:db8::/32"]
    # a request relayed by the trusted proxy for an outside address is refused
    r = admin.get("/api/v1/users", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
    assert "203.0.113.9" in r.json()["error"]["message"]
    assert admin.get("/api/v1/users", headers={"X-Forwarded-For": "127.0.0.5"}).status_code == 200
    c = server.client()
    for password in (ADMIN_PASSWORD, "a-wrong-guess-1"):  # no oracle for right guesses from outside
        r = c.s.post(server.url + "/api/v1/session", json={"login": "admin", "password": password},
                     headers={"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
    # a hostile client cannot push the proxy's own hop out of a long header,
    # nor hide behind junk, nor win with a second header line
    r = admin.get("/api/v1/users", headers={"X-Forwarded-For": "9" * 1100 + ", 127.0.0.5, 203.0.113.9"})
    assert r.status_code == 403 and "203.0.113.9" in r.json()["error"]["message"]
    r = admin.get("/api/v1/users", headers={"X-Forwarded-For": "203.0.113.9, junk"})
    assert r.status_code == 403 and "unknown" in r.json()["error"]["message"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", "/api/v1/users")
    conn.putheader("Cookie", "vitrine_session=" + admin.s.cookies["vitrine_session"])
    conn.putheader("X-Forwarded-For", "127.0.0.7")
    conn.putheader("X-Forwarded-For", "203.0.113.9")  # the line the proxy added
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 403 and b"203.0.113.9" in resp.read()
    conn.close()
    assert admin.put("/api/v1/account/allowlist", json={"console": []}).status_code == 200
    assert admin.get("/api/v1/users", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(admin):
    assert admin.put("/api/v1/account/allowlist", json={"console": ["127.0.0.1/32"]}).status_code == 200
    assert admin.get("/api/v1/users", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_audit_log_records_security_events_and_exports_csv(admin, server):
    server.client().login("admin", "wrong-password-1")
    create_user(admin, "auditee", "editor")
    admin.post("/api/v1/tokens", json={"name": "=HYPERLINK(\"x\")"})
    admin.put("/api/v1/account/allowlist", json={"operator": ["192.0.2.0/24"]})
    entries = admin.get("/api/v1/audit").json()["entries"]
    actions = [e["action"] for e in entries]
    for a in ("account.created", "login.ok", "login.failed", "user.created", "token.created", "allowlist.changed"):
        assert a in actions, actions
    assert entries[0]["seq"] > entries[-1]["seq"]
    failed = next(e for e in entries if e["action"] == "login.failed")
    assert failed["ip"] == "127.0.0.1" and failed["target"] == "admin"
    page = admin.get("/api/v1/audit", params={"limit": 2}).json()["entries"]
    older = admin.get("/api/v1/audit", params={"limit": 2, "before": page[-1]["seq"]}).json()["entries"]
    assert len(page) == 2 and older[0]["seq"] < page[-1]["seq"]
    assert admin.get("/api/v1/audit", params={"limit": 0}).status_code == 400
    r = admin.get("/api/v1/audit.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["seq", "time_utc", "actor", "ip", "action", "target", "detail"]
    token_row = next(row for row in rows if row[4] == "token.created")
    assert token_row[5].startswith("'=")  # spreadsheet formula defused
    # nobody can rewrite history: there is no route to edit the log
    assert admin.delete("/api/v1/audit").status_code == 405


def test_reenabling_a_user_revives_no_token_or_session(admin, server):
    """Disabling revokes the user's API tokens and sessions for good."""
    u = create_user(admin, "rita", "editor")
    rita = server.client()
    assert rita.login("rita", "a-long-password-1").status_code == 200
    r = rita.post("/api/v1/tokens", json={"name": "script"})
    assert r.status_code == 201
    token = Client(server.url, token=r.json()["token"])
    assert token.get("/api/v1/me").status_code == 200
    assert admin.patch("/api/v1/users/" + u["id"], json={"disabled": True}).status_code == 200
    assert admin.patch("/api/v1/users/" + u["id"], json={"disabled": False}).status_code == 200
    r = token.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    assert rita.get("/api/v1/me").status_code == 401
    assert rita.login("rita", "a-long-password-1").status_code == 200
    assert rita.get("/api/v1/tokens").json()["tokens"] == []


def login_from(server, source, body, headers=None, timeout=60):
    """POST /api/v1/session from a loopback source address (127.0.0.0/8 can
    all be bound); returns the status."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/session", body=json.dumps(body),
                     headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_parallel_wrong_logins_are_counted_before_they_are_checked(server):
    """250 parallel wrong passwords: only the first 5 are checked, the rest
    must answer the challenge (counters are not read before and written
    after the check)."""
    def attempt(_):
        return Client(server.url).login("admin", "guessing-wrong-1").status_code

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(attempt, range(250)))
    counts = collections.Counter(codes)
    assert counts[401] <= 5, counts
    assert counts[429] >= 100, counts
    assert set(counts) <= {401, 429, 503}, counts  # 503 busy: the address's share of the hashing lane


def test_totp_code_replayed_by_parallel_logins_works_once(admin, server):
    secret = admin.post("/api/v1/me/totp", json={}).json()["secret"]
    assert admin.post("/api/v1/me/totp/confirm", json={"code": totp(secret)}).status_code == 200
    code = totp(secret, step_offset=1)
    barrier = threading.Barrier(4)

    def attempt(_):
        c = Client(server.url)
        barrier.wait()
        r = c.login(totp=code)
        return r.status_code, r.json().get("error", {}).get("code")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert sorted(results, key=str) == sorted([(200, None)] + [(401, "invalid_totp")] * 3, key=str), results


def test_login_takes_only_json_from_its_own_origin(server):
    """No login CSRF: a form or text/plain POST from another site is refused."""
    c = Client(server.url)
    body = json.dumps({"login": "admin", "password": ADMIN_PASSWORD})
    r = c.s.post(server.url + "/api/v1/session", data=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", r.text
    r = c.s.post(server.url + "/api/v1/session", data="login=admin&password=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = c.s.post(server.url + "/api/v1/session", data=body,
                 headers={"Content-Type": "application/json", "Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_origin", r.text
    r = c.s.post(server.url + "/api/v1/session", data=body, headers={"Content-Type": "application/json",
                                                                     "Origin": "null"})
    assert r.status_code == 403
    assert "vitrine_session" not in c.s.cookies
    r = c.s.post(server.url + "/api/v1/session", data=body,
                 headers={"Content-Type": "application/json; charset=utf-8", "Origin": server.url})
    assert r.status_code == 200, r.text
    assert Client(server.url).login().status_code == 200  # clients that send no Origin (CLI, scripts)


def test_failures_of_others_do_not_lock_out_a_known_client(server):
    """The lockout is no weapon: a browser that logged in before (device
    cookie) is not made to answer challenges for an attacker's failures."""
    admin = server.client()
    assert admin.login().status_code == 200
    cookie = next(c for c in admin.s.cookies if c.name == "vitrine_device")
    assert cookie.path == "/api/v1/session" and cookie.has_nonstandard_attr("HttpOnly")
    for _ in range(8):
        assert login_from(server, "127.0.0.2", {"login": "admin", "password": "guessing-wrong-1"}) in (401, 429)
    assert server.client().login().status_code == 429  # a new browser proves work
    assert admin.login().status_code == 200, "the known client gets in without a challenge"
    # the cookie is bound to its user: it does not help another login
    other = Client(server.url)
    other.s.cookies.set("vitrine_device", cookie.value, path="/api/v1/session")
    assert other.login().status_code == 200  # admin again, still fine
    forged = Client(server.url)
    forged.s.cookies.set("vitrine_device", cookie.value[:-4] + "0000", path="/api/v1/session")
    assert forged.login().status_code == 429


def test_a_flood_from_many_addresses_does_not_keep_the_admin_out(server):
    """Rotating addresses fill the password-hashing queue with free attempts;
    the admin, with the device cookie of an earlier login, still gets in."""
    admin = server.client()
    assert admin.login().status_code == 200
    stop = threading.Event()
    seen = collections.Counter()
    counter = itertools.count(1)

    def flood():
        deadline = time.time() + 40
        while not stop.is_set() and time.time() < deadline:
            i = next(counter)
            source = "127.0.%d.%d" % (2 + (i // 250) % 250, 1 + i % 250)
            try:
                status = login_from(server, source, {"login": "nobody%d" % i, "password": "flooding-wrong-1"})
            except OSError:
                status = "error"
            seen[status] += 1
            if status != 401:
                time.sleep(0.02)

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(300)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        results = []
        for _ in range(3):
            r = admin.login()
            results.append(r.status_code)
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    refused = sum(n for k, n in seen.items() if k in (429, 503))
    assert refused > 100, seen  # the flood was real and was held back
    assert results == [200, 200, 200], (results, seen)
