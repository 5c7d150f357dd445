"""A real third-party update client on the hawkBit DDI API: Debian's
SWUpdate (suricatta, its hawkBit client) installs a signed .swu that a
Vitrine rollout sends to a screen. The .swu (a cpio archive, newc with CRC,
sw-description first, then its CMS signature sw-description.sig, then the
payload) has one "rawfile" entry that writes a file into the test's
folder; it is signed with a throwaway certificate that SWUpdate is given
with -k (Debian builds SWUpdate with CMS signature checks). The .swu is
uploaded as a Vitrine release (signed with `vitrine-server release sign`),
a simulated screen is paired through the API for its device token, a
rollout sends the release to it, and swupdate runs as that screen's hawkBit
target (loopback URL, TargetToken) until the file is written and the
rollout's screen is committed through DDI feedback. Skipped when swupdate
is not installed (scripts/deps installs it); needs root (swupdate does)."""
import base64
import hashlib
import os
import shutil
import signal
import subprocess
import time

import pytest

from test_ddi import account_id
from test_screens import pair_device
from test_updates import get_rollout, rollout, sign_with_server

SWUPDATE = shutil.which("swupdate") or "/usr/bin/swupdate"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(SWUPDATE), reason="swupdate is not installed (scripts/deps installs it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="swupdate runs as root"),
]


def cpio_entry(name, data, ino):
    """One member of a cpio archive in the "newc with CRC" format (070702):
    the checksum is the sum of the data's bytes."""
    nb = name.encode() + b"\0"
    fields = (ino, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), sum(data) & 0xffffffff)
    out = b"070702" + "".join("%08x" % v for v in fields).encode() + nb
    out += b"\0" * (-len(out) % 4)
    return out + data + b"\0" * (-len(data) % 4)


def make_swu(folder, target, payload):
    """A .swu whose one rawfile entry writes payload to target, signed (CMS)
    with a new self-signed certificate; returns (swu path, certificate)."""
    key, cert = str(folder / "key.pem"), str(folder / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-subj", "/CN=vitrine-test", "-days", "2", "-addext", "extendedKeyUsage=emailProtection"],
                   check=True, capture_output=True, timeout=60)
    desc = ('software = {\n  version = "1.0.0";\n  hardware-compatibility: [ "1.0" ];\n'
            '  files: ( { filename = "payload.txt"; path = "%s"; type = "rawfile"; sha256 = "%s"; } );\n};\n'
            % (target, hashlib.sha256(payload).hexdigest())).encode()
    desc_path, sig_path = str(folder / "sw-description"), str(folder / "sw-description.sig")
    with open(desc_path, "wb") as f:
        f.write(desc)
    subprocess.run(["openssl", "cms", "-sign", "-in", desc_path, "-out", sig_path, "-signer", cert, "-inkey", key,
                    "-outform", "DER", "-nosmimecap", "-binary"], check=True, capture_output=True, timeout=60)
    with open(sig_path, "rb") as f:
        sig = f.read()
    data = (cpio_entry("sw-description", desc, 1) + cpio_entry("sw-description.sig", sig, 2)
            + cpio_entry("payload.txt", payload, 3) + cpio_entry("TRAILER!!!", b"", 0))
    data += b"\0" * (-len(data) % 512)
    path = str(folder / "firmware-1.0.0.swu")
    with open(path, "wb") as f:
        f.write(data)
    return path, cert


def upload_swu(admin, path, sig_path):
    """Uploads the .swu as a release under its own file name: the DDI
    artifact takes it, and suricatta only takes artifacts named *.swu."""
    with open(sig_path, "rb") as f:
        sig = base64.b64encode(f.read()).decode()
    with open(path, "rb") as f:
        r = admin.post("/api/v1/releases", data=f, headers={
            "X-Release-Signature": sig, "X-Filename": os.path.basename(path),
            "Content-Type": "application/octet-stream", "Content-Length": str(os.path.getsize(path))})
    assert r.status_code == 201, r.text
    return r.json()["release"]["id"]


def test_swupdate_installs_a_signed_swu_from_a_rollout_over_ddi(make_server, tmp_path):
    # swupdate takes the server's polling sleep, and retries after it when it cannot read its
    # bootloader's update state (none here): a short one
    server = make_server(env={"VITRINE_DDI_POLL_SECONDS": "2"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    target = tmp_path / "rootfs" / "installed.txt"
    target.parent.mkdir()
    payload = b"installed by swupdate from a Vitrine rollout\n"
    swu, cert = make_swu(tmp_path, str(target), payload)
    release = upload_swu(admin, swu, sign_with_server(server, swu, "1.0.0", name="firmware"))
    token, sid = pair_device(admin, name="SWUpdate box", hardware_id="swupdate-1")
    ro = rollout(admin, release, {"screen_ids": [sid]})
    work = tmp_path / "tmp"
    work.mkdir()
    suricatta = "-t %s -i %s -u %s -k %s -p 1 -r 2 -w 1" % (account_id(admin), sid, server.url + "/ddi", token)

    def run(extra, name):
        log = open(tmp_path / name, "wb")
        proc = subprocess.Popen([SWUPDATE, "-v", "-H", "vitrine:1.0", "-k", cert, "-u", suricatta + extra],
                                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, TMPDIR=str(work)),
                                start_new_session=True)
        log.close()
        procs.append(proc)
        return proc, tmp_path / name

    def stop(proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def wait(proc, log_path, done, what):
        deadline = time.time() + 60
        while True:
            status = get_rollout(admin, ro["id"])["screens"][0]
            if done(status):
                return status, log_path.read_text()
            assert status["status"] != "failed", (status, log_path.read_text()[-4000:])
            assert proc.poll() is None, "swupdate ended (%s):\n%s" % (proc.returncode, log_path.read_text()[-4000:])
            assert time.time() < deadline, "%s: %s\n%s" % (what, status, log_path.read_text()[-4000:])
            time.sleep(0.5)

    procs = []
    try:
        # the first run downloads, checks and installs, then reports "installed, waiting for the reboot"
        proc, log_path = run("", "swupdate.log")
        status, log = wait(proc, log_path, lambda s: target.exists() and "All Chunks Installed" in s["detail"],
                           "swupdate did not install the release")
        assert target.read_bytes() == payload
        assert "Verified OK" in log, log[-4000:]  # it checked the CMS signature of sw-description
        assert status["status"] == "downloading" and get_rollout(admin, ro["id"])["state"] == "running"
        # the "reboot": the system comes back up and confirms the update (-c 2 = success)
        stop(proc)
        proc, log_path = run(" -c 2", "swupdate-confirm.log")
        status, log = wait(proc, log_path, lambda s: s["status"] == "committed", "swupdate did not confirm")
        assert get_rollout(admin, ro["id"])["state"] == "done"
    finally:
        for p in procs:
            stop(p)
