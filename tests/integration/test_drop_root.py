"""Giving up root: vitrine-server --user and vitrine-relay --user bind their
ports as root (one below 1024 too), then run as the named account, with
its ids in all four fields of /proc/PID/status; an unknown account, or a
data folder the account may not write, stops the start with a sentence;
a server started as root without --user says to use it. The tests run as
root, like the rest of the suite (they are skipped otherwise)."""
import os
import pwd
import socket
import subprocess
import tempfile

import pytest
import requests

from conftest import BUILD, SERVER_BIN, free_port, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving up root needs root")

RELAY_BIN = os.path.join(BUILD, "vitrine-relay")
NOBODY = pwd.getpwnam("nobody")
# ports below 1024 that are tried, in this order, for the privileged case
LOW_PORTS = (443, 853, 992, 995, 873, 990, 636)


def ids(pid):
    """The Uid and Gid lines of /proc/PID/status: ([real, effective, saved, fs], [...])."""
    with open("/proc/%d/status" % pid) as f:
        lines = dict(line.split(":", 1) for line in f if ":" in line)
    return [int(x) for x in lines["Uid"].split()], [int(x) for x in lines["Gid"].split()]


def give_to_nobody(server):
    """The data folder for nobody: its parent (a 0700 temporary folder of
    root's) opened for traversal, the folder and all in it chowned."""
    os.chmod(os.path.dirname(server.data), 0o755)
    for top, dirs, files in os.walk(server.data):
        for name in [top] + [os.path.join(top, n) for n in dirs + files]:
            os.chown(name, NOBODY.pw_uid, NOBODY.pw_gid)


def keep_log(server, out):
    """What a server run by hand printed, into its log (the fixture checks
    the log for sanitizer reports)."""
    with open(server.log_path, "a") as f:
        f.write(out.stdout + out.stderr)


def free_low_port():
    for port in LOW_PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    return None


def assert_runs_as_nobody(pid):
    uid, gid = ids(pid)
    assert uid == [NOBODY.pw_uid] * 4, uid
    assert gid == [NOBODY.pw_gid] * 4, gid


def test_server_drops_to_the_user_after_binding(make_server):
    server = make_server(args=["--user", "nobody"])
    give_to_nobody(server)
    server.start()
    assert_runs_as_nobody(server.proc.pid)
    assert requests.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"
    # it writes its data folder as nobody: a login is a session row
    c = server.client()
    assert c.login().status_code == 200
    assert c.get("/api/v1/users").status_code == 200
    db = os.path.join(server.data, "vitrine.db")
    assert os.stat(db).st_uid == NOBODY.pw_uid
    assert "running as an unprivileged user" in server.read_log()
    assert "running as root" not in server.read_log()


def test_server_binds_a_privileged_port_then_drops(make_server):
    port = free_low_port()
    if port is None:
        pytest.skip("none of the ports %s is free on 127.0.0.1" % (LOW_PORTS,))
    server = make_server(args=["--user", "nobody"])
    server.port, server.url = port, "http://127.0.0.1:%d" % port
    give_to_nobody(server)
    server.start()
    assert_runs_as_nobody(server.proc.pid)
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_the_same_user_in_the_environment(make_server):
    """VITRINE_USER is the same setting (the service's environment file)."""
    server = make_server()
    server.env["VITRINE_USER"] = "nobody"  # after init, which would run as nobody too
    give_to_nobody(server)
    server.start()
    assert_runs_as_nobody(server.proc.pid)


def test_an_unknown_user_stops_the_start(make_server):
    server = make_server()
    port = free_port()
    out = subprocess.run([SERVER_BIN, "--data", server.data, "--listen", "127.0.0.1:%d" % port,
                          "--user", "no-such-vitrine-user"], capture_output=True, text=True, timeout=30)
    keep_log(server, out)
    assert out.returncode == 1, out
    assert 'vitrine-server: --user: there is no user "no-such-vitrine-user" on this system' in out.stderr, out.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get("http://127.0.0.1:%d/healthz" % port, timeout=2)


def test_a_data_folder_of_root_is_refused_with_the_fix(make_server):
    server = make_server()  # initialised by root, left to root
    os.chmod(os.path.dirname(server.data), 0o755)
    out = subprocess.run([SERVER_BIN, "--data", server.data, "--listen", "127.0.0.1:%d" % free_port(),
                          "--user", "nobody"], capture_output=True, text=True, timeout=30)
    keep_log(server, out)
    assert out.returncode == 1, out
    assert ("the data folder %s is not writable by the user nobody" % server.data) in out.stderr, out.stderr
    assert ("chown -R nobody: %s" % server.data) in out.stderr, out.stderr


def test_root_without_user_is_warned(server):
    assert "running as root: start with --user NAME" in server.read_log()


def test_init_as_the_user_makes_its_files():
    """`vitrine-server --user U init` (the service's first step) writes the
    data folder as U, in a folder root made for it."""
    with tempfile.TemporaryDirectory(prefix="vitrine-it-") as tmp:  # in /tmp: nobody may pass
        os.chmod(tmp, 0o755)
        data = os.path.join(tmp, "data")
        os.mkdir(data, 0o700)
        os.chown(data, NOBODY.pw_uid, NOBODY.pw_gid)
        out = subprocess.run([SERVER_BIN, "--user", "nobody", "--data", data, "init", "--admin", "admin"],
                             capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, VITRINE_ADMIN_PASSWORD="admin-password-for-tests"))
        assert out.returncode == 0, out.stderr
        owners = {os.stat(os.path.join(top, n)).st_uid for top, dirs, files in os.walk(data) for n in dirs + files}
        assert owners == {NOBODY.pw_uid}, owners


def test_relay_binds_then_drops(tmp_path):
    port = free_low_port() or free_port()
    admin = free_port()
    key = tmp_path / "server-key"
    key.write_bytes(os.urandom(32))
    log = open(tmp_path / "relay.log", "wb")
    proc = subprocess.Popen([RELAY_BIN, "--listen", "127.0.0.1:%d" % port, "--server-key", str(key),
                             "--admin-listen", "127.0.0.1:%d" % admin, "--user", "nobody"],
                            stdout=log, stderr=log)
    try:
        def healthy():
            try:
                return requests.get("http://127.0.0.1:%d/healthz" % admin, timeout=1).status_code == 200
            except requests.RequestException:
                assert proc.poll() is None, (tmp_path / "relay.log").read_text()
                return False
        wait_for(healthy, timeout=15, what="the relay's /healthz")
        assert_runs_as_nobody(proc.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the relay port was bound before the drop
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0, (tmp_path / "relay.log").read_text()
        log.close()
    assert "running as root" not in (tmp_path / "relay.log").read_text()


def test_relay_refuses_an_unknown_user(tmp_path):
    key = tmp_path / "server-key"
    key.write_bytes(os.urandom(32))
    out = subprocess.run([RELAY_BIN, "--listen", "127.0.0.1:0", "--server-key", str(key),
                          "--user", "no-such-vitrine-user"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out
    assert 'vitrine-relay: --user: there is no user "no-such-vitrine-user"' in out.stderr, out.stderr
