"""Browser tests of the screens pages of the console against a real vitrine-server
and a real vitrine-player: pairing by code, the live list, the detail page and
its instructions (SPEC section 2).

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser
"""
import base64
import hashlib
import os
import socket

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from conftest import write_png
from test_console import api_login, browser_login, csp_problems, ensure_user, nav_visible, wait

SCREENSHOT_LIST = "/tmp/console-screens.png"
SCREENSHOT_DETAIL = "/tmp/console-screen-detail.png"
SCREENSHOT_PAIR = "/tmp/console-pair.png"
ONLINE_TIMEOUT = 30  # the player asks for its token every 5 s once the code is confirmed


# ---------------------------------------------------------------- helpers

def full_page_screenshot(driver, path):
    """Saves the whole page, not only the viewport."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width = driver.execute_script("return window.innerWidth")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": int(size["height"]) + 1, "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.save_screenshot(path)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def screen_row(driver, screen_id):
    return f'#screens-table tr[data-screen-id="{screen_id}"]'


def row_online(driver, screen_id):
    rows = driver.find_elements(By.CSS_SELECTOR, screen_row(driver, screen_id))
    return bool(rows) and bool(rows[0].find_elements(By.CSS_SELECTOR, ".online"))


def image_loaded(driver, selector):
    return driver.execute_script(
        "const i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0;", selector)


def mark_page(driver):
    """Sets a marker that a full page reload would erase."""
    driver.execute_script("window.__vitrineNoReload = 42;")


def page_not_reloaded(driver):
    return driver.execute_script("return window.__vitrineNoReload === 42;")


def pair_by_api(admin, server, player, name):
    code = player.wait_code()
    r = admin.post(server.url + "/api/v1/pairings", json={"user_code": code, "name": name}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["screen"]


def device_pairing(server, hostname="test-host"):
    """Asks for a pairing as a device would (no player process); returns the user code."""
    key = base64.b64encode(os.urandom(32)).decode()
    r = requests.post(server.url + "/api/v1/device/pair", timeout=30, json={
        "hardware_id": "hw-" + os.urandom(4).hex(), "public_key": key, "hostname": hostname, "os": "TestOS 1"})
    assert r.status_code == 200, r.text
    return r.json()["user_code"], key


# ---------------------------------------------------------------- tests

def test_pair_a_real_player_then_control_it(server, driver, start_player, tmp_path):
    shot = write_png(tmp_path / "screen.png")
    player = start_player("--screenshot-command", f"cat {shot}",
                          "--volume-command", "echo no mixer on this screen >&2; exit 3")
    code = player.wait_code()
    admin = api_login(server, server.admin_login, server.admin_password)
    for s in admin.get(server.url + "/api/v1/screens", timeout=30).json()["screens"]:
        admin.delete(server.url + f"/api/v1/screens/{s['id']}", timeout=30)

    # an admin lands on the screens page, empty for now
    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.url_contains("#/screens"))
    wait(driver).until(EC.visibility_of_element_located((By.ID, "screens-empty")))
    assert nav_visible(driver, "nav-screens")
    assert driver.find_element(By.ID, "nav-screens").get_attribute("aria-current") == "page"
    mark_page(driver)

    # pair it: the code typed in lower case, without the dash
    driver.find_element(By.ID, "pair-button").click()
    code_input = wait(driver).until(EC.element_to_be_clickable((By.ID, "pair-code")))
    code_input.send_keys(code.replace("-", "").lower())
    preview = wait(driver).until(EC.visibility_of_element_located((By.ID, "pair-hostname")))
    assert code_input.get_attribute("value") == code  # upper case, dash added
    assert preview.text == socket.gethostname()
    box = driver.find_element(By.ID, "pair-preview")
    assert code in box.text
    assert "127.0.0.1" in driver.find_element(By.ID, "pair-ip").text
    assert driver.find_element(By.ID, "pair-version").text.strip() not in ("", "—")
    assert "min" in driver.find_element(By.ID, "pair-expiry").text
    full_page_screenshot(driver, SCREENSHOT_PAIR)
    driver.find_element(By.ID, "pair-name").send_keys("Lobby")
    wait(driver).until(EC.element_to_be_clickable((By.ID, "pair-submit"))).click()

    # the new screen's page
    wait(driver).until(EC.url_matches(r"#/screens/[a-z2-7]{16}$"))
    screen_id = driver.current_url.rsplit("/", 1)[1]
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "page-title"), "Lobby"))
    screen = admin.get(server.url + f"/api/v1/screens/{screen_id}", timeout=30).json()["screen"]
    key = base64.b64decode(screen["public_key"])
    fingerprint = hashlib.sha256(key).hexdigest()[:32]  # 16 bytes, as the CLI and the player show it
    wait(driver).until(lambda d: d.find_element(By.ID, "screen-fingerprint").text.replace(" ", "") == fingerprint)
    assert driver.find_element(By.ID, "screen-public-key").text == screen["public_key"]
    assert driver.find_element(By.ID, "screen-hostname").text == socket.gethostname()

    # back to the list, without a reload: Lobby comes online live
    driver.find_element(By.ID, "nav-screens").click()
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, screen_row(driver, screen_id))))
    wait(driver, ONLINE_TIMEOUT).until(lambda d: row_online(d, screen_id))
    row = driver.find_element(By.CSS_SELECTOR, screen_row(driver, screen_id))
    assert "Lobby" in row.text
    assert "Online" in row.text
    version = admin.get(server.url + f"/api/v1/screens/{screen_id}", timeout=30).json()["screen"]["version"]
    assert version
    wait(driver).until(lambda d: version in d.find_element(By.CSS_SELECTOR, screen_row(d, screen_id)).text)
    assert driver.find_elements(By.ID, "screens-empty") == []
    assert page_not_reloaded(driver)

    # the detail page: identify, then a screenshot
    row.find_element(By.CSS_SELECTOR, "a.screen-link").click()
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#screen-status .online")))
    wait(driver).until(EC.element_to_be_clickable((By.ID, "action-identify"))).click()
    done = wait(driver, 15).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#instructions-table tr[data-type="identify"][data-status="ok"]')))
    assert "ok" in done.text
    assert "10 s" in done.text  # the player's result: shown for 10 s
    assert done.get_attribute("data-instruction-id")

    assert not image_loaded(driver, "#screen-screenshot")
    driver.find_element(By.ID, "action-screenshot").click()
    wait(driver, 15).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#instructions-table tr[data-type="screenshot"][data-status="ok"]')))
    wait(driver, 15).until(lambda d: image_loaded(d, "#screen-screenshot"))
    assert driver.execute_script("return document.querySelector('#screen-screenshot').naturalWidth") == 160

    # a failing instruction shows the player's reason
    driver.execute_script("const v = document.getElementById('volume'); v.value = '30';"
                          "v.dispatchEvent(new Event('input', {bubbles: true}));")
    driver.find_element(By.ID, "action-set_volume").click()
    failed = wait(driver, 15).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#instructions-table tr[data-type="set_volume"][data-status="failed"]')))
    assert "no mixer on this screen" in failed.text
    history = admin.get(server.url + f"/api/v1/screens/{screen_id}", timeout=30).json()["screen"]["instructions"]
    sent = ("identify", "screenshot", "set_volume")
    assert [(i["type"], i["status"]) for i in history if i["type"] in sent] == [
        ("set_volume", "failed"), ("screenshot", "ok"), ("identify", "ok")]

    # group and tags
    group = driver.find_element(By.ID, "screen-group")
    group.clear()
    group.send_keys("Ground floor")
    driver.find_element(By.ID, "screen-tags").send_keys("lobby, portrait, lobby")
    driver.find_element(By.ID, "screen-save").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "toast"), "saved"))
    saved = admin.get(server.url + f"/api/v1/screens/{screen_id}", timeout=30).json()["screen"]
    assert saved["group"] == "Ground floor"
    assert saved["tags"] == ["lobby", "portrait"]
    full_page_screenshot(driver, SCREENSHOT_DETAIL)

    # the list shows the thumbnail, group and tags
    driver.find_element(By.ID, "nav-screens").click()
    thumb = screen_row(driver, screen_id) + " .shot-thumb img"
    wait(driver).until(lambda d: image_loaded(d, thumb))
    row = driver.find_element(By.CSS_SELECTOR, screen_row(driver, screen_id))
    assert "Ground floor" in row.text
    assert "portrait" in row.text
    assert page_not_reloaded(driver)
    full_page_screenshot(driver, SCREENSHOT_LIST)
    assert csp_problems(driver) == []


def test_list_follows_pairing_and_deletion_live(server, driver, start_player):
    player = start_player()
    admin = api_login(server, server.admin_login, server.admin_password)
    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screens-live"), "Live"))
    mark_page(driver)

    # paired elsewhere: the row appears, then turns online, without a reload
    screen = pair_by_api(admin, server, player, "Doomed display")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, screen_row(driver, screen["id"]))))
    wait(driver, ONLINE_TIMEOUT).until(lambda d: row_online(d, screen["id"]))
    code = player.codes()[-1]

    # renamed elsewhere
    r = admin.patch(server.url + f"/api/v1/screens/{screen['id']}", json={"name": "Doomed screen"}, timeout=30)
    assert r.status_code == 200, r.text
    wait(driver).until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, screen_row(driver, screen["id"]) + " .screen-link"), "Doomed screen"))

    # deleted elsewhere: the row goes away
    r = admin.delete(server.url + f"/api/v1/screens/{screen['id']}", timeout=30)
    assert r.status_code == 200, r.text
    wait(driver).until(EC.invisibility_of_element_located((By.CSS_SELECTOR, screen_row(driver, screen["id"]))))
    assert driver.find_elements(By.CSS_SELECTOR, screen_row(driver, screen["id"])) == []
    assert page_not_reloaded(driver)
    # its token was revoked at once: the player is back to pairing with a new code
    assert player.wait_code(previous=code, timeout=30) != code
    assert csp_problems(driver) == []


def test_pair_page_errors_and_prefilled_code(server, driver):
    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))

    # the QR code's address fills the code in and shows the waiting screen
    code, _ = device_pairing(server, hostname="qr-host")
    shown = f"{code[:4]}-{code[4:]}"
    driver.get(server.url + f"/#/pair?code={shown}")
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "pair-hostname"), "qr-host"))
    assert driver.find_element(By.ID, "pair-code").get_attribute("value") == shown
    assert driver.find_element(By.ID, "pair-submit").is_enabled()

    # a code nobody shows: the server's 404 is explained
    code_input = driver.find_element(By.ID, "pair-code")
    code_input.clear()
    code_input.send_keys("2222-2222")
    error = wait(driver).until(EC.visibility_of_element_located((By.ID, "pair-error")))
    assert "no screen is waiting" in error.text.lower()
    assert not driver.find_element(By.ID, "pair-preview").is_displayed()
    assert not driver.find_element(By.ID, "pair-submit").is_enabled()

    # characters that no code contains are pointed out
    code_input.clear()
    code_input.send_keys("O0I1")
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "pair-code-hint"), "never contain"))
    assert csp_problems(driver) == []


def test_roles_see_what_they_may_do(server, driver, new_driver):
    admin = api_login(server, server.admin_login, server.admin_password)
    code, _ = device_pairing(server)
    r = admin.post(server.url + "/api/v1/pairings", json={"user_code": code, "name": "Roles check"}, timeout=30)
    assert r.status_code == 201, r.text
    screen_id = r.json()["screen"]["id"]
    ensure_user(server, "sam.support", "Sam-Support-Pass-1", role="support")
    ensure_user(server, "eve.editor", "Eve-Editor-Pass-1", role="editor")

    # support: remote control, but no pairing, settings or delete
    browser_login(driver, server, "sam.support", "Sam-Support-Pass-1")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, screen_row(driver, screen_id))))
    assert driver.find_elements(By.ID, "pair-button") == []
    driver.get(server.url + f"/#/screens/{screen_id}")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "action-identify")))
    for control in ("action-screenshot", "action-reboot", "action-restart_player", "action-set_volume",
                    "action-set_brightness", "volume", "brightness"):
        assert driver.find_elements(By.ID, control), control
    assert driver.find_elements(By.ID, "screen-delete") == []
    assert driver.find_elements(By.ID, "screen-name") == []
    assert "Offline" in driver.find_element(By.ID, "screen-status").text
    driver.get(server.url + "/#/pair")
    wait(driver).until(EC.url_contains("#/screens"))
    assert csp_problems(driver) == []

    # editor: sees the screens, sends nothing
    editor = new_driver()
    browser_login(editor, server, "eve.editor", "Eve-Editor-Pass-1")
    wait(editor).until(EC.presence_of_element_located((By.CSS_SELECTOR, screen_row(editor, screen_id))))
    editor.get(server.url + f"/#/screens/{screen_id}")
    wait(editor).until(EC.text_to_be_present_in_element((By.ID, "page-title"), "Roles check"))
    wait(editor).until(EC.presence_of_element_located((By.ID, "instructions-table")))
    assert editor.find_elements(By.ID, "action-identify") == []
    assert editor.find_elements(By.ID, "screen-delete") == []
    assert csp_problems(editor) == []
    admin.delete(server.url + f"/api/v1/screens/{screen_id}", timeout=30)
