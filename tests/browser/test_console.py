"""Browser tests of the admin console (web/console/) against a real vitrine-server.

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser
"""
import base64
import hashlib
import hmac
import struct
import time

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

EDITOR_LOGIN = "alice.editor"
EDITOR_NAME = "Alice Martin"
EDITOR_PASSWORD = "Editor-Passphrase-2024"
SCREENSHOT = "/tmp/console-users.png"


# ---------------------------------------------------------------- API helpers

def solve_pow(challenge, difficulty):
    """Same proof of work as web/console/pow.js, for the API helpers."""
    n = 0
    while True:
        digest = hashlib.sha256(f"{challenge}:{n}".encode()).digest()
        value = int.from_bytes(digest, "big")
        if value >> (256 - difficulty) == 0:
            return str(n)
        n += 1


def api_login(server, login, password):
    """A requests.Session logged in with the session cookie and the CSRF header set."""
    s = requests.Session()
    body = {"login": login, "password": password}
    for _ in range(3):
        r = s.post(server.url + "/api/v1/session", json=body, timeout=30)
        if r.status_code == 429 and r.json()["error"]["code"] == "challenge_required":
            ch = r.json()["error"]["challenge"]
            body.update(challenge=ch["challenge"], solution=solve_pow(ch["challenge"], ch["difficulty"]))
            continue
        break
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return s


def ensure_user(server, login, password, role="editor", name=""):
    s = api_login(server, server.admin_login, server.admin_password)
    r = s.post(server.url + "/api/v1/users",
               json={"login": login, "password": password, "role": role, "name": name}, timeout=30)
    assert r.status_code in (201, 409), r.text
    return s


def totp_code(secret, at=None):
    """RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 secret."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


# ---------------------------------------------------------------- browser helpers

def wait(driver, timeout=10):
    return WebDriverWait(driver, timeout)


def browser_login(driver, server, login, password, timeout=10):
    driver.get(server.url + "/")
    wait(driver).until(EC.element_to_be_clickable((By.ID, "login")))
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait(driver, timeout).until(EC.visibility_of_element_located((By.ID, "current-user")))
    wait(driver, timeout).until(lambda d: d.find_element(By.ID, "current-user").text.strip() != "")


def csp_problems(driver):
    """Console messages that show a CSP violation or a script error.

    Failed requests are left out: the console expects some (the 401 of
    GET /api/v1/session before login, wrong passwords, challenges)."""
    out = []
    for entry in driver.get_log("browser"):
        msg = entry.get("message", "")
        if "Content Security Policy" in msg or "Refused to" in msg:
            out.append(msg)
        elif entry.get("level") == "SEVERE" and "Failed to load resource" not in msg:
            out.append(msg)
    return out


def nav_visible(driver, element_id):
    found = driver.find_elements(By.ID, element_id)
    return bool(found) and found[0].is_displayed()


# ---------------------------------------------------------------- tests

def test_admin_creates_user_through_console(server, driver):
    browser_login(driver, server, server.admin_login, server.admin_password)
    # an admin lands on the screens page and sees every admin page in the nav
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    for nav in ("nav-screens", "nav-users", "nav-audit", "nav-account", "nav-profile", "nav-tokens"):
        assert nav_visible(driver, nav), nav
    driver.find_element(By.ID, "nav-users").click()
    wait(driver).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#users-table tr[data-login="{server.admin_login}"]')))

    driver.find_element(By.ID, "new-login").send_keys(EDITOR_LOGIN)
    driver.find_element(By.ID, "new-name").send_keys(EDITOR_NAME)
    driver.find_element(By.ID, "new-password").send_keys(EDITOR_PASSWORD)
    Select(driver.find_element(By.ID, "new-role")).select_by_value("editor")
    driver.find_element(By.ID, "user-create-submit").click()

    row = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f'#users-table tr[data-login="{EDITOR_LOGIN}"]')))
    assert EDITOR_NAME in row.text
    role = Select(row.find_element(By.CSS_SELECTOR, "select")).first_selected_option.get_attribute("value")
    assert role == "editor"
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "toast"), "created"))
    # the form was reset for the next user
    assert driver.find_element(By.ID, "new-login").get_attribute("value") == ""

    driver.save_screenshot(SCREENSHOT)
    assert csp_problems(driver) == []


def test_new_user_logs_in_without_admin_pages(server, driver):
    ensure_user(server, EDITOR_LOGIN, EDITOR_PASSWORD, name=EDITOR_NAME)
    browser_login(driver, server, EDITOR_LOGIN, EDITOR_PASSWORD)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    driver.find_element(By.ID, "nav-profile").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "profile-login")))
    assert driver.find_element(By.ID, "profile-login").text == EDITOR_LOGIN
    assert "editor" in driver.find_element(By.ID, "current-user").text
    assert not nav_visible(driver, "nav-users")
    assert not nav_visible(driver, "nav-audit")
    assert not nav_visible(driver, "nav-account")
    assert nav_visible(driver, "nav-profile")
    assert nav_visible(driver, "nav-tokens")
    assert nav_visible(driver, "nav-screens")

    # typing an admin page's address leads back to the screens page
    driver.get(server.url + "/#/users")
    wait(driver).until(EC.url_contains("#/screens"))
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    assert driver.find_elements(By.ID, "users-table") == []

    # log out returns to the login form
    driver.find_element(By.ID, "logout").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "login-form")))
    assert csp_problems(driver) == []


def test_audit_page_shows_user_created_and_live_events(server, driver):
    admin = ensure_user(server, EDITOR_LOGIN, EDITOR_PASSWORD, name=EDITOR_NAME)
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.find_element(By.ID, "nav-audit").click()
    row = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#audit-table tr[data-action="user.created"]')))
    assert "user.created" in row.text
    assert driver.find_element(By.ID, "audit-csv").get_attribute("href").endswith("/api/v1/audit.csv")

    # a new event arrives over the EventSource without a reload
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "audit-live"), "Live"))
    r = admin.post(server.url + "/api/v1/users",
                   json={"login": "live.check", "password": "Live-Check-Password-1", "role": "support"},
                   timeout=30)
    assert r.status_code == 201, r.text
    wait(driver).until(lambda d: any(
        "live.check" in tr.text
        for tr in d.find_elements(By.CSS_SELECTOR, '#audit-table tr[data-action="user.created"]')))
    # newest first: the live row is the first one
    first = driver.find_element(By.CSS_SELECTOR, "#audit-table tbody tr")
    assert "live.check" in first.text
    assert csp_problems(driver) == []


def test_password_reset_forces_a_new_password(server, driver, new_driver):
    ensure_user(server, "dave.support", "Dave-Initial-Pass-1", role="support")
    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    driver.find_element(By.ID, "nav-users").click()
    row = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#users-table tr[data-login="dave.support"]')))
    row.find_element(By.XPATH, ".//button[normalize-space()='Reset password']").click()
    wait(driver).until(EC.alert_is_present()).accept()
    temporary = wait(driver).until(
        EC.visibility_of_element_located((By.ID, "reset-password-value"))).get_attribute("value")
    assert len(temporary) >= 10

    dave = new_driver()
    browser_login(dave, server, "dave.support", temporary)
    wait(dave).until(EC.visibility_of_element_located((By.ID, "must-change-notice")))
    assert not nav_visible(dave, "nav-tokens")
    dave.find_element(By.ID, "pw-current").send_keys(temporary)
    dave.find_element(By.ID, "pw-new").send_keys("Dave-Chosen-Pass-22")
    dave.find_element(By.ID, "pw-confirm").send_keys("Dave-Chosen-Pass-22")
    dave.find_element(By.ID, "pw-submit").click()
    wait(dave).until(EC.presence_of_element_located((By.ID, "screens-table")))
    assert nav_visible(dave, "nav-tokens")
    assert dave.find_elements(By.ID, "must-change-notice") == []
    api_login(server, "dave.support", "Dave-Chosen-Pass-22")
    assert csp_problems(dave) == []


def test_totp_enrolment_then_login_with_code(server, driver):
    ensure_user(server, "carol.ops", "Carol-Password-77", role="operator")
    browser_login(driver, server, "carol.ops", "Carol-Password-77")
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    driver.find_element(By.ID, "nav-profile").click()
    wait(driver).until(EC.element_to_be_clickable((By.ID, "totp-enable"))).click()
    secret = wait(driver).until(EC.visibility_of_element_located((By.ID, "totp-secret"))).text
    assert driver.find_element(By.ID, "totp-uri").text.startswith("otpauth://totp/")
    driver.find_element(By.ID, "totp-confirm-code").send_keys(totp_code(secret))
    driver.find_element(By.ID, "totp-confirm").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "totp-disable-code")))

    driver.find_element(By.ID, "logout").click()
    wait(driver).until(EC.element_to_be_clickable((By.ID, "login")))
    driver.find_element(By.ID, "login").send_keys("carol.ops")
    driver.find_element(By.ID, "password").send_keys("Carol-Password-77")
    driver.find_element(By.ID, "login-submit").click()
    totp = wait(driver).until(EC.visibility_of_element_located((By.ID, "totp")))
    # a code is accepted once: use the next step's code (the server allows one step of skew)
    totp.send_keys(totp_code(secret, time.time() + 30))
    driver.find_element(By.ID, "login-submit").click()
    # signed out from the profile page, back on it
    wait(driver).until(EC.visibility_of_element_located((By.ID, "profile-login")))
    assert driver.find_element(By.ID, "profile-login").text == "carol.ops"
    assert csp_problems(driver) == []


def test_login_solves_challenge_after_failures(server, driver):
    for i in range(5):
        r = requests.post(server.url + "/api/v1/session",
                          json={"login": server.admin_login, "password": f"wrong-password-{i}"}, timeout=30)
        assert r.status_code in (401, 429), r.text
    r = requests.post(server.url + "/api/v1/session",
                      json={"login": server.admin_login, "password": "wrong-password-x"}, timeout=30)
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "challenge_required"

    browser_login(driver, server, server.admin_login, server.admin_password, timeout=30)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))

    admin = api_login(server, server.admin_login, server.admin_password)
    entries = admin.get(server.url + "/api/v1/audit?limit=50", timeout=30).json()["entries"]
    failed = [e for e in entries if e["action"] == "login.failed" and e["target"] == server.admin_login]
    assert len(failed) >= 5
    assert any(e["action"] == "login.ok" and e["target"] == server.admin_login for e in entries)
    assert csp_problems(driver) == []
