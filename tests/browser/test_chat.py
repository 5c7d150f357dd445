"""Browser tests of the live chat: the widget on a web site, the visitor's
chat window, and the operators' console page.

A tiny Python HTTP server on another loopback port plays the customer's web
site: every path answers one page with the snippet. Its origin (127.0.0.1:PORT) is registered as
the site's domain. The visitor's browser is 375 px wide (a phone); the first
operator works in a second browser, the second operator through the API.
Run: VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_chat.py
"""
import html
import http.server
import threading
import time

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from conftest import free_port
from test_console import api_login, browser_login, csp_problems, ensure_user, wait

OP1 = ("olga.operator", "Olga Operator", "Operator-Passphrase-2026")
OP2 = ("oscar.operator", "Oscar Second", "Operator-Passphrase-2027")
EVIL_NAME = "<b>Eve</b>"
EVIL_TEXT = "<img src=x onerror=alert(1)>Hello, I need help"
EVIL_REPLY = "<script>alert(2)</script> thanks"


class SitePage:
    """The customer's web site: GET / answers one page with the snippet."""

    def __init__(self):
        self.port = free_port()
        self.snippet = ""
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = (f"<!doctype html><html><head><meta charset='utf-8'>"
                        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
                        f"<title>Shop page</title></head><body><h1>Our shop</h1>"
                        f"<p id='path'>{html.escape(self.path)}</p>"
                        f"{outer.snippet}</body></html>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site_page():
    page = SitePage()
    yield page
    page.close()


def user_id(admin, server, login):
    r = admin.get(server.url + "/api/v1/users", timeout=10)
    assert r.status_code == 200, r.text
    return next(u["id"] for u in r.json()["users"] if u["login"] == login)


def setup_chat(server, site_page):
    """Two operators, a site for the test page's origin, one department with both."""
    admin = ensure_user(server, OP1[0], OP1[2], role="operator", name=OP1[1])
    ensure_user(server, OP2[0], OP2[2], role="operator", name=OP2[1])
    r = admin.post(server.url + "/api/v1/sites",
                   json={"name": "Shop", "domains": [f"127.0.0.1:{site_page.port}"]}, timeout=10)
    assert r.status_code == 201, r.text
    site = r.json()["site"]
    snippet = r.json()["snippet"]
    assert f'data-site="{site["id"]}"' in snippet and "/widget.js" in snippet
    site_page.snippet = snippet
    r = admin.post(server.url + "/api/v1/chat/departments",
                   json={"name": "Sales", "site_ids": [site["id"]], "auto_assign": False, "reassign_after_s": 0},
                   timeout=10)
    assert r.status_code == 201, r.text
    dep = r.json().get("department", r.json())
    ids = [user_id(admin, server, OP1[0]), user_id(admin, server, OP2[0])]
    r = admin.put(server.url + f"/api/v1/chat/departments/{dep['id']}/operators", json={"user_ids": ids}, timeout=10)
    assert r.status_code in (200, 204), r.text
    return admin, site, dep, ids


def phone(new_driver):
    """A browser with a 375 x 740 phone viewport (Chromium's windows are at least 500 px wide)."""
    d = new_driver(500, 800)
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 375, "height": 740, "deviceScaleFactor": 1, "mobile": True})
    return d


def pick_up(d, timeout=15):
    """Clicks the first "Pick up" of the queue (the list may be redrawn meanwhile)."""
    def click(x):
        try:
            buttons = x.find_elements(By.CSS_SELECTOR, "#chat-queue .pickup")
            if buttons and buttons[0].is_enabled():
                buttons[0].click()
                return True
        except StaleElementReferenceException:
            pass
        return False
    wait(d, timeout).until(click)


def text_of(driver, css):
    """The text of every element matching css, read in one go (the page may redraw meanwhile)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText).join(' ')", css)


def until_text(driver, css, needle, timeout=15):
    wait(driver, timeout).until(lambda d: needle in text_of(d, css),
                                f"{needle!r} not in {css}: {text_of(driver, css)!r}")


def operator_online(new_driver, server, who):
    d = new_driver()
    browser_login(d, server, who[0], who[2])
    d.get(server.url + "/#/chat")
    wait(d).until(EC.visibility_of_element_located((By.ID, "chat-status")))
    Select(d.find_element(By.ID, "chat-status")).select_by_value("online")
    wait(d).until(lambda x: "Live" in x.find_element(By.ID, "chat-stream").text)
    wait(d).until(lambda x: "online" in x.find_element(By.ID, "toast").text)
    return d


def open_widget(v, site_page):
    """Opens the site's page and the chat window; leaves the driver inside the frame."""
    v.get(site_page.url)
    wait(v, 15).until(EC.element_to_be_clickable((By.ID, "vitrine-chat-button"))).click()
    frame = wait(v).until(EC.presence_of_element_located((By.ID, "vitrine-chat-frame")))
    v.switch_to.frame(frame)
    return frame


def start_chat(v, name, text):
    wait(v, 15).until(EC.visibility_of_element_located((By.ID, "first-text")))
    v.find_element(By.ID, "visitor-name").send_keys(name)
    v.find_element(By.ID, "first-text").send_keys(text)
    v.find_element(By.ID, "start-chat").click()


def test_visitor_and_operators_chat_transfer_and_end(server, new_driver, site_page):
    admin, site, dep, (op1_id, op2_id) = setup_chat(server, site_page)
    op = operator_online(new_driver, server, OP1)
    op2 = operator_online(new_driver, server, OP2)

    # the visitor, on a phone, opens the chat from the site's page
    v = phone(new_driver)
    v.get(site_page.url)
    assert v.execute_script("return window.innerWidth") == 375
    wait(v, 15).until(EC.element_to_be_clickable((By.ID, "vitrine-chat-button"))).click()
    frame = wait(v).until(EC.presence_of_element_located((By.ID, "vitrine-chat-frame")))
    wait(v).until(lambda d: frame.size["width"] == 375)  # the whole phone screen
    v.switch_to.frame(frame)
    start_chat(v, EVIL_NAME, EVIL_TEXT)
    until_text(v, "#status", "number 1 in the queue")
    # fits the phone: nothing wider than the window, the tools and the send button on screen
    assert v.execute_script("return window.innerWidth") == 375
    assert v.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    for el_id in ("close", "help", "font-larger", "send"):
        r = v.execute_script("const r = document.getElementById(arguments[0]).getBoundingClientRect();"
                             "return [r.left, r.right, r.bottom]", el_id)
        assert 0 <= r[0] and r[1] <= 375 and r[2] <= 740, (el_id, r)

    # both operators see it in the queue, live; the first picks it up
    for d in (op, op2):
        wait(d, 15).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#chat-queue .pickup")))
        assert EVIL_NAME in d.find_element(By.ID, "chat-queue").text  # the name as typed, as text
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", EVIL_TEXT)
    assert not op.find_elements(By.CSS_SELECTOR, "#chat-messages img, #chat-messages b")
    info = op.find_element(By.ID, "visitor-info").text
    assert site_page.url in info and "Shop page" in info  # the page the chat came from, its title
    until_text(v, "#status", "chatting with Olga Operator")
    wait(op2).until(lambda d: d.find_elements(By.ID, "chat-queue-empty"))  # gone from the other's queue

    # typing indicator and a message, operator to visitor
    box = op.find_element(By.ID, "chat-text")
    box.send_keys("Hello")
    until_text(v, "#typing", "typing")
    box.send_keys(", how can I help?" + Keys.ENTER)
    until_text(v, "#messages .msg-theirs .msg-text", "Hello, how can I help?")
    assert v.find_element(By.ID, "typing").text == ""
    # the operator has read the visitor's message
    until_text(v, "#messages .msg-mine .msg-mark", "Read")

    # visitor to operator, HTML as text; the visitor's typing shows on the console
    v.find_element(By.ID, "text").send_keys("<scr")
    until_text(op, "#chat-typing", "typing")
    v.find_element(By.ID, "text").send_keys(EVIL_REPLY[4:] + Keys.ENTER)
    until_text(op, "#chat-messages .msg-visitor .msg-text", EVIL_REPLY)
    assert not op.find_elements(By.CSS_SELECTOR, "#chat-messages script")
    until_text(op, "#chat-messages .msg-theirs-op .msg-mark", "Read")

    # transfer to the second operator with a note
    op.find_element(By.ID, "chat-transfer").click()
    Select(op.find_element(By.ID, "transfer-target")).select_by_value(f"operator:{op2_id}")
    op.find_element(By.ID, "transfer-note").send_keys("Wants a discount <i>now</i>")
    op.find_element(By.ID, "transfer-submit").click()
    until_text(v, "#messages", "passed on to Oscar Second")
    link = wait(op2, 15).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#chat-mine .chat-open")))
    wait(op).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#chat-mine .chat-open"))
    link.click()
    until_text(op2, "#chat-messages .msg-text", EVIL_REPLY)  # the whole conversation
    until_text(op2, "#chat-note", "Wants a discount <i>now</i>")
    op2.find_element(By.ID, "chat-text").send_keys("Oscar here, I can help" + Keys.ENTER)
    until_text(v, "#messages .msg-theirs .msg-text", "Oscar here, I can help")

    # a reload of the chat window during the chat: the conversation comes back, each message once
    v.execute_script("location.reload()")
    until_text(v, "#messages .msg-theirs .msg-text", "Oscar here, I can help")
    texts = [e.text for e in v.find_elements(By.CSS_SELECTOR, "#messages .msg-mine .msg-text, "
                                                                 "#messages .msg-theirs .msg-text")]
    assert texts == [EVIL_TEXT, "Hello, how can I help?", EVIL_REPLY, "Oscar here, I can help"], texts

    # the second operator ends the chat: the visitor sees it
    op2.find_element(By.ID, "chat-end").click()
    op2.switch_to.alert.accept()
    until_text(v, "#status", "ended")
    assert not v.find_element(By.ID, "send").is_enabled()
    until_text(op2, "#chat-state", "ended")

    v.switch_to.default_content()
    for d in (v, op, op2):
        assert not csp_problems(d)


CONTACT_FORM = {
    "name": "Callback details",
    "intro": "So that we can call you back",
    "fields": [
        {"name": "email", "label": "E-mail", "type": "email", "required": True},
        {"name": "topic", "label": "Topic", "type": "select", "options": ["Order", "Return"]},
        {"name": "consent", "label": "You may call me", "type": "checkbox"},
    ],
}
HOURS = "We are open from 9:00 to 17:00 <b>every</b> day, see https://shop.example/hours."


def test_operator_tools_predefined_text_form_and_redirect(server, new_driver, site_page):
    """The operator's tools with a real visitor: a predefined text by /shortcut and Tab and from the
    list, a form pushed, refused once, then answered, and the visitor's page sent to another page of
    the site, where the chat window opens again with the conversation once."""
    admin, site, dep, ids = setup_chat(server, site_page)
    r = admin.post(server.url + "/api/v1/chat/canned",
                   json={"shortcut": "hours", "title": "Opening hours", "text": HOURS}, timeout=10)
    assert r.status_code == 201, r.text
    r = admin.post(server.url + "/api/v1/chat/forms", json=CONTACT_FORM, timeout=10)
    assert r.status_code == 201, r.text
    op = operator_online(new_driver, server, OP1)
    v = phone(new_driver)
    open_widget(v, site_page)
    start_chat(v, "Paula", "Can you call me?")
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "Can you call me?")
    until_text(v, "#status", "chatting with")

    # a predefined text: "/hours" then Tab puts it into the box; Enter sends it as a message
    box = op.find_element(By.ID, "chat-text")
    wait(op).until(lambda d: d.find_element(By.ID, "canned-picker").is_enabled())
    box.send_keys("/hours")
    box.send_keys(Keys.TAB)
    assert box.get_attribute("value") == HOURS
    box.send_keys(Keys.ENTER)
    until_text(v, "#messages .msg-theirs .msg-text", HOURS)
    assert not v.find_elements(By.CSS_SELECTOR, "#messages b")
    # its link is a link on both sides, without the sentence's full stop; the rest is text
    for d, css in ((v, "#messages .msg-theirs .msg-text a"), (op, "#chat-messages .msg-theirs-op .msg-text a")):
        links = d.find_elements(By.CSS_SELECTOR, css)
        assert [(a.get_attribute("href"), a.text, a.get_attribute("rel")) for a in links] == [
            ("https://shop.example/hours", "https://shop.example/hours", "noopener noreferrer nofollow")]
    # the same from the list, after a word of one's own
    box.send_keys("Hello. ")
    Select(op.find_element(By.ID, "canned-picker")).select_by_visible_text("/hours — Opening hours")
    assert box.get_attribute("value") == "Hello. " + HOURS
    box.clear()

    # a form: the visitor's first answer is refused with the server's reason, the second is taken
    Select(op.find_element(By.ID, "form-picker")).select_by_visible_text("Callback details")
    op.find_element(By.ID, "form-push").click()
    form = wait(v, 15).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#messages .msg-form form")))
    until_text(v, "#messages .msg-form", "So that we can call you back")
    until_text(op, "#chat-messages", "Form sent: Callback details")
    inputs = form.find_elements(By.CSS_SELECTOR, "input, select")
    inputs[0].send_keys("not an address")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until_text(v, "#messages .msg-form .error", "E-mail")
    inputs[0].clear()
    inputs[0].send_keys("paula@example.org")
    Select(inputs[1]).select_by_visible_text("Return")
    inputs[2].click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until_text(v, "#messages .msg-form", "Sent, thank you.")
    until_text(op, "#chat-messages .form-answers", "paula@example.org")
    answers = text_of(op, "#chat-messages .form-answers")
    assert "Return" in answers and "Yes" in answers, answers

    # redirect: only a page of the site is taken; the visitor's page goes there and the window reopens
    url = op.find_element(By.ID, "redirect-url")
    url.send_keys("https://elsewhere.example/")
    op.find_element(By.ID, "redirect-submit").click()
    until_text(op, "#chat-tools-error", "site")
    url.clear()
    url.send_keys(site_page.url + "prices?from=chat")
    op.find_element(By.ID, "redirect-submit").click()
    until_text(op, "#chat-messages", "Visitor sent to " + site_page.url + "prices?from=chat")
    v.switch_to.default_content()
    wait(v, 15).until(lambda d: d.current_url == site_page.url + "prices?from=chat")
    wait(v, 15).until(lambda d: "/prices?from=chat" in d.find_element(By.ID, "path").text)
    frame = wait(v, 15).until(EC.visibility_of_element_located((By.ID, "vitrine-chat-frame")))
    v.switch_to.frame(frame)
    until_text(v, "#messages", "showed you a page")
    until_text(v, "#messages .msg-form", "Sent, thank you.")
    texts = [e.text for e in v.find_elements(By.CSS_SELECTOR, "#messages .msg-mine .msg-text, "
                                                                 "#messages .msg-theirs:not(.msg-form) .msg-text")]
    assert texts == ["Can you call me?", HOURS], texts
    time.sleep(1.0)  # the replayed redirect is not carried out again
    v.switch_to.default_content()
    assert v.current_url == site_page.url + "prices?from=chat"
    v.switch_to.frame(v.find_element(By.ID, "vitrine-chat-frame"))
    # the conversation goes on from the new page
    v.find_element(By.ID, "text").send_keys("Found it, thanks" + Keys.ENTER)
    until_text(op, "#chat-messages .msg-visitor .msg-text", "Found it, thanks")
    v.find_element(By.ID, "end").click()
    until_text(op, "#chat-messages", "The visitor ended the chat")
    assert not op.find_element(By.ID, "form-push").is_enabled()
    v.switch_to.default_content()
    for d in (v, op):
        assert not csp_problems(d)


def test_offline_message_then_transcript_by_mail(server, new_driver, site_page, smtp):
    """Nobody online: the window offers to leave a message, which reaches the department's mailbox
    and the console; later, with an operator, the visitor mails themself the conversation."""
    admin, site, dep, ids = setup_chat(server, site_page)
    for who in (OP1, OP2):  # nobody online, whatever an earlier test left
        r = api_login(server, who[0], who[2]).put(server.url + "/api/v1/chat/me/status", json={"status": "offline"},
                                                  timeout=10)
        assert r.status_code in (200, 204), r.text
    r = admin.patch(server.url + f"/api/v1/chat/departments/{dep['id']}", json={"offline_email": "sales@shop.test"},
                    timeout=10)
    assert r.status_code == 200, r.text
    v = phone(new_driver)
    open_widget(v, site_page)
    wait(v, 15).until(EC.visibility_of_element_located((By.ID, "offline-note")))
    assert v.find_element(By.ID, "start-chat").text == "Wait for an operator"
    v.find_element(By.ID, "visitor-name").send_keys("Zoë")
    v.find_element(By.ID, "first-text").send_keys(EVIL_TEXT)
    v.find_element(By.ID, "leave-message").click()
    until_text(v, "#start-error", "e-mail address")  # the address is needed
    v.find_element(By.ID, "offline-email").send_keys("zoe@example.org")
    v.find_element(By.ID, "leave-message").click()
    until_text(v, "#offline-done", "zoe@example.org")
    rcpts, msg = smtp.next()
    assert rcpts == ["sales@shop.test"] and msg["Reply-To"] == "zoe@example.org"
    assert EVIL_TEXT in msg.get_content()
    op = operator_online(new_driver, server, OP1)
    until_text(op, "#chat-offline", EVIL_TEXT)
    assert not op.find_elements(By.CSS_SELECTOR, "#chat-offline img")
    op.find_element(By.CSS_SELECTOR, "#chat-offline .offline-handled").click()
    wait(op).until(lambda d: EVIL_TEXT not in text_of(d, "#chat-offline"))

    # the operator is online now: on the next page the window (open again by itself) offers a chat,
    # then the transcript by mail
    v.switch_to.default_content()
    v.refresh()
    v.switch_to.frame(wait(v, 15).until(EC.visibility_of_element_located((By.ID, "vitrine-chat-frame"))))
    wait(v, 15).until(EC.visibility_of_element_located((By.ID, "first-text")))
    wait(v, 15).until(lambda d: not d.find_element(By.ID, "offline-note").is_displayed())
    start_chat(v, "Zoë", "Can I get a copy?")
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "Can I get a copy?")
    op.find_element(By.ID, "chat-text").send_keys("Sure, " + EVIL_REPLY + Keys.ENTER)
    until_text(v, "#messages .msg-theirs .msg-text", EVIL_REPLY)
    v.find_element(By.ID, "transcript").click()
    v.find_element(By.ID, "transcript-email").send_keys("zoe@example.org")
    v.find_element(By.ID, "transcript-send").click()
    until_text(v, "#transcript-status", "on its way")
    rcpts, msg = smtp.next()
    assert rcpts == ["zoe@example.org"] and msg["Subject"] == "Your chat with Shop"
    body = msg.get_content()
    assert "Zoë: Can I get a copy?" in body and "Olga Operator: Sure, " + EVIL_REPLY in body
    v.find_element(By.ID, "end").click()
    until_text(v, "#status", "You ended the chat")
    v.switch_to.default_content()
    assert not csp_problems(v) and not csp_problems(op)


def test_visitor_tools_previous_chats_and_ban(server, new_driver, site_page):
    admin, site, dep, (op1_id, op2_id) = setup_chat(server, site_page)
    op = operator_online(new_driver, server, OP1)
    v = phone(new_driver)
    open_widget(v, site_page)

    # help, font size, print
    assert not v.find_element(By.ID, "help-panel").is_displayed()
    v.find_element(By.ID, "help").click()
    assert v.find_element(By.ID, "help-panel").is_displayed()
    size = v.execute_script("return parseFloat(getComputedStyle(document.documentElement).fontSize)")
    v.find_element(By.ID, "font-larger").click()
    v.find_element(By.ID, "font-larger").click()
    bigger = v.execute_script("return parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert bigger > size
    v.execute_script("window.__printed = 0; window.print = () => { window.__printed++; }")
    v.find_element(By.ID, "print").click()
    assert v.execute_script("return window.__printed") == 1
    # on a phone the window covers the page: its close button gives the page back
    v.find_element(By.ID, "close").click()
    v.switch_to.default_content()
    wait(v).until(lambda d: not d.find_element(By.ID, "vitrine-chat-box").is_displayed())
    v.find_element(By.ID, "vitrine-chat-button").click()
    v.switch_to.frame(v.find_element(By.ID, "vitrine-chat-frame"))

    # a first chat, ended by the visitor; the operator, online, is on another page: the
    # stream stays open (the operator stays present) and the "Live chat" link is marked
    op.find_element(By.ID, "nav-profile").click()
    wait(op).until(lambda d: d.find_element(By.ID, "page-title").text == "Profile")
    start_chat(v, "Victor", "First question")
    wait(op, 15).until(lambda d: "nav-alert" in d.find_element(By.ID, "nav-chat").get_attribute("class"))
    op.find_element(By.ID, "nav-chat").click()
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "First question")
    until_text(v, "#status", "chatting with")
    v.find_element(By.ID, "end").click()
    until_text(v, "#status", "You ended the chat")
    until_text(op, "#chat-messages", "The visitor ended the chat")

    # a second chat of the same browser: the operator sees the first one in its history
    v.find_element(By.ID, "new-chat").click()
    start_chat(v, "Victor", "Second question")
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "Second question")
    assert len(op.find_elements(By.CSS_SELECTOR, "#visitor-previous a")) == 1

    # ban for a day: the chat ends, the visitor's next chat is refused
    op.find_element(By.ID, "chat-ban").click()
    Select(op.find_element(By.ID, "ban-expiry")).select_by_value("86400")
    op.find_element(By.ID, "ban-reason").send_keys("spam")
    op.find_element(By.ID, "ban-submit").click()
    wait(op).until(lambda d: "banned" in d.find_element(By.ID, "toast").text)
    r = admin.get(server.url + "/api/v1/chat/bans", timeout=10)
    assert r.status_code == 200 and "spam" in r.text, r.text
    until_text(v, "#status", "ended")
    until_text(op, "#chat-state", "ended")
    v.find_element(By.ID, "new-chat").click()
    start_chat(v, "Victor", "Third question")
    until_text(v, "#start-error", "unavailable")
    v.switch_to.default_content()
    assert not csp_problems(v)


def test_widget_stays_hidden_on_other_origin(server, new_driver, site_page):
    """A page whose origin is not one of the site's domains gets no call button."""
    admin = api_login(server, server.admin_login, server.admin_password)
    r = admin.post(server.url + "/api/v1/sites", json={"name": "Elsewhere", "domains": ["shop.example"]}, timeout=10)
    assert r.status_code == 201, r.text
    site_page.snippet = r.json()["snippet"]
    r = admin.post(server.url + f"/api/v1/widget/{r.json()['site']['id']}/visitor",
                   headers={"Origin": site_page.url.rstrip("/")}, json={"page_url": site_page.url}, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", r.text
    v = phone(new_driver)
    v.get(site_page.url)
    wait(v).until(lambda d: d.execute_script("return document.readyState") == "complete")
    time.sleep(1.0)  # the widget's request has had time to answer (its absence is the result)
    assert not v.find_elements(By.ID, "vitrine-chat-button")


def test_admin_adds_site_and_copies_snippet(server, driver):
    browser_login(driver, server, server.admin_login, server.admin_password)
    driver.get(server.url + "/#/sites")
    wait(driver).until(EC.visibility_of_element_located((By.ID, "site-name"))).send_keys("Blog")
    driver.find_element(By.ID, "site-domains").send_keys("blog.example www.blog.example")
    driver.find_element(By.ID, "site-create-submit").click()
    snippet = wait(driver).until(EC.visibility_of_element_located((By.ID, "new-site-snippet")))
    value = snippet.get_attribute("value")
    assert "/widget.js" in value and "data-site=" in value and "async" in value
    wait(driver).until(lambda d: "Blog" in d.find_element(By.ID, "sites-table").text)
    # a department for the new site
    driver.find_element(By.ID, "dep-name").send_keys("Support")
    for box in driver.find_elements(By.CSS_SELECTOR, "#dep-sites input"):
        if "Blog" in box.find_element(By.XPATH, "..").text:
            box.click()
    Select(driver.find_element(By.ID, "dep-calls")).select_by_value("audio")
    driver.find_element(By.ID, "dep-create-submit").click()
    wait(driver).until(lambda d: "Support" in d.find_element(By.ID, "departments-table").text)
    assert "Blog" in driver.find_element(By.ID, "departments-table").text
    # the admin joins the department as an operator, with a capacity of 5
    row = driver.find_element(By.CSS_SELECTOR, "#departments-table tr[data-name='Support']")
    dep_id = row.get_attribute("data-id")
    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    row.find_element(By.XPATH, ".//button[text()='Save operators']").click()
    wait(driver).until(lambda d: "Operators of" in d.find_element(By.ID, "toast").text)
    cap = driver.find_element(By.CSS_SELECTOR, "#operators-table input[type=number]")
    cap.clear()
    cap.send_keys("5")
    driver.find_element(By.XPATH, "//table[@id='operators-table']//button[text()='Save']").click()
    wait(driver).until(lambda d: "Capacity of" in d.find_element(By.ID, "toast").text)
    admin = api_login(server, server.admin_login, server.admin_password)
    deps = admin.get(server.url + "/api/v1/chat/departments", timeout=10).json()["departments"]
    ops = next(d for d in deps if d["id"] == dep_id)["operators"]
    assert [o["capacity"] for o in ops] == [5], ops
    assert next(d for d in deps if d["id"] == dep_id)["calls"] == "audio"
    assert not csp_problems(driver)


def test_queue_position_moves_live(server, new_driver, site_page):
    """A visitor second in the queue sees the position change when the first chat is picked up."""
    admin, site, dep, ids = setup_chat(server, site_page)
    origin = site_page.url.rstrip("/")
    r = requests.post(server.url + f"/api/v1/widget/{site['id']}/visitor", headers={"Origin": origin},
                      json={"page_url": site_page.url, "title": "t", "referrer": ""}, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["visitor_token"]
    r = requests.post(server.url + f"/api/v1/widget/{site['id']}/chats",
                      headers={"Origin": origin, "Authorization": f"Bearer {token}"},
                      json={"department_id": dep["id"], "text": "first in line"}, timeout=10)
    assert r.status_code == 201, r.text
    first = r.json()["chat"]["id"]

    v = phone(new_driver)
    open_widget(v, site_page)
    start_chat(v, "Second", "second in line")
    until_text(v, "#status", "number 2 in the queue")
    op = api_login(server, OP1[0], OP1[2])
    assert op.put(server.url + "/api/v1/chat/me/status", json={"status": "online"}, timeout=10).status_code in (200, 204)
    r = op.post(server.url + f"/api/v1/chat/chats/{first}/pickup", json={}, timeout=10)
    assert r.status_code == 200, r.text
    until_text(v, "#status", "number 1 in the queue")
    r = op.post(server.url + f"/api/v1/chat/chats/{first}/end", json={}, timeout=10)
    assert r.status_code in (200, 204), r.text
    v.find_element(By.ID, "end").click()  # leaves the queue empty for the other tests
    until_text(v, "#status", "You ended the chat")
