"""Remote control, the host's part (vitrine-player, src/player/remote_host.c):
a real player paired to a real server, a real vitrine-relay registered with
it, the display an Xvfb with a known picture (red left half, blue right
half, drawn through libX11 with ctypes), and a guest through `vitrine
remote` with vncsnapshot as the VNC viewer: the image it captures through
relay and end-to-end tunnel is the screen's (pixels checked), over raw TCP
and over the relay's WebSocket (ws and wss) when TCP is closed. Also: one
x11vnc for two guests, the second view-only; x11vnc stopped when the last
session ends or the player stops; a VNC server already running
(--vnc-server, as with wayvnc) used and left alone; a failed session logs
its code and no secret; the fingerprint in --diagnose; the kiosk page's
consent prompt with its answer to the server."""
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, BUILD, SERVER_BIN, free_port, wait_for
from xdisplay import painted_display

RELAY_BIN = os.path.join(BUILD, "vitrine-relay")
W, H = 320, 240



def cli_bin():
    for path in (os.path.join(BUILD, "vitrine"), os.path.join(BUILD, "src", "cli", "vitrine")):
        if os.path.isfile(path):
            return path
    return os.path.join(BUILD, "vitrine")


@pytest.fixture
def display():
    """An Xvfb display painted red | blue; its name (":N")."""
    with painted_display(W, H, tools=("Xvfb", "x11vnc", "vncsnapshot")) as name:
        yield name


class Relay:
    """vitrine-relay with the server's ticket key; TCP and (when built) a plain WebSocket listener."""

    def __init__(self, tmp, server, ws=False, tls=None):
        key = os.path.join(tmp, "server-key.pub")
        out = subprocess.run([SERVER_BIN, "--data", server.data, "relay-key", "--out", key], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        self.port, self.admin_port = free_port(), free_port()
        self.ws_port = free_port() if ws else None
        args = [RELAY_BIN, "--listen", "127.0.0.1:%d" % self.port, "--server-key", key,
                "--admin-listen", "127.0.0.1:%d" % self.admin_port]
        self.scheme = "wss" if tls else "ws"
        if ws:
            args += ["--ws-listen", "127.0.0.1:%d" % self.ws_port]
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.log_path = os.path.join(tmp, "relay.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("relay exited: " + self.log.read())
            try:
                if requests.get("http://127.0.0.1:%d/healthz" % self.admin_port, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("relay did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def register(admin, server, relay, tcp_port=None):
    """Registers the relay with the server (as a shared relay) and reports it healthy."""
    # without a WebSocket listener the fallback points where nothing listens
    ws_url = "%s://127.0.0.1:%d/relay" % (relay.scheme, relay.ws_port or free_port())
    body = {"host": "127.0.0.1", "port": tcp_port or relay.port, "shared": True, "ws_url": ws_url}
    r = admin.post("/api/v1/relays", json=body)
    assert r.status_code == 201, r.text
    rid, token = r.json()["relay"]["id"], r.json()["token"]
    r = requests.post(server.url + "/api/v1/relays/%s/report" % rid, headers={"Authorization": "Bearer " + token},
                      json={"sessions": 0, "bytes": 0})
    assert r.status_code == 200, r.text
    return rid


def paired_player(make_player, server, admin, display, extra=()):
    player = make_player(server, env={"DISPLAY": display}, extra=list(extra)).start()
    r = admin.post("/api/v1/pairings", json={"user_code": player.wait_code().replace("-", ""), "name": "Lobby"})
    assert r.status_code in (200, 201), r.text
    wait_for(player.token, timeout=20, what="the player's token")
    sid = r.json()["screen"]["id"]
    wait_for(lambda: admin.get("/api/v1/screens/" + sid).json()["screen"].get("online"), timeout=20,
             what="the screen to be online")
    return player, sid


def cli_login(server, config):
    out = subprocess.run([cli_bin(), "--config-dir", str(config), "--server", server.url, "login", "--user", "admin",
                          "--password-stdin"], input=ADMIN_PASSWORD + "\n", capture_output=True, text=True,
                         timeout=60, start_new_session=True)
    assert out.returncode == 0, out.stderr


class Guest:
    """`vitrine remote SCREEN --port P` until it prints its VNC line."""

    def __init__(self, config, screen_id, tmp, extra=()):
        self.port = free_port()
        self.out_path = os.path.join(tmp, "guest.out")
        self.out = open(self.out_path, "w+")
        self.proc = subprocess.Popen([cli_bin(), "--config-dir", str(config), "remote", screen_id, "--port",
                                      str(self.port), *extra], stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def text(self):
        with open(self.out_path) as f:
            return f.read()

    def wait_vnc(self, timeout=60):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("vitrine remote exited %s: %s" % (self.proc.returncode, self.text()))
            return ("VNC: 127.0.0.1:%d" % self.port) in self.text()
        wait_for(ready, timeout=timeout, what="the VNC line of vitrine remote")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


def snapshot(port, path):
    out = subprocess.run(["vncsnapshot", "-quality", "100", "127.0.0.1::%d" % port, path], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    from PIL import Image
    return Image.open(path).convert("RGB")


def close_to(pixel, want, slack=40):
    return all(abs(a - b) <= slack for a, b in zip(pixel, want))


def assert_red_blue(img):
    assert img.size == (W, H)
    for x, y in ((10, 10), (W // 4, H // 2), (W // 2 - 10, H - 10)):
        assert close_to(img.getpixel((x, y)), (255, 0, 0)), (x, y, img.getpixel((x, y)))
    for x, y in ((W // 2 + 10, 10), (3 * W // 4, H // 2), (W - 10, H - 10)):
        assert close_to(img.getpixel((x, y)), (0, 0, 255)), (x, y, img.getpixel((x, y)))


def x11vnc_children(player):
    out = subprocess.run(["pgrep", "-P", str(player.proc.pid), "-x", "x11vnc"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def run_session(tmp_path, server, admin, make_player, display, relay, tcp_port=None, ca=None):
    register(admin, server, relay, tcp_port=tcp_port)
    ca_args = ["--relay-ca", ca] if ca else []
    player, screen = paired_player(make_player, server, admin, display, extra=ca_args)
    config = tmp_path / "cli"
    cli_login(server, config)
    guest = Guest(config, screen, str(tmp_path), extra=ca_args)
    try:
        guest.wait_vnc()
        img = snapshot(guest.port, str(tmp_path / "shot.jpg"))
        assert_red_blue(img)
        wait_for(lambda: "remote session connected" in player.read_log(), what="the host's connected line")
    finally:
        guest.stop()
    wait_for(lambda: "remote session ended" in player.read_log() or "remote session failed" in player.read_log(),
             timeout=20, what="the end of the session on the host")
    wait_for(lambda: not x11vnc_children(player), timeout=10, what="x11vnc to be stopped")
    log = player.read_log()
    assert "x11vnc stopped" in log
    return player, log


def test_vncsnapshot_through_the_relay_sees_the_screen(tmp_path, server, admin, make_player, display):
    relay = Relay(str(tmp_path), server)
    try:
        _, log = run_session(tmp_path, server, admin, make_player, display, relay)
        assert "transport=tcp" in log, log
        assert "remote session ended" in log, log
    finally:
        relay.stop()


def test_through_the_websocket_when_tcp_is_closed(tmp_path, server, admin, make_player, display):
    try:
        relay = Relay(str(tmp_path), server, ws=True)
    except RuntimeError as e:
        pytest.skip("this vitrine-relay has no WebSocket listener: %s" % e)
    try:
        closed = free_port()  # nothing listens there: TCP is refused at once
        _, log = run_session(tmp_path, server, admin, make_player, display, relay, tcp_port=closed)
        assert "transport=ws" in log, log
    finally:
        relay.stop()


def mouse(display):
    out = subprocess.run(["xdotool", "getmouselocation"], env=dict(os.environ, DISPLAY=display), capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    fields = dict(f.split(":", 1) for f in out.stdout.split())
    return int(fields["x"]), int(fields["y"])


def test_two_guests_at_once_the_second_only_watches(tmp_path, server, admin, make_player, display):
    if not shutil.which("xdotool"):
        pytest.skip("xdotool is not installed")
    from rfb import RFBClient
    relay = Relay(str(tmp_path), server)
    guests = []
    try:
        register(admin, server, relay)
        player, screen = paired_player(make_player, server, admin, display)
        config = tmp_path / "cli"
        cli_login(server, config)
        for name in ("a", "b"):
            d = tmp_path / name
            d.mkdir()
            guests.append(Guest(config, screen, str(d)))
            guests[-1].wait_vnc()
        full, watch = RFBClient("127.0.0.1", guests[0].port), RFBClient("127.0.0.1", guests[1].port)
        for c in (full, watch):
            c.update()
            assert (c.width, c.height) == (W, H)
            assert close_to(c.pixel(W // 4, H // 2), (255, 0, 0)) and close_to(c.pixel(3 * W // 4, H // 2), (0, 0, 255))
        log = player.read_log()
        assert log.count("x11vnc started") == 1, log  # one server for both
        assert "view_only=no" in log and "view_only=yes" in log, log
        start = mouse(display)
        watch.pointer(201, 101)
        time.sleep(1.5)
        assert mouse(display) == start  # x11vnc drops the view-only guest's pointer
        full.pointer(250, 50)
        wait_for(lambda: mouse(display) == (250, 50), timeout=10, what="the full guest's pointer to move")
        full.close()
        watch.close()
    finally:
        for g in guests:
            g.stop()
        relay.stop()
    wait_for(lambda: player.read_log().count("remote session ended") + player.read_log().count("remote session failed")
             >= 2, timeout=20, what="both sessions to end")
    wait_for(lambda: not x11vnc_children(player), timeout=10, what="x11vnc to be stopped")
    assert player.read_log().count("x11vnc stopped") == 1


@pytest.fixture
def cert(tmp_path):
    crt, key = str(tmp_path / "relay.crt"), str(tmp_path / "relay.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


def test_through_wss_with_the_relay_ca_when_tcp_is_closed(tmp_path, server, admin, make_player, display, cert):
    try:
        relay = Relay(str(tmp_path), server, ws=True, tls=cert)
    except RuntimeError as e:
        pytest.skip("this vitrine-relay has no WSS listener: %s" % e)
    try:
        closed = free_port()
        _, log = run_session(tmp_path, server, admin, make_player, display, relay, tcp_port=closed, ca=cert[0])
        assert "transport=wss" in log, log
    finally:
        relay.stop()


def test_a_session_that_cannot_reach_its_relay_logs_its_code_and_no_secret(tmp_path, server, admin, make_player,
                                                                         display):
    relay = Relay(str(tmp_path), server)
    relay.stop()  # registered, reported healthy, then gone
    register(admin, server, relay)
    player, screen = paired_player(make_player, server, admin, display)
    r = admin.post("/api/v1/screens/%s/remote" % screen)
    assert r.status_code == 201, r.text
    guest_ticket = r.json()["ticket"]
    wait_for(lambda: "remote session failed" in player.read_log(), timeout=30, what="the failure line")
    line = [l for l in player.read_log().splitlines() if "remote session failed" in l][-1]
    assert "code=relay_unreachable" in line, line
    assert r.json()["session_id"] in line
    log = player.read_log()
    assert "vt1." not in log and guest_ticket not in log  # no ticket, host's or guest's
    secret = r.json().get("session_secret")
    if secret:
        assert secret not in log
    wait_for(lambda: not x11vnc_children(player), timeout=10, what="x11vnc to be stopped")
    # the instruction was carried out and acknowledged
    def acked():
        return server.sql("SELECT status, result FROM instructions WHERE screen_id = ? AND type = 'remote_session'",
                          (screen,))
    status, result = wait_for(lambda: [a for a in acked() if a[0] != "pending" and a[0] != "delivered"], timeout=20,
                              what="the acknowledgement of remote_session")[0]
    assert status == "ok" and json.loads(result) == {"session_id": r.json()["session_id"]}, (status, result)


def consent_request(admin, screen, result):
    result["response"] = admin.post("/api/v1/screens/%s/remote" % screen)


@pytest.mark.parametrize("accept", [False, True])
def test_the_kiosk_page_asks_and_the_server_hears_the_answer(tmp_path, server, admin, make_player, display, accept):
    relay = Relay(str(tmp_path), server)
    try:
        register(admin, server, relay)
        player, screen = paired_player(make_player, server, admin, display)
        r = admin.patch("/api/v1/screens/" + screen, json={"remote_consent": True})
        if r.status_code != 200 or not r.json().get("screen", {}).get("remote_consent"):
            pytest.skip("this server has no remote_consent setting: %s" % r.text)
        kiosk = player.kiosk_url()
        result = {}
        asking = threading.Thread(target=consent_request, args=(admin, screen, result))
        asking.start()
        prompt = wait_for(lambda: requests.get(kiosk + "/state").json().get("consent"), timeout=15,
                          what="the consent prompt on the kiosk page")
        assert prompt["guest"] == "admin"
        left = prompt["until"] - requests.get(kiosk + "/state").json()["now"]
        assert 20000 < left <= 30000, prompt
        # only the page's own origin may answer
        r = requests.post(kiosk + "/consent", json={"session_id": prompt["session_id"], "accepted": True},
                          headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        r = requests.post(kiosk + "/consent", json={"session_id": "not-this-one", "accepted": True})
        assert r.status_code == 409
        r = requests.post(kiosk + "/consent", json={"session_id": prompt["session_id"], "accepted": accept})
        assert r.status_code == 200, r.text
        assert "consent" not in requests.get(kiosk + "/state").json()  # the prompt is gone
        asking.join(timeout=40)
        resp = result["response"]
        if accept:
            assert resp.status_code == 201, resp.text
        else:
            assert resp.status_code == 403 and resp.json()["error"]["code"] == "consent_refused", resp.text
    finally:
        relay.stop()


def test_diagnose_shows_the_host_key_fingerprint_guests_see(tmp_path, server, admin, make_player, display):
    player, screen = paired_player(make_player, server, admin, display)
    key = base64.b64decode(admin.get("/api/v1/screens/" + screen).json()["screen"]["public_key"])
    digest = hashlib.sha256(key).hexdigest()[:32]
    want = " ".join(digest[i:i + 4] for i in range(0, 32, 4))
    out = subprocess.run([os.path.join(BUILD, "vitrine-player"), "--diagnose", "--data", player.data, "--server",
                          server.url], capture_output=True, text=True, timeout=60)
    lines = [l for l in out.stdout.splitlines() if l.startswith("host key")]
    assert lines and lines[0].split(None, 2)[2] == want, out.stdout


def test_stopping_the_player_ends_its_sessions_and_x11vnc(tmp_path, server, admin, make_player, display):
    from rfb import RFBClient
    relay = Relay(str(tmp_path), server)
    try:
        register(admin, server, relay)
        player, screen = paired_player(make_player, server, admin, display)
        config = tmp_path / "cli"
        cli_login(server, config)
        guest = Guest(config, screen, str(tmp_path))
        guest.wait_vnc()
        viewer = RFBClient("127.0.0.1", guest.port)
        viewer.update()
        vnc = x11vnc_children(player)
        assert len(vnc) == 1
        started = time.time()
        assert player.stop() == 0
        assert time.time() - started < 8
        log = player.read_log()
        assert "remote session ended" in log, log  # a clean end: the final frame went out
        assert not os.path.exists("/proc/%d" % vnc[0]) or open("/proc/%d/stat" % vnc[0]).read().split()[2] == "Z"
        guest.proc.wait(timeout=15)  # the guest hears of the end
        viewer.close()
        guest.stop()
    finally:
        relay.stop()


def test_a_vnc_server_already_running_is_used_and_left_running(tmp_path, server, admin, make_player, display):
    """--vnc-server (how wayvnc is used on Wayland), with an x11vnc the test runs as the stand-in: the player
    authenticates with --vnc-password-file, starts and stops nothing."""
    pw = tmp_path / "vnc.pass"
    pw.write_text("extpw123\n")
    os.chmod(pw, 0o600)
    port = free_port()
    ext = subprocess.Popen(["x11vnc", "-localhost", "-rfbport", str(port), "-passwdfile", str(pw), "-display", display,
                            "-shared", "-forever", "-norc", "-quiet"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    relay = Relay(str(tmp_path), server)
    try:
        register(admin, server, relay)
        player, screen = paired_player(make_player, server, admin, display,
                                       extra=["--vnc-server", "127.0.0.1:%d" % port, "--vnc-password-file", str(pw)])
        config = tmp_path / "cli"
        cli_login(server, config)
        guest = Guest(config, screen, str(tmp_path))
        try:
            guest.wait_vnc()
            assert_red_blue(snapshot(guest.port, str(tmp_path / "shot.jpg")))
        finally:
            guest.stop()
        wait_for(lambda: "remote session ended" in player.read_log(), timeout=20, what="the end of the session")
        log = player.read_log()
        assert "x11vnc started" not in log and not x11vnc_children(player), log
        assert ext.poll() is None  # not ours to stop
        assert "extpw123" not in log
    finally:
        relay.stop()
        ext.kill()
        ext.wait()
