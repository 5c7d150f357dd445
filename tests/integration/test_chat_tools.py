"""Live chat, the operator's tools (issue 11): predefined texts, forms pushed
into a chat and answered by the visitor, redirecting the visitor's page.
Each test runs a real vitrine-server; the site's origin is a loopback
address that need not listen."""
import pytest

from test_remote import other_account_admin
from test_chat import SITE_ORIGIN, Visitor, make_department, make_site, online, operator_client, operator_stream

CONTACT_FORM = {
    "name": "Contact details",
    "intro": "So that we can call you back.",
    "fields": [
        {"name": "email", "label": "E-mail", "type": "email", "required": True},
        {"name": "phone", "label": "Phone", "type": "tel"},
        {"name": "size", "label": "Shoe size", "type": "number"},
        {"name": "topic", "label": "Topic", "type": "select", "options": ["Order", "Return"], "required": True},
        {"name": "details", "label": "Details", "type": "textarea"},
        {"name": "consent", "label": "You may call me", "type": "checkbox", "required": True},
    ],
}


@pytest.fixture
def active_chat(server, admin):
    """A site, a department with one online operator, a visitor's chat the
    operator has picked up, and the visitor's stream."""
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"], "Hi")
    r = op.post("/api/v1/chat/chats/%s/pickup" % chat["id"], json={})
    assert r.status_code == 200, r.text
    stream = v.stream(chat["id"])
    assert stream.status == 200
    yield dict(server=server, admin=admin, site=site, op=op, dep=dep, visitor=v, chat=chat, stream=stream)
    stream.close()


# --- predefined texts ----------------------------------------------------------

def test_predefined_texts_crud_and_checks(active_chat):
    admin, op, dep = active_chat["admin"], active_chat["op"], active_chat["dep"]
    r = admin.post("/api/v1/chat/canned", json={"shortcut": "hello", "title": "Greeting",
                                               "text": "Hello, how can I help?\nSee https://shop.example/help"})
    assert r.status_code == 201, r.text
    hello = r.json()["canned"]
    assert hello["department_id"] is None
    r = admin.post("/api/v1/chat/canned", json={"shortcut": "returns", "title": "Returns",
                                               "text": "30 days.", "department_id": dep["id"]})
    assert r.status_code == 201, r.text
    # the operator reads them (all, or those of a department) but may not write
    names = [c["shortcut"] for c in op.get("/api/v1/chat/canned").json()["canned"]]
    assert names == ["hello", "returns"]
    assert len(op.get("/api/v1/chat/canned", params={"department_id": dep["id"]}).json()["canned"]) == 2
    assert op.post("/api/v1/chat/canned", json={"shortcut": "x", "title": "x", "text": "x"}).status_code == 403
    # clear errors for every bad field
    bad = [
        ({"shortcut": "Hello", "title": "t", "text": "t"}, "shortcut"),
        ({"shortcut": "a b", "title": "t", "text": "t"}, "shortcut"),
        ({"shortcut": "x" * 41, "title": "t", "text": "t"}, "shortcut"),
        ({"shortcut": "ok", "title": "", "text": "t"}, "title"),
        ({"shortcut": "ok", "title": "a\nb", "text": "t"}, "title"),
        ({"shortcut": "ok", "title": "t", "text": "x" * 4001}, "text"),
        ({"shortcut": "ok", "title": "t", "text": "t", "department_id": "nope"}, "department_id"),
    ]
    for body, field in bad:
        r = admin.post("/api/v1/chat/canned", json=body)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["error"]["message"], r.text
    r = admin.post("/api/v1/chat/canned", json={"shortcut": "hello", "title": "Again", "text": "t"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "shortcut_taken"
    # update, then remove
    r = admin.patch("/api/v1/chat/canned/" + hello["id"], json={"text": "Hi there <b>!</b>"})
    assert r.status_code == 200 and r.json()["canned"]["text"] == "Hi there <b>!</b>"
    assert r.json()["canned"]["shortcut"] == "hello"
    assert admin.delete("/api/v1/chat/canned/" + hello["id"]).status_code == 204
    assert admin.delete("/api/v1/chat/canned/" + hello["id"]).status_code == 404
    assert admin.patch("/api/v1/chat/canned/nope", json={"text": "x"}).status_code == 404


def test_predefined_texts_and_forms_of_another_account_are_not_seen(server, admin):
    canned = admin.post("/api/v1/chat/canned", json={"shortcut": "mine", "title": "t", "text": "t"}).json()["canned"]
    form = admin.post("/api/v1/chat/forms", json=CONTACT_FORM).json()["form"]
    other = other_account_admin(server)
    assert other.get("/api/v1/chat/canned").json()["canned"] == []
    assert other.get("/api/v1/chat/forms").json()["forms"] == []
    assert other.delete("/api/v1/chat/canned/" + canned["id"]).status_code == 404
    assert other.patch("/api/v1/chat/forms/" + form["id"], json={"name": "x"}).status_code == 404
    assert other.delete("/api/v1/chat/forms/" + form["id"]).status_code == 404
    assert admin.get("/api/v1/chat/forms").json()["forms"][0]["name"] == "Contact details"


# --- forms -----------------------------------------------------------------------

def test_form_definitions_are_checked(admin):
    r = admin.post("/api/v1/chat/forms", json=CONTACT_FORM)
    assert r.status_code == 201, r.text
    form = r.json()["form"]
    assert [f["name"] for f in form["fields"]] == [f["name"] for f in CONTACT_FORM["fields"]]
    assert form["fields"][1]["required"] is False
    field = {"name": "a", "label": "A", "type": "text"}
    bad = [
        {"name": "F", "fields": []},
        {"name": "F", "fields": [field] * 21},
        {"name": "F", "fields": [dict(field, name="A-1")]},
        {"name": "F", "fields": [field, field]},
        {"name": "F", "fields": [dict(field, type="password")]},
        {"name": "F", "fields": [dict(field, label="")]},
        {"name": "F", "fields": [dict(field, required="yes")]},
        {"name": "F", "fields": [dict(field, type="select")]},
        {"name": "F", "fields": [dict(field, options=["x"])]},
        {"name": "F", "fields": [dict(field, type="select", options=[""])]},
        {"name": "", "fields": [field]},
        {"name": "F", "intro": "\u0001", "fields": [field]},
        {"name": "F", "fields": "text"},
    ]
    for body in bad:
        r = admin.post("/api/v1/chat/forms", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] == "invalid_field"
    r = admin.patch("/api/v1/chat/forms/" + form["id"], json={"name": "Renamed"})
    assert r.status_code == 200 and r.json()["form"]["name"] == "Renamed"
    assert len(r.json()["form"]["fields"]) == 6
    assert admin.get("/api/v1/chat/forms").json()["forms"][0]["id"] == form["id"]


def test_pushed_form_answered_once_and_seen_by_both(active_chat):
    admin, op, v, chat, stream = (active_chat[k] for k in ("admin", "op", "visitor", "chat", "stream"))
    form = admin.post("/api/v1/chat/forms", json=CONTACT_FORM).json()["form"]
    ops = operator_stream(active_chat["server"], op)
    r = op.post("/api/v1/chat/chats/%s/forms" % chat["id"], json={"form_id": form["id"]})
    assert r.status_code == 201, r.text
    pushed = r.json()["form"]
    ev = stream.next(want="form")
    assert ev["data"]["push_id"] == pushed["push_id"]
    assert ev["data"]["name"] == "Contact details" and len(ev["data"]["fields"]) == 6
    assert int(ev["id"]) == ev["data"]["seq"] == pushed["seq"]
    # editing the form later does not change what was asked
    admin.patch("/api/v1/chat/forms/" + form["id"], json={"fields": [{"name": "x", "label": "X", "type": "text"}]})
    path = "/chats/%s/forms/%s" % (chat["id"], pushed["push_id"])
    good = {"email": "ann@example.org", "phone": "+33 1 23 45 67", "size": "42.5", "topic": "Return",
            "details": "Line 1\nLine 2 <script>alert(1)</script>", "consent": True}
    bad = [
        (dict(good, email="not-an-address"), "E-mail"),
        (dict(good, email=""), "E-mail is required"),
        (dict(good, phone="call me"), "Phone"),
        (dict(good, size="forty"), "Shoe size"),
        (dict(good, topic="Other"), "Topic"),
        (dict(good, consent=False), "You may call me"),
        (dict(good, extra="x"), "no field"),
        (dict(good, email="a@b.c\r\nBcc: x@y.z"), "E-mail"),
        (dict(good, details="x" * 4001), "Details"),
    ]
    for answers, words in bad:
        r = v.post(path, json={"answers": answers})
        assert r.status_code == 400, (answers, r.text)
        assert words in r.json()["error"]["message"], r.text
    assert v.post(path, json={"answers": "all fine"}).status_code == 400
    raw = v.post(path, data=b'{"answers": {"email": "a@b.c", "details": "\xff\xfe"}}',
                 headers={"Content-Type": "application/json"})
    assert raw.status_code == 400, raw.text
    r = v.post(path, json={"answers": good})
    assert r.status_code == 201, r.text
    assert r.json()["form_answer"]["type"] == "form_answer"
    ev = stream.next(want="form_answer")
    values = {a["name"]: a["value"] for a in ev["data"]["answers"]}
    assert values == good
    assert [a["label"] for a in ev["data"]["answers"]][0] == "E-mail"
    op_ev = ops.next(want="form_answer")
    assert op_ev["data"]["chat_id"] == chat["id"] and op_ev["data"]["answers"] == ev["data"]["answers"]
    ops.close()
    # once only; the operator's view of the chat shows the form and its answers
    r = v.post(path, json={"answers": good})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_answered"
    items = op.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]["messages"]
    assert [m.get("type", "message") for m in items] == ["message", "form", "form_answer"]
    assert items[2]["answers"] == ev["data"]["answers"]
    # a push id of another chat, or none at all
    assert v.post("/chats/%s/forms/%s" % (chat["id"], "A" * 22), json={"answers": {}}).status_code == 404


def test_only_the_chats_operator_pushes_forms_and_only_into_an_open_chat(active_chat):
    server, admin, op, v, chat = (active_chat[k] for k in ("server", "admin", "op", "visitor", "chat"))
    form = admin.post("/api/v1/chat/forms", json=CONTACT_FORM).json()["form"]
    other = operator_client(server, admin, "bob")
    r = other.post("/api/v1/chat/chats/%s/forms" % chat["id"], json={"form_id": form["id"]})
    assert r.status_code == 403
    r = op.post("/api/v1/chat/chats/%s/forms" % chat["id"], json={"form_id": "nope"})
    assert r.status_code == 400
    pushed = op.post("/api/v1/chat/chats/%s/forms" % chat["id"], json={"form_id": form["id"]}).json()["form"]
    assert op.post("/api/v1/chat/chats/%s/end" % chat["id"], json={}).status_code == 200
    r = op.post("/api/v1/chat/chats/%s/forms" % chat["id"], json={"form_id": form["id"]})
    assert r.status_code == 409
    r = v.post("/chats/%s/forms/%s" % (chat["id"], pushed["push_id"]), json={"answers": {}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "chat_ended"
    # another visitor cannot answer it
    r = Visitor(server, active_chat["site"]["id"]).post("/chats/%s/forms/%s" % (chat["id"], pushed["push_id"]),
                                                       json={"answers": {}})
    assert r.status_code == 404


# --- redirect ------------------------------------------------------------------

def test_redirect_reaches_the_visitor_and_stays_on_the_site(active_chat):
    op, v, chat, stream = (active_chat[k] for k in ("op", "visitor", "chat", "stream"))
    url = SITE_ORIGIN + "/checkout?step=2#pay"
    r = op.post("/api/v1/chat/chats/%s/redirect" % chat["id"], json={"url": url})
    assert r.status_code == 201, r.text
    ev = stream.next(want="redirect")
    assert ev["data"]["url"] == url and int(ev["id"]) == r.json()["redirect"]["seq"]
    bad = ["javascript:alert(1)", "data:text/html,x", "//127.0.0.1:18123/x", "http://127.0.0.1:18124/elsewhere",
           "http://evil.example/", "http://127.0.0.1:18123@evil.example/", "http://127.0.0.1:18123/a b",
           "https://127.0.0.1:18123\\@evil.example/", "http://" + "a" * 2000, "", 42]
    for u in bad:
        r = op.post("/api/v1/chat/chats/%s/redirect" % chat["id"], json={"url": u})
        assert r.status_code == 400, (u, r.text)
    r = op.post("/api/v1/chat/chats/%s/redirect" % chat["id"], json={"url": "http://evil.example/"})
    assert r.json()["error"]["code"] == "url_not_on_site"
    items = op.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]["messages"]
    assert items[-1]["type"] == "redirect" and items[-1]["url"] == url
