"""The hawkBit DDI device API (PROTOCOL.md "Updates", docs/PROTOCOL.md
"hawkBit DDI") against the real server, with a simulated DDI client: the
polling answer without and with an action (and the screen's update
instruction then handled by DDI, not given to a player too), the
deploymentBase with its chunk, artifact and hashes, the artifact download
with Range and its MD5SUM, feedback driving the rollout (committed, failed,
the next phase, the pause above the failure threshold), and the refusals of
a wrong token, tenant, controller or action."""
import hashlib

import requests

from test_screens import pair_device
from test_updates import get_rollout, pending_update, release_tarball, rollout, sign_with_server, upload


def account_id(admin):
    return admin.get("/api/v1/me").json()["user"]["account_id"]


def ddi(server, tenant, controller, token, path="", method="GET", scheme="TargetToken", **kw):
    return requests.request(method, "%s/ddi/%s/controller/v1/%s%s" % (server.url, tenant, controller, path),
                            headers=dict({"Authorization": "%s %s" % (scheme, token)}, **kw.pop("headers", {})),
                            timeout=30, **kw)


def feedback(server, tenant, sid, token, action, execution, finished="none", details=()):
    r = ddi(server, tenant, sid, token, "/deploymentBase/%s/feedback" % action, method="POST",
            json={"id": str(action), "status": {"execution": execution, "result": {"finished": finished},
                                                "details": list(details)}})
    assert r.status_code == 200, r.text


def action_of(server, tenant, sid, token):
    r = ddi(server, tenant, sid, token)
    assert r.status_code == 200, r.text
    href = r.json().get("_links", {}).get("deploymentBase", {}).get("href")
    return int(href.split("/deploymentBase/")[1].split("?")[0]) if href else None


def firmware(server, admin, tmp_path, version="1.0.0", size=300000):
    path = str(tmp_path / ("fw-%s.tar.gz" % version))
    release_tarball(path, script="#!/bin/sh\n", padding=size)
    return upload(admin, path, sign_with_server(server, path, version, name="firmware")), path


def test_polling_deployment_artifact_and_feedback(server, admin, tmp_path):
    tenant = account_id(admin)
    token, sid = pair_device(admin, name="Gateway", hardware_id="ddi-1")
    # no action: the polling config only
    r = ddi(server, tenant, sid, token)
    assert r.status_code == 200, r.text
    assert r.json() == {"config": {"polling": {"sleep": "00:01:00"}}}
    assert ddi(server, tenant, sid, token, scheme="Bearer").status_code == 200

    release, path = firmware(server, admin, tmp_path)
    ro = rollout(admin, release, {"screen_ids": [sid]})
    body = ddi(server, tenant, sid, token).json()
    href = body["_links"]["deploymentBase"]["href"]
    assert href.startswith(server.url + "/ddi/%s/controller/v1/%s/deploymentBase/" % (tenant, sid)), href
    action = action_of(server, tenant, sid, token)
    assert action == int(href.split("/deploymentBase/")[1].split("?")[0])
    # the update instruction is DDI's now: a Vitrine player polling the same screen does not get it
    assert pending_update(server, token) == []

    d = requests.get(href, headers={"Authorization": "TargetToken " + token}, timeout=30)
    assert d.status_code == 200, d.text
    dep = d.json()
    assert dep["id"] == str(action)
    assert dep["deployment"]["download"] == "forced" and dep["deployment"]["update"] == "forced"
    [chunk] = dep["deployment"]["chunks"]
    assert chunk["part"] == "os" and chunk["version"] == "1.0.0" and chunk["name"] == "firmware"
    [art] = chunk["artifacts"]
    data = open(path, "rb").read()
    assert art["size"] == len(data)
    assert art["hashes"] == {"sha1": hashlib.sha1(data).hexdigest(), "md5": hashlib.md5(data).hexdigest(),
                             "sha256": hashlib.sha256(data).hexdigest()}
    assert art["filename"] == "firmware-1.0.0"
    url = art["_links"]["download-http"]["href"]
    auth = {"Authorization": "TargetToken " + token}
    full = requests.get(url, headers=auth, timeout=30)
    assert full.status_code == 200 and full.content == data
    part = requests.get(url, headers=dict(auth, Range="bytes=1000-"), timeout=30)
    assert part.status_code == 206 and part.content == data[1000:]
    assert part.headers["Content-Range"] == "bytes 1000-%d/%d" % (len(data) - 1, len(data))
    md5 = requests.get(art["_links"]["md5sum-http"]["href"], headers=auth, timeout=30)
    assert md5.status_code == 200 and md5.text == "%s  firmware-1.0.0\n" % hashlib.md5(data).hexdigest()
    assert requests.get(url.rsplit("/", 1)[0] + "/other.bin", headers=auth, timeout=30).status_code == 404

    # feedback: proceeding, then closed with success
    feedback(server, tenant, sid, token, action, "proceeding", details=["Installing Update"])
    s = get_rollout(admin, ro["id"])["screens"][0]
    assert s["status"] == "downloading" and s["detail"] == "Installing Update"
    feedback(server, tenant, sid, token, action, "closed", "success", ["Update installed", "all done"])
    ro = get_rollout(admin, ro["id"])
    assert ro["screens"][0]["status"] == "committed" and ro["screens"][0]["detail"] == "Update installed; all done"
    assert ro["state"] == "done"
    # the action is finished: no more link
    assert "_links" not in ddi(server, tenant, sid, token).json()
    # unknown execution
    r = ddi(server, tenant, sid, token, "/deploymentBase/%d/feedback" % action, method="POST",
            json={"id": str(action), "status": {"execution": "exploded", "result": {"finished": "none"}}})
    assert r.status_code == 400


def test_feedback_drives_the_phases_and_the_failure_threshold(server, admin, tmp_path):
    tenant = account_id(admin)
    sims = []
    for i in range(4):
        token, sid = pair_device(admin, name="Gw %d" % i, hardware_id="ddi-gw-%d" % i)
        assert admin.patch("/api/v1/screens/" + sid, json={"tags": ["gw"]}).ok
        sims.append((token, sid))
    release, _ = firmware(server, admin, tmp_path, size=1000)
    ro = rollout(admin, release, {"rule": "tag = gw"}, phases=[25, 100], failure_threshold=50)
    rid = ro["id"]
    phase_of = {s["screen_id"]: s["phase"] for s in ro["screens"]}
    first = [(t, s) for t, s in sims if phase_of[s] == 0]
    rest = [(t, s) for t, s in sims if phase_of[s] == 1]
    assert len(first) == 1 and len(rest) == 3
    # only the first phase has an action
    assert all(action_of(server, tenant, s, t) is None for t, s in rest)
    t, s = first[0]
    feedback(server, tenant, s, t, action_of(server, tenant, s, t), "closed", "success")
    ro = get_rollout(admin, rid)
    assert ro["phase"] == 1 and ro["state"] == "running"
    actions = [(t, s, action_of(server, tenant, s, t)) for t, s in rest]
    assert all(a is not None for _, _, a in actions)
    # one failure of three (33 %) is within 50 %; a second (67 %) pauses the rollout
    feedback(server, tenant, actions[0][1], actions[0][0], actions[0][2], "closed", "failure", ["bad image"])
    assert get_rollout(admin, rid)["state"] == "running"
    feedback(server, tenant, actions[1][1], actions[1][0], actions[1][2], "closed", "failure", ["bad image"])
    ro = get_rollout(admin, rid)
    assert ro["state"] == "paused" and "2 of the 3 screens of phase 2 failed" in ro["reason"], ro
    assert {x["screen_id"]: x["status"] for x in ro["screens"]}[actions[1][1]] == "failed"
    # the third still may finish
    feedback(server, tenant, actions[2][1], actions[2][0], actions[2][2], "closed", "success")
    ro = get_rollout(admin, rid)
    assert ro["counts"]["committed"] == 2 and ro["counts"]["failed"] == 2


def test_wrong_token_tenant_controller_and_action_are_refused(server, admin, tmp_path):
    tenant = account_id(admin)
    token, sid = pair_device(admin, name="A", hardware_id="ddi-a")
    other_token, other_sid = pair_device(admin, name="B", hardware_id="ddi-b")
    release, _ = firmware(server, admin, tmp_path, size=1000)
    rollout(admin, release, {"screen_ids": [sid]})
    action = action_of(server, tenant, sid, token)
    assert action is not None
    assert ddi(server, tenant, sid, "vd_unknown").status_code == 401
    assert requests.get(server.url + "/ddi/%s/controller/v1/%s" % (tenant, sid), timeout=30).status_code == 401
    assert ddi(server, tenant, sid, token, scheme="GatewayToken").status_code == 401
    # TargetToken is for the DDI routes only
    r = requests.get(server.url + "/api/v1/device/config", headers={"Authorization": "TargetToken " + token})
    assert r.status_code == 401
    # another screen's token, another tenant
    assert ddi(server, tenant, sid, other_token).status_code == 403
    assert ddi(server, "someotheraccount", sid, token).status_code == 403
    assert ddi(server, tenant, sid, other_token, "/deploymentBase/%d" % action).status_code == 403
    # the other screen's own path knows no such action
    assert ddi(server, tenant, other_sid, other_token, "/deploymentBase/%d" % action).status_code == 404
    r = ddi(server, tenant, other_sid, other_token, "/deploymentBase/%d/feedback" % action, method="POST",
            json={"id": str(action), "status": {"execution": "closed", "result": {"finished": "success"}}})
    assert r.status_code == 404
    assert ddi(server, tenant, sid, token, "/deploymentBase/abc").status_code == 404
    # a user's API token is no target token
    user_token = admin.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
    assert ddi(server, tenant, sid, user_token).status_code == 401
    # an artifact the module does not have
    assert ddi(server, tenant, sid, token, "/softwaremodules/%s/artifacts/x" % release).status_code == 404
