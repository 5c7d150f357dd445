"""Fixtures for the console browser tests: a running vitrine-server and Chromium.

The server binary comes from $VITRINE_BUILD (default `build`, relative to the
repository root) as <build>/vitrine-server. Each test session gets a fresh data
folder, a first admin, and a free loopback port. Browsers are headless
Debian Chromium driven by chromedriver (python3-selenium); run the tests with
the system Python: /usr/bin/python3 -m pytest tests/browser
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "Correct-Horse-Battery-42"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class Server:
    url: str
    admin_login: str
    admin_password: str
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def server_binary():
    build = Path(os.environ.get("VITRINE_BUILD", "build"))
    if not build.is_absolute():
        build = REPO_ROOT / build
    binary = build / "vitrine-server"
    if not binary.is_file():
        pytest.skip(f"{binary} is not built (set VITRINE_BUILD to the Meson build folder)")
    return binary


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vitrine-server exited with status {proc.returncode}")
        try:
            r = requests.get(url + "/healthz", timeout=1)
            if r.status_code == 200:
                return
            last = f"status {r.status_code}"
        except requests.RequestException as e:
            last = str(e)
        time.sleep(0.1)  # polling interval of a readiness probe, not a test wait
    raise RuntimeError(f"vitrine-server not healthy after {timeout} s: {last}")


@pytest.fixture(scope="session")
def server():
    binary = server_binary()
    data = Path(tempfile.mkdtemp(prefix="vitrine-browser-"))
    log_path = data.parent / (data.name + ".log")
    env = dict(os.environ, VITRINE_ADMIN_PASSWORD=ADMIN_PASSWORD)
    init = subprocess.run([str(binary), "--data", str(data), "init", "--admin", ADMIN_LOGIN],
                          env=env, capture_output=True, text=True, timeout=60)
    if init.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail(f"vitrine-server init failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "--data", str(data), "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(url, proc)
    except RuntimeError as e:
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail(f"{e}\n--- server log ---\n{log_path.read_text(errors='replace')}")

    yield Server(url, ADMIN_LOGIN, ADMIN_PASSWORD, data, log_path, proc)

    crashed = proc.poll()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(data, ignore_errors=True)
    if crashed is None:  # keep the log of a server that died, for the report
        try:
            log_path.unlink()
        except OSError:
            pass


@pytest.fixture(autouse=True)
def server_stays_up(server):
    """Fails the test, with the server's log, if vitrine-server died during it."""
    yield
    status = server.proc.poll()
    if status is not None:
        tail = "\n".join(server.log().splitlines()[-40:])
        pytest.fail(f"vitrine-server exited with status {status} during the test "
                    f"(log kept at {server.log_path}):\n{tail}", pytrace=False)


def make_driver(width=1280, height=900):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="vitrine-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    return driver, profile


@pytest.fixture
def driver():
    d, profile = make_driver()
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def new_driver():
    """Factory for extra, independent browser sessions (fresh profiles)."""
    made = []

    def factory(width=1280, height=900):
        d, profile = make_driver(width, height)
        made.append((d, profile))
        return d

    yield factory
    for d, profile in made:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
