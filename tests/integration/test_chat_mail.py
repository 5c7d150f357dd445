"""Live chat mail (issue 11): the transcript a visitor asks for and the
messages visitors leave while no operator is online, delivered to a real
SMTP server on loopback (Debian's python3-aiosmtpd) and read back as a mail
client would (the email package). Each test runs a real vitrine-server."""
import email
import email.policy
import os
import queue
import subprocess

import pytest
from aiosmtpd.controller import Controller

from conftest import ADMIN_PASSWORD, SERVER_BIN, free_port, wait_for
from test_chat import Visitor, make_department, make_site, online, operator_client, operator_stream

SITE_NAME = "Café Zoë <Shop>"
EVIL = "<script>alert(1)</script> & \"quotes\""


class Inbox:
    """aiosmtpd's handler: every mail it accepts, as (envelope, parsed message)."""

    def __init__(self):
        self.mails = queue.Queue()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.mails.put((envelope.mail_from, list(envelope.rcpt_tos), msg, envelope.original_content))
        return "250 OK"

    def next(self, timeout=15):
        return self.mails.get(timeout=timeout)


@pytest.fixture
def smtp():
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    inbox.port = ctl.port
    yield inbox
    ctl.stop()


def mail_server(make_server, port):
    return make_server(env={"VITRINE_SMTP_URL": "smtp://127.0.0.1:%d" % port,
                            "VITRINE_SMTP_FROM": "chat@shop.example"}).start()


def admin_of(server):
    c = server.client()
    c.login(password=ADMIN_PASSWORD)
    return c


def shop(server, admin, **dep):
    r = admin.post("/api/v1/sites", json={"name": SITE_NAME, "domains": ["127.0.0.1:18123"]})
    assert r.status_code == 201, r.text
    site = r.json()["site"]
    op = operator_client(server, admin, "ann", "Ann Op")
    return site, op, make_department(admin, site["id"], [op], **dep)


def test_transcript_mailed_as_text_with_every_item(make_server, smtp):
    server = mail_server(make_server, smtp.port)
    admin = admin_of(server)
    site, op, dep = shop(server, admin)
    online(op)
    v = Visitor(server, site["id"])
    assert v.info["mail"] is True
    chat = v.start_chat(dep["id"], EVIL, name="Zoë")
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"], json={}).status_code == 200
    long_line = "long " * 400  # 2,000 characters on one line
    assert op.post("/api/v1/chat/chats/%s/messages" % chat["id"],
                   json={"text": "Line one\nLine two\n.\n" + long_line}).status_code == 201
    form = admin.post("/api/v1/chat/forms", json={"name": "Contact", "fields": [
        {"name": "email", "label": "E-mail", "type": "email", "required": True},
        {"name": "ok", "label": "Call me", "type": "checkbox"}]}).json()["form"]
    pushed = op.post("/api/v1/chat/chats/%s/forms" % chat["id"], json={"form_id": form["id"]}).json()["form"]
    r = v.post("/chats/%s/forms/%s" % (chat["id"], pushed["push_id"]),
               json={"answers": {"email": "zoe@example.org", "ok": True}})
    assert r.status_code == 201, r.text

    r = v.post("/chats/%s/transcript" % chat["id"], json={"email": "zoe@example.org", "tz_offset_min": 90})
    assert r.status_code == 202, r.text
    mail_from, rcpts, msg, raw = smtp.next()
    assert mail_from == "chat@shop.example" and rcpts == ["zoe@example.org"]
    assert msg["To"] == "zoe@example.org" and msg["From"] == "chat@shop.example"
    assert msg["Subject"] == "Your chat with " + SITE_NAME  # RFC 2047, decoded by the client
    assert msg["Message-ID"] and msg["Date"] and msg.get_content_type() == "text/plain"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78  # base64 lines, whatever was typed
    body = msg.get_content()
    assert "Zoë: " + EVIL in body  # as typed: a text mail, nothing escaped or interpreted
    assert "Ann Op: Line one\n    Line two\n    .\n    " + long_line.strip() in body
    assert 'sent the form "Contact"' in body and "E-mail: zoe@example.org" in body and "Call me: yes" in body
    assert "UTC+01:30" in body

    # bad addresses, header injection, other chats, the per-chat cap
    for bad in ["", "not-an-address", "a@b.c\r\nBcc: x@y.z", "a b@c.d", "<a@b.c>", "a@b.c,d@e.f", 42]:
        r = v.post("/chats/%s/transcript" % chat["id"], json={"email": bad})
        assert r.status_code == 400 and "email" in r.json()["error"]["message"], (bad, r.text)
    r = v.post("/chats/%s/transcript" % chat["id"], json={"email": "z@example.org", "tz_offset_min": 5000})
    assert r.status_code == 400
    other = Visitor(server, site["id"])
    r = other.post("/chats/%s/transcript" % chat["id"], json={"email": "x@example.org"})
    assert r.status_code == 404
    for _ in range(2):
        assert v.post("/chats/%s/transcript" % chat["id"], json={"email": "zoe@example.org"}).status_code == 202
    r = v.post("/chats/%s/transcript" % chat["id"], json={"email": "zoe@example.org"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_transcripts"
    # an ended chat can still be mailed (the visitor asks after the end)
    assert v.post("/chats/%s/end" % chat["id"], json={}).status_code == 200
    chat2 = v.start_chat(dep["id"], "again")
    assert v.post("/chats/%s/end" % chat2["id"], json={}).status_code == 200
    assert v.post("/chats/%s/transcript" % chat2["id"], json={"email": "zoe@example.org"}).status_code == 202
    bodies = [smtp.next()[2].get_content() for _ in range(3)]
    last = [b for b in bodies if "again" in b]
    assert len(last) == 1 and "The chat ended." in last[0], bodies


def test_without_smtp_the_widget_is_told_and_transcripts_are_refused(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(server, site["id"])
    assert v.info["mail"] is False
    chat = v.start_chat(dep["id"], "hi")
    r = v.post("/chats/%s/transcript" % chat["id"], json={"email": "a@example.org"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "mail_not_configured"
    # offline messages are still kept for the console
    r = v.post("/offline-messages", json={"department_id": dep["id"], "email": "a@example.org", "text": "call me"})
    assert r.status_code == 201 and r.json()["offline_message"]["mailed"] is False
    msgs = op.get("/api/v1/chat/offline-messages").json()["offline_messages"]
    assert [m["text"] for m in msgs] == ["call me"] and msgs[0]["mail"] == "none"
    # mail-making routes are limited per address: 10 an hour
    for i in range(9):
        r = v.post("/offline-messages", json={"department_id": dep["id"], "email": "a@example.org", "text": "m%d" % i})
        assert r.status_code == 201, r.text
    r = v.post("/offline-messages", json={"department_id": dep["id"], "email": "a@example.org", "text": "one more"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests" and r.headers["Retry-After"]


def test_offline_message_mailed_to_the_department_and_listed(make_server, smtp):
    server = mail_server(make_server, smtp.port)
    admin = admin_of(server)
    site, op, dep = shop(server, admin, offline_email="sales@shop.example")
    assert dep["offline_email"] == "sales@shop.example"
    r = admin.patch("/api/v1/chat/departments/" + dep["id"], json={"offline_email": "not an address"})
    assert r.status_code == 400 and "offline_email" in r.json()["error"]["message"]
    ops = operator_stream(server, op)
    v = Visitor(server, site["id"])
    assert [d["online"] for d in v.info["departments"]] == [False]  # nobody online: the widget offers the form
    body = {"department_id": dep["id"], "name": "Zoë <b>Z</b>", "email": "zoe@example.org", "text": EVIL + "\nThanks"}
    r = v.post("/offline-messages", json=body)
    assert r.status_code == 201 and r.json()["offline_message"]["mailed"] is True, r.text
    mail_from, rcpts, msg, _ = smtp.next()
    assert rcpts == ["sales@shop.example"] and msg["Reply-To"] == "zoe@example.org"
    assert msg["Subject"] == "Chat message from Zoë <b>Z</b> (%s)" % SITE_NAME
    text = msg.get_content()
    assert EVIL + "\nThanks" in text and "Page: http://shop/p" in text and "Name: Zoë <b>Z</b>" in text
    ev = ops.next(want="offline_message")
    assert ev["data"]["message"]["text"] == EVIL + "\nThanks"
    ops.close()
    # listed for the department's operator, as text; marked handled
    wait_for(lambda: op.get("/api/v1/chat/offline-messages").json()["offline_messages"][0]["mail"] == "sent",
             what="the mail recorded as sent")
    m = op.get("/api/v1/chat/offline-messages").json()["offline_messages"][0]
    assert m["name"] == "Zoë <b>Z</b>" and m["email"] == "zoe@example.org" and m["department"] == "Sales"
    r = op.patch("/api/v1/chat/offline-messages/" + m["id"], json={"handled": True})
    assert r.status_code == 200 and r.json()["offline_message"]["handled_by"] == op.user["id"]
    assert op.get("/api/v1/chat/offline-messages?handled=0").json()["offline_messages"] == []
    assert len(op.get("/api/v1/chat/offline-messages?handled=1").json()["offline_messages"]) == 1
    assert op.patch("/api/v1/chat/offline-messages/" + m["id"], json={"handled": "yes"}).status_code == 400
    # an operator of another department sees none of it
    other = operator_client(server, admin, "bob", "Bob")
    make_department(admin, site["id"], [other], name="Support")
    assert other.get("/api/v1/chat/offline-messages").json()["offline_messages"] == []
    assert other.patch("/api/v1/chat/offline-messages/" + m["id"], json={"handled": False}).status_code == 404
    # every field is checked
    for field, value, words in [("email", "zoe@example.org\r\nBcc: x@y.z", "email"), ("text", "", "text"),
                                ("text", "x" * 4001, "4000"), ("name", "n" * 101, "name"),
                                ("department_id", "A" * 22, "department_id")]:
        r = v.post("/offline-messages", json=dict(body, **{field: value}))
        assert r.status_code == 400 and words in r.json()["error"]["message"], (field, r.text)


def test_smtp_down_keeps_the_mail_queued_and_logs_no_address(make_server):
    port = free_port()  # a port nobody listens on
    server = mail_server(make_server, port)
    admin = admin_of(server)
    site, op, dep = shop(server, admin, offline_email="sales@shop.example")
    v = Visitor(server, site["id"])
    r = v.post("/offline-messages", json={"department_id": dep["id"], "email": "zoe@example.org", "text": "hello"})
    assert r.status_code == 201, r.text
    wait_for(lambda: "mail not sent yet" in server.read_log(), what="the failed try in the log")
    log = server.read_log()
    assert "zoe@example.org" not in log and "sales@shop.example" not in log
    assert op.get("/api/v1/chat/offline-messages").json()["offline_messages"][0]["mail"] == "queued"


def test_smtp_settings_are_checked_at_start(tmp_path):
    data = str(tmp_path / "data")
    env = dict(os.environ, VITRINE_ADMIN_PASSWORD=ADMIN_PASSWORD)
    subprocess.run([SERVER_BIN, "--data", data, "init", "--admin", "admin"], env=env, check=True, capture_output=True)
    for extra, words in [({"VITRINE_SMTP_URL": "http://127.0.0.1:25", "VITRINE_SMTP_FROM": "a@b.cd"}, "smtp_url"),
                         ({"VITRINE_SMTP_URL": "smtp://127.0.0.1:25"}, "smtp_from"),
                         ({"VITRINE_SMTP_URL": "smtp://127.0.0.1:25", "VITRINE_SMTP_FROM": "a@b.cd",
                           "VITRINE_SMTP_TLS": "maybe"}, "smtp_tls")]:
        out = subprocess.run([SERVER_BIN, "--data", data, "--listen", "127.0.0.1:%d" % free_port()],
                             env=dict(env, **extra), capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and words in out.stderr, (extra, out.returncode, out.stderr)
