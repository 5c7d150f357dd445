"""Browser tests of the content pages of the console against a real vitrine-server
(and a real vitrine-player): the media library and its uploads, the channel
editor, editors' grants, assigning a channel to a screen, schedules, reports
and the firewall page.

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser
"""
import base64
import hashlib
import os
import time
import struct
import zlib
from pathlib import Path
from urllib.parse import urlparse

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from test_console import api_login, browser_login, csp_problems, ensure_user, nav_visible, wait
from test_screens import full_page_screenshot, image_loaded, mark_page, page_not_reloaded, pair_by_api

SCREENSHOT_MEDIA = "/tmp/console-media.png"
SCREENSHOT_CHANNEL = "/tmp/console-channel-editor.png"
SCREENSHOT_FIREWALL = "/tmp/console-firewall.png"
SCREENSHOT_SCREEN = "/tmp/console-screen-content.png"
SYNC_TIMEOUT = 45  # manifest_changed, download, switch, then the next heartbeat (2 s)


# ---------------------------------------------------------------- helpers

def write_noisy_png(path, width=720, height=700):
    """An RGB PNG of random pixels (~1.5 MB: it does not compress), so an upload has progress steps."""
    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)
    return Path(path)


def upload_by_api(admin, server, path, filename=None):
    data = Path(path).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    r = admin.put(server.url + f"/api/v1/media/{sha}", data=data,
                  headers={"X-Filename": filename or Path(path).name}, timeout=60)
    assert r.status_code in (200, 201), r.text
    return sha


def centred(driver, element_id):
    """The element, scrolled to the middle of the window (clear of the sticky top and save bars)."""
    el = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    return el


def click(driver, element_id):
    el = centred(driver, element_id)
    wait(driver).until(EC.element_to_be_clickable((By.ID, element_id)))
    el.click()
    return el


def choose(driver, element_id, value):
    Select(centred(driver, element_id)).select_by_value(value)


def set_field(driver, element_id, value):
    """Replaces an input's value as a user would (select all, type)."""
    el = centred(driver, element_id)
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(Keys.DELETE)
    el.send_keys(str(value))
    return el


def set_value_js(driver, element_id, value):
    """For date and time inputs, whose typing depends on the browser's locale."""
    driver.execute_script(
        "const el = document.getElementById(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));",
        element_id, value)


def media_row(sha):
    return f'#media-table tr[data-sha256="{sha}"]'


def upload_state(driver, filename):
    items = driver.find_elements(By.CSS_SELECTOR, f'#upload-progress li[data-filename="{filename}"]')
    return items[-1].get_attribute("data-state") if items else None


def login_at(driver, server, path, login, password):
    """Signs in on the console served at `path` (the firewall page is served at /firewall)."""
    driver.get(server.url + path)
    wait(driver).until(EC.element_to_be_clickable((By.ID, "login")))
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "current-user")))


def paired_device(admin, server, name):
    """A screen paired through the API, without a player: (screen id, its device token)."""
    key = base64.b64encode(os.urandom(32)).decode()
    r = requests.post(server.url + "/api/v1/device/pair", timeout=30, json={
        "hardware_id": "hw-" + os.urandom(4).hex(), "public_key": key, "hostname": name, "os": "TestOS 1"})
    assert r.status_code == 200, r.text
    pairing = r.json()
    r = admin.post(server.url + "/api/v1/pairings", json={"user_code": pairing["user_code"], "name": name}, timeout=30)
    assert r.status_code == 201, r.text
    r = requests.post(server.url + "/api/v1/device/token", json={"device_code": pairing["device_code"]}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["device_id"], r.json()["access_token"]


def user_id(admin, server, login):
    users = admin.get(server.url + "/api/v1/users", timeout=30).json()["users"]
    return next(u["id"] for u in users if u["login"] == login)


# ---------------------------------------------------------------- tests

def test_media_library_uploads_with_progress(server, driver, tmp_path):
    png = write_noisy_png(tmp_path / "lobby-poster.png")
    size = png.stat().st_size
    assert 1_400_000 < size < 2_000_000
    sha = hashlib.sha256(png.read_bytes()).hexdigest()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a picture\n" * 10)

    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    for nav in ("nav-media", "nav-channels", "nav-schedules", "nav-reports"):
        assert nav_visible(driver, nav), nav
    driver.find_element(By.ID, "nav-media").click()
    wait(driver).until(EC.presence_of_element_located((By.ID, "media-table")))
    assert driver.find_element(By.ID, "nav-media").get_attribute("aria-current") == "page"
    used_before = int(driver.find_element(By.ID, "media-quota").get_attribute("data-used"))
    mark_page(driver)

    # the upload: hashed in the browser, asked for with HEAD, sent with a progress bar
    driver.find_element(By.ID, "media-file").send_keys(str(png))
    bar = f'#upload-progress progress[data-filename="{png.name}"]'
    wait(driver, 30).until(lambda d: upload_state(d, png.name) == "done")
    progress = driver.find_element(By.CSS_SELECTOR, bar)
    assert float(progress.get_attribute("value")) == float(progress.get_attribute("max")) == 100
    assert "Uploaded" in driver.find_element(By.CSS_SELECTOR, f'#upload-progress li[data-filename="{png.name}"]').text
    row = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, media_row(sha))))
    assert png.name in row.text and "Image" in row.text and "MiB" in row.text
    wait(driver).until(lambda d: image_loaded(d, media_row(sha) + " img"))
    used = int(driver.find_element(By.ID, "media-quota").get_attribute("data-used"))
    assert used == used_before + size
    assert "used" in driver.find_element(By.ID, "media-quota-text").text

    # the same file again is not sent: HEAD says the library has it
    driver.find_element(By.ID, "media-file").send_keys(str(png))
    wait(driver, 30).until(lambda d: upload_state(d, png.name) == "exists")
    assert "Already in the library" in driver.find_elements(
        By.CSS_SELECTOR, f'#upload-progress li[data-filename="{png.name}"]')[-1].text

    # a file of another type is refused by the server (415), and said so
    driver.find_element(By.ID, "media-file").send_keys(str(text_file))
    wait(driver, 30).until(lambda d: upload_state(d, text_file.name) == "failed")
    failed = driver.find_element(By.CSS_SELECTOR, f'#upload-progress li[data-filename="{text_file.name}"]')
    assert "Not accepted" in failed.text and "text/plain" in failed.text

    # without crypto.subtle (a plain-HTTP origin), pow.js hashes the file; a UTF-8 name survives
    driver.execute_script("Object.defineProperty(window.crypto, 'subtle', {get: () => undefined});")
    assert driver.execute_script("return window.crypto.subtle === undefined;")
    small = write_noisy_png(tmp_path / "Café menu – ü.png", 96, 64)
    small_sha = hashlib.sha256(small.read_bytes()).hexdigest()
    driver.find_element(By.ID, "media-file").send_keys(str(small))
    wait(driver, 30).until(lambda d: upload_state(d, small.name) == "done")
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, media_row(small_sha))))
    admin = api_login(server, server.admin_login, server.admin_password)
    assert admin.get(server.url + f"/api/v1/media/{small_sha}", timeout=30).json()["media"]["filename"] == small.name

    # rename and tag it
    driver.find_element(By.CSS_SELECTOR, media_row(sha) + " .media-edit-button").click()
    key = sha[:12]
    name_input = wait(driver).until(EC.visibility_of_element_located((By.ID, f"media-name-{key}")))
    assert driver.switch_to.active_element == name_input
    set_field(driver, f"media-name-{key}", "Lobby poster.png")
    driver.find_element(By.ID, f"media-tags-{key}").send_keys("lobby, summer, lobby")
    driver.find_element(By.ID, f"media-save-{key}").click()
    wait(driver).until(lambda d: d.execute_script(
        "const r = document.querySelector(arguments[0]); return r && r.dataset.filename;", media_row(sha)) == "Lobby poster.png")
    stored = admin.get(server.url + f"/api/v1/media/{sha}", timeout=30).json()["media"]
    assert stored["filename"] == "Lobby poster.png" and stored["tags"] == ["lobby", "summer"]

    # search and tag filter (server side)
    driver.find_element(By.ID, "media-search").send_keys("no such file")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "media-empty")))
    set_field(driver, "media-search", "poster")
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, media_row(sha))))
    Select(driver.find_element(By.ID, "media-tag")).select_by_value("summer")
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, media_row(sha))))
    assert page_not_reloaded(driver)
    full_page_screenshot(driver, SCREENSHOT_MEDIA)
    assert csp_problems(driver) == []


def test_channel_editor_then_assign_to_a_real_player(server, driver, start_player, tmp_path):
    admin = api_login(server, server.admin_login, server.admin_password)
    sha = upload_by_api(admin, server, write_noisy_png(tmp_path / "welcome.png", 320, 180), "welcome.png")
    player = start_player()

    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    click(driver, "nav-channels")
    wait(driver).until(EC.presence_of_element_located((By.ID, "channels-table")))
    click(driver, "channel-new")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "channel-name"))).send_keys("Lobby TV")

    # two zones: the picture above, a text ticker below
    set_field(driver, "zone-0-h", 900)
    click(driver, "zone-add")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "zone-1-name")))
    assert driver.switch_to.active_element.get_attribute("id") == "zone-1-name"
    set_field(driver, "zone-1-name", "ticker")
    set_field(driver, "zone-1-y", 900)
    set_field(driver, "zone-1-h", 500)  # past the bottom of the canvas: the server says where
    choose(driver, "zone-0-add-media", sha)
    click(driver, "zone-0-add")
    wait(driver).until(EC.presence_of_element_located((By.ID, "zone-0-item-0")))
    choose(driver, "zone-1-add-kind", "text")
    driver.find_element(By.ID, "zone-1-add-text").send_keys("Welcome to the lobby")
    click(driver, "zone-1-add")
    driver.find_element(By.ID, "zone-1-add-text").send_keys("Second line")
    driver.find_element(By.ID, "zone-1-add-text").send_keys(Keys.ENTER)  # the add form submits on Enter
    wait(driver).until(EC.presence_of_element_located((By.ID, "zone-1-item-1")))
    # the preview draws both zones, with the picture in the first
    boxes = driver.find_elements(By.CSS_SELECTOR, "#channel-preview .zone-box")
    assert [b.get_attribute("data-zone") for b in boxes] == ["main", "ticker"]
    assert boxes[0].find_elements(By.CSS_SELECTOR, "img")

    click(driver, "channel-save")
    error = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zone-1-h ~ .field-error, .field:has(#zone-1-h) .field-error")))
    assert "past the canvas height 1080" in error.text  # the schema says how far
    assert driver.find_element(By.ID, "zone-1-h").get_attribute("aria-invalid") == "true"
    assert "zones[1].h" in driver.find_element(By.ID, "channel-error").text
    assert driver.switch_to.active_element.get_attribute("id") == "zone-1-h"

    set_field(driver, "zone-1-h", 180)
    # the second text first, and only on weekdays from 8 to 18
    click(driver, "zone-1-item-1-up")
    assert driver.switch_to.active_element.get_attribute("id") == "zone-1-item-0-down"
    assert driver.find_element(By.ID, "zone-1-item-0-text").get_attribute("value") == "Second line"
    summary = driver.find_element(By.CSS_SELECTOR, "#zone-1-item-0-valid summary")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
    summary.click()
    click(driver, "zone-1-item-0-day-6")
    click(driver, "zone-1-item-0-day-7")
    set_value_js(driver, "zone-1-item-0-start", "08:00")
    set_value_js(driver, "zone-1-item-0-end", "18:00")
    assert driver.find_element(By.ID, "zone-1-item-0-valid-text").text == "Mon–Fri · 08:00–18:00"
    choose(driver, "zone-1-item-0-transition", "slide")
    set_field(driver, "zone-1-item-0-duration", 15)
    assert "Unsaved" in driver.find_element(By.ID, "channel-dirty").text
    click(driver, "channel-save")

    wait(driver).until(EC.url_matches(r"#/channels/[a-z2-7]{16}$"))
    channel_id = driver.current_url.rsplit("/", 1)[1]
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "page-title"), "Lobby TV"))
    wait(driver).until(EC.visibility_of_element_located((By.ID, "zone-1-item-1")))
    ch = admin.get(server.url + f"/api/v1/channels/{channel_id}", timeout=30).json()["channel"]
    assert [(z["name"], z["x"], z["y"], z["w"], z["h"]) for z in ch["zones"]] == [
        ("main", 0, 0, 1920, 900), ("ticker", 0, 900, 1920, 180)]
    assert [(i["type"], i.get("media")) for i in ch["zones"][0]["items"]] == [("image", sha)]
    ticker = ch["zones"][1]["items"]
    assert [i["text"] for i in ticker] == ["Second line", "Welcome to the lobby"]
    assert ticker[0]["valid"] == {"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"}
    assert (ticker[0]["duration"], ticker[0]["transition"]) == (15, "slide")
    assert "version 1" in driver.find_element(By.ID, "channel-meta").text.lower()
    full_page_screenshot(driver, SCREENSHOT_CHANNEL)

    # saving again without changes keeps the version
    click(driver, "channel-save")
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "toast"), "Nothing changed"))

    # the picture is in use: the library will not delete it, and says where it is used
    driver.get(server.url + "/#/media")
    wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, media_row(sha) + " .btn-danger"))).click()
    driver.switch_to.alert.accept()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "toast"), "Lobby TV"))
    assert "Not deleted" in driver.find_element(By.ID, "toast").text
    assert driver.find_elements(By.CSS_SELECTOR, media_row(sha))

    # pair the player, then assign the channel from the screen's page
    screen = pair_by_api(admin, server, player, "Lobby screen")
    driver.get(server.url + f"/#/screens/{screen['id']}")
    select = wait(driver).until(EC.visibility_of_element_located((By.ID, "screen-channel")))
    assert driver.find_element(By.ID, "screen-channel-current").text == "None"
    mark_page(driver)
    Select(select).select_by_value(channel_id)
    click(driver, "screen-channel-save")
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screen-channel-current"), "Lobby TV"))
    # what the screen plays arrives with its heartbeat once it has the content
    wait(driver, SYNC_TIMEOUT).until(EC.text_to_be_present_in_element((By.ID, "screen-now-playing"), "Lobby TV"))
    assert page_not_reloaded(driver)
    assert int(driver.find_element(By.ID, "screen-manifest-version").text) >= 1

    # play now, then stop
    choose(driver, "play-now-channel", channel_id)
    set_field(driver, "play-now-minutes", 5)
    click(driver, "play-now-start")
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screen-play-now"), "until"))
    stored = admin.get(server.url + f"/api/v1/screens/{screen['id']}", timeout=30).json()["screen"]
    assert stored["play_now"]["channel_id"] == channel_id and stored["channel_id"] == channel_id
    wait(driver).until(EC.element_to_be_clickable((By.ID, "play-now-stop"))).click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screen-play-now"), "Not active"))
    full_page_screenshot(driver, SCREENSHOT_SCREEN)
    assert csp_problems(driver) == []


def test_editor_changes_only_the_zones_granted(server, driver, new_driver):
    admin = api_login(server, server.admin_login, server.admin_password)
    ensure_user(server, "erin.editor", "Erin-Editor-Pass-1", role="editor", name="Erin")
    body = {"name": "Cafeteria", "width": 1080, "height": 1920, "zones": [
        {"name": "menu", "x": 0, "y": 0, "w": 1080, "h": 1600, "items": [{"text": "Soup of the day"}]},
        {"name": "news", "x": 0, "y": 1600, "w": 1080, "h": 320, "items": [{"text": "Hello", "valid": {"days": [5, 1]}}]}]}
    r = admin.post(server.url + "/api/v1/channels", json=body, timeout=30)
    assert r.status_code == 201, r.text
    channel_id = r.json()["channel"]["id"]
    r = admin.post(server.url + "/api/v1/channels", json={**body, "name": "Not for editors"}, timeout=30)
    assert r.status_code == 201, r.text
    uid = user_id(admin, server, "erin.editor")

    # the admin grants the zone "news" on the channel's page
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + f"/#/channels/{channel_id}")
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f'#grants-table tr[data-user-id="{uid}"]')))
    click(driver, f"grant-{uid}-zone-1")
    click(driver, "grants-save")
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "toast"), "Editors saved"))
    assert csp_problems(driver) == []

    # the editor sees that channel only, and may change the items of "news" only
    editor = new_driver()
    browser_login(editor, server, "erin.editor", "Erin-Editor-Pass-1")
    wait(editor).until(EC.presence_of_element_located((By.ID, "screens-table")))
    assert nav_visible(editor, "nav-channels") and nav_visible(editor, "nav-media")
    assert not nav_visible(editor, "nav-users")
    click(editor, "nav-channels")
    wait(editor).until(EC.presence_of_element_located((By.CSS_SELECTOR, f'#channels-table tr[data-channel-id="{channel_id}"]')))
    assert [tr.get_attribute("data-name") for tr in editor.find_elements(By.CSS_SELECTOR, "#channels-table tbody tr")] == ["Cafeteria"]
    assert editor.find_elements(By.ID, "channel-new") == []
    editor.find_element(By.CSS_SELECTOR, f'#channels-table tr[data-channel-id="{channel_id}"] a.screen-link').click()
    wait(editor).until(EC.visibility_of_element_located((By.ID, "channel-layout-locked")))
    for locked in ("channel-name", "channel-width", "zone-0-name", "zone-1-h", "zone-0-item-0-text"):
        assert not editor.find_element(By.ID, locked).is_enabled(), locked
    assert editor.find_elements(By.ID, "zone-0-add") == [] and editor.find_elements(By.ID, "zone-add") == []
    assert editor.find_elements(By.ID, "channel-grants") == [] and editor.find_elements(By.ID, "channel-delete") == []
    choose(editor, "zone-1-add-kind", "text")
    editor.find_element(By.ID, "zone-1-add-text").send_keys("Fire drill at 3 pm")
    click(editor, "zone-1-add")
    wait(editor).until(EC.presence_of_element_located((By.ID, "zone-1-item-1")))
    # leaving with unsaved changes asks first; staying keeps them
    editor.find_element(By.ID, "nav-media").click()
    wait(editor).until(EC.alert_is_present()).dismiss()
    assert editor.current_url.endswith(f"#/channels/{channel_id}")
    assert editor.find_element(By.ID, "zone-1-item-1-text").get_attribute("value") == "Fire drill at 3 pm"
    click(editor, "channel-save")
    wait(editor).until(EC.text_to_be_present_in_element((By.ID, "toast"), "version 2"))
    ch = admin.get(server.url + f"/api/v1/channels/{channel_id}", timeout=30).json()["channel"]
    assert [i["text"] for i in ch["zones"][1]["items"]] == ["Hello", "Fire drill at 3 pm"]
    assert ch["zones"][1]["items"][0]["valid"] == {"days": [5, 1]}  # untouched, sent back as it was
    assert ch["updated_by"] == "erin.editor"
    assert csp_problems(editor) == []


def test_schedules_and_reports(server, driver, tmp_path):
    admin = api_login(server, server.admin_login, server.admin_password)
    sha = upload_by_api(admin, server, write_noisy_png(tmp_path / "report.png", 64, 36), "report-poster.png")
    screen_id, token = paired_device(admin, server, "Report screen")
    now = int(time.time())
    plays = [{"channel_id": "c", "zone": "main", "item": "z0i0", "sha256": sha, "started_at": now - 600 + i * 10,
              "duration_ms": 10000} for i in range(3)]
    plays.append({"channel_id": "c", "zone": "ticker", "item": "z1i0", "sha256": "", "started_at": now - 300,
                  "duration_ms": 20000})
    r = requests.post(server.url + "/api/v1/device/played", json={"plays": plays},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    r = admin.post(server.url + "/api/v1/channels", json={"name": "Morning news", "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080, "items": [{"text": "Good morning"}]}]}, timeout=30)
    assert r.status_code == 201, r.text
    channel_id = r.json()["channel"]["id"]

    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.presence_of_element_located((By.ID, "screens-table")))
    driver.find_element(By.ID, "nav-schedules").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "schedule-form")))
    Select(driver.find_element(By.ID, "schedule-target-kind")).select_by_value("group")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "schedule-group"))).send_keys("Ground floor")
    Select(driver.find_element(By.ID, "schedule-channel")).select_by_value(channel_id)
    for day in (6, 7):
        driver.find_element(By.ID, f"schedule-day-{day}").click()
    set_value_js(driver, "schedule-start", "08:00")
    set_value_js(driver, "schedule-end", "11:30")
    set_field(driver, "schedule-priority", 5)
    driver.find_element(By.ID, "schedule-create").click()
    row = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, '#schedules-table tr[data-target="group:Ground floor"]')))
    assert "Morning news" in row.text and "Mon–Fri" in row.text and "08:00–11:30" in row.text
    stored = admin.get(server.url + "/api/v1/schedules", timeout=30).json()["schedules"]
    mine = [s for s in stored if s["target"] == "group:Ground floor"]
    assert len(mine) == 1 and mine[0]["priority"] == 5 and (mine[0]["start"], mine[0]["end"]) == ("08:00", "11:30")

    # a schedule the server refuses: the reason is shown
    set_value_js(driver, "schedule-until", "2020-01-01")
    set_value_js(driver, "schedule-from", "2020-02-01")
    driver.find_element(By.ID, "schedule-create").click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "schedule-error")))

    row.find_element(By.CSS_SELECTOR, "button.btn-danger").click()
    driver.switch_to.alert.accept()
    wait(driver).until(EC.invisibility_of_element_located(
        (By.CSS_SELECTOR, '#schedules-table tr[data-target="group:Ground floor"]')))

    # reports: totals per medium and per screen, for the last seven days by default
    driver.find_element(By.ID, "nav-reports").click()
    media_line = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f'#report-media-table tr[data-sha256="{sha}"]')))
    assert "report-poster.png" in media_line.text and "3" in media_line.text and "30 s" in media_line.text
    other = driver.find_element(By.CSS_SELECTOR, '#report-media-table tr[data-sha256=""]')
    assert "Web pages and texts" in other.text and "20 s" in other.text
    screen_line = driver.find_element(By.CSS_SELECTOR, f'#report-screen-table tr[data-screen-id="{screen_id}"]')
    assert "Report screen" in screen_line.text and "4" in screen_line.text and "50 s" in screen_line.text
    # filtered by medium; the CSV export carries the same filters
    Select(driver.find_element(By.ID, "report-media")).select_by_value(sha)
    driver.find_element(By.ID, "report-run").click()
    wait(driver).until(EC.invisibility_of_element_located((By.CSS_SELECTOR, '#report-media-table tr[data-sha256=""]')))
    assert driver.find_element(By.ID, "report-summary").text.startswith("3 plays")
    href = driver.find_element(By.ID, "report-csv").get_attribute("href")
    assert "/api/v1/reports/plays?" in href and "format=csv" in href and f"sha256={sha}" in href and "from=" in href
    csv = admin.get(href, timeout=30)
    assert csv.status_code == 200 and csv.text.startswith("screen_id,screen,channel_id,zone,item,sha256")
    assert csv.text.count("\r\n") == 4  # the header and three plays
    # a period without plays
    set_value_js(driver, "report-from", "2020-01-01")
    set_value_js(driver, "report-to", "2020-01-31")
    driver.find_element(By.ID, "report-run").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "report-summary"), "No plays"))
    assert csp_problems(driver) == []


def test_firewall_page_for_the_network_team(server, driver):
    port = int(server.url.rsplit(":", 1)[1])
    login_at(driver, server, "/firewall", server.admin_login, server.admin_password)
    table = wait(driver).until(EC.visibility_of_element_located((By.ID, "firewall-table")))
    assert driver.current_url.endswith("/firewall")  # the login did not send us to the screens page
    rule = table.find_element(By.CSS_SELECTOR, f'tr[data-transport="TCP"][data-port="{port}"]')
    assert "HTTP" in rule.text and "127.0.0.1" in rule.text
    assert table.find_elements(By.CSS_SELECTOR, 'tr[data-port="123"][data-transport="UDP"]')
    # screen share: a range and a port with its alternatives, as a network team writes them
    shares = [r.text for r in table.find_elements(By.CSS_SELECTOR, 'tr[data-port="49200"]')]
    assert len(shares) == 2 and all("49200-49400" in t for t in shares), shares
    assert "7385 (or 29736, 2067, 39458)" in table.find_element(By.CSS_SELECTOR, 'tr[data-port="7385"]').text
    assert driver.find_elements(By.CSS_SELECTOR, "#firewall-notes li")
    assert driver.find_element(By.ID, "firewall-origin").text == server.url
    full_page_screenshot(driver, SCREENSHOT_FIREWALL)

    # the console links to it from the account page, and back
    driver.get(server.url + "/#/account")
    wait(driver).until(EC.element_to_be_clickable((By.ID, "firewall-link"))).click()
    wait(driver).until(EC.visibility_of_element_located((By.ID, "firewall-table")))
    driver.find_element(By.ID, "nav-media").click()  # a console page: back at /
    wait(driver).until(EC.presence_of_element_located((By.ID, "media-table")))
    assert urlparse(driver.current_url).path == "/"
    assert csp_problems(driver) == []
