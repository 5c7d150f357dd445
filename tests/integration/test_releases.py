"""Signed releases (SPEC section 7, over-the-air updates) against the real
binaries: a publisher's key made and used with the CLI (vitrine release
keygen / sign / upload, vitrine releases), the account's trusted keys, the
upload's refusals each with its code -- from the headers, before the body
is read, where the headers can tell -- and nothing stored by a refused or
truncated upload; screens' downloads (Range, ETag, the signature file) and
the keys they are given when they pair; the server's own release key
(vitrine-server release-key, release sign)."""
import base64
import hashlib
import json
import os
import socket
import stat
import subprocess
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, CLI_BIN, SERVER_BIN, read_head, wait_for

PUBKEY = base64.b64encode(bytes(range(32))).decode()


# --- helpers ---

def sanitizer_clean(text):
    assert "ERROR: AddressSanitizer" not in text and "runtime error:" not in text, text
    assert "LeakSanitizer" not in text, text


def vitrine(config, *args, timeout=90, stdin=None):
    """Runs the CLI without a controlling terminal; returns the CompletedProcess."""
    out = subprocess.run([CLI_BIN, "--config-dir", str(config)] + [str(a) for a in args], input=stdin,
                         capture_output=True, text=True, timeout=timeout, start_new_session=True)
    sanitizer_clean(out.stderr)
    return out


def cli_login(server, config):
    out = vitrine(config, "--server", server.url, "login", "--user", "admin", "--password-stdin",
                  stdin=ADMIN_PASSWORD + "\n")
    assert out.returncode == 0, out.stderr


def keygen(tmp_path, name="release.key"):
    """A new publisher key made by the CLI: (key file, public key)."""
    key = tmp_path / name
    out = vitrine(tmp_path / "cfg", "release", "keygen", "--out", key)
    assert out.returncode == 0, out.stderr
    return key, out.stdout.strip()


def sign(tmp_path, key, path, name="vitrine-player", version="1.4.2", *extra):
    out = vitrine(tmp_path / "cfg", "release", "sign", "--key", key, "--name", name, "--version", version, path,
                  *extra)
    assert out.returncode == 0, out.stderr
    return open(str(path) + ".vsig", "rb").read()


def release_file(tmp_path, size=300000, name="player.bin", seed=b"vitrine"):
    data = (hashlib.sha256(seed).digest() * (size // 32 + 1))[:size]
    data = bytes(b ^ (i & 0xFF) for i, b in enumerate(data))
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def trust(admin, public_key, name="ci"):
    r = admin.post("/api/v1/release-keys", json={"name": name, "public_key": public_key})
    assert r.status_code == 201, r.text
    return r.json()["key"]


def upload(client, data, signature, **headers):
    if signature is not None:
        headers["X-Release-Signature"] = base64.b64encode(signature).decode()
    return client.post("/api/v1/releases", data=data, headers=headers)


def error_code(r):
    return r.json()["error"]["code"]


def stored_files(server):
    """Every file under DIR/releases (stored releases and temporary files)."""
    top = os.path.join(server.data, "releases")
    found = []
    for dirpath, _, names in os.walk(top):
        found += [os.path.relpath(os.path.join(dirpath, n), top) for n in names]
    return sorted(found)


def assert_nothing_stored(server, admin):
    assert admin.get("/api/v1/releases").json()["total"] == 0
    wait_for(lambda: stored_files(server) == [], timeout=10, what="DIR/releases to be empty: %s"
             % stored_files(server))


def pair_device(admin):
    """Pairs a simulated screen; returns the device token response (JSON)."""
    r = requests.post(admin.url + "/api/v1/device/pair", json={"hardware_id": "sim-1", "public_key": PUBKEY})
    assert r.status_code == 200, r.text
    p = r.json()
    assert admin.post("/api/v1/pairings", json={"user_code": p["user_code"], "name": "Wall"}).status_code == 201
    t = requests.post(admin.url + "/api/v1/device/token", json={"device_code": p["device_code"]})
    assert t.status_code == 200, t.text
    return t.json()


def device_get(server, token, path, **headers):
    headers["Authorization"] = "Bearer " + token
    return requests.get(server.url + path, headers=headers, timeout=30)


def server_key(server):
    out = subprocess.run([SERVER_BIN, "--data", server.data, "release-key"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def raw_upload(server, client, signature, length, body=b"", expect=False, read_reply=True):
    """POST /api/v1/releases over a plain socket: the headers (length as
    Content-Length), then body, then the reply's status and the socket
    (None when read_reply is False). With expect, asks for 100-continue."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    lines = ["POST /api/v1/releases HTTP/1.1", "Host: 127.0.0.1", "Content-Length: %d" % length]
    if client is not None:
        cookies = "; ".join("%s=%s" % (c.name, c.value) for c in client.s.cookies)
        lines += ["Cookie: " + cookies, "X-CSRF-Token: " + client.csrf]
    if signature is not None:
        lines.append("X-Release-Signature: " + base64.b64encode(signature).decode())
    if expect:
        lines.append("Expect: 100-continue")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    if body:
        s.sendall(body)
    if not read_reply:
        return None, s
    status, head, rest = read_head(s)
    return status, (s, head, rest)


def read_body(sock_head_rest):
    s, head, rest = sock_head_rest
    length = next(int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    s.close()
    return json.loads(rest[:length])


# --- the tests ---

def test_cli_signs_and_uploads_and_screens_download_with_range(server, admin, tmp_path):
    """keygen + sign with the CLI, the key added, upload with the CLI, the
    listings, and a screen's download (Range, ETag, its signature file)."""
    key, public = keygen(tmp_path)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.path.getsize(key) == 64
    assert len(base64.b64decode(public)) == 32
    again = vitrine(tmp_path / "cfg", "release", "keygen", "--out", key)
    assert again.returncode == 1 and "never overwritten" in again.stderr
    added = trust(admin, public)
    keys = admin.get("/api/v1/release-keys").json()["keys"]
    assert keys[0]["builtin"] is True and keys[0]["id"] == "server" and keys[0]["public_key"] == server_key(server)
    assert [k["public_key"] for k in keys[1:]] == [public] and keys[1]["name"] == "ci"

    path, data = release_file(tmp_path)
    signature = sign(tmp_path, key, path)
    doc = json.loads(signature)
    assert doc == {"format": "vitrine-release-1", "name": "vitrine-player", "version": "1.4.2",
                   "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "key": public,
                   "signature": doc["signature"]}
    assert len(base64.b64decode(doc["signature"])) == 64

    cli_login(server, tmp_path / "cfg")
    out = vitrine(tmp_path / "cfg", "release", "upload", path)
    assert out.returncode == 0, out.stderr
    assert "uploaded vitrine-player 1.4.2 (300000 bytes" in out.stdout and "signed by ci" in out.stdout
    listed = vitrine(tmp_path / "cfg", "releases")
    assert listed.returncode == 0 and "vitrine-player" in listed.stdout and "1.4.2" in listed.stdout, listed
    assert "1 release" in listed.stdout
    as_json = json.loads(vitrine(tmp_path / "cfg", "--json", "releases").stdout)
    assert as_json["total"] == 1

    rel = admin.get("/api/v1/releases").json()["releases"][0]
    sha = hashlib.sha256(data).hexdigest()
    for k, v in {"name": "vitrine-player", "version": "1.4.2", "sha256": sha, "size": len(data),
                 "key_id": added["id"], "key_name": "ci", "public_key": public, "trusted": True,
                 "filename": "player.bin", "created_by": "admin"}.items():
        assert rel[k] == v, (k, rel)
    assert rel["created_at"] > 0
    assert admin.get("/api/v1/releases/" + rel["id"]).json()["release"] == rel
    assert stored_files(server) == [sha]
    assert open(os.path.join(server.data, "releases", sha), "rb").read() == data

    # a screen is given the trusted keys when it pairs, the server's first
    device = pair_device(admin)
    assert device["release_keys"] == [server_key(server), public]
    token = device["access_token"]
    whole = device_get(server, token, "/api/v1/device/releases/" + rel["id"])
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["ETag"] == '"%s"' % sha
    part = device_get(server, token, "/api/v1/device/releases/" + rel["id"], Range="bytes=1000-1999")
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["Content-Range"] == "bytes 1000-1999/%d" % len(data)
    tail = device_get(server, token, "/api/v1/device/releases/" + rel["id"], Range="bytes=299990-")
    assert tail.status_code == 206 and tail.content == data[299990:]
    same = device_get(server, token, "/api/v1/device/releases/" + rel["id"], **{"If-None-Match": '"%s"' % sha})
    assert same.status_code == 304
    sig = device_get(server, token, "/api/v1/device/releases/%s/signature" % rel["id"])
    assert sig.status_code == 200 and sig.content == signature  # byte for byte, as uploaded
    assert device_get(server, token, "/api/v1/device/releases/aaaaaaaaaaaaaaaa").status_code == 404
    assert device_get(server, "vd_wrong", "/api/v1/device/releases/" + rel["id"]).status_code == 401
    # user tokens are not device tokens
    assert admin.get("/api/v1/device/releases/" + rel["id"]).status_code == 401

    # deleting the release frees its bytes
    assert admin.delete("/api/v1/releases/" + rel["id"]).status_code == 204
    assert admin.get("/api/v1/releases/" + rel["id"]).status_code == 404
    wait_for(lambda: stored_files(server) == [], timeout=5, what="the release's file removed")
    assert device_get(server, token, "/api/v1/device/releases/" + rel["id"]).status_code == 404
    actions = [e["action"] for e in admin.get("/api/v1/audit").json()["entries"]]
    for a in ("release_key.added", "release.uploaded", "release.deleted"):
        assert a in actions, actions


def test_refusals_each_with_their_code_and_nothing_stored(server, admin, tmp_path):
    key, public = keygen(tmp_path)
    trust(admin, public)
    path, data = release_file(tmp_path, size=200000)
    signature = sign(tmp_path, key, path)

    r = upload(admin, data, None)
    assert r.status_code == 400 and error_code(r) == "signature_required", r.text
    r = upload(admin, data, b"this is not JSON")
    assert r.status_code == 400 and error_code(r) == "bad_signature_file" and "not JSON" in r.text, r.text
    r = admin.post("/api/v1/releases", data=data, headers={"X-Release-Signature": "%%% not base64 %%%"})
    assert r.status_code == 400 and error_code(r) == "bad_signature_file" and "base64" in r.text, r.text
    doc = json.loads(signature)
    for field, value, words in (("version", "1.4.x", "version must be"), ("name", "Player", "name must be"),
                                ("size", 0, "size must be"), ("sha256", "abc", "sha256 must be"),
                                ("key", "AAAA", "key must be"), ("format", "v2", "format must be")):
        bad = json.dumps(dict(doc, **{field: value})).encode()
        r = upload(admin, data, bad)
        assert r.status_code == 400 and error_code(r) == "bad_signature_file", r.text
        assert words in r.json()["error"]["message"], (field, r.text)
    missing = json.dumps({k: v for k, v in doc.items() if k != "sha256"}).encode()
    r = upload(admin, data, missing)
    assert r.status_code == 400 and "no \"sha256\"" in r.json()["error"]["message"], r.text

    # signed by a key the account does not trust
    other_key, _ = keygen(tmp_path, "other.key")
    other_path, other_data = release_file(tmp_path, size=200000, name="other.bin")
    r = upload(admin, other_data, sign(tmp_path, other_key, other_path))
    assert r.status_code == 400 and error_code(r) == "untrusted_key" and "not trusted" in r.text, r.text

    # a signature that does not match: the version field edited
    edited = signature.replace(b'"1.4.2"', b'"1.4.3"')
    assert edited != signature
    r = upload(admin, data, edited)
    assert r.status_code == 400 and error_code(r) == "bad_signature", r.text
    r = upload(admin, data, signature.replace(b'"size": 200000', b'"size": 200001'))
    assert r.status_code == 400 and error_code(r) in ("bad_signature", "size_mismatch"), r.text

    # the body is not the signed file (same size, one byte changed)
    tampered = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]
    r = upload(admin, tampered, signature)
    assert r.status_code == 400 and error_code(r) == "hash_mismatch", r.text
    assert r.json()["error"]["actual"] == hashlib.sha256(tampered).hexdigest()

    # Content-Length other than the signed size, or none (chunked)
    status, rest = raw_upload(server, admin, signature, len(data) - 1, data[:-1])
    assert status == 400 and read_body(rest)["error"]["code"] == "size_mismatch"
    r = admin.post("/api/v1/releases", data=iter([data[:100000], data[100000:]]),
                   headers={"X-Release-Signature": base64.b64encode(signature).decode()})
    assert r.status_code == 400 and error_code(r) == "size_mismatch", r.text
    assert_nothing_stored(server, admin)

    # the upload itself, then the same release again, also as 1.4.2.0
    r = upload(admin, data, signature)
    assert r.status_code == 201, r.text
    r = upload(admin, data, signature)
    assert r.status_code == 409 and error_code(r) == "release_exists", r.text
    r = upload(admin, data, sign(tmp_path, key, path, "vitrine-player", "1.4.2.0"))
    assert r.status_code == 409 and error_code(r) == "release_exists" and "same version" in r.text, r.text
    assert admin.get("/api/v1/releases").json()["total"] == 1
    assert stored_files(server) == [hashlib.sha256(data).hexdigest()]


def test_refusals_from_the_headers_come_before_the_body(server, admin, tmp_path):
    """With Expect: 100-continue the client never sends the body: the answer
    comes from the headers alone (authentication, signature, size)."""
    key, public = keygen(tmp_path)
    trust(admin, public)
    path, data = release_file(tmp_path, size=500000)
    signature = sign(tmp_path, key, path)
    other_key, _ = keygen(tmp_path, "other.key")
    untrusted = sign(tmp_path, other_key, path, "vitrine-player", "9.9")
    for client, sig, length, want in ((None, signature, len(data), 401),
                                      (admin, None, len(data), "signature_required"),
                                      (admin, untrusted, len(data), "untrusted_key"),
                                      (admin, signature.replace(b'"1.4.2"', b'"1.4.9"'), len(data), "bad_signature"),
                                      (admin, signature, len(data) + 1, "size_mismatch")):
        status, rest = raw_upload(server, client, sig, length, expect=True)
        reply = read_body(rest)
        if want == 401:
            assert status == 401, reply
        else:
            assert status == 400 and reply["error"]["code"] == want, reply
    assert_nothing_stored(server, admin)
    # without Expect, unauthenticated: 401, the body dropped unread
    r = requests.post(server.url + "/api/v1/releases", data=data,
                      headers={"X-Release-Signature": base64.b64encode(signature).decode()})
    assert r.status_code == 401
    assert_nothing_stored(server, admin)


def test_larger_than_release_max_bytes_is_413(make_server, tmp_path):
    server = make_server(env={"VITRINE_RELEASE_MAX_BYTES": "100000"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    key, public = keygen(tmp_path)
    trust(admin, public)
    big, big_data = release_file(tmp_path, size=100001, name="big.bin")
    r = upload(admin, big_data, sign(tmp_path, key, big))
    assert r.status_code == 413 and error_code(r) == "release_too_large", r.text
    assert r.json()["error"]["max"] == 100000
    assert_nothing_stored(server, admin)
    fits, fits_data = release_file(tmp_path, size=100000, name="fits.bin")
    assert upload(admin, fits_data, sign(tmp_path, key, fits)).status_code == 201


def test_a_truncated_upload_leaves_no_row_and_no_file(server, admin, tmp_path):
    """Half the body, then the client goes. Several times: libmicrohttpd
    missed about 1 in 8 such closes until the body deadline (a minute);
    the deadline guard now notices the client is gone (http/deadline.c)."""
    key, public = keygen(tmp_path)
    trust(admin, public)
    path, data = release_file(tmp_path, size=1000000)
    signature = sign(tmp_path, key, path)
    for _ in range(8):
        _, s = raw_upload(server, admin, signature, len(data), data[:len(data) // 2], read_reply=False)
        wait_for(lambda: any(f.endswith(".part") for f in stored_files(server)), timeout=10,
                 what="the upload's temporary file")
        s.close()
        wait_for(lambda: stored_files(server) == [], timeout=5,
                 what="the temporary file removed: %s" % stored_files(server))
    assert_nothing_stored(server, admin)
    # and the same upload goes through afterwards
    assert upload(admin, data, signature).status_code == 201
    assert stored_files(server) == [hashlib.sha256(data).hexdigest()]


def test_only_admins_upload_and_manage_keys(server, admin, tmp_path):
    for login, role in (("sup", "support"), ("ed", "editor")):
        r = admin.post("/api/v1/users", json={"login": login, "password": "a-long-password-1", "role": role})
        assert r.status_code == 201, r.text
    key, public = keygen(tmp_path)
    trust(admin, public)
    path, data = release_file(tmp_path, size=10000)
    signature = sign(tmp_path, key, path)
    support = server.client()
    assert support.login("sup", "a-long-password-1").status_code == 200
    r = upload(support, data, signature)
    assert r.status_code == 403, r.text
    assert support.get("/api/v1/release-keys").status_code == 403
    assert support.post("/api/v1/release-keys", json={"name": "x", "public_key": public}).status_code == 403
    assert support.get("/api/v1/releases").status_code == 200  # support staff see what is released
    editor = server.client()
    assert editor.login("ed", "a-long-password-1").status_code == 200
    assert editor.get("/api/v1/releases").status_code == 403
    assert requests.get(server.url + "/api/v1/releases").status_code == 401
    assert_nothing_stored(server, admin)
    rel = upload(admin, data, signature).json()["release"]
    assert support.delete("/api/v1/releases/" + rel["id"]).status_code == 403


def test_trusted_keys_checks_and_removal(server, admin, tmp_path):
    own = server_key(server)
    for body, code in (({"name": "x", "public_key": "not base64"}, "invalid_field"),
                       ({"name": "x", "public_key": base64.b64encode(b"\x01" * 31).decode()}, "invalid_field"),
                       ({"name": "x", "public_key": base64.b64encode(b"\x00" * 32).decode()}, "invalid_field"),
                       ({"name": "", "public_key": PUBKEY}, "invalid_field"),
                       ({"name": "a\nb", "public_key": PUBKEY}, "invalid_field"),
                       ({"name": "x" * 65, "public_key": PUBKEY}, "invalid_field"),
                       ({"name": "x", "public_key": PUBKEY, "extra": 1}, "unknown_field"),
                       ({"name": "x", "public_key": own}, "key_exists")):
        r = admin.post("/api/v1/release-keys", json=body)
        assert r.status_code in (400, 409) and error_code(r) == code, (body, r.text)
    key, public = keygen(tmp_path)
    added = trust(admin, public, "laptop")
    r = admin.post("/api/v1/release-keys", json={"name": "again", "public_key": public})
    assert r.status_code == 409 and error_code(r) == "key_exists"
    r = admin.delete("/api/v1/release-keys/server")
    assert r.status_code == 409 and error_code(r) == "builtin_key"
    assert admin.delete("/api/v1/release-keys/aaaaaaaaaaaaaaaa").status_code == 404

    path, data = release_file(tmp_path, size=5000)
    rel = upload(admin, data, sign(tmp_path, key, path)).json()["release"]
    token = pair_device(admin)["access_token"]
    assert device_get(server, token, "/api/v1/device/releases/" + rel["id"]).status_code == 200
    # once the key is removed its releases are no longer trusted, served or taken
    assert admin.delete("/api/v1/release-keys/" + added["id"]).status_code == 204
    assert [k["id"] for k in admin.get("/api/v1/release-keys").json()["keys"]] == ["server"]
    listed = admin.get("/api/v1/releases/" + rel["id"]).json()["release"]
    assert listed["trusted"] is False and listed["key_name"] == "laptop"
    r = device_get(server, token, "/api/v1/device/releases/" + rel["id"])
    assert r.status_code == 403 and error_code(r) == "untrusted_key"
    assert device_get(server, token, "/api/v1/device/releases/%s/signature" % rel["id"]).status_code == 403
    path2, data2 = release_file(tmp_path, size=5000, name="next.bin", seed=b"next")
    r = upload(admin, data2, sign(tmp_path, key, path2, "vitrine-player", "1.5"))
    assert r.status_code == 400 and error_code(r) == "untrusted_key"
    entries = admin.get("/api/v1/audit").json()["entries"]
    removed = next(e for e in entries if e["action"] == "release_key.removed")
    assert removed["target"] == added["id"] and removed["detail"] == "laptop"


def test_the_server_signs_releases_with_its_own_key(make_server, tmp_path):
    server = make_server()
    keyfile = os.path.join(server.data, "keys", "release-signing.secret")
    assert stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600  # made by init
    # a data folder made before releases has no key: the first use makes it
    os.unlink(keyfile)
    own = server_key(server)
    assert os.path.getsize(keyfile) == 64 and stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600
    assert server_key(server) == own  # and keeps it
    out_file = tmp_path / "release-key.txt"
    assert subprocess.run([SERVER_BIN, "--data", server.data, "release-key", "--out", str(out_file)],
                          timeout=60).returncode == 0
    assert out_file.read_text().strip() == own
    server.start()
    admin = server.client()
    assert admin.login().status_code == 200
    assert admin.get("/api/v1/release-keys").json()["keys"][0]["public_key"] == own

    path, data = release_file(tmp_path, size=70000)
    out = subprocess.run([SERVER_BIN, "--data", server.data, "release", "sign", str(path), "--name", "kiosk-os",
                          "--version", "2024.10.1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "signed kiosk-os 2024.10.1" in out.stdout and str(path) + ".vsig" in out.stdout
    signature = open(str(path) + ".vsig", "rb").read()
    assert json.loads(signature)["key"] == own
    r = upload(admin, data, signature, **{"X-Filename": "kiosk-os.img"})
    assert r.status_code == 201, r.text
    rel = r.json()["release"]
    assert rel["key_id"] == "server" and rel["trusted"] is True and rel["filename"] == "kiosk-os.img"
    assert pair_device(admin)["release_keys"] == [own]
    # usage errors say what is missing
    bad = subprocess.run([SERVER_BIN, "--data", server.data, "release", "sign", str(path), "--name", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--version" in bad.stderr
    bad = subprocess.run([SERVER_BIN, "--data", server.data, "release", "sign", str(path), "--name", "X",
                          "--version", "1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "name must be" in bad.stderr


def test_cli_upload_errors_are_sentences(server, admin, tmp_path):
    cli_login(server, tmp_path / "cfg")
    key, public = keygen(tmp_path)
    path, data = release_file(tmp_path, size=20000)
    sign(tmp_path, key, path)
    # the key is not trusted yet: the server's refusal, as a sentence
    out = vitrine(tmp_path / "cfg", "release", "upload", path)
    assert out.returncode == 1 and "the server refused it" in out.stderr and "untrusted_key" in out.stderr, out
    # a signature file for another file is caught before any request
    with open(path, "ab") as f:
        f.write(b"more")
    out = vitrine(tmp_path / "cfg", "release", "upload", path)
    assert out.returncode == 1 and "not the file that was signed" in out.stderr, out
    out = vitrine(tmp_path / "cfg", "release", "upload", tmp_path / "missing.bin")
    assert out.returncode == 1 and "cannot read the signature file" in out.stderr, out
    out = vitrine(tmp_path / "cfg", "release", "sign", "--key", tmp_path / "nokey", "--name", "a", "--version",
                  "1", path)
    assert out.returncode == 1 and "cannot read" in out.stderr, out
    out = vitrine(tmp_path / "cfg", "release", "sign", "--key", key, "--name", "a", "--version", "1.x", path)
    assert out.returncode == 2 and "version must be" in out.stderr, out
    out = vitrine(tmp_path / "cfg", "release", "frobnicate")
    assert out.returncode == 2 and "keygen, sign or upload" in out.stderr, out
    assert admin.get("/api/v1/releases").json()["total"] == 0


def test_start_removes_crash_leftovers(make_server, tmp_path):
    """What a kill -9 leaves in DIR/releases -- upload temporary files, a
    file moved into place whose row was never committed -- goes at the next
    start; a file a release links stays."""
    server = make_server().start()
    admin = server.client()
    assert admin.login().status_code == 200
    key, public = keygen(tmp_path)
    trust(admin, public)
    path, data = release_file(tmp_path, size=4000)
    assert upload(admin, data, sign(tmp_path, key, path)).status_code == 201
    kept = hashlib.sha256(data).hexdigest()
    server.stop()
    top = os.path.join(server.data, "releases")
    orphan = hashlib.sha256(b"never committed").hexdigest()
    for name, content in (("0123456789abcdef.part", os.urandom(5000)), (orphan, b"never committed")):
        with open(os.path.join(top, name), "wb") as f:
            f.write(content)
    server.start()
    assert stored_files(server) == [kept]
    assert "release disk space reclaimed" in server.read_log()
