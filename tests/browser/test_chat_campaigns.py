"""Browser test of proactive invitations: a campaign on the site's pricing pages invites a visitor
after 2 s on the page; "Chat now" opens the chat window with the campaign's department chosen; a
visitor who declines is not invited again in the tab; other pages get no invitation; the counts show
on the admin page. Run:
VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_chat_campaigns.py
"""
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from test_chat import OP1, phone, setup_chat, site_page  # noqa: F401
from test_console import api_login, browser_login, csp_problems, wait


def test_invitation_after_seconds_on_a_matching_page(server, new_driver, site_page):
    admin, site, dep, ids = setup_chat(server, site_page)
    r = admin.post(server.url + "/api/v1/chat/departments",
                   json={"name": "Pricing desk", "site_ids": [site["id"]], "auto_assign": False}, timeout=10)
    assert r.status_code == 201, r.text
    pricing = r.json()["department"]
    assert admin.put(server.url + f"/api/v1/chat/departments/{pricing['id']}/operators",
                     json={"user_ids": [ids[0]]}, timeout=10).status_code == 200
    name = "Pricing %d" % int(time.time() * 1000)
    r = admin.post(server.url + "/api/v1/chat/campaigns", timeout=10, json={
        "name": name, "site_id": site["id"], "department_id": pricing["id"], "url_pattern": "/pricing*",
        "seconds_on_page": 2, "message": "Can we help with the prices? <b>Ask</b>"})
    assert r.status_code == 201, r.text
    op = api_login(server, OP1[0], OP1[2])
    assert op.put(server.url + "/api/v1/chat/me/status", json={"status": "online"}, timeout=10).status_code == 200
    # keep the operator present (an open stream) for the visitors' sake
    stream = op.get(server.url + "/api/v1/chat/stream", stream=True, timeout=60)
    try:
        v = phone(new_driver)
        v.get(site_page.url + "pricing?plan=pro")
        wait(v, 15).until(EC.element_to_be_clickable((By.ID, "vitrine-chat-button")))
        start = time.time()
        invite = wait(v, 15).until(EC.visibility_of_element_located((By.ID, "vitrine-chat-invite")))
        assert time.time() - start >= 1.5, "the invitation came before its seconds on the page"
        assert v.find_element(By.ID, "vitrine-chat-invite-text").text == "Can we help with the prices? <b>Ask</b>"
        assert not invite.find_elements(By.TAG_NAME, "b")
        v.find_element(By.ID, "vitrine-chat-invite-accept").click()
        assert not v.find_elements(By.ID, "vitrine-chat-invite")
        v.switch_to.frame(wait(v).until(EC.visibility_of_element_located((By.ID, "vitrine-chat-frame"))))
        wait(v, 15).until(lambda d: Select(d.find_element(By.ID, "department")).first_selected_option.text
                          == "Pricing desk")
        v.switch_to.default_content()
        assert not csp_problems(v)

        # another visitor declines: no invitation again in the tab, not on a reload
        w = phone(new_driver)
        w.get(site_page.url + "pricing")
        wait(w, 15).until(EC.element_to_be_clickable((By.ID, "vitrine-chat-invite-decline"))).click()
        assert not w.find_elements(By.ID, "vitrine-chat-invite")
        w.refresh()
        wait(w, 15).until(EC.element_to_be_clickable((By.ID, "vitrine-chat-button")))
        time.sleep(3.0)  # past the campaign's seconds: its absence is the result
        assert not w.find_elements(By.ID, "vitrine-chat-invite")
        # a page the pattern does not match gets none
        x = phone(new_driver)
        x.get(site_page.url + "about")
        wait(x, 15).until(EC.element_to_be_clickable((By.ID, "vitrine-chat-button")))
        time.sleep(3.0)
        assert not x.find_elements(By.ID, "vitrine-chat-invite")
    finally:
        stream.close()

    # the counts on the admin page
    d = new_driver()
    browser_login(d, server, server.admin_login, server.admin_password)
    d.get(server.url + "/#/chat-tools")
    row = wait(d, 15).until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f"#campaigns-table tr[data-name='{name}']")))
    assert row.find_element(By.CSS_SELECTOR, ".campaign-counts").text == "2 / 1 / 1"
    # a new one through the form: the server's reason for a bad pattern, then saved
    other = name + " b"
    d.find_element(By.ID, "campaign-name").send_keys(other)
    Select(d.find_element(By.ID, "campaign-site")).select_by_value(site["id"])
    Select(d.find_element(By.ID, "campaign-department")).select_by_value(pricing["id"])
    pattern = d.find_element(By.ID, "campaign-pattern")
    pattern.clear()
    pattern.send_keys("pricing")
    d.find_element(By.ID, "campaign-message").send_keys("Hello")
    submit = d.find_element(By.ID, "campaign-submit")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    submit.click()
    wait(d).until(lambda x: "url_pattern" in x.find_element(By.CSS_SELECTOR, "#campaign-form .form-error").text)
    pattern.clear()
    pattern.send_keys("/pricing/*")
    submit.click()
    wait(d, 15).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f"#campaigns-table tr[data-name='{other}']")))
    assert not csp_problems(d)
