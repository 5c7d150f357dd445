"""Live chat routing under load: auto-assignment by the department's
dispatcher while visitors arrive and operators pick up at the same time
(threads of real requests), never a chat twice, never to an offline, away
or absent operator, never above capacity; the queue drains in FIFO order
when capacity frees; requeue when an operator drops for good; reassignment
after reassign_after_s without a reply; transfer seen at once by the
receiver."""
import collections
import threading
import time

import pytest

from conftest import wait_for
from test_chat import (Visitor, make_department, make_site, online, operator_client, operator_stream)

GRACE_S = 2  # VITRINE_CHAT_PRESENCE_GRACE_S of these tests


@pytest.fixture
def fast_server(make_server):
    return make_server(env={"VITRINE_CHAT_PRESENCE_GRACE_S": str(GRACE_S)}).start()


@pytest.fixture
def fast_admin(fast_server):
    c = fast_server.client()
    assert c.login().status_code == 200
    return c


def assigned_events(stream):
    return [e for e in stream.drain(0.5) if e["event"] == "assigned"]


def test_concurrent_auto_assignment_never_twice_nor_to_offline(fast_server, fast_admin):
    server, admin = fast_server, fast_admin
    site = make_site(admin)["site"]
    a = operator_client(server, admin, "opa", "Ann")
    b = operator_client(server, admin, "opb", "Ben")
    off = operator_client(server, admin, "opoff", "Offline")
    away = operator_client(server, admin, "opaway", "Away")
    gone = operator_client(server, admin, "opgone", "Gone")  # online but no stream: presence ends
    ops = [a, b, off, away, gone]
    dep = make_department(admin, site["id"], ops, auto_assign=True)
    assert admin.patch("/api/v1/chat/operators/" + a.user["id"], json={"capacity": 3}).status_code == 200
    assert admin.patch("/api/v1/chat/operators/" + b.user["id"], json={"capacity": 2}).status_code == 200
    for o in (off, away, gone):
        assert admin.patch("/api/v1/chat/operators/" + o.user["id"], json={"capacity": 50}).status_code == 200
    online(gone)
    online(off)
    online(off, "offline")
    online(away, "away")
    time.sleep(GRACE_S + 1)  # "gone" set online, never opened a stream
    streams = {o.user["id"]: operator_stream(server, o, after=0) for o in ops if o is not gone}
    online(a)
    online(b)

    chats, errors = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def visitors(n):
        for _ in range(n):
            try:
                v = Visitor(server, site["id"])
                c = v.start_chat(dep["id"])
                with lock:
                    chats.append((v, c))
            except AssertionError as e:
                errors.append(e)

    pickups = collections.Counter()

    def picker(op):
        # grabs whatever it sees queued, racing the dispatcher and the other
        while not stop.is_set():
            listed = op.get("/api/v1/chat/chats?state=queued&limit=50").json()["chats"]
            for c in listed:
                r = op.post("/api/v1/chat/chats/%s/pickup" % c["id"])
                assert r.status_code in (200, 409), r.text
                pickups[(op.user["login"], r.status_code, r.json().get("error", {}).get("code"))] += 1
            time.sleep(0.01)

    threads = [threading.Thread(target=visitors, args=(4,)) for _ in range(6)]
    threads += [threading.Thread(target=picker, args=(o,)) for o in (a, b)]
    for t in threads:
        t.start()
    for t in threads[:6]:
        t.join(120)
    time.sleep(1)
    stop.set()
    for t in threads[6:]:
        t.join(30)
    assert not errors, errors
    assert len(chats) == 24

    def state():
        out = {}
        for _, c in chats:
            full = admin.get("/api/v1/chat/chats/" + c["id"]).json()["chat"]
            out[c["id"]] = full
        return out

    now = state()
    active = collections.Counter(c["operator_id"] for c in now.values() if c["state"] == "active")
    assert active == {a.user["id"]: 3, b.user["id"]: 2}, (active, pickups)
    queued = sorted((c for c in now.values() if c["state"] == "queued"), key=lambda c: c["position"])
    assert [c["position"] for c in queued] == list(range(1, 20))
    # every assignment the operators were told of: each chat once, only to a and b
    told = collections.Counter()
    for uid, s in streams.items():
        for e in s.drain(1.0):
            if e["event"] == "assigned":
                told[e["data"]["chat"]["id"]] += 1
                assert uid in (a.user["id"], b.user["id"]), e
    assert all(n == 1 for n in told.values()), told
    assert set(told) == {cid for cid, c in now.items() if c["state"] == "active"}
    # each visitor saw at most one "assigned" in its chat's own sequence
    for v, c in chats[:8]:
        s = v.stream(c["id"], after=0)
        evs = s.drain(0.5)
        s.close()
        assert sum(1 for e in evs if e["event"] == "assigned") == (1 if now[c["id"]]["state"] == "active" else 0)
        ids = [int(e["id"]) for e in evs if "id" in e]
        assert ids == list(range(1, len(ids) + 1))

    # capacity frees at once on both sides: the queue drains from its head
    head = [c["id"] for c in queued[:5]]
    mine = [cid for cid, c in now.items() if c["operator_id"] == a.user["id"]]
    ender = [threading.Thread(target=lambda cid=cid: a.post("/api/v1/chat/chats/%s/end" % cid)) for cid in mine]
    for t in ender:
        t.start()
    for t in ender:
        t.join(30)
    wait_for(lambda: sum(1 for c in state().values() if c["state"] == "active" and
                         c["operator_id"] == a.user["id"]) == 3, timeout=10, what="a refilled")
    after = state()
    refilled = {cid for cid, c in after.items() if c["state"] == "active" and c["operator_id"] == a.user["id"]}
    assert refilled == set(head[:3])
    assert all(after[cid]["state"] == "queued" for cid in head[3:])
    assert all(c["operator_id"] not in (off.user["id"], away.user["id"], gone.user["id"]) for c in after.values())
    for s in streams.values():
        s.close()


def test_requeue_when_operator_drops_for_good_but_not_for_a_short_drop(fast_server, fast_admin):
    server, admin = fast_server, fast_admin
    site = make_site(admin)["site"]
    a = operator_client(server, admin, "opa", "Ann")
    b = operator_client(server, admin, "opb", "Ben")
    dep = make_department(admin, site["id"], [a], auto_assign=True)
    sa = operator_stream(server, a, after=0)
    online(a)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    assert chat["state"] == "active"
    vs = v.stream(chat["id"], after=0)
    assert vs.next(want="assigned")["data"] == {"operator": "Ann"}
    # a short drop (well within the grace): nothing happens
    last = sa.next(want="assigned")["id"]
    sa.drop()
    time.sleep(GRACE_S / 2)
    sa = operator_stream(server, a, after=None, last_event_id=last)
    time.sleep(GRACE_S + 1)
    assert admin.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]["operator_id"] == a.user["id"]
    assert not [e for e in vs.drain(0.3) if e["event"] in ("position", "assigned")]
    # b joins; a's stream goes away for good: the chat goes back to the queue's head and to b
    admin.put("/api/v1/chat/departments/%s/operators" % dep["id"], json={"user_ids": [a.user["id"], b.user["id"]]})
    sb = operator_stream(server, b, after=0)
    online(b)
    sa.drop()
    # the server notices a dropped stream when a keep-alive (every 15 s) fails to go out
    got = vs.next(want="assigned", timeout=2 * 15 + GRACE_S + 8)
    assert got["data"] == {"operator": "Ben"}
    assert sb.next(want="assigned")["data"]["chat"]["id"] == chat["id"]
    full = admin.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]
    assert full["state"] == "active" and full["operator_id"] == b.user["id"]
    sb.close()
    vs.close()


def test_reassign_after_seconds_without_a_reply(fast_server, fast_admin):
    server, admin = fast_server, fast_admin
    site = make_site(admin)["site"]
    a = operator_client(server, admin, "opa", "Ann")
    b = operator_client(server, admin, "opb", "Ben")
    dep = make_department(admin, site["id"], [a, b], auto_assign=True, reassign_after_s=2)
    sa, sb = operator_stream(server, a, after=0), operator_stream(server, b, after=0)
    online(a)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"])
    first = admin.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]["operator_id"]
    assert first == a.user["id"]
    online(b)
    # a answers: the clock stops; the visitor writes again and a stays silent
    assert a.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "hi"}).status_code == 201
    time.sleep(3)
    assert admin.get("/api/v1/chat/chats/" + chat["id"]).json()["chat"]["operator_id"] == a.user["id"]
    assert v.post("/chats/%s/messages" % chat["id"], json={"text": "anyone?"}).status_code == 201
    un = sa.next_where("unassigned", lambda d: d["chat_id"] == chat["id"], timeout=8)
    assert un["data"]["reason"] == "no_reply"
    assert sb.next(want="assigned")["data"]["chat"]["id"] == chat["id"]
    sa.close()
    sb.close()


def test_transfer_is_seen_at_once_by_the_receiver(server, admin):
    site = make_site(admin)["site"]
    a = operator_client(server, admin, "opa", "Ann")
    b = operator_client(server, admin, "opb", "Ben")
    c = operator_client(server, admin, "opc", "Cid")
    sales = make_department(admin, site["id"], [a, b], name="Sales")
    support = make_department(admin, site["id"], [c], name="Support")
    sa, sb, sc = (operator_stream(server, o, after=0) for o in (a, b, c))
    for o in (a, b, c):
        online(o)
    v = Visitor(server, site["id"])
    chat = v.start_chat(sales["id"])
    vs = v.stream(chat["id"], after=0)
    assert a.post("/api/v1/chat/chats/%s/pickup" % chat["id"]).status_code == 200
    # to an operator, with a note
    t0 = time.time()
    r = a.post("/api/v1/chat/chats/%s/transfer" % chat["id"],
               json={"operator_id": b.user["id"], "note": "<i>VIP</i>, wants a refund"})
    assert r.status_code == 200, r.text
    got = sb.next(want="transferred", timeout=2)
    assert time.time() - t0 < 2
    assert got["data"]["note"] == "<i>VIP</i>, wants a refund" and got["data"]["from"] == "Ann"
    assert got["data"]["chat"]["id"] == chat["id"] and got["data"]["chat"]["operator_id"] == b.user["id"]
    assert sa.next_where("unassigned", lambda d: d["chat_id"] == chat["id"])["data"]["reason"] == "transferred"
    assert vs.next(want="transferred")["data"] == {"to": "Ben"}
    # a no longer writes there; b does
    assert a.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "x"}).status_code == 403
    assert b.post("/api/v1/chat/chats/%s/messages" % chat["id"], json={"text": "Ben here"}).status_code == 201
    # to a department: its operators hear of it, the chat waits at its queue's head
    r = b.post("/api/v1/chat/chats/%s/transfer" % chat["id"], json={"department_id": support["id"], "note": "n2"})
    assert r.status_code == 200, r.text
    got = sc.next(want="transferred", timeout=2)
    assert got["data"]["note"] == "n2" and got["data"]["chat"]["state"] == "queued"
    assert vs.next(want="transferred")["data"] == {"to": "Support"}
    assert c.post("/api/v1/chat/chats/%s/pickup" % chat["id"]).status_code == 200
    # an offline operator is not a valid receiver
    online(a, "offline")
    r = c.post("/api/v1/chat/chats/%s/transfer" % chat["id"], json={"operator_id": a.user["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "operator_unavailable"
    for s in (sa, sb, sc, vs):
        s.close()


def test_assignment_while_an_operator_flips_online_and_offline(fast_server, fast_admin):
    """Visitors arrive and two operators pick up while a third goes online and
    offline again and again: in every chat's own sequence an "assigned" is
    always preceded by a return to the queue (never assigned twice), the
    flipping operator ends with nothing, nobody above capacity."""
    server, admin = fast_server, fast_admin
    site = make_site(admin)["site"]
    a = operator_client(server, admin, "opa", "Ann")
    b = operator_client(server, admin, "opb", "Ben")
    t = operator_client(server, admin, "opt", "Tim")
    dep = make_department(admin, site["id"], [a, b, t], auto_assign=True)
    streams = [operator_stream(server, o, after=0) for o in (a, b, t)]
    for o in (a, b):
        online(o)
    stop = threading.Event()
    chats, lock = [], threading.Lock()

    def flipper():
        n = 0
        while not stop.is_set():
            online(t, "online" if n % 2 == 0 else "offline")
            n += 1
            time.sleep(0.03)
        online(t, "offline")

    def visitors(n):
        for _ in range(n):
            v = Visitor(server, site["id"])
            c = v.start_chat(dep["id"])
            with lock:
                chats.append((v, c))

    def picker(op):
        while not stop.is_set():
            for c in op.get("/api/v1/chat/chats?state=queued&limit=50").json()["chats"]:
                r = op.post("/api/v1/chat/chats/%s/pickup" % c["id"])
                assert r.status_code in (200, 409), r.text
            time.sleep(0.02)

    threads = [threading.Thread(target=visitors, args=(5,)) for _ in range(5)]
    extra = [threading.Thread(target=flipper)] + [threading.Thread(target=picker, args=(o,)) for o in (a, b)]
    for th in threads + extra:
        th.start()
    for th in threads:
        th.join(120)
    time.sleep(0.5)
    stop.set()
    for th in extra:
        th.join(30)
    assert len(chats) == 25
    time.sleep(0.5)
    per_op = collections.Counter()
    for v, c in chats:
        full = admin.get("/api/v1/chat/chats/" + c["id"]).json()["chat"]
        if full["state"] == "active":
            per_op[full["operator_id"]] += 1
        s = v.stream(c["id"], after=0)
        evs = [e for e in s.drain(0.4) if "id" in e]
        s.close()
        assert [int(e["id"]) for e in evs] == list(range(1, len(evs) + 1))
        queued, holder = True, None  # a chat starts in the queue
        for e in evs:
            if e["event"] == "assigned":
                # assigned again without waiting only when the flipping
                # operator went offline: its chats are requeued and handed on
                # in the same transaction (no position in between)
                assert queued or holder == "Tim", "assigned twice without a requeue: %s" % [
                    (x["event"], x.get("data")) for x in evs]
                queued, holder = False, (e.get("data") or {}).get("operator")
            elif e["event"] == "position":
                queued = True
    assert per_op[t.user["id"]] == 0
    assert per_op[a.user["id"]] <= 3 and per_op[b.user["id"]] <= 3
    assert per_op[a.user["id"]] + per_op[b.user["id"]] == 6  # the queue drained into every free place
    for s in streams:
        s.close()
