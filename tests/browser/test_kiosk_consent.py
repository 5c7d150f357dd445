"""Browser test of the remote-control consent prompt on the kiosk page
(web/player/, src/player/kiosk.c): a real vitrine-player paired to the test
server, a screen set to ask consent, and `POST /api/v1/screens/{id}/remote`
waiting while headless Chromium shows the kiosk page. The page must show
"Allow remote control by admin?" with a running countdown; a click on Allow
or Refuse goes from the page to the player and on to the server, which
answers the waiting request 201 or 403 consent_refused.

Run: /usr/bin/python3 -m pytest -q tests/browser/test_kiosk_consent.py
"""
import re
import threading
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from test_console import api_login, wait
from test_screens import pair_by_api
from conftest import free_port


def healthy_relay(admin, server):
    """A registered relay that reported itself healthy (nothing needs to listen: the
    session itself is not the subject here)."""
    port = free_port()
    r = admin.post(server.url + "/api/v1/relays", timeout=30, json={
        "host": "127.0.0.1", "port": port, "ws_url": "ws://127.0.0.1:%d/relay" % port, "shared": True})
    assert r.status_code == 201, r.text
    rid, token = r.json()["relay"]["id"], r.json()["token"]
    r = requests.post(server.url + "/api/v1/relays/%s/report" % rid, headers={"Authorization": "Bearer " + token},
                      json={"sessions": 0, "bytes": 0}, timeout=30)
    assert r.status_code == 200, r.text
    return rid


def kiosk_url(player):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for line in player.log().splitlines():
            if "vitrine-player started" in line and " kiosk=" in line:
                return line.split(" kiosk=", 1)[1].split(" ", 1)[0].rstrip("/")
        time.sleep(0.05)  # polling a file the player writes
    raise AssertionError("no kiosk address in the player's log:\n" + player.log())


@pytest.mark.parametrize("button,status", [("consent-allow", 201), ("consent-refuse", 403)])
def test_consent_prompt_with_countdown_and_its_answer(server, driver, start_player, button, status):
    admin = api_login(server, server.admin_login, server.admin_password)
    rid = healthy_relay(admin, server)
    try:
        consent_round(server, driver, start_player, admin, button, status)
    finally:
        # the server is shared by the browser tests: a relay left healthy here
        # (nothing listens behind it) could be chosen by the next file's session
        admin.delete(server.url + "/api/v1/relays/" + rid, timeout=30)


def consent_round(server, driver, start_player, admin, button, status):
    player = start_player()
    screen = pair_by_api(admin, server, player, "Consent " + button)
    deadline = time.monotonic() + 30  # online once its first long-poll is seen
    while not admin.get(server.url + "/api/v1/screens/" + screen["id"], timeout=30).json()["screen"].get("online"):
        assert time.monotonic() < deadline, "the screen did not come online"
        time.sleep(0.1)
    r = admin.patch(server.url + "/api/v1/screens/" + screen["id"], json={"remote_consent": True}, timeout=30)
    assert r.status_code == 200 and r.json()["screen"]["remote_consent"] is True, r.text
    driver.get(kiosk_url(player) + "/")
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")

    result = {}
    asking = threading.Thread(target=lambda: result.update(
        response=admin.post(server.url + "/api/v1/screens/%s/remote" % screen["id"], timeout=60)))
    asking.start()
    dialog = wait(driver, 20).until(EC.visibility_of_element_located((By.ID, "consent")))
    assert driver.find_element(By.ID, "consent-title").text == "Allow remote control by admin?"
    first = driver.find_element(By.ID, "consent-count").text
    assert re.fullmatch(r"\d+ s", first), first
    assert 20 <= int(first.split()[0]) <= 30
    wait(driver, 5).until(lambda d: d.find_element(By.ID, "consent-count").text != first)  # it counts down
    assert int(driver.find_element(By.ID, "consent-count").text.split()[0]) < int(first.split()[0])
    driver.find_element(By.ID, button).click()
    wait(driver, 5).until(EC.invisibility_of_element(dialog))
    asking.join(timeout=60)
    resp = result["response"]
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.json()["error"]["code"] == "consent_refused"
    else:
        assert resp.json()["session_id"]
    logs = [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "/manifest" not in e["message"]]  # 404: no content yet
    assert not logs, logs
