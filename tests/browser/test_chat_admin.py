"""Browser tests of the live chat's admin page for predefined texts and forms (#/chat-tools).

Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_chat_admin.py
"""
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from test_console import api_login, browser_login, csp_problems, wait

EVIL_TEXT = "Hello, <b>x</b> how can we help?"


def open_tools(driver, server):
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + "/#/sites")
    wait(driver).until(EC.element_to_be_clickable((By.ID, "chat-tools-link"))).click()
    settled(driver).until(lambda d: d.find_element(By.ID, "page-title").text == "Predefined texts and forms")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "canned-shortcut")))


def settled(driver, timeout=10):
    """A wait that retries while a list is being redrawn (its rows replaced after each change)."""
    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException])


def row_of(driver, table, name):
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr[data-name='{name}']")
    assert len(rows) <= 1, f"{len(rows)} rows named {name} in #{table}"
    return rows[0] if rows else None


def click(driver, element):
    """Clicks element after scrolling it to the middle of the window (clear of the sticky header)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def alert_of(driver, form):
    return driver.find_element(By.CSS_SELECTOR, f"#{form} [role=alert]")


def fill_canned(driver, shortcut, title, text):
    for el_id, value in (("canned-shortcut", shortcut), ("canned-title", title), ("canned-text", text)):
        el = driver.find_element(By.ID, el_id)
        el.clear()
        el.send_keys(value)


def test_admin_manages_predefined_texts(server, driver):
    open_tools(driver, server)
    fill_canned(driver, "hello", "Greeting", EVIL_TEXT)
    Select(driver.find_element(By.ID, "canned-department")).select_by_visible_text("All departments")
    click(driver, driver.find_element(By.ID, "canned-submit"))
    settled(driver).until(lambda d: row_of(d, "canned-table", "hello") is not None)
    row = row_of(driver, "canned-table", "hello")
    assert row.get_attribute("data-id")
    assert "/hello" in row.text and "Greeting" in row.text and "All" in row.text
    assert "<b>x</b>" in row.text  # shown as text
    assert not driver.find_elements(By.CSS_SELECTOR, "#canned-table b")

    # edit its title: the form turns into "Save", with a Cancel button
    click(driver, row.find_element(By.XPATH, ".//button[text()='Edit']"))
    submit = driver.find_element(By.ID, "canned-submit")
    assert submit.text == "Save"
    assert driver.find_element(By.ID, "canned-cancel").is_displayed()
    assert driver.find_element(By.ID, "canned-shortcut").get_attribute("value") == "hello"
    title = driver.find_element(By.ID, "canned-title")
    title.clear()
    title.send_keys("Welcome")
    click(driver, submit)
    settled(driver).until(lambda d: "Welcome" in row_of(d, "canned-table", "hello").text)
    assert driver.find_element(By.ID, "canned-submit").text != "Save"

    admin = api_login(server, server.admin_login, server.admin_password)
    listed = admin.get(server.url + "/api/v1/chat/canned", timeout=10).json()["canned"]
    mine = next(c for c in listed if c["shortcut"] == "hello")
    assert mine["title"] == "Welcome" and mine["text"] == EVIL_TEXT and mine.get("department_id") is None

    # a second one with the same shortcut: the server's 409 message, inline
    fill_canned(driver, "hello", "Again", "Another text")
    click(driver, driver.find_element(By.ID, "canned-submit"))
    alert = alert_of(driver, "canned-form")
    wait(driver).until(lambda d: alert.is_displayed() and alert.text)
    assert "another predefined text has the shortcut /hello" in alert.text
    assert row_of(driver, "canned-table", "hello") is not None  # still one

    # delete it, the confirmation accepted
    click(driver, row_of(driver, "canned-table", "hello").find_element(By.XPATH, ".//button[text()='Delete']"))
    confirm = wait(driver).until(EC.alert_is_present())
    assert "/hello" in confirm.text
    confirm.accept()
    settled(driver).until(lambda d: row_of(d, "canned-table", "hello") is None)
    listed = admin.get(server.url + "/api/v1/chat/canned", timeout=10).json()["canned"]
    assert not [c for c in listed if c["shortcut"] == "hello"]
    assert not csp_problems(driver)


def set_field(driver, row, name, label, type_, required=False, options=None):
    row.find_element(By.CSS_SELECTOR, ".field-name").send_keys(name)
    row.find_element(By.CSS_SELECTOR, ".field-label").send_keys(label)
    Select(row.find_element(By.CSS_SELECTOR, ".field-type")).select_by_value(type_)
    box = row.find_element(By.CSS_SELECTOR, ".field-required")
    if box.is_selected() != required:
        click(driver, box)
    opts = row.find_element(By.CSS_SELECTOR, ".field-options")
    assert opts.is_displayed() == (type_ == "select")
    if options is not None:
        opts.send_keys(options)


def test_admin_manages_forms(server, driver):
    open_tools(driver, server)
    driver.find_element(By.ID, "form-name").send_keys("Contact")
    driver.find_element(By.ID, "form-intro").send_keys("Tell us how to reach you.")
    rows = driver.find_elements(By.CSS_SELECTOR, "#form-form .form-field-row")
    assert len(rows) == 1
    click(driver, driver.find_element(By.ID, "form-add-field"))
    click(driver, driver.find_element(By.ID, "form-add-field"))
    click(driver, driver.find_element(By.ID, "form-add-field"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#form-form .form-field-row")
    assert len(rows) == 4
    click(driver, rows[3].find_element(By.CSS_SELECTOR, ".field-remove"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#form-form .form-field-row")
    assert len(rows) == 3
    set_field(driver, rows[0], "email", "Your e-mail", "email", required=True)
    set_field(driver, rows[1], "topic", "Topic", "select", options="A, B")
    set_field(driver, rows[2], "newsletter", "Send me news", "checkbox")
    click(driver, driver.find_element(By.ID, "form-submit"))
    settled(driver).until(lambda d: row_of(d, "forms-table", "Contact") is not None)
    row = row_of(driver, "forms-table", "Contact")
    form_id = row.get_attribute("data-id")
    assert "Your e-mail, Topic, Send me news" in row.text

    # edit its name
    click(driver, row.find_element(By.XPATH, ".//button[text()='Edit']"))
    assert driver.find_element(By.ID, "form-submit").text == "Save"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#form-form .form-field-row")) == 3
    name = driver.find_element(By.ID, "form-name")
    name.clear()
    name.send_keys("Contact details")
    click(driver, driver.find_element(By.ID, "form-submit"))
    settled(driver).until(lambda d: row_of(d, "forms-table", "Contact details") is not None)
    assert row_of(driver, "forms-table", "Contact") is None

    admin = api_login(server, server.admin_login, server.admin_password)
    forms = admin.get(server.url + "/api/v1/chat/forms", timeout=10).json()["forms"]
    form = next(f for f in forms if f["id"] == form_id)
    assert form["name"] == "Contact details"
    assert form["intro"] == "Tell us how to reach you."
    assert form["fields"] == [
        {"name": "email", "label": "Your e-mail", "type": "email", "required": True},
        {"name": "topic", "label": "Topic", "type": "select", "required": False, "options": ["A", "B"]},
        {"name": "newsletter", "label": "Send me news", "type": "checkbox", "required": False},
    ], form["fields"]

    # a field name with a capital and a space: the server's 400 message, inline
    driver.find_element(By.ID, "form-name").send_keys("Bad")
    row = driver.find_elements(By.CSS_SELECTOR, "#form-form .form-field-row")[0]
    set_field(driver, row, "Full name", "Name", "text")
    click(driver, driver.find_element(By.ID, "form-submit"))
    alert = alert_of(driver, "form-form")
    wait(driver).until(lambda d: alert.is_displayed() and alert.text)
    assert "fields[0].name must be 1 to 40 of a-z, 0-9 and '_'" in alert.text
    assert row_of(driver, "forms-table", "Bad") is None
    assert not csp_problems(driver)
