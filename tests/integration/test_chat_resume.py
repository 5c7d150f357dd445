"""Live chat reconnects: a visitor's or an operator's stream whose TCP
connection is cut mid-stream and resumed within 15 s (Last-Event-ID, or
?after=) gets every message exactly once and in order, while the other side
keeps writing; the operator's short drop changes nothing for the visitor."""
import threading
import time

from test_chat import Visitor, make_department, make_site, online, operator_client, operator_stream


def test_visitor_stream_dropped_mid_stream_resumes_without_gap_or_double(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1", "Olga")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"]).status_code == 200
    total = 60
    sent = []

    def writer():
        for i in range(total):
            r = op.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "m%d" % i, "client_id": "k%d" % i})
            assert r.status_code == 201
            sent.append(r.json()["seq"])
            time.sleep(0.02)

    t = threading.Thread(target=writer)
    t.start()
    got, last = [], 0
    s = v.stream(chat["id"], after=0)
    drops = 0
    deadline = time.time() + 60
    while len(got) < total and time.time() < deadline:
        ev = s.next(timeout=20)
        assert int(ev["id"]) > last, "a duplicate or out of order id"
        last = int(ev["id"])
        if ev["event"] == "message" and ev["data"]["from"] == "operator":
            got.append(ev["data"]["text"])
            if len(got) in (10, 30) and drops < 2:
                s.drop()  # a network failure mid-stream
                drops += 1
                time.sleep(1.5 if drops == 1 else 3)  # the other side keeps writing meanwhile
                hdr = {"last_event_id": last} if drops == 1 else {"after": last}
                s = v.stream(chat["id"], **hdr)
                assert s.status == 200
    t.join(30)
    s.close()
    assert drops == 2
    assert got == ["m%d" % i for i in range(total)]
    assert sent == sorted(sent) and len(set(sent)) == total


def test_operator_stream_resumes_and_visitor_sees_nothing_of_the_drop(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1", "Olga")
    dep = make_department(admin, site["id"], [op], auto_assign=True)
    so = operator_stream(server, op, after=0)
    online(op)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    vs = v.stream(chat["id"], after=0)
    assert vs.next(want="assigned")["data"] == {"operator": "Olga"}
    last = int(so.next(want="assigned")["id"])
    so.drop()
    # the visitor writes while the operator is away for 12 s (under the 15 s of the spec)
    for i in range(5):
        assert v.post("/chats/%s/messages" % chat["id"], json={"text": "v%d" % i, "client_id": "c%d" % i}).status_code == 201
        time.sleep(2.4)
    so = operator_stream(server, op, after=None, last_event_id=last)
    texts, ids = [], []
    while len(texts) < 5:
        ev = so.next(want="message", timeout=10)
        ids.append(int(ev["id"]))
        texts.append(ev["data"]["text"])
    assert texts == ["v%d" % i for i in range(5)]
    assert ids == sorted(set(ids)) and ids[0] > last
    assert not [e for e in so.drain(0.5) if e["event"] == "message"]  # nothing twice
    # the visitor saw nothing of it: no requeue, no position, no new assignment
    assert op.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "back"}).status_code == 201
    seen = [e["event"] for e in vs.drain(1.0)]
    assert "position" not in seen and "assigned" not in seen and seen.count("message") == 6
    so.close()
    vs.close()


def test_a_long_history_larger_than_the_stream_buffer_arrives_whole(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"]).status_code in (200, 409)  # 409: auto-assigned
    big = "\u00e9" * 3990  # 7980 bytes of UTF-8 each
    for i in range(160):  # about 1.3 MB of events: more than the stream's 1 MiB buffer
        r = op.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "%03d%s" % (i, big)})
        assert r.status_code == 201
    s = v.stream(chat["id"], after=0)
    texts = []
    while len(texts) < 161:
        ev = s.next(want="message", timeout=20)
        texts.append(ev["data"]["text"])
    s.close()
    assert texts[0] == "Hello" and [t[:3] for t in texts[1:]] == ["%03d" % i for i in range(160)]
