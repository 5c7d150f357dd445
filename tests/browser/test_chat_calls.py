"""Browser tests of live chat calls: a visitor's browser (the widget on a web site, a phone screen) and
an operator's console call each other over WebRTC with Chromium's generated camera and microphone,
through the session's coturn on loopback (the server sets webrtc_relay_only, so the media can only
flow through the relay). Run:
VITRINE_BUILD=build /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser/test_chat_calls.py
"""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from test_chat import OP1, open_widget, operator_online, phone, pick_up, setup_chat, site_page, start_chat, until_text  # noqa: F401
from test_console import api_login, csp_problems, wait


def call_state(d, css):
    return d.execute_script("const e = document.querySelector(arguments[0]); return e ? e.dataset.state : ''", css)


def until_state(d, css, want, timeout=30):
    wait(d, timeout).until(lambda x: call_state(x, css) == want,
                           f"{css} never became {want!r} (it is {call_state(d, css)!r})")


def video_playing(d, css):
    return d.execute_script("const v = document.querySelector(arguments[0]);"
                            "return !!v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused", css)


def click(d, el_id, timeout=15):
    """Clicks a button once it can be clicked, scrolled to the middle (clear of the console's sticky bar)."""
    el = wait(d, timeout).until(EC.element_to_be_clickable((By.ID, el_id)))
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def test_video_call_through_turn_then_audio_call_from_the_visitor(server, new_driver, site_page, turn):
    admin, site, dep, ids = setup_chat(server, site_page)
    op = operator_online(new_driver, server, OP1)
    v = phone(new_driver)
    open_widget(v, site_page)
    start_chat(v, "Carla", "Can we talk?")
    pick_up(op)
    until_text(op, "#chat-messages .msg-text", "Can we talk?")
    until_text(v, "#status", "chatting with")
    wait(v).until(EC.visibility_of_element_located((By.ID, "call-video")))  # the department takes calls

    # the operator calls with video; the visitor accepts
    click(op, "chat-call-video")
    until_state(op, "#op-call-state", "ringing")
    wait(v, 15).until(EC.element_to_be_clickable((By.ID, "call-accept")))
    until_text(v, "#call-state", "operator is calling you (video call)")
    v.find_element(By.ID, "call-accept").click()
    until_state(v, "#call-state", "connected")
    until_state(op, "#op-call-state", "connected")
    until_text(op, "#op-call-state", "through a relay")
    until_text(v, "#call-state", "through a relay")
    wait(op, 15).until(lambda d: video_playing(d, "#op-call-remote"), "no video from the visitor")
    wait(v, 15).until(lambda d: video_playing(d, "#call-remote"), "no video from the operator")
    log = turn["log"].read_text(errors="replace")
    # coturn took the credentials the server made and relayed for the peers
    assert "ALLOCATE processed, success" in log and "CREATE_PERMISSION processed, success" in log, log[-2000:]
    # the visitor hangs up: both sides end
    v.find_element(By.ID, "call-hangup").click()
    until_state(v, "#call-state", "ended")
    until_state(op, "#op-call-state", "ended")
    until_text(op, "#op-call-state", "hung up")

    # the operator switches calls off: the visitor's buttons go; on again, the visitor calls (audio)
    click(op, "chat-calls-toggle")
    wait(v, 15).until(lambda d: not d.find_element(By.ID, "call-audio").is_displayed())
    click(op, "chat-calls-toggle")
    wait(v, 15).until(EC.element_to_be_clickable((By.ID, "call-audio"))).click()
    until_text(op, "#op-call-state", "visitor is calling (audio call)")
    click(op, "op-call-accept")
    until_state(op, "#op-call-state", "connected")
    until_state(v, "#call-state", "connected")
    assert not v.find_element(By.ID, "call-remote").is_displayed()  # audio only: no video shown
    # ending the chat ends the call
    v.find_element(By.ID, "end").click()
    until_state(op, "#op-call-state", "ended")
    until_text(op, "#op-call-state", "chat has ended")
    v.switch_to.default_content()
    for d in (v, op):
        assert not csp_problems(d)
