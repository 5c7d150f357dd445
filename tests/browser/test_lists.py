"""Browser tests of the list pages that the server pages, sorts and filters
(issue 8, item 9): at a modest fleet (120 screens, written straight into the
store) the Screens page shows one page of rows, pages forwards and back,
sorts from its column headers, filters on the server, and patches a row by
id when the live stream reports a change.

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q tests/browser
"""
import hashlib
import json
import sqlite3
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from test_console import api_login, browser_login, csp_problems, wait

FLEET = 120
PAGE = 50
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def insert_fleet(server, count):
    """count screens named "Zeta 000".. (sorted after every other test's screens)."""
    now = int(time.time())
    db = sqlite3.connect(str(server.data_dir / "vitrine.db"), timeout=30)
    account = db.execute("SELECT id FROM accounts").fetchone()[0]
    ids = []
    for i in range(count):
        digest = hashlib.sha256(b"browser-fleet-%d" % i).digest()
        sid = "".join(ALPHABET[b % 32] for b in digest[:16])
        db.execute("INSERT INTO screens(id, account_id, name, hardware_id, public_key, info, group_name, "
                   "last_seen, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
                   (sid, account, "Zeta %03d" % i, "hw-fleet-%d" % i, "AAAA",
                    json.dumps({"hostname": "fleet-%03d" % i}), "Fleet", now - i, now))
        ids.append(sid)
    db.commit()
    db.close()
    return ids


def shown_names(driver):
    """The names of the rows shown, read in one go (a page may be redrawn between two reads)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#screens-table tbody tr[data-screen-id]')].map((tr) => tr.dataset.name);")


def click(driver, element_id):
    """Clicks a control after scrolling it to the middle (the sticky top bar covers the top)."""
    el = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()


def range_is(text):
    return lambda d: d.find_element(By.ID, "screens-table-range").text == text


def test_screens_page_pages_sorts_and_filters_on_the_server(server, driver):
    ids = insert_fleet(server, FLEET)
    admin = api_login(server, server.admin_login, server.admin_password)
    try:
        browser_login(driver, server, server.admin_login, server.admin_password)
        wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#screens-table tbody tr[data-screen-id]")))
        assert len(shown_names(driver)) <= PAGE

        # only the fleet: one page of 50 of the 120, by name
        driver.find_element(By.ID, "screens-filter").send_keys("zeta")
        wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screens-summary"), "120 screens"))
        wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screens-summary"), "(filtered)"))
        wait(driver).until(range_is("1–50 of 120"))
        assert shown_names(driver) == ["Zeta %03d" % i for i in range(PAGE)]
        assert not driver.find_element(By.ID, "screens-table-prev").is_enabled()
        head = driver.find_element(By.CSS_SELECTOR, "#screens-table th[aria-sort]")
        assert head.get_attribute("aria-sort") == "ascending" and "SCREEN" in head.text.upper()

        # forwards to the last page, and back
        click(driver, "screens-table-next")
        wait(driver).until(lambda d: shown_names(d) == ["Zeta %03d" % i for i in range(50, 100)])
        assert driver.find_element(By.ID, "screens-table-range").text == "51–100 of 120"
        click(driver, "screens-table-next")
        wait(driver).until(lambda d: shown_names(d) == ["Zeta %03d" % i for i in range(100, 120)])
        assert driver.find_element(By.ID, "screens-table-range").text == "101–120 of 120"
        assert not driver.find_element(By.ID, "screens-table-next").is_enabled()
        click(driver, "screens-table-prev")
        wait(driver).until(range_is("51–100 of 120"))

        # the Screen header sorts descending, back on the first page
        click(driver, "screens-table-sort-name")
        wait(driver).until(lambda d: shown_names(d) == ["Zeta %03d" % i for i in range(119, 69, -1)])
        assert driver.find_element(By.ID, "screens-table-range").text == "1–50 of 120"
        assert driver.find_element(By.CSS_SELECTOR, "#screens-table th[aria-sort]").get_attribute("aria-sort") == "descending"
        # Last seen, most recent first: Zeta 000 was seen last
        click(driver, "screens-table-sort-last_seen")
        click(driver, "screens-table-sort-last_seen")
        wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#screens-table th[aria-sort]").get_attribute("aria-sort") == "descending")
        wait(driver).until(lambda d: shown_names(d)[:3] == ["Zeta 000", "Zeta 001", "Zeta 002"])

        # the filter runs on the server: the hostname too; one page, no pager
        field = driver.find_element(By.ID, "screens-filter")
        field.clear()
        field.send_keys("fleet-11")
        wait(driver).until(lambda d: sorted(shown_names(d)) == ["Zeta %03d" % i for i in range(110, 120)])
        assert not driver.find_element(By.ID, "screens-table-pager").is_displayed()

        # a change elsewhere patches its row by id, without a reload
        driver.execute_script("window.__vitrineNoReload = 7;")
        wait(driver).until(EC.text_to_be_present_in_element((By.ID, "screens-live"), "Live"))
        r = admin.patch(server.url + "/api/v1/screens/" + ids[115], json={"group": "Moved by the API"}, timeout=30)
        assert r.status_code == 200, r.text
        row = '#screens-table tr[data-screen-id="%s"]' % ids[115]
        wait(driver).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, row), "Moved by the API"))
        assert driver.execute_script("return window.__vitrineNoReload;") == 7
        assert csp_problems(driver) == []
    finally:
        for sid in ids:
            admin.delete(server.url + "/api/v1/screens/" + sid, timeout=30)
