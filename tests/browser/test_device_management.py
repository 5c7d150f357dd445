"""Browser tests of device management in the console (SPEC section 7) against a
real vitrine-server and real vitrine-players: the inventory on a screen's
page, the rule filter of the screens list, dynamic groups and an action sent
to a group whose acknowledgements arrive live, collected logs, and the
display power schedule editor.

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser/test_device_management.py
"""
import os
import platform

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from test_console import api_login, browser_login, csp_problems, wait
from test_screens import pair_by_api

SCREENSHOT_GROUPS = "/tmp/console-screen-groups.png"
SCREENSHOT_DEVICE = "/tmp/console-screen-device.png"


def paired(server, admin, start_player, name, *extra):
    player = start_player(*extra)
    screen = pair_by_api(admin, server, player, name)
    return player, screen["id"]


def reported(admin, server, sid):
    return admin.get(server.url + f"/api/v1/screens/{sid}", timeout=30).json()["screen"]["inventory_at"] > 0


def test_inventory_rules_groups_and_a_group_action(server, driver, start_player, tmp_path):
    admin = api_login(server, server.admin_login, server.admin_password)
    for s in admin.get(server.url + "/api/v1/screens", timeout=30).json()["screens"]:
        admin.delete(server.url + f"/api/v1/screens/{s['id']}", timeout=30)
    for g in admin.get(server.url + "/api/v1/screen-groups", timeout=30).json()["groups"]:
        admin.delete(server.url + f"/api/v1/screen-groups/{g['id']}", timeout=30)
    marks = tmp_path / "display"
    screens = []
    for i, tag in enumerate(["hall", "hall", "office"]):
        _, sid = paired(server, admin, start_player, f"Device {i}",
                        "--display-on-command", f"echo on >> {marks}", "--display-off-command", f"echo off >> {marks}",
                        "--logs-command", "echo JOURNAL-LINE")
        assert admin.patch(server.url + f"/api/v1/screens/{sid}", json={"tags": [tag]}, timeout=30).ok
        screens.append(sid)
    browser_login(driver, server, server.admin_login, server.admin_password)

    # the inventory on the screen's page, live once the player reported it
    driver.get(server.url + f"/#/screens/{screens[0]}")
    kernel = wait(driver, 40).until(EC.visibility_of_element_located((By.ID, "inventory-kernel")))
    assert kernel.text == platform.release()
    assert str(os.cpu_count()) in driver.find_element(By.ID, "inventory-cpu").text
    assert "(player data)" in driver.find_element(By.ID, "inventory-disks").text

    # collect logs from the page: the archive appears with a download link
    driver.find_element(By.ID, "action-collect_logs").click()
    link = wait(driver, 40).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#screen-logs a[download]")))
    assert f"/api/v1/screens/{screens[0]}/logs/" in link.get_attribute("href")

    # a power schedule edited and saved: the player switches its display
    driver.find_element(By.ID, "power-add").click()
    period = driver.find_elements(By.CSS_SELECTOR, "#power-periods .power-period")[-1]
    for box in period.find_elements(By.CSS_SELECTOR, "input[type=checkbox]"):
        if not box.is_selected():
            box.click()
    driver.execute_script("arguments[0].value = '00:00'; arguments[1].value = '23:59';",
                          period.find_element(By.CSS_SELECTOR, ".power-on"), period.find_element(By.CSS_SELECTOR, ".power-off"))
    driver.find_element(By.ID, "power-save").click()
    wait(driver, 30).until(lambda d: admin.get(server.url + f"/api/v1/screens/{screens[0]}", timeout=30)
                           .json()["screen"]["power_schedule"] == [{"days": [1, 2, 3, 4, 5, 6, 7], "on": "00:00", "off": "23:59"}])
    wait(driver, 30).until(EC.text_to_be_present_in_element((By.ID, "power-status"), "Display is on"))
    assert marks.read_text().split()[-1] == "on"
    driver.save_screenshot(SCREENSHOT_DEVICE)

    # the screens list filtered by a rule; a bad rule says where it is wrong
    driver.get(server.url + "/#/screens")
    rule = wait(driver).until(EC.element_to_be_clickable((By.ID, "screens-rule")))
    rule.send_keys("tag = hall and cores >= 1")
    wait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#screens-table tr[data-screen-id]")) == 2)
    shown = {tr.get_attribute("data-screen-id") for tr in driver.find_elements(By.CSS_SELECTOR, "#screens-table tr[data-screen-id]")}
    assert shown == set(screens[:2])
    rule.send_keys(" and")
    err = wait(driver, 15).until(EC.visibility_of_element_located((By.ID, "screens-rule-error")))
    assert "at character" in err.text

    # a dynamic group, its live preview, and an action to all its screens
    driver.find_element(By.ID, "groups-button").click()
    wait(driver).until(EC.element_to_be_clickable((By.ID, "group-name"))).send_keys("Hall screens")
    driver.find_element(By.ID, "group-rule").send_keys("tag = hall")
    wait(driver, 15).until(EC.text_to_be_present_in_element((By.ID, "group-rule-preview"), "2 screens match"))
    driver.find_element(By.ID, "group-create").click()
    row = wait(driver, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, '#groups-table tr[data-name="Hall screens"]')))
    assert "2 (" in row.find_element(By.CSS_SELECTOR, ".group-members").text
    Select(row.find_element(By.CSS_SELECTOR, "select.action-type")).select_by_visible_text("Identify")
    row.find_element(By.CSS_SELECTOR, "button.action-send").click()
    wait(driver, 30).until(lambda d: d.find_elements(By.ID, "action-counts")
                           and d.find_element(By.ID, "action-counts").get_attribute("data-done") == "2")
    assert "2 done" in driver.find_element(By.ID, "action-counts").text
    statuses = {tr.get_attribute("data-screen-id"): tr.get_attribute("data-status")
                for tr in driver.find_elements(By.CSS_SELECTOR, "#action-screens tr[data-screen-id]")}
    assert statuses == {screens[0]: "ok", screens[1]: "ok"}
    assert driver.find_elements(By.CSS_SELECTOR, "#actions-table tr[data-action-id]")
    driver.save_screenshot(SCREENSHOT_GROUPS)
    assert not csp_problems(driver)
