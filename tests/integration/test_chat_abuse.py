"""Live chat against hostile visitors: huge messages, invalid UTF-8, NUL,
lone surrogates, wrong types, HTML and script in every field (stored and
returned as the same text, never interpreted), another visitor's chat;
floods of new visitors, chats, messages and marks (429 with Retry-After);
and bans of a visitor id or an IP address with their expiry."""
import json
import time

from test_chat import SITE_ORIGIN, Visitor, make_department, make_site, online, operator_client

HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_visitor_input_abuse(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1")
    dep = make_department(admin, site["id"], [op])
    v = Visitor(server, site["id"], page_url="javascript:" + HTML, title=HTML, referrer=HTML, browser_id=HTML[:0])
    chat = v.start_chat(dep["id"], text=HTML, name=HTML[:100])
    base = "/chats/%s/messages" % chat["id"]
    # huge: over the body limit, and over 4000 characters
    r = v.post(base, json={"text": "x" * 100000})
    assert r.status_code == 413
    r = v.post(base, json={"text": "x" * 4001})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_text"
    assert v.post(base, json={"text": "\U0001F600" * 4000}).status_code == 201  # 4000 characters, 16000 bytes
    # not text
    for body in ({"text": ""}, {"text": 5}, {"text": ["a"]}, {"text": None}, {}, {"text": "ok", "client_id": "x" * 65},
                 {"text": "ok", "client_id": "a b"}):
        r = v.post(base, json=body)
        assert r.status_code == 400, (body, r.text)
    # invalid UTF-8, NUL, a lone surrogate, not JSON at all
    for raw in (b'{"text":"\xff\xfe"}', b'{"text":"a\xc3"}', b'{"text":"\\u0000"}', b'{"text":"\\ud800"}',
                b'{"text":"a\xed\xa0\x80"}', b"\x00\x01", b"<html>", b'{"text":"a","text":"b"}'):
        r = v.post(base, data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
    # fields too long or of the wrong kind
    for fields in ({"page_url": "x" * 2001}, {"title": 7}, {"browser_id": "not a valid id!"}):
        r = v.post("/visitor", token=False, json=fields)
        assert r.status_code == 400, (fields, r.text)
    r = v.post("/chats", json={"department_id": dep["id"], "text": "x", "name": "n" * 101})
    assert r.status_code == 400
    r = v.post("/chats", json={"department_id": {"$ne": 1}, "text": "x"})
    assert r.status_code == 400
    # another visitor's chat is not there for this one
    w = Visitor(server, site["id"])
    assert w.post(base, json={"text": "mine?"}).status_code == 404
    assert w.stream(chat["id"], after=0).status == 404
    # everything came back as the same text, in JSON, never as markup
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"]).status_code == 200
    r = op.get("/api/v1/chat/chats/" + chat["id"])
    assert r.headers["Content-Type"].startswith("application/json")
    full = r.json()["chat"]
    assert full["messages"][0]["text"] == HTML and full["messages"][0]["name"] == HTML[:100]
    assert full["visitor_name"] == HTML[:100]
    assert full["visitor"]["title"] == HTML and full["visitor"]["page_url"] == "javascript:" + HTML
    assert full["messages"][1]["text"] == "\U0001F600" * 4000
    s = v.stream(chat["id"], after=0)
    first = s.next(want="message")
    s.close()
    assert first["data"]["text"] == HTML
    # a site name with markup stays text too; the server is fine afterwards
    assert admin.get("/api/v1/sites/" + site["id"]).json()["site"]["name"] == "Shop"
    assert server.client().s.get(server.url + "/healthz").status_code == 200


def test_ban_by_visitor_id_and_its_expiry(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    s = v.stream(chat["id"], after=0)
    expires = int(time.time()) + 3
    r = op.post("/api/v1/chat/bans", json={"visitor_id": v.id, "expires_at": expires, "reason": "spam <b>"})
    assert r.status_code == 201, r.text
    ban = r.json()["ban"]
    assert ban["active"] and ban["reason"] == "spam <b>" and ban["expires_at"] == expires
    assert s.next(want="ended")["data"] == {"by": "ban"}  # the open chat ends
    r = v.post("/chats", json={"department_id": dep["id"], "text": "again"})
    assert r.status_code == 403 and r.json()["error"] == {"code": "banned", "message": "chat unavailable"}
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN  # the widget can read why
    # another visitor is not affected
    assert Visitor(server, site["id"]).post("/chats", json={"department_id": dep["id"], "text": "hi"}).status_code == 201
    # after the expiry the visitor may chat again
    time.sleep(max(0, expires - time.time()) + 1.1)
    assert v.post("/chats", json={"department_id": dep["id"], "text": "again"}).status_code == 201
    listed = op.get("/api/v1/chat/bans").json()["bans"]
    assert [b["active"] for b in listed if b["id"] == ban["id"]] == [False]
    # a past expiry or both kinds at once are refused
    assert op.post("/api/v1/chat/bans", json={"visitor_id": v.id, "expires_at": 5}).status_code == 400
    assert op.post("/api/v1/chat/bans", json={"visitor_id": v.id, "ip": "127.0.0.1"}).status_code == 400


def test_ban_by_ip_until_removed(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1")
    dep = make_department(admin, site["id"], [op])
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    r = op.post("/api/v1/chat/bans", json={"ip": "127.0.0.1", "reason": "abuse"})
    assert r.status_code == 201, r.text
    ban = r.json()["ban"]
    # every visitor from that address: no new chat, no message
    fresh = Visitor(server, site["id"])
    r = fresh.post("/chats", json={"department_id": dep["id"], "text": "hi"})
    assert r.status_code == 403 and r.json()["error"]["message"] == "chat unavailable"
    r = v.post("/chats/%s/messages" % chat["id"], json={"text": "still here?"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "banned"
    assert op.post("/api/v1/chat/bans", json={"ip": "not-an-ip"}).status_code == 400
    assert op.delete("/api/v1/chat/bans/" + ban["id"]).status_code == 204
    assert fresh.post("/chats", json={"department_id": dep["id"], "text": "hi"}).status_code == 201
    entries = admin.get("/api/v1/audit").json()
    actions = json.dumps(entries)
    assert "chat.ban_created" in actions and "chat.ban_removed" in actions


def test_floods_of_visitors_chats_messages_and_marks_get_429(make_server):
    server = make_server(env={"VITRINE_CHAT_VISITORS_PER_IP": "4", "VITRINE_CHAT_CHATS_PER_IP": "3"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    site = make_site(admin)["site"]
    dep = make_department(admin, site["id"], [operator_client(server, admin, "op1")])
    visitors = [Visitor(server, site["id"], browser_id="browser-%012d" % i) for i in range(4)]
    r = visitors[0].post("/visitor", token=False, json={"page_url": "", "title": "", "referrer": ""})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
    assert 0 < int(r.headers["Retry-After"]) <= 600
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN  # the widget can read the refusal
    # a visitor the server knows (same browser id) is found again, not counted
    again = Visitor(server, site["id"], browser_id="browser-%012d" % 0)
    assert again.id == visitors[0].id
    # new chats from one address
    for v in visitors[:3]:
        v.start_chat(dep["id"])
    r = visitors[3].post("/chats", json={"department_id": dep["id"], "text": "one more"})
    assert r.status_code == 429 and "Retry-After" in r.headers
    # messages and marks per visitor
    chats = {c["visitor_id"]: c["id"] for c in admin.get("/api/v1/chat/chats?state=queued").json()["chats"]}
    cid = chats[visitors[0].id]
    codes = [visitors[0].post("/chats/%s/messages" % cid, json={"text": "m%d" % i}).status_code for i in range(61)]
    assert codes[:60] == [201] * 60 and codes[60] == 429
    codes = [visitors[0].post("/chats/%s/typing" % cid, json={"on": i % 2 == 0}).status_code for i in range(241)]
    assert codes[:240] == [204] * 240 and codes[240] == 429
    # the others are not held back by one visitor's flood
    assert visitors[1].post("/chats/%s/typing" % chats[visitors[1].id], json={"on": True}).status_code == 204
    assert visitors[1].post("/chats/%s/messages" % chats[visitors[1].id], json={"text": "hi"}).status_code == 201
