"""The vitrine command line (SPEC section 4) against a real server and a real
player: login (password on stdin or on a terminal, challenge, TOTP), the
stored token and its revocation, publishing a folder with uploads of only
what changed, validation errors with JSON paths, listings, pairing,
instructions with the player's answer, exit codes, and the progress bar and
password prompt on a real terminal (tmux). Also the command lines of
vitrine-server and vitrine-player: their settings layers (default, config
file, environment, flag) and refusals of paths too long to be used."""
import base64
import hashlib
import hmac
import json
import os
import shlex
import shutil
import socket
import struct
import subprocess
import time
import zlib

import pytest
import requests

from conftest import ADMIN_PASSWORD, CLI_BIN, PLAYER_BIN, SERVER_BIN, wait_for

PUBKEY = base64.b64encode(bytes(range(32))).decode()
REVOKED = "your token was revoked or has expired: run `vitrine login`"


# --- helpers ---

def png(rgb, w=16, h=16, tail=b""):
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"") + tail)


def totp(secret_b32, step_offset=0):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time() // 30) + step_offset), hashlib.sha1).digest()
    o = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def sanitizer_clean(text):
    assert "ERROR: AddressSanitizer" not in text and "runtime error:" not in text, text
    assert "LeakSanitizer" not in text, text


def vitrine(config, *args, stdin=None, env=None, timeout=90):
    """Runs the CLI without a controlling terminal (a new session), so it can
    never block on a prompt; returns the CompletedProcess."""
    out = subprocess.run([CLI_BIN, "--config-dir", str(config)] + [str(a) for a in args], input=stdin,
                         capture_output=True, text=True, timeout=timeout, start_new_session=True,
                         env=dict(os.environ, **(env or {})))
    sanitizer_clean(out.stderr)
    return out


def login(server, config, password=ADMIN_PASSWORD, user="admin", *extra):
    return vitrine(config, "--server", server.url, "login", "--user", user, "--password-stdin", *extra,
                   stdin=password + "\n")


def media_puts(server):
    """PUT /api/v1/media/{sha256} requests the server has counted, any status."""
    total = 0
    for line in requests.get(server.url + "/metrics").text.splitlines():
        if line.startswith("vitrine_http_requests_total{") and 'method="PUT"' in line \
                and 'route="/api/v1/media/{sha256}"' in line:
            total += int(float(line.split()[-1]))
    return total


def channel_folder(path, files, zones=None, name="Lobby"):
    """A publishing folder: files {name: bytes} and a channel.json using "file"."""
    os.makedirs(path, exist_ok=True)
    for fname, data in files.items():
        with open(os.path.join(path, fname), "wb") as f:
            f.write(data)
    body = {"name": name, "width": 1920, "height": 1080, "zones": zones or [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 960,
         "items": [{"file": f, "duration": 5} for f in sorted(files)]},
        {"name": "ticker", "x": 0, "y": 960, "w": 1920, "h": 120, "items": [{"text": "Welcome"}]}]}
    with open(os.path.join(path, "channel.json"), "w") as f:
        json.dump(body, f)
    return body


def pair_sim(admin, name, hardware_id):
    """A simulated screen paired through the API; returns (device token, screen id)."""
    p = requests.post(admin.url + "/api/v1/device/pair", json={"hardware_id": hardware_id, "public_key": PUBKEY}).json()
    screen = admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": name}).json()["screen"]
    t = requests.post(admin.url + "/api/v1/device/token", json={"device_code": p["device_code"]}).json()
    return t["access_token"], screen["id"]


class Tmux:
    """A private tmux server (own socket) running one command in a 120x30 pane."""

    def __init__(self, tmp_path, command):
        if not shutil.which("tmux"):
            pytest.skip("tmux is not installed (scripts/deps installs it)")
        self.sock = str(tmp_path / "tmux.sock")
        self.run("new-session", "-d", "-x", "120", "-y", "30", command)

    def run(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True, text=True, check=True,
                              timeout=20)

    def pane(self):
        return self.run("capture-pane", "-p", "-J").stdout

    def wait(self, text, timeout=30):
        return wait_for(lambda: text in self.pane() and self.pane(), timeout=timeout, what=repr(text) + " in the pane")

    def keys(self, *keys):
        self.run("send-keys", *keys)

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=20)


# --- login and the stored token ---

def test_login_stores_a_private_token_that_later_commands_use(server, admin, tmp_path):
    config = tmp_path / "config"
    out = login(server, config)
    assert out.returncode == 0, out.stderr
    assert "logged in to %s as admin" % server.url in out.stdout
    path = config / "credentials"
    assert oct(os.stat(config).st_mode & 0o777) == "0o700"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    stored = json.loads(path.read_text())
    assert stored["default"] == server.url
    entry = stored["servers"][server.url]
    assert entry["token"].startswith("vt_") and entry["login"] == "admin"
    assert not [f for f in os.listdir(config) if f != "credentials"]  # no temporary file left
    # the token is a user API token named after this computer; the session is closed
    tokens = admin.get("/api/v1/tokens").json()["tokens"]
    assert [t["name"] for t in tokens] == ["vitrine CLI on " + socket.gethostname()]
    assert tokens[0]["id"] == entry["token_id"]
    # later commands need no --server
    out = vitrine(config, "screens", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["screens"] == []
    # logging in again replaces (and revokes) the previous token of this computer
    assert login(server, config).returncode == 0
    tokens = admin.get("/api/v1/tokens").json()["tokens"]
    assert len(tokens) == 1 and tokens[0]["id"] == json.loads(path.read_text())["servers"][server.url]["token_id"]
    # logout revokes it on the server and deletes the file
    out = vitrine(config, "logout")
    assert out.returncode == 0, out.stderr
    assert "revoked" in out.stdout
    assert admin.get("/api/v1/tokens").json()["tokens"] == []
    assert not path.exists()
    out = vitrine(config, "screens")
    assert out.returncode == 3 and "not logged in" in out.stderr


def test_credentials_default_to_xdg_config_home(server, tmp_path):
    xdg = tmp_path / "xdg"
    env = {"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path / "home")}
    out = subprocess.run([CLI_BIN, "--server", server.url, "login", "--user", "admin", "--password-stdin"],
                         input=ADMIN_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                         start_new_session=True, env=dict(os.environ, **env))
    assert out.returncode == 0, out.stderr
    assert oct(os.stat(xdg / "vitrine").st_mode & 0o777) == "0o700"
    assert oct(os.stat(xdg / "vitrine" / "credentials").st_mode & 0o777) == "0o600"
    out = subprocess.run([CLI_BIN, "channels"], capture_output=True, text=True, timeout=60, start_new_session=True,
                         env=dict(os.environ, **env))
    assert out.returncode == 0 and "no channels yet" in out.stdout, out.stderr


def test_wrong_password_exits_3_and_the_challenge_is_solved_after_5_failures(server, tmp_path):
    config = tmp_path / "config"
    for _ in range(5):
        out = login(server, config, password="not-the-password")
        assert out.returncode == 3, out.stderr
        assert "login failed: wrong login or password" in out.stderr
        assert not (config / "credentials").exists()
    # the server now wants a proof of work first: the CLI answers it
    r = requests.post(server.url + "/api/v1/session", json={"login": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "challenge_required"
    out = login(server, config, password="still-wrong")
    assert out.returncode == 3 and "wrong login or password" in out.stderr
    assert "challenge" in out.stderr
    out = login(server, config)
    assert out.returncode == 0, out.stderr
    assert "proof-of-work challenge" in out.stderr
    assert vitrine(config, "screens").returncode == 0


def test_two_factor_login(server, admin, tmp_path):
    secret = admin.post("/api/v1/me/totp").json()["secret"]
    assert admin.post("/api/v1/me/totp/confirm", json={"code": totp(secret)}).status_code == 200
    config = tmp_path / "config"
    # no terminal to ask the code on: the CLI says how to pass it
    out = login(server, config)
    assert out.returncode == 2 and "--totp" in out.stderr
    out = login(server, config, ADMIN_PASSWORD, "admin", "--totp", "000000" if totp(secret, 1) != "000000" else "111111")
    assert out.returncode == 3 and "authenticator code" in out.stderr
    out = login(server, config, ADMIN_PASSWORD, "admin", "--totp", totp(secret, 1))
    assert out.returncode == 0, out.stderr
    assert vitrine(config, "media").returncode == 0


def test_revoked_token_exits_3_with_a_sentence(server, admin, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    token_id = admin.get("/api/v1/tokens").json()["tokens"][0]["id"]
    assert admin.delete("/api/v1/tokens/" + token_id).status_code == 200
    for args in (["screens"], ["channels", "--json"], ["send", "Lobby", "identify"]):
        out = vitrine(config, *args)
        assert out.returncode == 3, (args, out.stderr)
        assert REVOKED in out.stderr
    folder = tmp_path / "site"
    channel_folder(str(folder), {"a.png": png((1, 2, 3))})
    out = vitrine(config, "publish", folder)
    assert out.returncode == 3 and REVOKED in out.stderr
    # logout still forgets the dead token
    out = vitrine(config, "logout")
    assert out.returncode == 0 and "already revoked" in out.stdout
    assert not (config / "credentials").exists()


def test_ca_option_for_a_tls_server(make_server, tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server = make_server(tls=(cert, key)).start()
    config = tmp_path / "config"
    out = login(server, config)
    assert out.returncode == 1 and "--ca" in out.stderr  # never trusted blindly
    out = vitrine(config, "--ca", cert, "--server", server.url, "login", "--user", "admin", "--password-stdin",
                  stdin=ADMIN_PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    out = vitrine(config, "screens")  # the CA given at login is remembered
    assert out.returncode == 0, out.stderr


# --- publish ---

def test_publish_uploads_only_what_the_server_lacks(server, admin, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    folder = str(tmp_path / "site")
    a, b = png((255, 0, 0)), png((0, 255, 0))
    channel_folder(folder, {"a.png": a, "b.png": b})
    # a dry run asks, but changes nothing
    out = vitrine(config, "publish", folder, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "would upload a.png (%d bytes)" % len(a) in out.stdout and "would create channel" in out.stdout
    assert media_puts(server) == 0 and admin.get("/api/v1/channels").json()["channels"] == []

    out = vitrine(config, "publish", folder)
    assert out.returncode == 0, out.stderr
    assert "uploaded a.png (%d bytes)" % len(a) in out.stdout  # plain lines: stdout is not a terminal
    assert "uploaded b.png (%d bytes)" % len(b) in out.stdout
    assert 'channel "Lobby" created' in out.stdout
    assert media_puts(server) == 2
    [ch] = admin.get("/api/v1/channels").json()["channels"]
    assert [i["media"] for i in ch["zones"][0]["items"]] == [hashlib.sha256(a).hexdigest(),
                                                              hashlib.sha256(b).hexdigest()]
    assert ch["zones"][1]["items"][0]["text"] == "Welcome" and ch["version"] == 1

    # again, unchanged: nothing is uploaded, the channel keeps its version
    out = vitrine(config, "publish", folder)
    assert out.returncode == 0, out.stderr
    assert "nothing to upload; channel unchanged" in out.stdout
    assert media_puts(server) == 2
    assert admin.get("/api/v1/channels/" + ch["id"]).json()["channel"]["version"] == 1
    out = vitrine(config, "publish", folder, "--dry-run")
    assert "nothing to upload; channel unchanged" in out.stdout

    # one file changes: exactly one upload, and the channel is replaced in place
    c = png((0, 0, 255))
    with open(os.path.join(folder, "b.png"), "wb") as f:
        f.write(c)
    out = vitrine(config, "publish", folder, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["changed"] is True and result["created"] is False
    assert [u["file"] for u in result["uploaded"]] == ["b.png"] and result["uploaded_bytes"] == len(c)
    assert result["already_on_server"] == 1
    assert media_puts(server) == 3
    [ch2] = admin.get("/api/v1/channels").json()["channels"]
    assert ch2["id"] == ch["id"] and ch2["version"] == 2
    assert ch2["zones"][0]["items"][1]["media"] == hashlib.sha256(c).hexdigest()
    # the listings show it
    out = vitrine(config, "media", "--json")
    assert len(json.loads(out.stdout)["media"]) == 3
    out = vitrine(config, "channels")
    assert "Lobby" in out.stdout and ch["id"] in out.stdout


def test_publish_refuses_faults_naming_their_json_path(server, admin, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    base = str(tmp_path / "site")
    body = channel_folder(base, {"b.png": png((9, 9, 9))})

    def publish_with(mutate):
        with open(os.path.join(base, "channel.json"), "w") as f:
            f.write(json.dumps(mutate(json.loads(json.dumps(body)))))
        return vitrine(config, "publish", base)

    def add_missing(c):
        c["zones"][0]["items"].append({"file": "a.png"})
        return c
    out = publish_with(add_missing)
    assert out.returncode == 1
    assert "zones[0].items[1].file: no such file a.png in %s" % base in out.stderr

    cases = [
        (lambda c: c["zones"][0].update(x=100) or c, "zones[0].w: the zone is outside the canvas"),
        (lambda c: c["zones"][1].update(colour="red") or c, "zones[1].colour: unknown field"),
        (lambda c: c.update(width="1920") or c, "width: must be an integer from 1 to 16384, not a string"),
        (lambda c: c["zones"][1]["items"][0].update(duration=1.5) or c,
         "zones[1].items[0].duration: must be an integer"),
        (lambda c: c["zones"][1]["items"][0].update(url="https://x.example") or c,
         "zones[1].items[0]: needs exactly one of"),
        (lambda c: c["zones"][1].update(name="main") or c, 'zones[1].name: another zone is already called "main"'),
        (lambda c: c["zones"][0]["items"][0].update(valid={"days": [0]}) or c, "zones[0].items[0].valid.days"),
    ]
    for mutate, message in cases:
        out = publish_with(mutate)
        assert out.returncode == 1, (message, out.stdout)
        assert message in out.stderr, (message, out.stderr)
    # several faults are reported at once
    out = publish_with(lambda c: c["zones"][1].update(colour="red", y=2000) or c)
    assert "zones[1].colour" in out.stderr and "zones[1].y" in out.stderr
    with open(os.path.join(base, "channel.json"), "w") as f:
        f.write('{"name": "x", "name": "y"}')
    out = vitrine(config, "publish", base)
    assert out.returncode == 1 and "line 1" in out.stderr and "duplicate" in out.stderr
    assert media_puts(server) == 0 and admin.get("/api/v1/channels").json()["channels"] == []

    # what only the server knows: it is a PNG, so no 0 s duration; its message and path are shown
    shutil.copy(os.path.join(base, "b.png"), os.path.join(base, "clip.mp4"))
    out = publish_with(lambda c: c["zones"][0]["items"].append({"file": "clip.mp4", "duration": 0}) or c)
    assert out.returncode == 1
    assert "the server refused it: zones[0].items[1].duration" in out.stderr
    assert admin.get("/api/v1/channels").json()["channels"] == []
    # the type is the server's to sniff: a text file is refused at upload, named by its path
    with open(os.path.join(base, "notes.png"), "w") as f:
        f.write("not a picture\n")
    out = publish_with(lambda c: c["zones"][0]["items"].append({"file": "notes.png"}) or c)
    assert out.returncode == 1
    assert "zones[0].items[1].file: the server refused notes.png: this file is text/plain" in out.stderr
    assert admin.get("/api/v1/channels").json()["channels"] == []


def test_publish_with_screen_and_assign(server, admin, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    token, sid = pair_sim(admin, "Hall", "sim-hall")
    device = {"Authorization": "Bearer " + token}
    folder = str(tmp_path / "site")
    channel_folder(folder, {"a.png": png((3, 3, 3))})
    out = vitrine(config, "publish", folder, "--screen", "hall")  # case does not matter when unique
    assert out.returncode == 0, out.stderr
    assert 'Hall now plays "Lobby"' in out.stdout
    manifest = requests.get(server.url + "/api/v1/device/manifest", headers=device).json()
    cid = manifest["default_channel"]
    assert manifest["channel"]["name"] == "Lobby"
    row = vitrine(config, "screens").stdout.splitlines()[1].split()
    assert row[0] == "Hall" and row[-2] == "Lobby", row  # the CHANNEL column
    # another channel, assigned by name; then back by id
    channel_folder(str(tmp_path / "menu"), {"m.png": png((4, 4, 4))}, name="Menu")
    assert vitrine(config, "publish", tmp_path / "menu").returncode == 0
    out = vitrine(config, "assign", "Hall", "Menu")
    assert out.returncode == 0 and "Hall now plays Menu" in out.stdout, out.stderr
    assert requests.get(server.url + "/api/v1/device/manifest", headers=device).json()["channel"]["name"] == "Menu"
    assert vitrine(config, "assign", sid, cid).returncode == 0
    assert requests.get(server.url + "/api/v1/device/manifest", headers=device).json()["default_channel"] == cid
    out = vitrine(config, "assign", "Hall", "Nothing")
    assert out.returncode == 1 and 'no channel is called "Nothing"' in out.stderr


# --- screens, instructions, pairing ---

def test_send_identify_prints_the_players_answer(server, admin, make_player, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    player = make_player(server).start()
    out = vitrine(config, "pair", player.wait_code().lower(), "--name", "Wall")
    assert out.returncode == 0, out.stderr
    assert "paired the screen Wall" in out.stdout
    wait_for(player.token, timeout=20, what="the player's token")
    wait_for(lambda: json.loads(vitrine(config, "screens", "--json").stdout)["screens"][0]["online"], timeout=20,
             what="the screen online")
    out = vitrine(config, "screens")
    assert out.stdout.splitlines()[0].split() == ["NAME", "ID", "STATUS", "LAST", "SEEN", "CHANNEL", "PLAYER"]
    assert "Wall" in out.stdout and "online" in out.stdout

    out = vitrine(config, "send", "Wall", "identify")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'identify on Wall: ok {"seconds":10}'
    out = vitrine(config, "send", "Wall", "identify", "--json")
    answer = json.loads(out.stdout)
    assert answer["status"] == "ok" and answer["result"] == {"seconds": 10} and answer["type"] == "identify"
    # a failed instruction is exit 1 with the player's reason
    channel = admin.post("/api/v1/channels", json={"name": "Words", "width": 1920, "height": 1080, "zones": [
        {"name": "main", "x": 0, "y": 0, "w": 1920, "h": 1080, "items": [{"text": "Hi", "duration": 5}]}]})
    out = vitrine(config, "send", "Wall", "change_channel", "channel_id=" + channel.json()["channel"]["id"])
    assert out.returncode == 1 and "change_channel on Wall failed" in out.stderr and "reason" in out.stderr
    # integers are sent as numbers: the server checks level is an integer
    out = vitrine(config, "send", "Wall", "set_volume", "level=400")
    assert out.returncode == 1 and "payload.level must be an integer from 0 to 100" in out.stderr
    detail = admin.get("/api/v1/screens/" + json.loads(vitrine(config, "screens", "--json").stdout)["screens"][0]["id"])
    assert [i["type"] for i in detail.json()["screen"]["instructions"]][:2] == ["change_channel", "identify"]


def test_send_without_answer_and_ambiguous_names(server, admin, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    _, quiet_id = pair_sim(admin, "Quiet", "sim-quiet")
    out = vitrine(config, "send", "Quiet", "identify", "--wait", "1")
    assert out.returncode == 1 and "did not answer within 1 s" in out.stderr
    out = vitrine(config, "send", "Quiet", "identify", "--wait", "0", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "pending"
    _, a = pair_sim(admin, "Dup", "sim-a")
    _, b = pair_sim(admin, "Dup", "sim-b")
    out = vitrine(config, "send", "Dup", "identify")
    assert out.returncode == 2 and '2 screens are called "Dup"' in out.stderr
    assert a in out.stderr and b in out.stderr
    out = vitrine(config, "send", "Nobody", "identify")
    assert out.returncode == 1 and 'no screen is called "Nobody"' in out.stderr
    out = vitrine(config, "send", quiet_id, "reboot", "--wait", "0")  # by id
    assert out.returncode == 0, out.stderr
    out = vitrine(config, "send", "Quiet", "identify", "oops")
    assert out.returncode == 2 and "is not KEY=VALUE" in out.stderr
    out = vitrine(config, "pair", "ZZZZ-ZZZZ", "--name", "Nope")
    assert out.returncode == 1 and "no screen is waiting with this code" in out.stderr
    out = vitrine(config, "pair", "not-a-code", "--name", "Nope")
    assert out.returncode == 2


def test_remote_usage_help_and_exit_codes(server, tmp_path):
    config = tmp_path / "config"
    out = vitrine(config, "screens")
    assert out.returncode == 3 and "not logged in" in out.stderr
    assert login(server, config).returncode == 0
    out = vitrine(config, "remote", "Lobby")  # no such screen (sessions: test_cli_remote.py)
    assert out.returncode == 1 and "Lobby" in out.stderr
    assert vitrine(config, "remote").returncode == 2
    for command in ("login", "logout", "publish", "screens", "channels", "media", "assign", "send", "pair", "remote"):
        a, b = vitrine(config, "help", command), vitrine(config, command, "--help")
        assert a.returncode == 0 and b.returncode == 0 and a.stdout == b.stdout
        assert a.stdout.startswith("usage: vitrine") and command in a.stdout.splitlines()[0]
    top = vitrine(config, "--help")
    assert top.returncode == 0 and "exit status" in top.stdout
    assert vitrine(config, "nonsense").returncode == 2
    assert vitrine(config, "screens", "--bogus").returncode == 2
    assert vitrine(config, "send", "x").returncode == 2
    assert vitrine(config, "publish").returncode == 2
    assert vitrine(config, "publish", tmp_path, "--rate-limit", "fast").returncode == 2
    assert vitrine(config, "--version").stdout.startswith("vitrine ")
    out = vitrine(config, "--quiet", "channels")
    assert out.returncode == 0 and out.stdout == ""


def test_stored_values_too_long_for_a_request_are_refused(server, tmp_path):
    """A token or token id that would be cut to fit a header or a path is
    refused with a sentence (a cut one would name another token)."""
    config = tmp_path / "config"
    os.makedirs(config, mode=0o700)
    entry = {"token": "vt_" + "a" * 400, "token_id": "b" * 16, "login": "admin"}
    (config / "credentials").write_text(json.dumps({"default": server.url, "servers": {server.url: entry}}))
    os.chmod(config / "credentials", 0o600)
    out = vitrine(config, "screens")
    assert out.returncode == 1 and "the stored token is too long to be one: log in again" in out.stderr
    entry.update(token="vt_short", token_id="c" * 200)
    (config / "credentials").write_text(json.dumps({"default": server.url, "servers": {server.url: entry}}))
    out = vitrine(config, "logout")
    assert out.returncode == 1 and "id is too long to be one" in out.stderr


# --- the command lines of vitrine-server and vitrine-player ---

def run_bin(args, env=None, timeout=30):
    base = {k: v for k, v in os.environ.items() if not k.startswith("VITRINE_")}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=dict(base, **(env or {})))


def test_server_settings_layers_each_override_the_one_before(tmp_path):
    """public_url from the file, the environment and a flag: the error names
    the value (and layer) that won; values are checked before anything
    starts."""
    ini = tmp_path / "server.ini"
    ini.write_text("[server]\npublic_url = ftp://from-file\n")
    cmd = [SERVER_BIN, "--data", str(tmp_path / "d"), "--config", str(ini)]
    out = run_bin(cmd)
    assert out.returncode == 2 and '"ftp://from-file", from the config file' in out.stderr, out.stderr
    env = {"VITRINE_PUBLIC_URL": "ftp://from-env"}
    out = run_bin(cmd, env)
    assert out.returncode == 2 and '"ftp://from-env", from the environment' in out.stderr, out.stderr
    out = run_bin(cmd + ["--public-url=ftp://from-flag"], env)
    assert out.returncode == 2 and '"ftp://from-flag", from the command line' in out.stderr, out.stderr
    # a flag before --config still wins over the file
    out = run_bin([SERVER_BIN, "--public-url", "ftp://first", "--config", str(ini)])
    assert out.returncode == 2 and '"ftp://first"' in out.stderr, out.stderr
    # every usage error is a sentence with exit status 2
    for args, text in ((["--listen"], "--listen needs a value"),
                       (["--threads", "4"], 'unknown argument "--threads"'),
                       (["--admin", "boss"], "--admin and --account go with init"),
                       (["init", "again"], 'unknown argument "again"')):
        out = run_bin([SERVER_BIN] + args)
        assert out.returncode == 2 and text in out.stderr, (args, out.stderr)
    ini.write_text("[server]\nthreads = 4\nlisten = 127.0.0.1:0\nnot_a_setting = 1\n")
    out = run_bin(cmd)
    assert out.returncode == 2 and 'unknown setting "not_a_setting" in [server]' in out.stderr
    assert "line 4" in out.stderr
    help_text = run_bin([SERVER_BIN, "--help"]).stdout
    for name in ("--data DIR", "VITRINE_DATA", "--listen HOST:PORT", "VITRINE_FEED_ALLOW_PRIVATE", "--config FILE",
                 "--admin LOGIN", "--account NAME"):
        assert name in help_text, name


def test_player_settings_layers_each_override_the_one_before(tmp_path):
    ini = tmp_path / "player.ini"
    ini.write_text("[player]\nserver = ftp://from-file\nheartbeat_seconds = 5\n")
    cmd = [PLAYER_BIN, "--data", str(tmp_path / "p"), "--config", str(ini)]
    out = run_bin(cmd)
    assert out.returncode == 2 and '"ftp://from-file", from the config file' in out.stderr, out.stderr
    out = run_bin(cmd, {"VITRINE_SERVER": "ftp://from-env"})
    assert out.returncode == 2 and '"ftp://from-env", from the environment' in out.stderr, out.stderr
    out = run_bin(cmd + ["--server", "ftp://from-flag"], {"VITRINE_SERVER": "ftp://from-env"})
    assert out.returncode == 2 and '"ftp://from-flag", from the command line' in out.stderr, out.stderr
    out = run_bin([PLAYER_BIN, "--server", "http://127.0.0.1:9", "--heartbeat-seconds", "0"])
    assert out.returncode == 2 and "heartbeat_seconds must be a number from 1 to 3600" in out.stderr
    out = run_bin([PLAYER_BIN, "--server", "http://127.0.0.1:9", "--download-rate", "fast"])
    assert out.returncode == 2 and "download_rate must be a number" in out.stderr
    out = run_bin([PLAYER_BIN])
    assert out.returncode == 2 and "--server must be the server's http(s):// URL" in out.stderr
    ini.write_text("[server]\nserver = http://x\n")
    out = run_bin(cmd)
    assert out.returncode == 2 and "unknown section [server] (expected [player])" in out.stderr
    out = run_bin([PLAYER_BIN, "--bogus"])
    assert out.returncode == 2 and 'unknown argument "--bogus"' in out.stderr
    help_text = run_bin([PLAYER_BIN, "--help"]).stdout
    for name in ("--server URL", "VITRINE_SERVER", "--kiosk-listen HOST:PORT", "heartbeat_seconds", "--diagnose"):
        assert name in help_text, name


def test_server_refuses_a_data_folder_path_too_long_to_use(tmp_path):
    data = str(tmp_path) + ("/" + "a" * 200) * 21
    out = run_bin([SERVER_BIN, "--data", data, "init", "--admin", "boss"],
                  {"VITRINE_ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert out.returncode == 2 and "the data folder's path is too long" in out.stderr, out.stderr
    assert not os.path.exists(tmp_path / ("a" * 200))


# --- on a real terminal ---

def test_interactive_login_does_not_echo_the_password(server, tmp_path):
    config = tmp_path / "config"
    cmd = "%s --server %s --config-dir %s login; echo EXIT=$?; sleep 60" % (
        shlex.quote(CLI_BIN), server.url, shlex.quote(str(config)))
    t = Tmux(tmp_path, cmd)
    try:
        t.wait("Login: ")
        t.keys("admin", "Enter")
        t.wait("Password: ")
        t.keys(ADMIN_PASSWORD, "Enter")
        pane = t.wait("EXIT=")
        assert "EXIT=0" in pane, pane
        assert "logged in to %s as admin" % server.url in pane
        assert ADMIN_PASSWORD not in pane
        assert "admin" in pane  # the login name itself is echoed
        sanitizer_clean(pane)
    finally:
        t.close()
    assert (config / "credentials").exists()


def test_progress_bar_on_a_terminal(server, tmp_path):
    config = tmp_path / "config"
    assert login(server, config).returncode == 0
    folder = str(tmp_path / "site")
    big = png((7, 7, 7), tail=os.urandom(3 * 1024 * 1024))  # libmagic sees a PNG
    channel_folder(folder, {"big.png": big, "small.png": png((8, 8, 8))})
    cmd = "%s --config-dir %s publish %s --rate-limit 800k; echo EXIT=$?; sleep 60" % (
        shlex.quote(CLI_BIN), shlex.quote(str(config)), shlex.quote(folder))
    t = Tmux(tmp_path, cmd)
    try:
        pane = t.wait("ETA", timeout=20)
        line = next(l for l in pane.splitlines() if "ETA" in l)
        assert "big.png" in line and "%" in line and "/s" in line and ("[#" in line or "[." in line), line
        assert "MiB" in line, line
        seen = {line}
        deadline = time.time() + 15
        while time.time() < deadline and "EXIT=" not in t.pane():
            seen |= {l for l in t.pane().splitlines() if "ETA" in l}
            time.sleep(0.2)
        assert len(seen) > 2, seen  # it moves
        pane = t.wait("EXIT=", timeout=30)
        assert "EXIT=0" in pane, pane
        assert "uploaded big.png (%d bytes) in" % len(big) in pane
        assert "uploaded 2 files" in pane and 'channel "Lobby" created' in pane
        assert "ETA" not in pane  # the bar is erased when each upload ends
        sanitizer_clean(pane)
    finally:
        t.close()
    assert media_puts(server) == 2
