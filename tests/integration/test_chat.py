"""Live chat, the server's part (issue 11): sites and the Origin check, the
visitor token, departments, the queue and its live positions, pickup,
auto-assignment, transfer, bans, the two SSE streams with resume, and
hostile visitor input. Each test runs a real vitrine-server; the "web
site" origins are loopback addresses that need not listen (the server
only compares the Origin header)."""
import http.client
import json
import queue
import socket
import threading
import time

import pytest

from conftest import wait_for

SITE_ORIGIN = "http://127.0.0.1:18123"  # the page the widget runs on (never contacted)
OTHER_ORIGIN = "http://127.0.0.1:18124"
PASSWORD = "a-long-password-1"


# --- helpers ---------------------------------------------------------------

def create_user(admin, login, role="operator", name=""):
    r = admin.post("/api/v1/users", json={"login": login, "password": PASSWORD, "role": role, "name": name})
    assert r.status_code == 201, r.text
    return r.json()["user"]


def operator_client(server, admin, login, name=""):
    user = create_user(admin, login, "operator", name)
    c = server.client()
    assert c.login(login, PASSWORD).status_code == 200
    c.user = user
    return c


def make_site(admin, domains=("127.0.0.1:18123",)):
    r = admin.post("/api/v1/sites", json={"name": "Shop", "domains": list(domains)})
    assert r.status_code == 201, r.text
    return r.json()


def make_department(admin, site_id, operators=(), **extra):
    body = dict(name=extra.pop("name", "Sales"), site_ids=[site_id], **extra)
    r = admin.post("/api/v1/chat/departments", json=body)
    assert r.status_code == 201, r.text
    dep = r.json()["department"]
    if operators:
        r = admin.put("/api/v1/chat/departments/%s/operators" % dep["id"],
                      json={"user_ids": [o.user["id"] for o in operators]})
        assert r.status_code == 200, r.text
    return dep


class Visitor:
    """The widget's side: Origin of the site's page, the visitor token."""

    def __init__(self, server, site_id, origin=SITE_ORIGIN, **fields):
        self.server, self.site, self.origin = server, site_id, origin
        self.c = server.client()
        r = self.post("/visitor", json=dict({"page_url": "http://shop/p", "title": "P", "referrer": ""}, **fields),
                      token=False)
        assert r.status_code == 200, r.text
        self.info = r.json()
        self.id = self.info["visitor_id"]
        self.token = self.info["visitor_token"]

    def headers(self, token=True):
        h = {"Origin": self.origin}
        if token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def post(self, path, token=True, **kw):
        return self.c.s.post(self.server.url + "/api/v1/widget/%s%s" % (self.site, path),
                             headers=dict(self.headers(token), **kw.pop("headers", {})), timeout=30, **kw)

    def start_chat(self, department_id, text="Hello", **extra):
        r = self.post("/chats", json=dict(department_id=department_id, text=text, **extra))
        assert r.status_code == 201, r.text
        return r.json()["chat"]

    def stream(self, chat_id, after=None, last_event_id=None):
        path = "/api/v1/widget/%s/chats/%s/events" % (self.site, chat_id)
        if after is not None:
            path += "?after=%d" % after
        h = self.headers()
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        return SSE(self.server, path, h)


class SSE:
    """A Server-Sent Events reader on its own connection and thread; drop()
    cuts the TCP connection as a network failure would."""

    def __init__(self, server, path, headers):
        self.events = queue.Queue()
        self.status = None
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = dict(self.resp.getheaders())
        self.closed = threading.Event()
        if self.status == 200:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.body = self.resp.read()

    def _read(self):
        ev = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if "event" in ev:
                        ev["data"] = json.loads(ev.get("data", "null"))
                        self.events.put(ev)
                    ev = {}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(":")
                    ev[k] = v[1:] if v.startswith(" ") else v
        except Exception:  # a dropped connection ends the read however it ends
            pass
        self.closed.set()

    def next(self, timeout=10, skip=("typing",), want=None):
        """The next event (of type want, when given), skipping types in skip."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("no %s event within %ss" % (want or "SSE", timeout))
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if want and ev["event"] != want:
                continue
            if not want and ev["event"] in skip:
                continue
            return ev

    def next_where(self, want, pred, timeout=10):
        """The next event of type want whose data satisfies pred."""
        deadline = time.time() + timeout
        while True:
            ev = self.next(timeout=max(0.01, deadline - time.time()), want=want)
            if pred(ev["data"]):
                return ev

    def drain(self, wait=0.3):
        out = []
        end = time.time() + wait
        while time.time() < end:
            try:
                out.append(self.events.get(timeout=max(0.01, end - time.time())))
            except queue.Empty:
                pass
        return out

    def drop(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.closed.wait(5)

    close = drop


def operator_stream(server, op, after=0, last_event_id=None):
    h = {"Cookie": "vitrine_session=" + op.s.cookies.get("vitrine_session")}
    if last_event_id is not None:
        h["Last-Event-ID"] = str(last_event_id)
    return SSE(server, "/api/v1/chat/stream" + ("?after=%d" % after if after is not None else ""), h)


def online(op, status="online"):
    r = op.put("/api/v1/chat/me/status", json={"status": status})
    assert r.status_code == 200, r.text


@pytest.fixture
def chat_setup(server, admin):
    site = make_site(admin)
    return server, admin, site["site"]


# --- sites and the Origin rule -----------------------------------------------

def test_site_gets_a_snippet_and_domains_are_checked(admin):
    r = admin.post("/api/v1/sites", json={"name": "<b>Shop</b>", "domains": ["shop.example", "127.0.0.1:18123"]})
    assert r.status_code == 201, r.text
    body = r.json()
    site = body["site"]
    assert site["name"] == "<b>Shop</b>"  # stored as text
    assert body["snippet"] == '<script src="%s/widget.js" data-site="%s" async></script>' % (admin.url, site["id"])
    assert "token_key" not in json.dumps(body)
    for bad in (["http://shop.example"], ["shop.example/path"], ["Shop.Example"], [], ["a:99999"], "x"):
        r = admin.post("/api/v1/sites", json={"name": "x", "domains": bad})
        assert r.status_code == 400, (bad, r.text)
    assert [s["id"] for s in admin.get("/api/v1/sites").json()["sites"]] == [site["id"]]
    r = admin.patch("/api/v1/sites/" + site["id"], json={"domains": ["shop.example"]})
    assert r.status_code == 200 and r.json()["site"]["domains"] == ["shop.example"]
    assert admin.delete("/api/v1/sites/" + site["id"]).status_code == 204
    assert admin.get("/api/v1/sites/" + site["id"]).status_code == 404


def test_domain_allowlist_allowed_other_and_missing_origin(chat_setup):
    server, admin, site = chat_setup
    url = server.url + "/api/v1/widget/%s/visitor" % site["id"]
    body = {"page_url": "http://x/", "title": "t", "referrer": ""}
    ok = server.client().s.post(url, json=body, headers={"Origin": SITE_ORIGIN})
    assert ok.status_code == 200, ok.text
    assert ok.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert ok.json()["visitor_token"].startswith("vv_")
    other = server.client().s.post(url, json=body, headers={"Origin": OTHER_ORIGIN})
    assert other.status_code == 403 and other.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in other.headers
    for headers in ({}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:18123.evil"},
                    {"Origin": "https://evil.example"}):
        r = server.client().s.post(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", headers
    # the preflight answers only for allowed origins
    pre = server.client().s.options(url, headers={"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    pre = server.client().s.options(url, headers={"Origin": OTHER_ORIGIN})
    assert pre.status_code == 403 and "Access-Control-Allow-Origin" not in pre.headers
    # a domain without a port allows every port of that host
    r = admin.patch("/api/v1/sites/" + site["id"], json={"domains": ["localhost"]})
    assert r.status_code == 200
    assert server.client().s.post(url, json=body, headers={"Origin": "http://localhost:1234"}).status_code == 200
    assert server.client().s.post(url, json=body, headers={"Origin": SITE_ORIGIN}).status_code == 403


def test_the_frames_own_reads_without_origin_need_sec_fetch_site_same_origin(chat_setup):
    """A browser sends no Origin on a same-origin GET (the chat frame reading
    its events from this server): Sec-Fetch-Site: same-origin stands for it,
    for reads only; cross-site or no such header stays refused."""
    server, admin, site = chat_setup
    dep = make_department(admin, site["id"])
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    url = server.url + "/api/v1/widget/%s/chats/%s/events" % (site["id"], chat["id"])
    auth = {"Authorization": "Bearer " + v.token}
    r = v.c.s.get(url, headers=dict(auth, **{"Sec-Fetch-Site": "same-origin"}), stream=True, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream"), r.text
    assert "Access-Control-Allow-Origin" not in r.headers
    r.close()
    for extra in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        r = v.c.s.get(url, headers=dict(auth, **extra), timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", extra
    # writes still need an allowed Origin
    r = v.c.s.post(url.replace("/events", "/messages"), json={"text": "x", "client_id": "c1"},
                   headers=dict(auth, **{"Sec-Fetch-Site": "same-origin"}), timeout=30)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"


def test_token_of_another_site_is_refused(chat_setup):
    server, admin, site = chat_setup
    other = make_site(admin, ("127.0.0.1:18123",))["site"]
    dep = make_department(admin, site["id"])
    make_department(admin, other["id"], name="Other")
    v = Visitor(server, site["id"])
    mine = v.start_chat(dep["id"])
    # the same visitor's token on the other site's path
    v2 = Visitor(server, other["id"])
    v2.token = v.token
    r = v2.post("/chats", json={"department_id": dep["id"], "text": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    # a forged token (right shape, wrong MAC), and none at all
    v.token = v.token[:-4] + ("0000" if not v.token.endswith("0000") else "1111")
    assert v.post("/chats/%s/messages" % mine["id"], json={"text": "x"}).status_code == 401
    r = server.client().s.post(server.url + "/api/v1/widget/%s/chats" % site["id"],
                               json={"department_id": dep["id"], "text": "x"}, headers={"Origin": SITE_ORIGIN})
    assert r.status_code == 401


def test_frame_page_sends_frame_ancestors_of_the_site(chat_setup):
    server, admin, site = chat_setup
    r = server.client().s.get(server.url + "/chat/" + site["id"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors http://127.0.0.1:18123 https://127.0.0.1:18123" in csp
    assert "X-Frame-Options" not in r.headers
    assert server.client().s.get(server.url + "/chat/aaaaaaaaaaaaaaaa").status_code == 404


# --- the queue, positions, pickup --------------------------------------------

def test_queue_order_and_live_position(chat_setup):
    server, admin, site = chat_setup
    op = operator_client(server, admin, "op1", "Olga")
    dep = make_department(admin, site["id"], [op])
    visitors = [Visitor(server, site["id"]) for _ in range(3)]
    chats = [v.start_chat(dep["id"], text="I am %d" % i) for i, v in enumerate(visitors)]
    assert [c["state"] for c in chats] == ["queued"] * 3
    assert [c["position"] for c in chats] == [1, 2, 3]
    streams = [v.stream(c["id"], after=0) for v, c in zip(visitors, chats)]
    for i, s in enumerate(streams):
        first = s.next()
        assert first["event"] == "message" and first["id"] == "1" and first["data"]["text"] == "I am %d" % i
        pos = s.next()
        assert pos["event"] == "position" and pos["data"] == {"position": i + 1} and pos["id"] == "2"
    # the operator's queue in FIFO order
    listed = op.get("/api/v1/chat/chats?state=queued").json()["chats"]
    assert [c["id"] for c in sorted(listed, key=lambda c: c["position"])] == [c["id"] for c in chats]
    # the first is picked up: the others move up, live
    r = op.post("/api/v1/chat/chats/%s/pickup" % chats[0]["id"])
    assert r.status_code == 200, r.text
    assert streams[0].next()["event"] == "assigned"
    assert streams[1].next(want="position")["data"] == {"position": 1}
    assert streams[2].next(want="position")["data"] == {"position": 2}
    # a second pickup of the same chat: 409 already_assigned
    op2 = operator_client(server, admin, "op2")
    admin.put("/api/v1/chat/departments/%s/operators" % dep["id"],
              json={"user_ids": [op.user["id"], op2.user["id"]]})
    r = op2.post("/api/v1/chat/chats/%s/pickup" % chats[0]["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_assigned"
    # the visitor who leaves the queue moves the last one up
    assert visitors[1].post("/chats/%s/end" % chats[1]["id"]).status_code == 200
    assert streams[1].next(want="ended")["data"] == {"by": "visitor"}
    assert streams[2].next(want="position")["data"] == {"position": 1}
    for s in streams:
        s.close()


def test_messages_both_ways_typing_read_and_idempotent_retry(chat_setup):
    server, admin, site = chat_setup
    op = operator_client(server, admin, "op1", "Olga")
    dep = make_department(admin, site["id"], [op])
    online(op)
    ops = operator_stream(server, op, after=0)
    assert ops.status == 200
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"], name="Vera")
    vs = v.stream(chat["id"])
    q = ops.next(want="queue")
    assert q["data"]["chat"]["id"] == chat["id"] and q["data"]["chat"]["position"] == 1
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"]).status_code == 200
    assert ops.next(want="assigned")["data"]["chat"]["id"] == chat["id"]
    assert vs.next(want="assigned")["data"] == {"operator": "Olga"}
    r = op.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "Hi Vera", "client_id": "c1"})
    assert r.status_code == 201
    seq = r.json()["seq"]
    again = op.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "Hi Vera", "client_id": "c1"})
    assert again.status_code == 201 and again.json()["seq"] == seq
    m = vs.next(want="message")
    assert m["data"]["from"] == "operator" and m["data"]["text"] == "Hi Vera" and m["data"]["seq"] == seq
    assert m["id"] == str(seq)
    r = v.post("/chats/%s/messages" % chat["id"], json={"text": "Thanks", "client_id": "v1"})
    assert r.status_code == 201
    got = ops.next_where("message", lambda d: d["from"] == "visitor")["data"]
    assert got["chat_id"] == chat["id"] and got["from"] == "visitor" and got["name"] == "Vera"
    # typing: no id, not stored
    assert v.post("/chats/%s/typing" % chat["id"], json={"on": True}).status_code == 204
    t = ops.next(want="typing", skip=())
    assert "id" not in t and t["data"] == {"chat_id": chat["id"], "from": "visitor", "on": True}
    assert op.post("/api/v1/chat/chats/%s/typing" % chat["id"], json={"on": True}).status_code == 204
    t = vs.next(want="typing", skip=())
    assert "id" not in t and t["data"] == {"from": "operator", "on": True}
    # read marks
    assert v.post("/chats/%s/read" % chat["id"], json={"seq": seq}).status_code == 204
    assert ops.next(want="read")["data"] == {"chat_id": chat["id"], "from": "visitor", "seq": seq}
    # the chat with its messages and visitor for the console
    full = op.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]
    assert [m["text"] for m in full["messages"]] == ["Hello", "Hi Vera", "Thanks"]
    assert full["visitor"]["page_url"] == "http://shop/p"
    # the end, seen by both
    assert op.post("/api/v1/chat/chats/%s/end" % chat["id"]).status_code == 200
    assert vs.next(want="ended")["data"] == {"by": "operator"}
    vs.closed.wait(5)
    assert vs.closed.is_set()  # the visitor's stream ends after "ended"
    assert ops.next(want="ended")["data"]["chat_id"] == chat["id"]
    # an ended chat with nothing left: 204 (EventSource stops)
    assert v.stream(chat["id"], last_event_id=999).status == 204
    ops.close()


def test_operator_routes_need_the_role_and_honour_the_operator_allowlist(chat_setup):
    server, admin, site = chat_setup
    op = operator_client(server, admin, "op1")
    editor = server.client()
    from test_auth import create_user  # the same helper the auth tests use
    create_user(admin, "ed1", "editor")
    assert editor.login("ed1", "a-long-password-1").status_code == 200
    assert editor.get("/api/v1/chat/chats").status_code == 403
    assert editor.put("/api/v1/chat/me/status", json={"status": "online"}).status_code == 403
    assert op.post("/api/v1/sites", json={"name": "x", "domains": ["a.example"]}).status_code == 403
    assert op.get("/api/v1/chat/chats").status_code == 200
    # CSRF applies to the operator's cookie writes
    r = op.s.put(server.url + "/api/v1/chat/me/status", json={"status": "online"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    # the account's operator allowlist, as for the console
    assert admin.put("/api/v1/account/allowlist", json={"operator": ["192.0.2.0/24"]}).status_code == 200
    r = op.get("/api/v1/chat/chats")
    assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
    assert operator_stream(server, op).status == 403
    assert admin.put("/api/v1/account/allowlist", json={"operator": []}).status_code == 200
    assert op.get("/api/v1/chat/chats").status_code == 200


def test_operator_sees_the_visitors_approximate_location(make_server, tmp_path):
    """geoip_database: a tiny MaxMind DB written by the test places loopback in Berlin."""
    from test_remote import write_mmdb
    mmdb = str(tmp_path / "city.mmdb")
    write_mmdb(mmdb, [("127.0.0.0/8", {"country": {"iso_code": "DE", "names": {"en": "Germany"}},
                                       "continent": {"code": "EU"}, "city": {"names": {"en": "Berlin"}}}),
                      ("10.0.0.0/8", {"country": {"iso_code": "FR", "names": {"en": "Fr\u0007ance"}},
                                      "continent": {"code": "EU"}})])
    s = make_server(env={"VITRINE_GEOIP_DATABASE": mmdb}).start()
    admin = s.client()
    assert admin.login().status_code == 200
    site = make_site(admin)["site"]
    op = operator_client(s, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(s, site["id"])
    chat = v.start_chat(dep["id"], "Hello")
    visitor = op.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]["visitor"]
    assert visitor["location"] == {"country": "DE", "country_name": "Germany", "city": "Berlin", "continent": "EU"}
