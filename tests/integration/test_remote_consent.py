"""Remote control, consent (issue 10): a screen set to remote_consent asks
the person in front of it before a session starts. POST
/api/v1/screens/{id}/remote queues a `remote_consent` instruction and waits
for the player's answer on POST .../remote-sessions/{id}/consent (device
token): accepted -> 201 as usual; refused -> 403 consent_refused; no answer
within 30 s -> 403 consent_timeout; each recorded in the session row and the
audit log."""
import threading
import time

import requests

from test_remote import add_relay, pair_device, report

CONSENT_PATH = "/api/v1/device/remote-sessions/%s/consent"


def ask_in_background(admin, sid):
    """The guest's POST, which waits for the answer: returns (thread, box)."""
    box = {}

    def run():
        box["t0"] = time.time()
        box["r"] = admin.post("/api/v1/screens/%s/remote" % sid, timeout=60)
        box["t1"] = time.time()

    t = threading.Thread(target=run)
    t.start()
    return t, box


def consent_question(server, device, after=0):
    """Polls the device's instructions until the remote_consent question arrives."""
    deadline = time.time() + 10
    while time.time() < deadline:
        got = requests.get(server.url + "/api/v1/device/instructions?after=%d&wait=5" % after,
                           headers={"Authorization": "Bearer " + device}, timeout=15).json()["instructions"]
        qs = [i for i in got if i["type"] == "remote_consent"]
        if qs:
            return qs[-1]
    raise AssertionError("no remote_consent instruction arrived")


def answer(server, device, session_id, body, path=CONSENT_PATH):
    return requests.post(server.url + path % session_id, headers={"Authorization": "Bearer " + device}, json=body,
                         timeout=15)


def consent_screen(server, admin, hardware_id="sim-1"):
    relay_id, relay_token = add_relay(admin, shared=True)
    assert report(server, relay_id, relay_token).status_code == 200
    device, sid = pair_device(admin, hardware_id=hardware_id)
    r = admin.patch("/api/v1/screens/" + sid, json={"remote_consent": True})
    assert r.status_code == 200 and r.json()["screen"]["remote_consent"] is True, r.text
    return device, sid


def session_row(server, session_id):
    return server.sql("SELECT consent, ended_at, end_reason, issued_at FROM remote_sessions WHERE id = ?",
                      (session_id,))[0]


def audit_actions(admin):
    return [e["action"] for e in admin.get("/api/v1/audit").json()["entries"]]


def test_the_setting_is_off_by_default_and_checked(server, admin):
    _, sid = pair_device(admin)
    assert admin.get("/api/v1/screens/" + sid).json()["screen"]["remote_consent"] is False
    for bad in ("yes", 1, None):
        r = admin.patch("/api/v1/screens/" + sid, json={"remote_consent": bad})
        assert r.status_code == 400 and "remote_consent" in r.json()["error"]["message"], r.text
    assert admin.patch("/api/v1/screens/" + sid, json={"remote_consent": True}).json()["screen"]["remote_consent"]
    assert "screen.remote_consent" in audit_actions(admin)
    r = admin.patch("/api/v1/screens/" + sid, json={"remote_consent": False})
    assert r.json()["screen"]["remote_consent"] is False


def test_accepted_gives_the_session_and_bad_answers_are_refused(server, admin):
    device, sid = consent_screen(server, admin)
    other_device, _ = pair_device(admin, hardware_id="sim-2")
    t, box = ask_in_background(admin, sid)
    q = consent_question(server, device)
    p = q["payload"]
    assert set(p) == {"session_id", "guest", "timeout_s"} and p["guest"] == "admin" and p["timeout_s"] == 30, p
    assert q["expires_at"] <= time.time() + 31
    session_id = p["session_id"]
    assert session_row(server, session_id)[0] == "waiting"
    assert t.is_alive()  # the guest waits for the answer
    # hostile answers: not a bool, no body, another screen's token, no token, an unknown session
    for body in ({"accepted": "yes"}, {"accepted": 1}, {"accepted": None}, {}):
        r = answer(server, device, session_id, body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_field", (body, r.text)
    r = requests.post(server.url + CONSENT_PATH % session_id, headers={"Authorization": "Bearer " + device},
                      data="not json", timeout=15)
    assert r.status_code == 400
    assert answer(server, other_device, session_id, {"accepted": True}).status_code == 404
    assert requests.post(server.url + CONSENT_PATH % session_id, json={"accepted": True}).status_code == 401
    assert answer(server, device, "nosuchsessionaaa", {"accepted": True}).status_code == 404
    assert answer(server, device, "../../x", {"accepted": True}).status_code == 404
    assert t.is_alive()

    r = answer(server, device, session_id, {"accepted": True})
    assert r.status_code == 200 and r.json()["accepted"] is True, r.text
    t.join(15)
    assert not t.is_alive()
    g = box["r"]
    assert g.status_code == 201, g.text
    assert g.json()["session_id"] == session_id and g.json()["session_secret"]
    assert box["t1"] - box["t0"] < 10
    # answering twice: 409
    r = answer(server, device, session_id, {"accepted": False})
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_answered", r.text
    # then the host gets its ticket as usual
    got = requests.get(server.url + "/api/v1/device/instructions?after=%d&wait=5" % q["seq"],
                       headers={"Authorization": "Bearer " + device}).json()["instructions"]
    rs = [i for i in got if i["type"] == "remote_session"]
    assert len(rs) == 1 and rs[0]["payload"]["session_id"] == session_id
    assert rs[0]["payload"]["session_secret"] == g.json()["session_secret"]
    consent, ended_at, end_reason, issued_at = session_row(server, session_id)
    assert consent == "accepted" and ended_at is None and end_reason is None and issued_at
    listed = admin.get("/api/v1/remote-sessions").json()["sessions"]
    assert listed[0]["id"] == session_id and listed[0]["consent"] == "accepted"
    actions = audit_actions(admin)
    for a in ("remote.consent_asked", "remote.consent_accepted", "remote.requested"):
        assert a in actions, actions


def test_refused_is_a_clear_403_and_recorded(server, admin):
    device, sid = consent_screen(server, admin)
    t, box = ask_in_background(admin, sid)
    session_id = consent_question(server, device)["payload"]["session_id"]
    r = answer(server, device, session_id, {"accepted": False})
    assert r.status_code == 200 and r.json()["accepted"] is False, r.text
    t.join(15)
    g = box["r"]
    assert g.status_code == 403 and g.json()["error"]["code"] == "consent_refused", g.text
    assert g.json()["error"]["message"] == "the person at the screen refused remote control"
    consent, ended_at, end_reason, issued_at = session_row(server, session_id)
    assert consent == "refused" and ended_at and end_reason == "consent_refused" and issued_at is None
    assert answer(server, device, session_id, {"accepted": True}).status_code == 409
    assert "remote.consent_refused" in audit_actions(admin)
    # no ticket went to the host
    got = requests.get(server.url + "/api/v1/device/instructions?after=0&wait=0",
                       headers={"Authorization": "Bearer " + device}).json()["instructions"]
    assert not [i for i in got if i["type"] == "remote_session"]


def test_no_answer_times_out_after_30_s(server, admin):
    device, sid = consent_screen(server, admin)
    t, box = ask_in_background(admin, sid)
    session_id = consent_question(server, device)["payload"]["session_id"]
    t.join(45)
    assert not t.is_alive()
    g = box["r"]
    assert g.status_code == 403 and g.json()["error"]["code"] == "consent_timeout", g.text
    assert 29 <= box["t1"] - box["t0"] < 40
    consent, ended_at, end_reason, issued_at = session_row(server, session_id)
    assert consent == "timeout" and ended_at and end_reason == "consent_timeout" and issued_at is None
    r = answer(server, device, session_id, {"accepted": True})
    assert r.status_code == 409, r.text
    assert "remote.consent_timeout" in audit_actions(admin)


def test_a_screen_that_does_not_ask_and_an_admin_ending_the_wait(server, admin):
    device, sid = consent_screen(server, admin)
    admin.patch("/api/v1/screens/" + sid, json={"remote_consent": False})
    plain = admin.post("/api/v1/screens/%s/remote" % sid)
    assert plain.status_code == 201, plain.text
    r = answer(server, device, plain.json()["session_id"], {"accepted": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_asked", r.text

    admin.patch("/api/v1/screens/" + sid, json={"remote_consent": True})
    t, box = ask_in_background(admin, sid)
    session_id = consent_question(server, device)["payload"]["session_id"]
    assert admin.delete("/api/v1/remote-sessions/" + session_id).status_code == 200
    t.join(15)
    assert not t.is_alive()
    assert box["r"].status_code == 409 and box["r"].json()["error"]["code"] == "session_ended", box["r"].text
    r = answer(server, device, session_id, {"accepted": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_ended", r.text
