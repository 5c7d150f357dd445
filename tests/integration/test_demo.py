"""`make demo` shows the product working: scripts/demo (what `make demo` runs
after installing and building) starts the server and a demo player, pairs it,
creates the sample channel and assigns it, so the player's kiosk page plays
it. A second start reuses what the first made instead of duplicating it."""
import os
import signal
import subprocess
import tempfile
import time

import requests

from conftest import BUILD, ROOT, free_port, wait_for

DEMO = os.path.join(ROOT, "scripts", "demo")


def start_demo(data, port, kiosk_port):
    env = dict(os.environ, KIOSK_LISTEN=f"127.0.0.1:{kiosk_port}")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen([DEMO, BUILD, data, f"127.0.0.1:{port}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    deadline = time.time() + 90
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops" in line:
            return proc, "".join(lines)
    stop_demo(proc)
    raise AssertionError("the demo did not come up:\n" + "".join(lines))


def stop_demo(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def admin_session(url, password):
    s = requests.Session()
    s.trust_env = False
    r = s.post(url + "/api/v1/session", json={"login": "admin", "password": password})
    assert r.status_code in (200, 201), r.text
    return s


def test_demo_pairs_a_screen_and_plays_the_sample_channel():
    with tempfile.TemporaryDirectory(prefix="vitrine-demo-") as tmp:
        data = os.path.join(tmp, "var")
        port, kiosk_port = free_port(), free_port()
        url, kiosk = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{kiosk_port}"
        proc, out = start_demo(data, port, kiosk_port)
        try:
            password = open(os.path.join(data, "demo-admin-password")).read().strip()
            assert f"console:     {url}/" in out and "login:       admin" in out and password in out
            assert 'sample channel "Demo channel" created' in out, out
            s = admin_session(url, password)
            channels = s.get(url + "/api/v1/channels").json()["channels"]
            assert [c["name"] for c in channels] == ["Demo channel"]
            channel = s.get(url + "/api/v1/channels/" + channels[0]["id"]).json()["channel"]
            kinds = {z["name"]: [i["type"] for i in z["items"]] for z in channel["zones"]}
            assert kinds == {"main": ["image"] * 3, "welcome": ["text", "text"], "ticker": ["text"]}
            screens = s.get(url + "/api/v1/screens").json()["screens"]
            assert len(screens) == 1 and screens[0]["name"] == "Demo screen" and screens[0]["online"]
            assert screens[0]["channel_id"] == channel["id"]

            def kiosk_plays_it():
                r = requests.get(kiosk + "/manifest")
                return r.status_code == 200 and r.json().get("channel", {}).get("id") == channel["id"] and r.json()

            manifest = wait_for(kiosk_plays_it, timeout=30, what="the kiosk page to get the demo channel")
            for item in manifest["channel"]["zones"][0]["items"]:
                assert requests.get(kiosk + "/objects/" + item["media"]).status_code == 200
        finally:
            stop_demo(proc)

        proc, out = start_demo(data, port, kiosk_port)
        try:
            assert "created" not in out, out
            s = admin_session(url, password)
            assert len(s.get(url + "/api/v1/channels").json()["channels"]) == 1
            assert len(s.get(url + "/api/v1/screens").json()["screens"]) == 1
        finally:
            stop_demo(proc)
