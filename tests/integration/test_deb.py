"""The Debian packages of `make deb` (packaging/debian/, scripts/deb): the
four packages, what each holds (and that no test binary nor /usr/local path
slipped in), then installed with dpkg into an empty folder and run from
there: the installed vitrine-server initialised, started on a loopback port,
healthy and logged in to through the API; the installed CLI, relay and
player answer --help.

The packages are built by `make deb` into a temporary folder (a release
build, about half a minute on 2 cores), or taken from VITRINE_DEBS=DIR when
it holds them already (e.g. `make deb` then VITRINE_DEBS=build-deb).

How they are installed: `dpkg --root=ROOT` into an empty ROOT (only
ROOT/var/lib/dpkg/{status,info,updates,triggers} made beforehand) would run
the maintainer scripts chrooted into ROOT, where there is no shell nor any
base system for them to run. So the test installs with
--force-script-chrootless (dpkg 1.21 has it): the scripts run on this machine
with DPKG_ROOT=ROOT, and every one of them honours it: debhelper's
systemd-sysusers --root and systemd-tmpfiles --root snippets write the
users and /var/lib/vitrine into ROOT (user names resolved from
ROOT/etc/passwd), deb-systemd-helper enables the units inside ROOT, and the
start/restart/stop snippets do nothing when DPKG_ROOT is set (the packages
never start a service on installation anyway; ROOT/usr/sbin/policy-rc.d
refuses it besides, as in any chroot; only debhelper's postrm asks a systemd
running here, if any, for a harmless daemon-reload on removal). --force-depends because ROOT's dpkg
database has no libc: the binaries run against this machine's libraries,
which are the ones their Depends name. The test checks that this machine's
users and systemd state are unchanged. Creating users needs root (the
shadow files are made 0000): as another user the install tests skip."""
import glob
import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from conftest import ROOT as SRC, Server

PACKAGES = ("vitrine-server", "vitrine-relay", "vitrine-player", "vitrine-cli")
BINARIES = {"vitrine-server": "vitrine-server", "vitrine-relay": "vitrine-relay",
            "vitrine-player": "vitrine-player", "vitrine-cli": "vitrine"}
# what the meson build makes for the tests, benchmarks and fuzzing only
TEST_ONLY = re.compile(r"(^|/)(vitrine-player-next|ticket_tool|host_tool|bench_[^/]*|fuzz_[^/]*|test_[^/]*)$")
UNIT_DIR = "lib/systemd/system"

pytestmark = pytest.mark.skipif(shutil.which("dpkg-buildpackage") is None or shutil.which("dpkg") is None,
                                reason="not a Debian system with dpkg-dev (scripts/deps installs it)")


def meson_version():
    with open(os.path.join(SRC, "meson.build")) as f:
        return re.search(r"^\s*version\s*:\s*'([^']+)'", f.read(), re.M).group(1)


def run(args, **kw):
    out = subprocess.run(args, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)
    assert out.returncode == 0, "%s: exit %s\n%s\n%s" % (args, out.returncode, out.stdout[-4000:], out.stderr[-4000:])
    return out


def find_debs(folder):
    debs = {}
    for path in glob.glob(os.path.join(folder, "*.deb")):
        name = os.path.basename(path).split("_", 1)[0]
        assert name not in debs, "two packages %s in %s" % (name, folder)
        debs[name] = path
    return debs


@pytest.fixture(scope="module")
def debs():
    """{package: path of its .deb}: VITRINE_DEBS's, or built by `make deb`."""
    given = os.environ.get("VITRINE_DEBS")
    if given:
        yield find_debs(os.path.join(SRC, given))
        return
    with tempfile.TemporaryDirectory(prefix="vitrine-deb-") as out:
        run(["make", "--no-print-directory", "-C", SRC, "deb"], env=dict(os.environ, OUT=out), timeout=1200)
        yield find_debs(out)


def contents(deb):
    """{path: tar member} of a .deb's files ("usr/bin/x", no "./")."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name[2:] if m.name.startswith("./") else m.name: m for m in tar.getmembers()}
        files = {n: tar.extractfile(m).read() for n, m in members.items() if m.isfile()}
    return {n: m for n, m in members.items() if n}, files


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def control_file(deb, name):
    with tempfile.TemporaryDirectory() as d:
        run(["dpkg-deb", "-e", deb, d])
        path = os.path.join(d, name)
        return open(path).read() if os.path.exists(path) else ""


def test_the_four_packages_with_the_project_version(debs):
    assert sorted(debs) == sorted(PACKAGES)
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    for name, deb in debs.items():
        assert field(deb, "Package") == name
        assert field(deb, "Version") == meson_version()
        assert field(deb, "Architecture") == arch
        # ${shlibs:Depends}: the libraries the binary links
        assert "libc6" in field(deb, "Depends"), name
    assert "libmicrohttpd12" in field(debs["vitrine-server"], "Depends")
    assert "libuv1" in field(debs["vitrine-relay"], "Depends")
    # ${misc:Depends}: systemd-sysusers for the packages that create users
    for name in ("vitrine-server", "vitrine-player"):
        assert "systemd-sysusers" in field(debs[name], "Depends"), name
    # what the player runs is optional: the kiosk browser, x11vnc, xset...
    recommends = field(debs["vitrine-player"], "Recommends")
    for pkg in ("chromium", "x11vnc", "x11-xserver-utils"):
        assert pkg in recommends


def test_each_package_holds_its_files_and_no_test_binary(debs):
    expected = {
        "vitrine-server": ["usr/bin/vitrine-server", UNIT_DIR + "/vitrine-server.service",
                           UNIT_DIR + "/vitrine-server.service.d/debian.conf",
                           "usr/lib/sysusers.d/vitrine-server.conf", "usr/lib/tmpfiles.d/vitrine-server.conf",
                           "etc/default/vitrine-server", "usr/share/doc/vitrine-server/examples/vitrine.conf",
                           "usr/share/man/man1/vitrine-server.1.gz", "usr/share/doc/vitrine-server/copyright"],
        "vitrine-relay": ["usr/bin/vitrine-relay", UNIT_DIR + "/vitrine-relay.service",
                          "usr/share/man/man1/vitrine-relay.1.gz"],
        "vitrine-player": ["usr/bin/vitrine-player", UNIT_DIR + "/vitrine-player.service",
                           UNIT_DIR + "/vitrine-player.service.d/debian.conf",
                           "usr/lib/sysusers.d/vitrine-player.conf", "etc/default/vitrine-player",
                           "usr/share/man/man1/vitrine-player.1.gz"],
        "vitrine-cli": ["usr/bin/vitrine", "usr/share/man/man1/vitrine.1.gz"],
    }
    # the files the packages take from the source tree, unchanged
    same = {UNIT_DIR + "/vitrine-%s.service" % n: "dist/systemd/vitrine-%s.service" % n
            for n in ("server", "relay", "player")}
    same["usr/share/doc/vitrine-server/examples/vitrine.conf"] = "dist/nginx/vitrine.conf"
    for page in ("vitrine.1", "vitrine-server.1", "vitrine-player.1", "vitrine-relay.1"):
        same["usr/share/man/man1/%s.gz" % page] = "docs/" + page
    for name, deb in debs.items():
        members, files = contents(deb)
        for path in expected[name]:
            assert path in files, "%s: no %s in %s" % (name, path, sorted(files))
        # exactly one program each, executable, owned by root
        assert sorted(p for p in members if p.startswith("usr/bin/")) == ["usr/bin/" + BINARIES[name]]
        for path, m in members.items():
            assert not path.startswith("usr/local"), (name, path)
            assert not TEST_ONLY.search(path), (name, path)
            assert (m.uname, m.gname) == ("root", "root"), (name, path)
        assert members["usr/bin/" + BINARIES[name]].mode & 0o755 == 0o755
        for path, source in same.items():
            if path in files:
                data = files[path]
                data = gzip.decompress(data) if path.endswith(".gz") else data
                with open(os.path.join(SRC, source), "rb") as f:
                    assert data == f.read(), "%s: %s is not %s" % (name, path, source)
    # /etc/default/* are conffiles (kept on upgrades, removed on purge)
    assert control_file(debs["vitrine-server"], "conffiles").split() == ["/etc/default/vitrine-server"]
    assert control_file(debs["vitrine-player"], "conffiles").split() == ["/etc/default/vitrine-player"]
    # each drop-in makes its unit read its /etc/default file
    for name in ("vitrine-server", "vitrine-player"):
        dropin = contents(debs[name])[1][UNIT_DIR + "/%s.service.d/debian.conf" % name].decode()
        assert "EnvironmentFile=-/etc/default/%s" % name in dropin
    # the maintainer scripts start nothing: no plain start of a unit
    for name in ("vitrine-server", "vitrine-relay", "vitrine-player"):
        postinst = control_file(debs[name], "postinst")
        assert "deb-systemd-helper enable" in postinst
        assert not re.search(r"deb-systemd-invoke \$_dh_action|deb-systemd-invoke start", postinst), name


def unit_setting(root, unit, key):
    """The last KEY= of an installed unit (None when it has none)."""
    with open(os.path.join(root, UNIT_DIR, unit)) as f:
        values = re.findall(r"^\s*%s=\s*(\S+)" % key, f.read(), re.M)
    return values[-1] if values else None


def passwd(root):
    with open(os.path.join(root, "etc/passwd")) as f:
        return {line.split(":")[0]: line.split(":") for line in f if line.strip()}


def host_state():
    """This machine's users and systemd enablement, which the installs must not touch."""
    paths = sorted(glob.glob("/etc/systemd/system/**/vitrine*", recursive=True)
                   + glob.glob("/var/lib/systemd/deb-systemd-helper-enabled/**/vitrine*", recursive=True))
    with open("/etc/passwd") as f:
        return paths, f.read()


def dpkg(root, *args):
    return run(["dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends",
                "--log=" + os.path.join(root, "dpkg.log")] + list(args))


def make_root(path):
    """An empty folder dpkg can install into (its database, a policy-rc.d
    that refuses to start services)."""
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "usr/sbin"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for name in ("status", "available"):
        open(os.path.join(path, "var/lib/dpkg", name), "w").close()
    policy = os.path.join(path, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    return path


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="installing packages that create users needs root")


@pytest.fixture(scope="module")
def installed(debs):
    """ROOT with the four packages installed (chrootless scripts, see above)."""
    if os.geteuid() != 0:
        pytest.skip("installing packages that create users needs root")
    before = host_state()
    with tempfile.TemporaryDirectory(prefix="vitrine-root-") as tmp:
        root = make_root(os.path.join(tmp, "root"))
        dpkg(root, "--install", *sorted(debs.values()))
        assert host_state() == before, "the install touched this machine's users or units"
        yield root


@needs_root
def test_installed_with_dpkg_users_state_folder_and_units_enabled_inside_the_root(installed):
    root = installed
    status = run(["dpkg-query", "--root=" + root, "-W", "-f", "${Package} ${Version} ${Status}\n"]).stdout
    for name in PACKAGES:
        assert "%s %s install ok installed" % (name, meson_version()) in status, status
    users = passwd(root)
    for name in ("vitrine-server", "vitrine-relay", "vitrine-player"):
        unit = name + ".service"
        # enabled inside ROOT, not started (there is no systemd to start it)
        assert os.path.islink(os.path.join(root, "etc/systemd/system/multi-user.target.wants", unit)), unit
        # it starts the installed program
        program = unit_setting(root, unit, "ExecStart").lstrip("-@+!:")
        assert program == "/usr/bin/" + name and os.path.isfile(root + program), (unit, program)
        # the user it runs as exists, a system user without a login
        user = unit_setting(root, unit, "User")
        if user:
            assert user in users, "%s runs as %s, which the packages did not create" % (unit, user)
            assert int(users[user][2]) < 1000 and users[user][6].strip().endswith("nologin"), users[user]
    assert {"vitrine", "vitrine-player"} <= set(users)
    # the server's data folder, owned by its user (tmpfiles.d)
    st = os.stat(os.path.join(root, "var/lib/vitrine"))
    assert (st.st_uid, st.st_mode & 0o777) == (int(users["vitrine"][2]), 0o700)
    with open(os.path.join(root, "etc/default/vitrine-server")) as f:
        assert "VITRINE_LISTEN" in f.read()


@needs_root
def test_the_installed_server_initialises_runs_and_logs_in(installed, tmp_path):
    binary = os.path.join(installed, "usr/bin/vitrine-server")
    assert run([binary, "--version"]).stdout.split() == ["vitrine-server", meson_version()]
    server = Server(str(tmp_path), binary=binary)  # conftest's: init --admin admin, then --listen
    try:
        server.start()
        c = server.client()
        assert c.get("/healthz").status_code == 200
        assert c.login().status_code == 200
        me = c.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["user"]["role"] == "admin", me.text
        # the package build embedded the console and its vendored libraries
        assert c.get("/").status_code == 200
        assert c.get("/assets/vendor/libsodium/libsodium-wrappers.js").status_code == 200
    finally:
        rc = server.stop()
    assert rc == 0, server.read_log()


@needs_root
def test_the_installed_cli_relay_and_player_run(installed):
    bin_dir = os.path.join(installed, "usr/bin")
    for prog in ("vitrine", "vitrine-relay", "vitrine-player"):
        out = run([os.path.join(bin_dir, prog), "--help"], timeout=30)
        assert "usage" in (out.stdout + out.stderr).lower(), prog
    for prog in ("vitrine", "vitrine-player"):
        assert run([os.path.join(bin_dir, prog), "--version"]).stdout.split() == [prog, meson_version()]


@needs_root
def test_purge_removes_the_packages_and_their_conffiles(debs, tmp_path):
    before = host_state()
    root = make_root(str(tmp_path / "root"))
    dpkg(root, "--install", *sorted(debs.values()))
    dpkg(root, "--purge", *PACKAGES)
    assert host_state() == before
    status = run(["dpkg-query", "--root=" + root, "-W", "-f", "${Package} ${Status}\n"]).stdout
    assert all(line.endswith(" not-installed") for line in status.splitlines()), status
    for path in ("usr/bin/vitrine-server", "usr/bin/vitrine", "etc/default/vitrine-server",
                 "etc/default/vitrine-player", UNIT_DIR + "/vitrine-server.service",
                 "etc/systemd/system/multi-user.target.wants/vitrine-server.service"):
        assert not os.path.lexists(os.path.join(root, path)), path
    # the data folder and the users stay, as Debian keeps them
    assert os.path.isdir(os.path.join(root, "var/lib/vitrine"))
    assert "vitrine" in passwd(root)
