"""Browser test of the console's map (issue 12): the Map page (#/map) with
one marker per screen at its location -- two screens placed by their
address (a MaxMind DB written by the test), one placed by hand -- on tiles
from a tile server of the test on loopback (map_tile_url), the popups with
the screen's status and a link to its page; and a screen's Location card,
where an admin places the screen by clicking the map or typing, and goes
back to its address's location (an editor sees both, without the form).

This module runs its own vitrine-server (the `server` fixture below
replaces the session's): the map's settings are the server's.

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_map.py
"""
import base64
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from conftest import ADMIN_LOGIN, ADMIN_PASSWORD, REPO_ROOT, Server, free_port, server_binary, wait_healthy
from test_console import api_login, browser_login, csp_problems, wait
from test_screens import full_page_screenshot

sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))
from mmdb import write_mmdb  # noqa: E402

SCREENSHOT_MAP = "/tmp/console-map.png"
SCREENSHOT_LOCATION = "/tmp/console-screen-location.png"
TILE = 256
# name -> (latitude, longitude, how it is placed)
PLACES = {
    "Berlin lobby": (52.52, 13.405, "ip 127.0.0.1"),
    "Paris shop": (48.8566, 2.3522, "ip 10.1.2.3"),
    "Madrid office": (40.4168, -3.7038, "manual"),
}


def png(width, height, rgb):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class TileServer:
    """Answers GET /{z}/{x}/{y}.png with a generated 256 px PNG and counts the requests."""

    PATH = re.compile(r"^/(\d+)/(\d+)/(\d+)\.png$")

    def __init__(self):
        tiles = self
        self.requests = []
        self.referrers = set()
        self.lock = threading.Lock()
        self.image = png(TILE, TILE, (200, 220, 235))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                m = TileServer.PATH.match(self.path)
                if not m:
                    self.send_error(404)
                    return
                with tiles.lock:
                    tiles.requests.append(tuple(int(g) for g in m.groups()))
                    tiles.referrers.add(self.headers.get("Referer"))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(tiles.image)))
                self.end_headers()
                self.wfile.write(tiles.image)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tiles():
    t = TileServer()
    yield t
    t.close()


@pytest.fixture(scope="module")
def server(tiles):
    """A vitrine-server whose map takes its tiles from the tile server above and places
    addresses with a test MaxMind DB (127.0.0.0/8 in Berlin, 10.1.0.0/16 in Paris)."""
    binary = server_binary()
    data = Path(tempfile.mkdtemp(prefix="vitrine-map-"))
    mmdb = data.parent / (data.name + ".mmdb")

    def city(name, country, lat, lon):
        return {"country": {"iso_code": country}, "continent": {"code": "EU"}, "city": {"names": {"en": name}},
                "location": {"latitude": lat, "longitude": lon, "accuracy_radius": ("u16", 20)}}
    write_mmdb(str(mmdb), [("127.0.0.0/8", city("Berlin", "DE", *PLACES["Berlin lobby"][:2])),
                           ("10.1.0.0/16", city("Paris", "FR", *PLACES["Paris shop"][:2]))])
    env = dict(os.environ, VITRINE_ADMIN_PASSWORD=ADMIN_PASSWORD, VITRINE_GEOIP_DATABASE=str(mmdb),
               VITRINE_TRUSTED_PROXIES="127.0.0.1/32", VITRINE_MAP_TILE_URL=tiles.url + "/{z}/{x}/{y}.png",
               VITRINE_MAP_ATTRIBUTION="Test tiles <b>not bold</b>")
    init = subprocess.run([str(binary), "--data", str(data), "init", "--admin", ADMIN_LOGIN],
                          env=env, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    port = free_port()
    log_path = data.parent / (data.name + ".log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "--data", str(data), "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
    except RuntimeError as e:
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail(f"{e}\n{log_path.read_text(errors='replace')}")
    yield Server(f"http://127.0.0.1:{port}", ADMIN_LOGIN, ADMIN_PASSWORD, data, log_path, proc)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(data, ignore_errors=True)
    mmdb.unlink()
    if proc.returncode == 0:
        log_path.unlink()


@pytest.fixture(scope="module")
def fleet(server):
    """The three screens of PLACES, paired through the API: name -> screen id."""
    admin = api_login(server, server.admin_login, server.admin_password)
    ids = {}
    for name, (lat, lon, how) in PLACES.items():
        r = requests.post(server.url + "/api/v1/device/pair", timeout=30, json={
            "hardware_id": "hw-" + os.urandom(4).hex(), "public_key": base64.b64encode(os.urandom(32)).decode()})
        assert r.status_code == 200, r.text
        pairing = r.json()
        r = admin.post(server.url + "/api/v1/pairings", json={"user_code": pairing["user_code"], "name": name},
                       timeout=30)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["screen"]["id"]
        token = requests.post(server.url + "/api/v1/device/token", json={"device_code": pairing["device_code"]},
                              timeout=30).json()["access_token"]
        if how.startswith("ip "):  # a heartbeat from that address: online, and placed by it
            r = requests.post(server.url + "/api/v1/device/heartbeat", json={"version": "1"}, timeout=30,
                              headers={"Authorization": "Bearer " + token, "X-Forwarded-For": how[3:]})
            assert r.status_code == 200, r.text
        else:  # never seen: offline, placed by hand
            r = admin.patch(server.url + "/api/v1/screens/" + ids[name], json={"location": {"lat": lat, "lon": lon}},
                            timeout=30)
            assert r.status_code == 200, r.text
    return ids


def world_px(lat, lon, zoom):
    """Web Mercator: the point's pixel on the whole world's tiles at zoom (what Leaflet draws)."""
    scale = TILE * 2 ** zoom
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180) / 360 * scale, (1 - y / math.pi) / 2 * scale


def tiles_settled(driver):
    """No zoom animation running and every tile shown is loaded."""
    return driver.execute_script("""
        const map = document.getElementById('screens-map');
        if (!map || map.dataset.ready !== 'true' || map.querySelector('.leaflet-zoom-anim')) return false;
        const tiles = [...map.querySelectorAll('img.leaflet-tile')];
        return tiles.length > 0 && tiles.every((t) => t.classList.contains('leaflet-tile-loaded'));""")


def marker_points(driver):
    """screen id -> the screen pixel of its marker's tip (Leaflet's default icon: 25 x 41, anchor 12, 41)."""
    return driver.execute_script("""
        const out = {};
        for (const m of document.querySelectorAll('#screens-map .leaflet-marker-icon[data-screen-id]')) {
          const r = m.getBoundingClientRect();
          out[m.dataset.screenId] = [r.left + 12, r.top + 41, m.dataset.online, m.title];
        }
        return out;""")


def a_tile(driver):
    """One loaded tile: its z, x, y (from its URL) and its place on the screen."""
    return driver.execute_script("""
        const t = document.querySelector('#screens-map img.leaflet-tile-loaded');
        const r = t.getBoundingClientRect();
        return [t.src, r.left, r.top, r.width];""")


def test_map_page_shows_each_screen_at_its_place_on_the_tiles(server, tiles, fleet, driver):
    admin = api_login(server, server.admin_login, server.admin_password)
    browser_login(driver, server, server.admin_login, server.admin_password)
    wait(driver).until(EC.element_to_be_clickable((By.ID, "nav-map"))).click()
    wait(driver).until(lambda d: d.find_element(By.ID, "page-title").text == "Map")
    assert driver.find_element(By.ID, "nav-map").get_attribute("aria-current") == "page"
    wait(driver, 15).until(tiles_settled)
    assert driver.find_element(By.ID, "map-summary").text == "3 screens on the map"

    # one marker per screen
    points = marker_points(driver)
    assert set(points) == set(fleet.values()), points
    names = {sid: name for name, sid in fleet.items()}
    assert {names[sid]: p[3] for sid, p in points.items()} == {n: n for n in PLACES}  # the marker's title
    online = {names[sid]: p[2] for sid, p in points.items()}
    assert online == {"Berlin lobby": "true", "Paris shop": "true", "Madrid office": "false"}, online

    # the tiles came from the test's tile server, at the map's zoom
    assert tiles.count() > 0
    src, left, top, width = a_tile(driver)
    assert src.startswith(tiles.url + "/"), src
    z, x, y = (int(g) for g in re.search(r"/(\d+)/(\d+)/(\d+)\.png$", src).groups())
    assert width == TILE and any(req[0] == z for req in tiles.requests)
    assert tiles.referrers == {server.url + "/"}  # the console's origin (tile usage policies ask), no path
    # each marker's tip is where its latitude and longitude are on those tiles (Web Mercator)
    for name, (lat, lon, _) in PLACES.items():
        gx, gy = world_px(lat, lon, z)
        want = (left + gx - x * TILE, top + gy - y * TILE)
        got = points[fleet[name]][:2]
        assert abs(got[0] - want[0]) <= 2 and abs(got[1] - want[1]) <= 2, (name, got, want)
    # fitted: every marker inside the map
    box = driver.find_element(By.ID, "screens-map").rect
    for px, py, *_ in points.values():
        assert box["x"] <= px <= box["x"] + box["width"] and box["y"] <= py <= box["y"] + box["height"]
    # the attribution is the setting, as text
    credit = driver.find_element(By.CSS_SELECTOR, "#screens-map .leaflet-control-attribution")
    assert "Test tiles <b>not bold</b>" in credit.text
    full_page_screenshot(driver, SCREENSHOT_MAP)

    # a marker's popup: name, status, where the location comes from, a link to the screen's page
    paris = fleet["Paris shop"]
    driver.find_element(By.CSS_SELECTOR, f'#screens-map .leaflet-marker-icon[data-screen-id="{paris}"]').click()
    popup = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f'.leaflet-popup .map-popup[data-screen-id="{paris}"]')))
    assert "Online" in popup.text and "Paris, FR by its address" in popup.text, popup.text
    link = popup.find_element(By.CSS_SELECTOR, "a.map-popup-name")
    assert link.text == "Paris shop" and link.get_attribute("href").endswith(f"#/screens/{paris}")
    madrid = fleet["Madrid office"]
    driver.find_element(By.CSS_SELECTOR, f'#screens-map .leaflet-marker-icon[data-screen-id="{madrid}"]').click()
    popup = wait(driver).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f'.leaflet-popup .map-popup[data-screen-id="{madrid}"]')))
    assert "Offline" in popup.text and "Set by hand" in popup.text, popup.text

    # live: a screen placed elsewhere moves on the open map
    r = admin.patch(server.url + "/api/v1/screens/" + madrid, json={"location": {"lat": 41.3874, "lon": 2.1686}},
                    timeout=30)
    assert r.status_code == 200, r.text
    before = points[madrid]
    wait(driver).until(lambda d: marker_points(d)[madrid][:2] != before[:2])
    moved = marker_points(driver)[madrid]
    assert moved[0] > before[0] and moved[1] < before[1]  # Barcelona: east and north of Madrid
    r = admin.patch(server.url + "/api/v1/screens/" + madrid, json={"location": {"lat": 40.4168, "lon": -3.7038}},
                    timeout=30)
    assert r.status_code == 200, r.text

    # the popup's link opens the screen's page, where its location is shown
    driver.find_element(By.CSS_SELECTOR, f'#screens-map .leaflet-marker-icon[data-screen-id="{paris}"]').click()
    wait(driver).until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, f'.leaflet-popup .map-popup[data-screen-id="{paris}"] a'))).click()
    wait(driver).until(lambda d: d.find_element(By.ID, "page-title").text == "Paris shop")
    line = wait(driver).until(EC.visibility_of_element_located((By.ID, "screen-location")))
    assert "48.85660, 2.35220" in line.text and "Paris, FR by its address" in line.text, line.text
    assert csp_problems(driver) == []


def shown_location(driver):
    """The Location card's line, read in one step (it is replaced whenever the screen changes)."""
    return driver.execute_script("""
        const el = document.getElementById('screen-location');
        return el ? [el.textContent, el.dataset.source || ''] : ['', ''];""")


def location_of(admin, server, screen_id):
    return admin.get(server.url + "/api/v1/screens/" + screen_id, timeout=30).json()["screen"]["location"]


def test_an_admin_places_a_screen_on_its_page_and_resets_it(server, fleet, driver):
    admin = api_login(server, server.admin_login, server.admin_password)
    berlin = fleet["Berlin lobby"]
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + f"/#/screens/{berlin}")
    line = wait(driver).until(EC.visibility_of_element_located((By.ID, "screen-location")))
    assert "Berlin, DE by its address (within about 20 km)" in line.text, line.text
    assert not driver.find_element(By.ID, "screen-location-reset").is_displayed()
    small = wait(driver, 15).until(lambda d: d.find_element(By.CSS_SELECTOR, '#screen-map[data-ready="true"]'))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", small)
    wait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#screen-map img.leaflet-tile-loaded"))
    assert driver.find_element(By.ID, "screen-lat").get_attribute("value") == "52.52"

    # a click on the map fills the fields; saving places the screen there
    ActionChains(driver).move_to_element_with_offset(small, 80, -50).click().perform()
    wait(driver).until(lambda d: d.find_element(By.ID, "screen-lat").get_attribute("value") != "52.52")
    lat = float(driver.find_element(By.ID, "screen-lat").get_attribute("value"))
    lon = float(driver.find_element(By.ID, "screen-lon").get_attribute("value"))
    assert lat > 52.52 and lon > 13.405, (lat, lon)  # up and to the right of the marker
    driver.find_element(By.ID, "screen-location-save").click()
    wait(driver).until(lambda d: shown_location(d)[1] == "manual")
    loc = location_of(admin, server, berlin)
    assert (loc["source"], round(loc["lat"], 7), round(loc["lon"], 7)) == ("manual", lat, lon), loc
    assert driver.find_element(By.ID, "screen-location-reset").is_displayed()

    # typed coordinates; a latitude out of range is refused before it is sent
    for element_id, value in (("screen-lat", "95"), ("screen-lon", "13.4")):
        el = driver.find_element(By.ID, element_id)
        el.clear()
        el.send_keys(value)
    driver.find_element(By.ID, "screen-location-save").click()
    error = wait(driver).until(EC.visibility_of_element_located((By.ID, "screen-location-error")))
    assert "latitude" in error.text
    el = driver.find_element(By.ID, "screen-lat")
    el.clear()
    el.send_keys("52.5")
    driver.find_element(By.ID, "screen-location-save").click()
    wait(driver).until(lambda d: "52.50000, 13.40000" in shown_location(d)[0])
    assert location_of(admin, server, berlin)["lat"] == 52.5
    full_page_screenshot(driver, SCREENSHOT_LOCATION)

    # back to the location of its address
    driver.find_element(By.ID, "screen-location-reset").click()
    wait(driver).until(lambda d: shown_location(d)[1] == "ip")
    assert location_of(admin, server, berlin)["city"] == "Berlin"
    assert driver.find_element(By.ID, "screen-lat").get_attribute("value") == "52.52"
    assert csp_problems(driver) == []


def test_every_user_sees_the_map_and_only_admins_place_screens(server, fleet, driver):
    admin = api_login(server, server.admin_login, server.admin_password)
    r = admin.post(server.url + "/api/v1/users", json={"login": "map.editor", "password": "Map-Editor-Passphrase-9",
                                                         "role": "editor"}, timeout=30)
    assert r.status_code in (201, 409), r.text
    browser_login(driver, server, "map.editor", "Map-Editor-Passphrase-9")
    driver.get(server.url + "/#/map")
    wait(driver, 15).until(tiles_settled)
    assert set(marker_points(driver)) == set(fleet.values())
    driver.get(server.url + f"/#/screens/{fleet['Madrid office']}")
    line = wait(driver).until(EC.visibility_of_element_located((By.ID, "screen-location")))
    assert "40.41680, -3.70380" in line.text and "Set by hand" in line.text, line.text
    wait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#screen-map[data-ready="true"] .leaflet-marker-icon'))
    assert not driver.find_elements(By.ID, "screen-location-form")
    assert csp_problems(driver) == []
