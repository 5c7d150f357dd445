"""The kiosk page of a display with screen share on (issue 15), in Chromium:
it shows the share code and key the receiver drew; while a laptop shares,
the bar below the shared screens names the sender, and its buttons show the
sender alone (and side by side again) and stop it, which ends `vitrine
share` on the laptop with "the display stopped it".

The display is vitrine-player --share in a namespace of a
tests/support/lan.py LAN (the share code needs a private address), on its
own Xvfb; the browser reaches its kiosk page through a KioskForwarder."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import build_binary

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import lan as lanlib  # noqa: E402
import ports  # noqa: E402
import sharing  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not shutil.which("Xvfb"), reason="xvfb is not installed (scripts/deps)"),
]


def wait(driver, timeout=20):
    return WebDriverWait(driver, timeout)


def test_the_kiosk_share_bar_promotes_and_stops_a_sender(driver):
    build = os.path.dirname(build_binary("vitrine-player"))
    build_binary("vitrine")
    tmp = tempfile.mkdtemp(prefix="vitrine-share-bar-")
    lan = lanlib.Lan(2)
    board = laptop = display = forwarder = sender = None
    try:
        board = sharing.PaintedDisplay(1280, 720, "white", "white")
        laptop = sharing.PaintedDisplay(640, 360, "red", "blue")
        port = ports.free_port()
        display = sharing.Display(lan, 1, build, board.name, tmp, kiosk_port=port)
        forwarder = sharing.KioskForwarder(lan, 1, port)
        st = display.status()
        driver.get("http://127.0.0.1:%d/" % port)
        wait(driver).until(EC.visibility_of_element_located((By.ID, "share")))
        assert driver.find_element(By.ID, "share-code").text == st["code"] == display.code
        assert driver.find_element(By.ID, "share-key").text == st["key"]
        assert not driver.find_element(By.ID, "share-bar").is_displayed()

        sender = sharing.start_sender(lan, 2, build, laptop.name, display.code, st["key"])
        row = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, '#share-senders li[data-slot="0"]')))
        assert "sender2" in row.text
        bar = driver.find_element(By.ID, "share-bar")
        assert bar.size["height"] == st["bar_height"]
        assert bar.location["y"] + bar.size["height"] == driver.execute_script("return window.innerHeight")
        assert driver.find_element(By.ID, "share-bar-key").text == st["key"]

        row.find_element(By.CSS_SELECTOR, "button.promote").click()
        wait(driver).until(lambda d: display.status()["promoted"] == 0)
        wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#share-senders button.promote").text
                           == "Side by side")
        driver.find_element(By.CSS_SELECTOR, "#share-senders button.promote").click()
        wait(driver).until(lambda d: display.status()["promoted"] is None)

        driver.find_element(By.CSS_SELECTOR, "#share-senders button.stop").click()
        out, err = sender.communicate(timeout=30)
        assert sender.returncode == 0 and "the display stopped it" in out, out + err
        wait(driver).until(EC.invisibility_of_element_located((By.ID, "share-bar")))
        wait(driver).until(EC.visibility_of_element_located((By.ID, "share")))
        # no script error (an unpaired player has no /manifest yet: that 404 is the page asking)
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
        assert not severe, severe
    finally:
        if sender and sender.poll() is None:
            sender.kill()
            sender.wait()
        if forwarder:
            forwarder.close()
        if display:
            display.stop()
        lan.close()
        for d in (board, laptop):
            if d:
                d.close()
        shutil.rmtree(tmp, ignore_errors=True)
