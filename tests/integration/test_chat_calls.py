"""Live chat calls (issue 11): the WebRTC signalling through the chat, its
checks, the ICE servers with TURN REST credentials (what coturn's
use-auth-secret verifies), the department's and the operator's switches,
and the calls that end with the chat, a transfer or a requeue. The media
themselves are tested with real browsers and aiortc (tests/browser)."""
import base64
import hashlib
import hmac
import os
import subprocess
import time

import pytest

from conftest import ADMIN_PASSWORD, SERVER_BIN, free_port
from test_chat import Visitor, make_department, make_site, online, operator_client, operator_stream

SECRET = "turn-shared-secret-for-tests"
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@pytest.fixture
def call_chat(make_server):
    s = make_server(env={"VITRINE_WEBRTC_STUN_URLS": "stun:127.0.0.1:3478",
                         "VITRINE_WEBRTC_TURN_URLS": "turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp",
                         "VITRINE_WEBRTC_TURN_SECRET": SECRET, "VITRINE_WEBRTC_TURN_TTL_SECONDS": "600"}).start()
    admin = s.client()
    assert admin.login().status_code == 200
    site = make_site(admin)["site"]
    op = operator_client(s, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    assert dep["calls"] == "video"
    online(op)
    v = Visitor(s, site["id"])
    assert v.info["departments"][0]["calls"] == "video"
    chat = v.start_chat(dep["id"], "Hi")
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"], json={}).status_code == 200
    stream = v.stream(chat["id"])
    ops = operator_stream(s, op)
    yield dict(server=s, admin=admin, site=site, op=op, dep=dep, visitor=v, chat=chat, stream=stream, ops=ops)
    stream.close()
    ops.close()


def op_call(c, **body):
    return c["op"].post("/api/v1/chat/chats/%s/call" % c["chat"]["id"], json=body)


def v_call(c, **body):
    return c["visitor"].post("/chats/%s/call" % c["chat"]["id"], json=body)


def test_a_call_signalled_both_ways_with_turn_credentials(call_chat):
    c = call_chat
    r = op_call(c, action="invite", call_id="call-0001", media="video")
    assert r.status_code == 201, r.text
    ice = r.json()
    assert ice["ice_transport_policy"] == "all"
    stun, turn = ice["ice_servers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert turn["urls"] == ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]
    expiry, who = turn["username"].split(":")
    assert who == c["chat"]["id"] and abs(int(expiry) - (time.time() + 600)) < 30
    want = base64.b64encode(hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == want  # what coturn's use-auth-secret computes
    ev = c["stream"].next(want="call")
    assert ev["data"] == {"action": "invite", "call_id": "call-0001", "media": "video", "from": "operator"}
    # the visitor accepts and gets the ICE servers too; the operator answers the offer... the other way round
    r = v_call(c, action="accept", call_id="call-0001")
    assert r.status_code == 200 and r.json()["ice_servers"][1]["credential"], r.text
    assert c["ops"].next(want="call")["data"]["action"] == "invite"  # its own, which the console ignores
    ev = c["ops"].next(want="call")["data"]
    assert ev["action"] == "accept" and ev["from"] == "visitor" and ev["chat_id"] == c["chat"]["id"]
    assert op_call(c, action="offer", call_id="call-0001", sdp=SDP).status_code == 200
    ev = c["stream"].next_where("call", lambda d: d["action"] == "offer")
    assert ev["data"]["sdp"] == SDP
    assert v_call(c, action="answer", call_id="call-0001", sdp=SDP + "a=x\r\n").status_code == 200
    assert c["ops"].next_where("call", lambda d: d["action"] == "answer")["data"]["sdp"] == SDP + "a=x\r\n"
    cand = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    assert v_call(c, action="candidate", call_id="call-0001", candidate=cand).status_code == 200
    assert v_call(c, action="candidate", call_id="call-0001", candidate=None).status_code == 200
    assert c["ops"].next_where("call", lambda d: d["action"] == "candidate")["data"]["candidate"] == cand
    assert op_call(c, action="candidate", call_id="call-0001", candidate=cand).status_code == 200
    ev = c["stream"].next_where("call", lambda d: d["action"] == "candidate" and d["from"] == "operator")
    assert ev["data"]["candidate"] == cand
    # hang up; a second call may start
    assert v_call(c, action="hangup", call_id="call-0001").status_code == 200
    assert c["ops"].next_where("call", lambda d: d["action"] == "hangup")["data"]["from"] == "visitor"
    r = v_call(c, action="offer", call_id="call-0001", sdp=SDP)
    assert r.status_code == 409 and r.json()["error"]["code"] == "call_state"
    assert v_call(c, action="invite", call_id="call-0002", media="audio").status_code == 201
    assert op_call(c, action="decline", call_id="call-0002").status_code == 200
    # the calls are not messages: the conversation shows none of them
    items = c["op"].get("/api/v1/chat/chats/" + c["chat"]["id"]).json()["chat"]
    assert [m.get("type", "message") for m in items["messages"]] == ["message"]
    assert items["calls"] == "video" and items["calls_off"] is False


def test_signalling_checks_every_field_and_step(call_chat):
    c = call_chat
    bad = [({"action": "ring"}, "action"), ({"action": "invite", "call_id": "short", "media": "video"}, "call_id"),
           ({"action": "invite", "call_id": "call <b>0001</b>", "media": "video"}, "call_id"),
           ({"action": "invite", "call_id": "call-0001", "media": "screen"}, "media"),
           ({"action": "offer", "call_id": "call-0001", "sdp": "<html>"}, "sdp"),
           ({"action": "offer", "call_id": "call-0001", "sdp": "v=0" + "x" * 100000}, "sdp"),
           ({"action": "candidate", "call_id": "call-0001", "candidate": {"candidate": 5}}, "candidate"),
           ({"action": "candidate", "call_id": "call-0001", "candidate": {"candidate": "c", "sdpMLineIndex": -1}},
            "candidate")]
    for body, words in bad:
        r = op_call(c, **body)
        assert r.status_code == 400 and words in r.json()["error"]["message"], (body, r.text)
    assert op_call(c, action="offer", call_id="nosuchcall", sdp=SDP).status_code == 404
    assert op_call(c, action="invite", call_id="call-0001", media="video").status_code == 201
    for who, body, code in [(v_call, {"action": "offer", "sdp": SDP}, "call_state"),  # not accepted yet
                            (op_call, {"action": "accept"}, "call_state"),  # the caller does not accept
                            (v_call, {"action": "invite", "media": "audio"}, "call_in_progress")]:
        r = who(c, call_id="call-0001" if body["action"] != "invite" else "call-0002", **body)
        assert r.status_code == 409 and r.json()["error"]["code"] == code, (body, r.text)
    assert v_call(c, action="accept", call_id="call-0001").status_code == 200
    r = v_call(c, action="offer", call_id="call-0001", sdp=SDP)  # the one called answers, never offers
    assert r.status_code == 409
    # only the chat's operator signals; another visitor does not reach the chat
    other = operator_client(c["server"], c["admin"], "bob", "Bob")
    r = other.post("/api/v1/chat/chats/%s/call" % c["chat"]["id"], json={"action": "hangup", "call_id": "call-0001"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_chat"
    r = Visitor(c["server"], c["site"]["id"]).post("/chats/%s/call" % c["chat"]["id"],
                                                   json={"action": "hangup", "call_id": "call-0001"})
    assert r.status_code == 404


def test_switches_of_the_department_and_the_operator(call_chat):
    c = call_chat
    # the operator switches calls off in this chat: the call in progress ends, the visitor is told
    assert v_call(c, action="invite", call_id="call-0001", media="video").status_code == 201
    r = v_call(c, action="disable")
    assert r.status_code == 403 and r.json()["error"]["code"] == "operator_only"
    r = op_call(c, action="disable")
    assert r.status_code == 200 and r.json()["calls_off"] is True
    assert c["stream"].next_where("call", lambda d: d["action"] == "hangup")["data"]["reason"] == "disabled"
    assert c["stream"].next_where("call", lambda d: d["action"] == "disabled")["data"]["from"] == "operator"
    r = v_call(c, action="invite", call_id="call-0002", media="audio")
    assert r.status_code == 403 and r.json()["error"]["code"] == "calls_disabled"
    assert op_call(c, action="enable").status_code == 200
    assert c["stream"].next_where("call", lambda d: d["action"] == "enabled")
    # the department takes audio only, then nothing
    admin, dep = c["admin"], c["dep"]
    assert admin.patch("/api/v1/chat/departments/" + dep["id"], json={"calls": "audio"}).json()["department"]["calls"] == "audio"
    r = v_call(c, action="invite", call_id="call-0003", media="video")
    assert r.status_code == 403 and "audio" in r.json()["error"]["message"]
    assert v_call(c, action="invite", call_id="call-0003", media="audio").status_code == 201
    assert v_call(c, action="hangup", call_id="call-0003").status_code == 200
    assert admin.patch("/api/v1/chat/departments/" + dep["id"], json={"calls": "off"}).status_code == 200
    assert v_call(c, action="invite", call_id="call-0004", media="audio").status_code == 403
    r = admin.patch("/api/v1/chat/departments/" + dep["id"], json={"calls": "yes"})
    assert r.status_code == 400 and "calls" in r.json()["error"]["message"]


def test_the_call_ends_with_a_transfer_and_with_the_chat(call_chat):
    c = call_chat
    other = operator_client(c["server"], c["admin"], "bob", "Bob")
    assert c["admin"].put("/api/v1/chat/departments/%s/operators" % c["dep"]["id"],
                          json={"user_ids": [c["op"].user["id"], other.user["id"]]}).status_code == 200
    online(other)
    bob = operator_stream(c["server"], other)
    assert op_call(c, action="invite", call_id="call-0001", media="video").status_code == 201
    r = c["op"].post("/api/v1/chat/chats/%s/transfer" % c["chat"]["id"], json={"operator_id": other.user["id"]})
    assert r.status_code == 200, r.text
    assert c["stream"].next_where("call", lambda d: d["action"] == "hangup")["data"]["reason"] == "transferred"
    # the new operator calls; the visitor ends the chat: the call ends with it
    r = other.post("/api/v1/chat/chats/%s/call" % c["chat"]["id"],
                   json={"action": "invite", "call_id": "call-0002", "media": "audio"})
    assert r.status_code == 201, r.text
    assert c["visitor"].post("/chats/%s/end" % c["chat"]["id"], json={}).status_code == 200
    ev = bob.next_where("call", lambda d: d["action"] == "hangup")
    assert ev["data"]["reason"] == "chat_ended" and ev["data"]["call_id"] == "call-0002"
    bob.close()
    r = v_call(c, action="invite", call_id="call-0003", media="audio")
    assert r.status_code == 409 and r.json()["error"]["code"] == "chat_not_active"


def test_without_turn_settings_there_are_no_ice_servers(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    online(op)
    v = Visitor(server, site["id"])
    chat = v.start_chat(dep["id"], "Hi")
    assert op.post("/api/v1/chat/chats/%s/pickup" % chat["id"], json={}).status_code == 200
    r = op.post("/api/v1/chat/chats/%s/call" % chat["id"], json={"action": "invite", "call_id": "call-0001",
                                                                  "media": "audio"})
    assert r.status_code == 201 and r.json() == {"ice_servers": [], "ice_transport_policy": "all",
                                                 "call": {"id": "call-0001", "action": "invite"}}


def test_webrtc_settings_are_checked_at_start(tmp_path):
    data = str(tmp_path / "data")
    env = dict(os.environ, VITRINE_ADMIN_PASSWORD=ADMIN_PASSWORD)
    subprocess.run([SERVER_BIN, "--data", data, "init", "--admin", "admin"], env=env, check=True, capture_output=True)
    for extra, words in [({"VITRINE_WEBRTC_TURN_URLS": "turn:127.0.0.1:3478"}, "webrtc_turn_secret"),
                         ({"VITRINE_WEBRTC_STUN_URLS": "http://x"}, "stun:"),
                         ({"VITRINE_WEBRTC_TURN_URLS": "stun:x", "VITRINE_WEBRTC_TURN_SECRET": "s"}, "turn:"),
                         ({"VITRINE_WEBRTC_RELAY_ONLY": "1"}, "webrtc_relay_only")]:
        out = subprocess.run([SERVER_BIN, "--data", data, "--listen", "127.0.0.1:%d" % free_port()],
                             env=dict(env, **extra), capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and words in out.stderr, (extra, out.returncode, out.stderr)
