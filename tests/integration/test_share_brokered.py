"""Brokered share codes (issue 15): a display whose address is outside the
private ranges (here 100.64.0.0/10, the shared address space, on the LAN's
bridge) cannot put it in its nine digits; once paired, its player gets a
code of the brokered range from the server, and `vitrine share CODE
--server URL` resolves it there (no login) and shares to the display.

Also the two endpoints' refusals: bad address or port from the device, a
mistyped, direct or unknown code on lookup, and the per-address limit of
lookups."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import BUILD, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import lan as lanlib  # noqa: E402
import sharing  # noqa: E402
import syncfleet  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not shutil.which("Xvfb"), reason="xvfb is not installed (scripts/deps)"),
]

DISPLAY_ADDR, LAPTOP_ADDR = "100.64.0.11", "100.64.0.12"


def code_number(code):
    return int(code.replace("-", "")[:8])


def test_a_display_outside_the_private_ranges_gets_its_code_from_the_server(server, admin):
    tmp = tempfile.mkdtemp(prefix="vitrine-share-brokered-")
    lan = lanlib.Lan(2)
    board = laptop = display = fwd = None
    try:
        for k, addr in ((1, DISPLAY_ADDR), (2, LAPTOP_ADDR)):
            subprocess.run(["ip", "-n", lan.ns(k), "addr", "add", addr + "/24", "dev", lan.iface(k)], check=True)
        fwd = syncfleet.HubForwarder(lan, server.port)
        url = "http://%s:%d" % (lan.hub_addr(1), fwd.port)
        board = sharing.PaintedDisplay(1280, 720, "white", "white")
        laptop = sharing.PaintedDisplay(640, 360, "red", "blue")
        display = sharing.Display(lan, 1, BUILD, board.name, tmp, server=url,
                                  extra=["--share-address", DISPLAY_ADDR])
        st = display.status()
        assert st["brokered"] is True and st["code"] is None and st["address"] == DISPLAY_ADDR
        r = admin.post("/api/v1/pairings", json={"user_code": display.wait_line("PAIRING CODE: "), "name": "Board"})
        assert r.status_code in (200, 201), r.text
        code = display.wait_line("SHARE CODE: ")
        assert code_number(code) >= 71565312, code  # the brokered range
        st = wait_for(lambda: display.status()["code"] == code and display.status(), timeout=10, what="the code")

        # the laptop resolves it through the server, without a login
        env = {"HOME": tmp}
        p = sharing.start_sender(lan, 2, BUILD, laptop.name, code, st["key"], "--server", url, env_extra=env)
        wait_for(lambda: sum(1 for s in display.status()["senders"] if s["streaming"]) == 1, timeout=30,
                 interval=0.2, what="the share: %s" % display.read_log())
        area = 720 - st["bar_height"]
        wait_for(lambda: all(sharing.close_to(c, n) for c, n in zip(
            sharing.sample(board.name, [[320, area // 2], [960, area // 2]]), ("red", "blue"))),
            timeout=20, interval=0.3, what="the laptop's picture")
        p.terminate()
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0 and "to 100.64.0.11 port" in out, out + err

        # without a server to ask, a brokered code is refused with a sentence
        p = sharing.start_sender(lan, 2, BUILD, laptop.name, code, st["key"], env_extra=env)
        out, err = p.communicate(timeout=30)
        assert p.returncode != 0 and "--server" in err, out + err
    finally:
        if display:
            display.stop()
        if fwd:
            fwd.close()
        lan.close()
        for d in (board, laptop):
            if d:
                d.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_share_code_endpoints_refuse_what_is_wrong(server, admin):
    import base64
    import requests
    r = requests.post(server.url + "/api/v1/device/pair",
                      json={"hardware_id": "board-1", "public_key": base64.b64encode(bytes(32)).decode()}).json()
    assert admin.post("/api/v1/pairings", json={"user_code": r["user_code"], "name": "Board"}).status_code == 201
    token = requests.post(server.url + "/api/v1/device/token",
                          json={"device_code": r["device_code"]}).json()["access_token"]
    if token:
        h = {"Authorization": "Bearer " + token}
        for body in ({"address": "127.0.0.1", "port": 7385}, {"address": "10.1.2.3x", "port": 7385},
                     {"address": "100.64.0.1", "port": 80}, {"port": 7385}):
            r = requests.post(server.url + "/api/v1/device/share-code", json=body, headers=h, timeout=10)
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_field", (body, r.text)
        r = requests.post(server.url + "/api/v1/device/share-code", json={"address": "100.64.0.1", "port": 2067},
                          headers=h, timeout=10)
        assert r.status_code == 200, r.text
        again = requests.post(server.url + "/api/v1/device/share-code",
                              json={"address": "100.64.0.2", "port": 2067}, headers=h, timeout=10)
        assert again.json()["code"] == r.json()["code"]  # the screen keeps its code
        got = requests.get(server.url + "/api/v1/share-codes/" + r.json()["code"], timeout=10)
        assert got.status_code == 200 and got.json() == {"address": "100.64.0.2", "port": 2067}
    r = requests.post(server.url + "/api/v1/device/share-code", json={"address": "100.64.0.1", "port": 7385},
                      timeout=10)
    assert r.status_code == 401
    for code, status, err in (("000-000-000", 400, "direct_code"), ("999-999-998", 400, "invalid_code"),
                              ("12345", 400, "invalid_code"), ("999-999-999", 404, "not_found")):
        r = requests.get(server.url + "/api/v1/share-codes/" + code, timeout=10)
        assert r.status_code == status and r.json()["error"]["code"] == err, (code, r.text)
    statuses = [requests.get(server.url + "/api/v1/share-codes/999-999-999", timeout=10).status_code
                for _ in range(30)]
    assert statuses[-1] == 429, statuses
