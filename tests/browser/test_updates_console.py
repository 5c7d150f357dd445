"""Browser test of the console's Updates page (SPEC section 7): a rollout of a
signed release to a group is started from the page, and its progress per
phase and per screen updates live as the screens report (screens simulated
through the device API), without reloading the page; pause and resume.

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser/test_updates_console.py
"""
import base64
import io
import subprocess
import tarfile

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from conftest import build_binary
from test_console import api_login, browser_login, csp_problems, wait
from test_screens import mark_page, page_not_reloaded

SCREENSHOT = "/tmp/console-updates.png"


def device_token(server, admin, name, tag):
    key = base64.b64encode(name.encode().ljust(32, b"k")[:32]).decode()
    r = requests.post(server.url + "/api/v1/device/pair", timeout=30,
                      json={"hardware_id": "hw-" + name, "public_key": key, "hostname": name})
    p = r.json()
    r = admin.post(server.url + "/api/v1/pairings", json={"user_code": p["user_code"], "name": name}, timeout=30)
    assert r.status_code == 201, r.text
    sid = r.json()["screen"]["id"]
    assert admin.patch(server.url + f"/api/v1/screens/{sid}", json={"tags": [tag]}, timeout=30).ok
    t = requests.post(server.url + "/api/v1/device/token", json={"device_code": p["device_code"]}, timeout=30)
    assert t.status_code == 200, t.text
    return t.json()["access_token"], sid


def signed_release(server, admin, tmp_path, version):
    path = tmp_path / f"player-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"#!/bin/sh\n"
        info = tarfile.TarInfo("bin/vitrine-player")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    r = subprocess.run([str(build_binary("vitrine-server")), "--data", str(server.data_dir), "release", "sign", str(path),
                        "--name", "vitrine-player", "--version", version], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sig = base64.b64encode((tmp_path / f"player-{version}.tar.gz.vsig").read_bytes()).decode()
    r = admin.post(server.url + "/api/v1/releases", data=path.read_bytes(), timeout=30,
                   headers={"X-Release-Signature": sig, "Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return r.json()["release"]["id"]


def report(server, token, rollout_id, step):
    r = requests.post(server.url + "/api/v1/device/update-status", headers={"Authorization": "Bearer " + token},
                      json={"rollout_id": rollout_id, "step": step, "detail": "from the test"}, timeout=30)
    assert r.status_code == 200, r.text


def phase_row(driver, i):
    return driver.find_element(By.CSS_SELECTOR, f'#rollout-phases-table tr[data-phase="{i}"]')


def test_a_rollout_started_from_the_page_shows_its_progress_live(server, driver, tmp_path):
    admin = api_login(server, server.admin_login, server.admin_password)
    screens = [device_token(server, admin, f"Updwall{i}", "updwall") for i in range(2)]
    tokens = {sid: token for token, sid in screens}
    r = admin.post(server.url + "/api/v1/screen-groups", json={"name": "Update wall", "rule": "tag = updwall"},
                   timeout=30)
    assert r.status_code == 201, r.text
    release = signed_release(server, admin, tmp_path, "0.9.1")

    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + "/#/updates")
    form = wait(driver).until(EC.element_to_be_clickable((By.ID, "rollout-start")))
    Select(driver.find_element(By.ID, "rollout-release")).select_by_value(release)
    Select(driver.find_element(By.ID, "rollout-group")).select_by_visible_text("Update wall (2 screens)")
    phases = driver.find_element(By.ID, "rollout-phases")
    phases.clear()
    phases.send_keys("50, 100")
    threshold = driver.find_element(By.ID, "rollout-threshold")
    threshold.clear()
    threshold.send_keys("0")
    form.click()
    wait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#rollout-state[data-state="running"]'))
    mark_page(driver)
    ro = admin.get(server.url + "/api/v1/rollouts", timeout=30).json()["rollouts"][0]
    rid = ro["id"]
    detail = admin.get(server.url + f"/api/v1/rollouts/{rid}", timeout=30).json()["rollout"]
    first = [s["screen_id"] for s in detail["screens"] if s["phase"] == 0][0]
    second = [s["screen_id"] for s in detail["screens"] if s["phase"] == 1][0]
    assert phase_row(driver, 0).get_attribute("data-committed") == "0"

    # the first screen goes through its steps: the page follows without a reload
    report(server, tokens[first], rid, "downloading")
    wait(driver, 15).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f'#rollout-screens tr[data-screen-id="{first}"]').get_attribute("data-status") == "downloading")
    report(server, tokens[first], rid, "committed")
    wait(driver, 15).until(lambda d: phase_row(d, 0).get_attribute("data-committed") == "1")
    assert "1/1 updated" in phase_row(driver, 0).text
    wait(driver, 15).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f'#rollout-screens tr[data-screen-id="{second}"]').get_attribute("data-status") == "sent")

    # pause and resume from the page
    driver.find_element(By.ID, "rollout-pause").click()
    wait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#rollout-state[data-state="paused"]'))
    driver.find_element(By.ID, "rollout-resume").click()
    wait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#rollout-state[data-state="running"]'))

    # the second screen fails: over the threshold (0 %), the rollout pauses itself, live
    report(server, tokens[second], rid, "failed")
    state = wait(driver, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, '#rollout-state[data-state="paused"]')))
    assert "paused by itself" in state.text
    assert phase_row(driver, 1).get_attribute("data-failed") == "1"
    assert page_not_reloaded(driver)
    driver.save_screenshot(SCREENSHOT)
    assert not csp_problems(driver)
