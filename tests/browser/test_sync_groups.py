"""Browser test of the console's Sync groups pages (web/console/views/sync-groups.js)
against a real vitrine-server: an admin creates a group from a name and the
screens ticked (numbered in the order ticked), sees its members and what
their players report (a heartbeat's "sync" object, refreshed on the page
every few seconds, the leader's badge), changes its screens, and deletes it.
The screens are paired through the API as a device would (no player).

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser/test_sync_groups.py
"""
import os

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from test_console import api_login, browser_login, csp_problems, wait

SCREENSHOT = "/tmp/console-sync-group.png"
SCREENSHOT_LIST = "/tmp/console-sync-groups.png"
SCREENSHOT_FORM = "/tmp/console-sync-group-new.png"


def pair(server, admin, name):
    """A screen paired as a device would: (screen id, device headers)."""
    key = __import__("base64").b64encode(os.urandom(32)).decode()
    r = requests.post(server.url + "/api/v1/device/pair", timeout=30,
                      json={"hardware_id": "hw-" + os.urandom(4).hex(), "public_key": key})
    assert r.status_code == 200, r.text
    p = r.json()
    screen = admin.post(server.url + "/api/v1/pairings", json={"user_code": p["user_code"], "name": name},
                        timeout=30).json()["screen"]
    t = requests.post(server.url + "/api/v1/device/token", json={"device_code": p["device_code"]}, timeout=30)
    assert t.status_code == 200, t.text
    return screen["id"], {"Authorization": "Bearer " + t.json()["access_token"]}


def member_rows(driver):
    """(number, screen name) of each row of the members table, read at once (the page refreshes it)."""
    return [tuple(r) for r in driver.execute_script(
        "return [...document.querySelectorAll('#sync-members-table tr[data-screen-id]')]"
        ".map((tr) => [tr.dataset.member, tr.querySelector('a').textContent]);")]


def test_create_a_sync_group_see_its_members_and_delete_it(server, driver):
    admin = api_login(server, server.admin_login, server.admin_password)
    for g in admin.get(server.url + "/api/v1/sync-groups", timeout=30).json()["sync_groups"]:
        admin.delete(server.url + f"/api/v1/sync-groups/{g['id']}", timeout=30)
    (left, hl), (right, hr), (spare, _) = [pair(server, admin, n) for n in ("Wall left", "Wall right", "Wall spare")]
    browser_login(driver, server, server.admin_login, server.admin_password)

    # from the Screens page to the Sync groups page
    driver.get(server.url + "/#/screens")
    wait(driver).until(EC.element_to_be_clickable((By.ID, "sync-groups-button"))).click()
    name = wait(driver).until(EC.element_to_be_clickable((By.ID, "sync-group-name")))
    assert driver.find_element(By.CSS_SELECTOR, "#sync-groups-table tr.empty")
    name.send_keys("Lobby wall")
    # ticked right first: right is member 1
    driver.find_element(By.ID, f"sync-group-screens-{right}").click()
    driver.find_element(By.ID, f"sync-group-screens-{left}").click()
    assert "#1" in driver.find_element(By.CSS_SELECTOR, f"label[for='sync-group-screens-{right}']").text
    driver.save_screenshot(SCREENSHOT_FORM)
    driver.find_element(By.ID, "sync-group-create").click()

    # the group's page: members by number
    wait(driver, 15).until(lambda d: len(member_rows(d)) == 2)
    assert member_rows(driver) == [("1", "Wall right"), ("2", "Wall left")]
    assert driver.find_element(By.ID, "page-title").text == "Lobby wall"
    groups = admin.get(server.url + "/api/v1/sync-groups", timeout=30).json()["sync_groups"]
    assert len(groups) == 1 and [m["screen_id"] for m in groups[0]["members"]] == [right, left]
    gid = groups[0]["id"]
    assert not any(len(t) == 64 for t in driver.find_element(By.TAG_NAME, "main").text.split()), "no key shown"

    # what the players report shows up on its own (the page refreshes)
    for h, st, off in ((hr, "leader", 0), (hl, "member", 2.5)):
        r = requests.post(server.url + "/api/v1/device/heartbeat", headers=h, timeout=30,
                          json={"sync": {"group": gid, "state": st, "leader": 1, "offset_ms": off, "delay_ms": 0.75,
                                         "peers": 1}})
        assert r.status_code == 200, r.text
    leader_row = f"#sync-members-table tr[data-screen-id='{right}']"
    wait(driver, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, leader_row + " .badge-ok.online")))
    wait(driver, 15).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, leader_row + " .sync-state"), "Leader"))
    follower = f"#sync-members-table tr[data-screen-id='{left}']"
    wait(driver, 15).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, follower + " .sync-offset"), "2.5 ms"))
    assert driver.find_element(By.CSS_SELECTOR, follower + " .sync-delay").text == "0.75 ms"
    assert "Following" in driver.find_element(By.CSS_SELECTOR, follower + " .sync-state").text
    assert "Leader" not in driver.find_element(By.CSS_SELECTOR, follower + " .sync-state").text
    assert "Wall right" in driver.find_element(By.ID, "sync-group-leader").text
    driver.save_screenshot(SCREENSHOT)

    # change its screens: left leaves, spare joins and takes number 2
    driver.find_element(By.ID, f"sync-edit-screens-{left}").click()
    driver.find_element(By.ID, f"sync-edit-screens-{spare}").click()
    driver.find_element(By.ID, "sync-edit-save").click()
    wait(driver, 15).until(lambda d: member_rows(d) == [("1", "Wall right"), ("2", "Wall spare")])

    # a bad change says why and changes nothing
    driver.find_element(By.ID, f"sync-edit-screens-{spare}").click()
    driver.find_element(By.ID, "sync-edit-save").click()
    err = wait(driver).until(EC.visibility_of_element_located((By.ID, "sync-edit-error")))
    assert "2 to 64" in err.text

    # the list shows it with its leader; delete it from its page
    driver.get(server.url + f"/#/sync-groups")
    row = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, f"tr[data-sync-group-id='{gid}']")))
    assert row.find_element(By.CSS_SELECTOR, ".sync-members").text == "2"
    driver.save_screenshot(SCREENSHOT_LIST)
    assert "Wall right" in row.find_element(By.CSS_SELECTOR, ".sync-leader").text
    row.find_element(By.CSS_SELECTOR, "a").click()
    wait(driver).until(EC.element_to_be_clickable((By.ID, "sync-group-delete"))).click()
    wait(driver).until(EC.alert_is_present()).accept()
    wait(driver, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#sync-groups-table tr.empty")))
    assert admin.get(server.url + "/api/v1/sync-groups", timeout=30).json()["sync_groups"] == []
    assert csp_problems(driver) == []
