"""Browser tests of live chat calls: a visitor's browser (the widget on a web site, a phone screen) and
an operator's console call each other over WebRTC with Chromium's generated camera and microphone,
through the session's coturn on loopback (the server sets webrtc_relay_only, so the media can only
flow through the relay). Run:
VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_chat_calls.py
"""
import asyncio
import http.client
import json
import queue
import socket
import threading
import urllib.parse

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from test_chat import OP1, open_widget, operator_online, phone, pick_up, setup_chat, site_page, start_chat, until_text  # noqa: F401
from test_console import api_login, csp_problems, wait


def call_state(d, css):
    return d.execute_script("const e = document.querySelector(arguments[0]); return e ? e.dataset.state : ''", css)


def until_state(d, css, want, timeout=30):
    wait(d, timeout).until(lambda x: call_state(x, css) == want,
                           f"{css} never became {want!r} (it is {call_state(d, css)!r})")


def video_playing(d, css):
    return d.execute_script("const v = document.querySelector(arguments[0]);"
                            "return !!v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused", css)


def click(d, el_id, timeout=15):
    """Clicks a button once it can be clicked, scrolled to the middle (clear of the console's sticky bar)."""
    el = wait(d, timeout).until(EC.element_to_be_clickable((By.ID, el_id)))
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def test_video_call_through_turn_then_audio_call_from_the_visitor(server, new_driver, site_page, turn):
    admin, site, dep, ids = setup_chat(server, site_page)
    op = operator_online(new_driver, server, OP1)
    v = phone(new_driver)
    open_widget(v, site_page)
    start_chat(v, "Carla", "Can we talk?")
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "Can we talk?")
    until_text(v, "#status", "chatting with")
    wait(v).until(EC.visibility_of_element_located((By.ID, "call-video")))  # the department takes calls

    # the operator calls with video; the visitor accepts
    click(op, "chat-call-video")
    until_state(op, "#op-call-state", "ringing")
    wait(v, 15).until(EC.element_to_be_clickable((By.ID, "call-accept")))
    until_text(v, "#call-state", "operator is calling you (video call)")
    v.find_element(By.ID, "call-accept").click()
    until_state(v, "#call-state", "connected")
    until_state(op, "#op-call-state", "connected")
    until_text(op, "#op-call-state", "through a relay")
    until_text(v, "#call-state", "through a relay")
    wait(op, 15).until(lambda d: video_playing(d, "#op-call-remote"), "no video from the visitor")
    wait(v, 15).until(lambda d: video_playing(d, "#call-remote"), "no video from the operator")
    log = turn["log"].read_text(errors="replace")
    # coturn took the credentials the server made and relayed for the peers
    assert "ALLOCATE processed, success" in log and "CREATE_PERMISSION processed, success" in log, log[-2000:]
    # the visitor hangs up: both sides end
    v.find_element(By.ID, "call-hangup").click()
    until_state(v, "#call-state", "ended")
    until_state(op, "#op-call-state", "ended")
    until_text(op, "#op-call-state", "hung up")

    # the operator switches calls off: the visitor's buttons go; on again, the visitor calls (audio)
    click(op, "chat-calls-toggle")
    wait(v, 15).until(lambda d: not d.find_element(By.ID, "call-audio").is_displayed())
    click(op, "chat-calls-toggle")
    wait(v, 15).until(EC.element_to_be_clickable((By.ID, "call-audio"))).click()
    until_text(op, "#op-call-state", "visitor is calling (audio call)")
    click(op, "op-call-accept")
    until_state(op, "#op-call-state", "connected")
    until_state(v, "#call-state", "connected")
    assert not v.find_element(By.ID, "call-remote").is_displayed()  # audio only: no video shown
    # ending the chat ends the call
    v.find_element(By.ID, "end").click()
    until_state(op, "#op-call-state", "ended")
    until_text(op, "#op-call-state", "chat has ended")
    v.switch_to.default_content()
    for d in (v, op):
        assert not csp_problems(d)


class Stream:
    """The visitor's SSE stream read on a thread of its own: events into a queue."""

    def __init__(self, url, headers):
        self.events = queue.Queue()
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.read()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        ev = {}
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if "event" in ev:
                        self.events.put((ev["event"], json.loads(ev.get("data", "null"))))
                    ev = {}
                elif not line.startswith(":"):
                    k, _, v = line.partition(":")
                    ev[k] = v[1:] if v.startswith(" ") else v
        except Exception:  # the connection closed at the end of the test
            pass

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def test_aiortc_as_the_visitor_gets_the_operators_video(server, new_driver, site_page):
    """A WebRTC peer nobody here wrote (Debian's python3-aiortc) takes the visitor's side: it answers
    the operator's video call from the console and receives the browser's video frames."""
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
    from aiortc.sdp import candidate_from_sdp

    admin, site, dep, ids = setup_chat(server, site_page)
    op = operator_online(new_driver, server, OP1)
    origin = site_page.url.rstrip("/")
    api = server.url + f"/api/v1/widget/{site['id']}"
    r = requests.post(api + "/visitor", headers={"Origin": origin},
                      json={"page_url": site_page.url, "title": "aiortc", "referrer": ""}, timeout=10)
    assert r.status_code == 200, r.text
    auth = {"Origin": origin, "Authorization": "Bearer " + r.json()["visitor_token"]}
    r = requests.post(api + "/chats", headers=auth, json={"department_id": dep["id"], "name": "aiortc",
                                                          "text": "I am a Python peer"}, timeout=10)
    assert r.status_code == 201, r.text
    chat_id = r.json()["chat"]["id"]
    stream = Stream(api + f"/chats/{chat_id}/events", auth)
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "I am a Python peer")
    click(op, "chat-call-video")
    until_state(op, "#op-call-state", "ringing")  # the invitation is out

    def post(body):
        res = requests.post(api + f"/chats/{chat_id}/call", headers=auth, json=body, timeout=10)
        assert res.status_code in (200, 201), res.text
        return res.json()

    async def visitor():
        loop = asyncio.get_running_loop()

        async def next_call(action):
            while True:
                kind, data = await loop.run_in_executor(None, stream.events.get, True, 60)
                seen.append((kind, data.get("action", "")) if isinstance(data, dict) else (kind, ""))
                if kind == "call" and data["from"] == "operator" and data["action"] in action:
                    return data

        invite = await next_call(("invite",))
        assert invite["media"] == "video"
        ice = post({"action": "accept", "call_id": invite["call_id"]})
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                   for s in ice["ice_servers"]]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        tracks = asyncio.Queue()
        pc.on("track", lambda t: tracks.put_nowait(t))
        early = []
        offer = None
        while offer is None:  # candidates may come first
            d = await next_call(("offer", "candidate"))
            if d["action"] == "offer":
                offer = d
            elif d["candidate"]:
                early.append(d["candidate"])
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())  # aiortc gathers before it returns
        post({"action": "answer", "call_id": invite["call_id"], "sdp": pc.localDescription.sdp})

        async def candidates():
            pending = list(early)
            while True:
                for c in pending:
                    cand = candidate_from_sdp(c["candidate"].split(":", 1)[1])
                    cand.sdpMid, cand.sdpMLineIndex = c.get("sdpMid"), c.get("sdpMLineIndex")
                    await pc.addIceCandidate(cand)
                d = await next_call(("candidate",))
                pending = [d["candidate"]] if d["candidate"] else []

        feeder = asyncio.ensure_future(candidates())
        video = None
        while video is None:
            t = await asyncio.wait_for(tracks.get(), 30)
            if t.kind == "video":
                video = t
        sizes = []
        for _ in range(10):
            frame = await asyncio.wait_for(video.recv(), 30)
            sizes.append((frame.width, frame.height))
        box["frames"] = (sizes, pc.connectionState)
        received.set()
        await loop.run_in_executor(None, checked.wait, 60)  # the console is looked at meanwhile
        feeder.cancel()
        await pc.close()

    box, received, checked, seen = {}, threading.Event(), threading.Event(), []

    def run():
        try:
            asyncio.run(visitor())
        except Exception as e:  # reported below
            box["error"] = repr(e)
            received.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        assert received.wait(150) and "frames" in box, "aiortc did not get the operator's video: %s; events %s; " \
            "console: %s %r" % (box, seen, call_state(op, "#op-call-state"), op.find_element(By.ID, "op-call-state").text)
        sizes, state = box["frames"]
        assert state == "connected" and all(w > 0 and h > 0 for w, h in sizes), (state, sizes)
        until_state(op, "#op-call-state", "connected")
        until_text(op, "#op-call-state", "through a relay")  # the console's side used coturn only
    finally:
        checked.set()
        worker.join(70)
        stream.close()
        requests.post(api + f"/chats/{chat_id}/end", headers=auth, json={}, timeout=10)  # nothing left in a queue
