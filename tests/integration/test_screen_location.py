"""Where a screen is (issue 12, the console's map): the location of the
address it was last seen from, from a MaxMind DB written by the test
(geoip_database), a location set by hand with PATCH /api/v1/screens/{id}
(checked, audited, refused to non-admins) and the reset to the address's
location; GET /api/v1/console-config and the console's CSP for the tile
server (map_tile_url, map_attribution)."""
import subprocess

import requests

from conftest import SERVER_BIN, Client
from mmdb import write_mmdb
from test_remote import PUBKEY

PASSWORD = "a-long-password-1"


def place(city, country, lat, lon, radius=None):
    record = {"country": {"iso_code": country, "names": {"en": country}}, "continent": {"code": "EU"},
              "city": {"names": {"en": city}}, "location": {"latitude": lat, "longitude": lon}}
    if radius is not None:
        record["location"]["accuracy_radius"] = ("u16", radius)
    return record


def city_db(path):
    write_mmdb(path, [
        ("127.0.0.0/8", place("Berlin", "DE", 52.5244, 13.4105, radius=20)),
        ("10.1.0.0/16", place("Paris", "FR", 48.8534, 2.3488)),
        ("10.2.0.0/16", {"country": {"iso_code": "JP"}, "continent": {"code": "AS"}}),  # a Country database
        ("10.3.0.0/16", place("Nowhere", "XX", 123.0, 13.0)),  # a latitude out of range is no location
        ("10.4.0.0/16", {"country": {"iso_code": "US"}, "location": {"latitude": 40.0, "longitude": "west"}}),
    ])


def paired(server, admin, name, ip):
    """A screen paired through the API whose heartbeats come from ip (X-Forwarded-For: the test's proxy)."""
    r = requests.post(server.url + "/api/v1/device/pair", json={"hardware_id": "hw-" + name, "public_key": PUBKEY})
    assert r.status_code == 200, r.text
    p = r.json()
    r = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": name})
    assert r.status_code == 201, r.text
    screen_id = r.json()["screen"]["id"]
    token = requests.post(server.url + "/api/v1/device/token", json={"device_code": p["device_code"]})
    token = token.json()["access_token"]
    r = requests.post(server.url + "/api/v1/device/heartbeat", json={"version": "1"},
                      headers={"Authorization": "Bearer " + token, "X-Forwarded-For": ip})
    assert r.status_code == 200, r.text
    return screen_id


def located_server(make_server, tmp_path, **env):
    mmdb = str(tmp_path / "city.mmdb")
    city_db(mmdb)
    s = make_server(env={"VITRINE_GEOIP_DATABASE": mmdb, "VITRINE_TRUSTED_PROXIES": "127.0.0.1/32", **env}).start()
    admin = s.client()
    assert admin.login().status_code == 200
    return s, admin


def location(admin, screen_id):
    r = admin.get("/api/v1/screens/" + screen_id)
    assert r.status_code == 200, r.text
    return r.json()["screen"]["location"]


def listed(admin):
    return {s["name"]: s["location"] for s in admin.get("/api/v1/screens").json()["screens"]}


def test_a_screen_is_placed_by_its_address(make_server, tmp_path):
    s, admin = located_server(make_server, tmp_path)
    berlin = paired(s, admin, "berlin", "127.0.0.1")
    paris = paired(s, admin, "paris", "10.1.2.3")
    for name, ip in (("tokyo", "10.2.0.9"), ("bad-lat", "10.3.0.1"), ("bad-lon", "10.4.0.1"),
                     ("unknown", "192.0.2.7")):
        paired(s, admin, name, ip)
    assert location(admin, berlin) == {"lat": 52.5244, "lon": 13.4105, "source": "ip", "city": "Berlin",
                                       "country": "DE", "accuracy_km": 20}
    assert location(admin, paris) == {"lat": 48.8534, "lon": 2.3488, "source": "ip", "city": "Paris",
                                      "country": "FR", "accuracy_km": None}
    everyone = listed(admin)
    assert everyone["berlin"] == location(admin, berlin) and everyone["paris"] == location(admin, paris)
    # no coordinates in the record, coordinates out of range or not numbers, not in the database
    assert [everyone[n] for n in ("tokyo", "bad-lat", "bad-lon", "unknown")] == [None] * 4


def test_an_admin_sets_the_location_by_hand_and_resets_it(make_server, tmp_path):
    s, admin = located_server(make_server, tmp_path)
    screen = paired(s, admin, "lobby", "127.0.0.1")
    r = admin.patch("/api/v1/screens/" + screen, json={"location": {"lat": -33.8688197, "lon": 151.2092955}})
    assert r.status_code == 200, r.text
    manual = {"lat": -33.8688197, "lon": 151.2092955, "source": "manual", "city": "", "country": "",
              "accuracy_km": None}
    assert r.json()["screen"]["location"] == manual
    assert location(admin, screen) == manual and listed(admin)["lobby"] == manual
    # kept in 10^-7 degree; whole numbers and the limits are fine
    for lat, lon in ((12.345678949, -0.00000004), (90, -180), (-90, 180), (0, 0)):
        r = admin.patch("/api/v1/screens/" + screen, json={"location": {"lat": lat, "lon": lon}})
        assert r.status_code == 200, r.text
        got = r.json()["screen"]["location"]
        assert (got["lat"], got["lon"]) == (round(lat, 7), round(lon, 7)), got
    # the other fields stay as they were, and a new address does not move a manual location
    r = admin.patch("/api/v1/screens/" + screen, json={"location": {"lat": 1.5, "lon": 2.5}, "group": "Hall"})
    assert r.status_code == 200 and r.json()["screen"]["group"] == "Hall"
    assert r.json()["screen"]["name"] == "lobby"
    # back to the location of its address
    r = admin.patch("/api/v1/screens/" + screen, json={"location": None})
    assert r.status_code == 200, r.text
    assert r.json()["screen"]["location"]["source"] == "ip"
    assert r.json()["screen"]["location"]["city"] == "Berlin"
    # audited like the other changes of a screen
    entries = [(e["action"], e["target"], e["detail"]) for e in admin.get("/api/v1/audit?limit=100").json()["entries"]]
    assert ("screen.location", screen, "set by hand to -33.8688197, 151.2092955") in entries
    assert ("screen.location", screen, "placed by its address again") in entries
    assert entries[0][0] == "screen.updated"


def test_bad_locations_are_refused_and_name_the_field(make_server, tmp_path):
    s, admin = located_server(make_server, tmp_path)
    screen = paired(s, admin, "lobby", "127.0.0.1")
    assert admin.patch("/api/v1/screens/" + screen, json={"location": {"lat": 10, "lon": 20}}).status_code == 200
    bad = [
        ({"lat": 90.0000001, "lon": 0}, "invalid_field", "location.lat"),
        ({"lat": -91, "lon": 0}, "invalid_field", "location.lat"),
        ({"lat": "52.5", "lon": 13}, "invalid_field", "location.lat"),
        ({"lat": None, "lon": 13}, "invalid_field", "location.lat"),
        ({"lat": True, "lon": 13}, "invalid_field", "location.lat"),
        ({"lon": 13}, "invalid_field", "location.lat"),
        ({"lat": 52, "lon": 180.5}, "invalid_field", "location.lon"),
        ({"lat": 52, "lon": -1e300}, "invalid_field", "location.lon"),
        ({"lat": 52}, "invalid_field", "location.lon"),
        ({"lat": 52, "lon": 13, "alt": 30}, "unknown_field", "location"),
        ([52, 13], "invalid_field", "location"),
        ("52.5,13.4", "invalid_field", "location"),
    ]
    for value, code, field in bad:
        r = admin.patch("/api/v1/screens/" + screen, json={"location": value, "name": "renamed"})
        assert r.status_code == 400, (value, r.text)
        err = r.json()["error"]
        assert (err["code"], err["field"]) == (code, field), (value, err)
        assert field in err["message"], err
    # JSON has no NaN or Infinity: such a body is not JSON
    for text in ('{"location": {"lat": NaN, "lon": 0}}', '{"location": {"lat": 1e999, "lon": 0}}'):
        r = admin.patch("/api/v1/screens/" + screen, data=text, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
    # nothing was written by the refused requests
    got = admin.get("/api/v1/screens/" + screen).json()["screen"]
    assert (got["name"], got["location"]["lat"], got["location"]["lon"]) == ("lobby", 10, 20)


def test_only_admins_place_screens(make_server, tmp_path):
    s, admin = located_server(make_server, tmp_path)
    screen = paired(s, admin, "lobby", "127.0.0.1")
    for role in ("editor", "support", "operator"):
        r = admin.post("/api/v1/users", json={"login": role, "password": PASSWORD, "role": role})
        assert r.status_code == 201, r.text
        c = Client(s.url)
        assert c.login(role, PASSWORD).status_code == 200
        r = c.patch("/api/v1/screens/" + screen, json={"location": {"lat": 1, "lon": 2}})
        assert r.status_code == 403, (role, r.text)
        # everyone signed in sees where screens are, and the map's settings
        assert c.get("/api/v1/screens/" + screen).json()["screen"]["location"]["source"] == "ip"
        assert c.get("/api/v1/console-config").status_code == 200
    assert location(admin, screen)["source"] == "ip"
    assert requests.get(s.url + "/api/v1/console-config").status_code == 401


def test_without_a_database_only_manual_locations(make_server):
    s = make_server().start()
    admin = s.client()
    assert admin.login().status_code == 200
    screen = paired(s, admin, "lobby", "127.0.0.1")
    assert location(admin, screen) is None
    assert admin.patch("/api/v1/screens/" + screen, json={"location": {"lat": 1, "lon": 2}}).status_code == 200
    assert location(admin, screen)["source"] == "manual"
    assert admin.patch("/api/v1/screens/" + screen, json={"location": None}).status_code == 200
    assert location(admin, screen) is None


def test_the_map_settings_reach_the_console_and_its_csp(make_server):
    s = make_server().start()  # the defaults: OpenStreetMap's tiles
    admin = s.client()
    assert admin.login().status_code == 200
    assert admin.get("/api/v1/console-config").json() == {"map": {
        "tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "\u00a9 OpenStreetMap contributors"}}
    csp = requests.get(s.url + "/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in csp, csp
    rules = admin.get("/api/v1/firewall").json()["rules"]
    assert any(r["to"] == "tile.openstreetmap.org" and r["port"] == 443 and r["protocol"] == "HTTPS" for r in rules)
    s.stop()

    s = make_server(env={"VITRINE_MAP_TILE_URL": "http://127.0.0.1:8099/tiles/{z}/{x}/{y}.png?k=1",
                         "VITRINE_MAP_ATTRIBUTION": "Our own tiles"}).start()
    admin = s.client()
    assert admin.login().status_code == 200
    assert admin.get("/api/v1/console-config").json()["map"] == {
        "tile_url": "http://127.0.0.1:8099/tiles/{z}/{x}/{y}.png?k=1", "attribution": "Our own tiles"}
    csp = requests.get(s.url + "/assets/app.js").headers["Content-Security-Policy"]
    assert "img-src 'self' data: http://127.0.0.1:8099;" in csp and "openstreetmap" not in csp, csp
    s.stop()

    s = make_server(args=["--map-tile-url", "https://{s}.tiles.example.org/{z}/{x}/{y}.png"]).start()
    csp = requests.get(s.url + "/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in csp, csp
    s.stop()

    s = make_server(env={"VITRINE_MAP_TILE_URL": ""}).start()  # no tiles: nothing outside is allowed
    csp = requests.get(s.url + "/").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in csp, csp


def test_bad_map_settings_stop_the_start_with_a_sentence(make_server):
    s = make_server().start()
    s.stop()
    bad = [
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "https:// or http://"),
        ("https://tiles.example.org/{z}/{x}.png", "{z}, {x} and {y}"),
        ("https://tiles.example.org", "{z}, {x} and {y}"),
        ("https://tiles.example.org; script-src *;/{z}/{x}/{y}.png", "without spaces"),
        ("https://tiles.example.org,https://evil.example/{z}/{x}/{y}.png", "commas"),
        ("https://user:pw@tiles.example.org/{z}/{x}/{y}.png", "user name"),
        ("https://tiles.{s}.example.org/{z}/{x}/{y}.png", "host"),
        ("https://tiles.example.org:99999/{z}/{x}/{y}.png", "port"),
        ("https://tiles.example.org:/{z}/{x}/{y}.png", "port"),
        ("https://'self'/{z}/{x}/{y}.png", "quotes"),
    ]
    for url, words in bad:
        out = subprocess.run([SERVER_BIN, "--data", s.data, "--listen", "127.0.0.1:0", "--map-tile-url", url],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and "map_tile_url" in out.stderr and words in out.stderr, (url, out.stderr)
    out = subprocess.run([SERVER_BIN, "--data", s.data, "--listen", "127.0.0.1:0", "--map-attribution", "a\tb"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "map_attribution" in out.stderr, out.stderr
    help_text = subprocess.run([SERVER_BIN, "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "VITRINE_MAP_TILE_URL" in help_text and "--map-attribution" in help_text
