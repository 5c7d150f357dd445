"""Browser test of the chat reports page (#/chat-reports): the table and the chart of a period, the CSV
link, the search of chats. Run:
VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_chat_reports.py
"""
import time

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from test_chat import OP1, setup_chat, site_page, user_id  # noqa: F401
from test_console import api_login, browser_login, csp_problems, wait


def test_reports_table_chart_csv_and_search(server, driver, site_page):
    admin, site, dep, ids = setup_chat(server, site_page)
    name = "Reports %d" % int(time.time() * 1000)
    r = admin.patch(server.url + f"/api/v1/chat/departments/{dep['id']}", json={"name": name}, timeout=10)
    assert r.status_code == 200, r.text
    op = api_login(server, OP1[0], OP1[2])
    assert op.put(server.url + "/api/v1/chat/me/status", json={"status": "online"}, timeout=10).status_code == 200
    origin = site_page.url.rstrip("/")
    api = server.url + f"/api/v1/widget/{site['id']}"
    token = requests.post(api + "/visitor", headers={"Origin": origin}, json={"page_url": site_page.url},
                          timeout=10).json()["visitor_token"]
    auth = {"Origin": origin, "Authorization": "Bearer " + token}
    word = "zebra%d" % int(time.time())
    chats = []
    for text in (f"A question about {word}", "Nobody came"):
        r = requests.post(api + "/chats", headers=auth, json={"department_id": dep["id"], "text": text}, timeout=10)
        assert r.status_code == 201, r.text
        chats.append(r.json()["chat"]["id"])
    assert op.post(server.url + f"/api/v1/chat/chats/{chats[0]}/pickup", json={}, timeout=10).status_code == 200
    for c in chats:
        assert requests.post(api + f"/chats/{c}/end", headers=auth, json={}, timeout=10).status_code == 200
    assert op.put(server.url + "/api/v1/chat/me/status", json={"status": "offline"}, timeout=10).status_code == 200

    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + "/#/chat")
    wait(driver).until(EC.element_to_be_clickable((By.ID, "chat-reports-link"))).click()
    wait(driver).until(lambda d: d.find_element(By.ID, "page-title").text == "Chat reports")
    wait(driver).until(lambda d: d.find_element(By.ID, "report-table").get_attribute("data-loaded") == "1")
    Select(driver.find_element(By.ID, "report-by")).select_by_value("department")
    row = wait(driver, 15).until(lambda d: d.find_elements(By.XPATH, f"//table[@id='report-table']//tr[td[1]='{name}']"))
    cells = [td.text for td in row[0].find_elements(By.TAG_NAME, "td")]
    assert cells[1:4] == ["2", "1", "1"], cells  # chats, answered, missed
    # the chart: uPlot's canvas with the three series in its legend
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#report-chart canvas"))
    legend = driver.find_element(By.ID, "report-chart").text
    assert "Answered" in legend and "Missed" in legend, legend
    # the CSV link downloads the same figures
    href = driver.find_element(By.ID, "report-csv").get_attribute("href")
    assert "format=csv" in href and "by=department" in href
    s = requests.Session()
    for c in driver.get_cookies():
        s.cookies.set(c["name"], c["value"])
    r = s.get(href, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv") and f'"{name}","2","1","1"' in r.text
    # search by a word of the chat
    driver.find_element(By.ID, "chat-search-q").send_keys(word)
    driver.find_element(By.ID, "chat-search-run").click()
    hit = wait(driver, 15).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#chat-search-results .chat-open")))
    assert word in driver.find_element(By.ID, "chat-search-results").text
    hit.click()
    wait(driver).until(lambda d: chats[0] in d.current_url)
    assert not csp_problems(driver)
