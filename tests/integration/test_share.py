"""Sharing a screen to a display (issue 15), on a LAN of network namespaces
(tests/support/lan.py, a bridge on 10.77.0.0/24): the display is
vitrine-player --share in namespace 1 drawing on its own Xvfb; senders are
`vitrine share CODE --key KEY` in the other namespaces, each capturing its
own Xvfb painted in two known colours. What the display shows is read back
from its X server's pixels.

Shown: one sender fills the display with its picture (above the strip left
to the kiosk page's share bar); four at once take a quadrant each (2x2, in
the order they came); the operator promotes one to the whole screen and
stops another; an H.264 sender works like a VP8 one; five wrong keys make
the display draw a new one; a click on the display reaches the
sender's screen at the same place (xev on the sender's display sees the
button, at the position); a mistyped code is refused before anything is
sent (exit 2), a wrong key is refused by the display (exit 1), and a
stranger who only knows the address gets nothing: junk on the command port
is refused and no stream port takes a connection it did not hand out."""
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import BUILD, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import lan as lanlib  # noqa: E402
import sharing  # noqa: E402

DISPLAY_W, DISPLAY_H = 1280, 720
SENDER_W, SENDER_H = 640, 360
PATTERNS = [("red", "blue"), ("green", "yellow"), ("magenta", "cyan"), ("white", "orange")]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not shutil.which("Xvfb"), reason="xvfb is not installed (scripts/deps)"),
    pytest.mark.skipif(not shutil.which("gst-inspect-1.0")
                       or subprocess.run(["gst-inspect-1.0", "ximagesink"], capture_output=True).returncode != 0,
                       reason="gstreamer1.0-x is not installed (scripts/deps)"),
]


@pytest.fixture
def world():
    tmp = tempfile.mkdtemp(prefix="vitrine-share-")
    screens = []
    lan = lanlib.Lan(5)
    try:
        board = sharing.PaintedDisplay(DISPLAY_W, DISPLAY_H, "white", "white")
        screens.append(board)
        display = sharing.Display(lan, 1, BUILD, board.name, tmp)

        class World:
            pass
        w = World()
        w.lan, w.tmp, w.board, w.display = lan, tmp, board, display
        st = display.status()
        w.key = st["key"]
        assert st["screen"] == [DISPLAY_W, DISPLAY_H] and 0 < st["bar_height"] < DISPLAY_H // 8
        w.area_h = DISPLAY_H - st["bar_height"]  # above the kiosk page's share bar
        w.laptops = []
        for k in range(4):
            s = sharing.PaintedDisplay(SENDER_W, SENDER_H, *PATTERNS[k])
            screens.append(s)
            w.laptops.append(s)
        w.senders = []
        yield w
        for p in w.senders:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        display.stop()
        log = display.read_log()
        assert "Sanitizer" not in log and "runtime error:" not in log, log
    finally:
        lan.close()
        for s in screens:
            s.close()
        shutil.rmtree(tmp, ignore_errors=True)


def share(w, i, *extra):
    """Sender i (0..3) from namespace i+2 capturing laptop i."""
    p = sharing.start_sender(w.lan, i + 2, BUILD, w.laptops[i].name, w.display.code, w.key, *extra)
    w.senders.append(p)
    return p


def board_at(w, points):
    return sharing.sample(w.board.name, points)


def tile_points(x, y, tw, th):
    """The middle of the left and of the right half of a tile."""
    return [[x + tw // 4, y + th // 2], [x + 3 * tw // 4, y + th // 2]]


def shows(w, x, y, tw, th, pattern):
    got = board_at(w, tile_points(x, y, tw, th))
    return sharing.close_to(got[0], pattern[0]) and sharing.close_to(got[1], pattern[1])


def wait_streaming(w, n, timeout=30):
    wait_for(lambda: w.display.streaming() == n, timeout=timeout, interval=0.2,
             what="%d senders streaming: %s\n%s" % (n, w.display.status(), w.display.read_log()))


def test_one_sender_fills_the_display(world):
    w = world
    p = share(w, 0)
    wait_streaming(w, 1)
    wait_for(lambda: shows(w, 0, 0, DISPLAY_W, w.area_h, PATTERNS[0]), timeout=20, interval=0.3,
             what="the sender's red | blue on the display")
    # the bar below is left to the kiosk page: the board's own white shows there
    assert sharing.close_to(board_at(w, [[DISPLAY_W // 2, DISPLAY_H - 3]])[0], "white")
    st = w.display.status()
    assert st["senders"][0]["name"] == "sender2" and st["senders"][0]["width"] == SENDER_W
    p.terminate()
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, out + err
    assert "sharing" in out and "share ended" in out, out + err
    wait_streaming(w, 0)
    # the share window is gone: the board's own white shows again
    wait_for(lambda: all(sharing.close_to(c, "white") for c in board_at(w, tile_points(0, 0, DISPLAY_W, DISPLAY_H))),
             timeout=10, interval=0.2, what="the share window gone")


def test_four_senders_two_by_two_then_promote_and_stop(world):
    w = world
    for i in range(4):
        share(w, i)
        wait_streaming(w, i + 1)  # in this order: sender i takes slot i
    hw, hh = DISPLAY_W // 2, w.area_h // 2
    quadrants = [(0, 0), (hw, 0), (0, hh), (hw, hh)]
    for i, (x, y) in enumerate(quadrants):
        wait_for(lambda: shows(w, x, y, hw, hh, PATTERNS[i]), timeout=20, interval=0.3,
                 what="sender %d's %s in quadrant %d: %s" % (i, PATTERNS[i], i, board_at(w, tile_points(x, y, hw, hh))))
    # a fifth is refused: four share already
    extra = sharing.start_sender(w.lan, 2, BUILD, w.laptops[0].name, w.display.code, w.key)
    out, err = extra.communicate(timeout=30)
    assert extra.returncode == 1 and "four senders" in err, out + err

    # the operator shows sender 2 alone, then all again
    code, doc = w.display.kiosk_request("POST", "/share/promote", {"slot": 2})
    assert code == 200, doc
    wait_for(lambda: shows(w, 0, 0, DISPLAY_W, w.area_h, PATTERNS[2]), timeout=10, interval=0.3,
             what="sender 2 full screen")
    assert w.display.status()["promoted"] == 2
    code, doc = w.display.kiosk_request("POST", "/share/promote", {"slot": -1})
    assert code == 200, doc
    wait_for(lambda: shows(w, hw, hh, hw, hh, PATTERNS[3]), timeout=10, interval=0.3, what="2x2 again")

    # and stops sender 1: it says so and exits 0; three remain, in slot order
    code, doc = w.display.kiosk_request("POST", "/share/stop", {"slot": 1})
    assert code == 200, doc
    out, err = w.senders[1].communicate(timeout=20)
    assert w.senders[1].returncode == 0 and "the display stopped it" in out, out + err
    wait_streaming(w, 3)
    for i, (x, y) in zip((0, 2, 3), quadrants[:3]):
        wait_for(lambda: shows(w, x, y, hw, hh, PATTERNS[i]), timeout=10, interval=0.3,
                 what="sender %d in the next quadrant" % i)

    # bad operator requests are 4xx with a message
    for path, body, status in (("/share/stop", {"slot": 1}, 404), ("/share/stop", {"slot": 9}, 400),
                               ("/share/promote", {"slot": "x"}, 400), ("/share/stop", {}, 400)):
        code, doc = w.display.kiosk_request("POST", path, body)
        assert code == status and doc["error"]["message"], (path, body, code, doc)


def read_available(pipe):
    """What a child has written to pipe so far, without waiting."""
    data = b""
    while select.select([pipe], [], [], 0)[0]:
        chunk = os.read(pipe.fileno(), 65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


XEV_BUTTON = re.compile(r"ButtonPress event.*?root:\((\d+),(\d+)\).*?button (\d+)", re.S)


def test_a_click_on_the_display_reaches_the_sender(world):
    w = world
    xev = subprocess.Popen(["xev", "-root", "-display", w.laptops[0].name, "-event", "button"],
                           stdout=subprocess.PIPE)
    try:
        share(w, 0)
        wait_streaming(w, 1)
        wait_for(lambda: shows(w, 0, 0, DISPLAY_W, w.area_h, PATTERNS[0]), timeout=20, interval=0.3,
                 what="the picture")
        # the laptop's picture, its aspect kept, is centred in the area above the bar
        scale = min(DISPLAY_W / SENDER_W, w.area_h / SENDER_H)
        left, top = (DISPLAY_W - SENDER_W * scale) / 2, (w.area_h - SENDER_H * scale) / 2
        bx, by = 960, 180
        want = ((bx - left) / (SENDER_W * scale) * (SENDER_W - 1), (by - top) / (SENDER_H * scale) * (SENDER_H - 1))
        subprocess.run(["xdotool", "mousemove", str(bx), str(by), "click", "1"], check=True, timeout=10,
                       env=dict(os.environ, DISPLAY=w.board.name))
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline and not XEV_BUTTON.search(seen):
            seen += read_available(xev.stdout)
            time.sleep(0.1)
        m = XEV_BUTTON.search(seen)
        assert m, "no button press on the sender's display: " + seen
        x, y, button = map(int, m.groups())
        assert abs(x - want[0]) <= 2 and abs(y - want[1]) <= 2 and button == 1, (want, m.group(0))
    finally:
        xev.kill()
        xev.wait()


def test_no_input_when_the_sender_refuses_it(world):
    w = world
    xev = subprocess.Popen(["xev", "-root", "-display", w.laptops[0].name, "-event", "button"],
                           stdout=subprocess.PIPE)
    try:
        share(w, 0, "--no-input")
        wait_streaming(w, 1)
        assert w.display.status()["senders"][0]["input"] is False
        subprocess.run(["xdotool", "mousemove", "960", "180", "click", "1"], check=True, timeout=10,
                       env=dict(os.environ, DISPLAY=w.board.name))
        time.sleep(1.5)  # an event would take milliseconds: waiting for one not to come
        seen = read_available(xev.stdout)
        assert "ButtonPress" not in seen, seen
    finally:
        xev.kill()
        xev.wait()


def test_mistyped_code_and_wrong_key_are_refused(world):
    w = world
    digits = w.display.code.replace("-", "")
    typo = digits[:4] + str((int(digits[4]) + 1) % 10) + digits[5:]
    p = sharing.start_sender(w.lan, 2, BUILD, w.laptops[0].name, typo, w.key)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "mistyped" in err, out + err
    wrong = "%06d" % ((int(w.key) + 1) % 1000000)
    p = sharing.start_sender(w.lan, 2, BUILD, w.laptops[0].name, w.display.code, wrong)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1 and "refused the key" in err, out + err
    assert "wrong key" in w.display.read_log()
    assert w.display.streaming() == 0


def test_a_stranger_who_knows_the_address_gets_nothing(world):
    w = world
    share(w, 0)
    wait_streaming(w, 1)
    st = w.display.status()
    addr, port = st["address"], st["port"]
    # junk as the hello: the display answers "wrong key" and closes
    s = w.lan.socket(3, socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((addr, port))
    greeting = s.recv(52, socket.MSG_WAITALL)
    assert greeting[:4] == b"VSH1" and len(greeting) == 52
    s.sendall(b"VSH1" + os.urandom(80))
    welcome = s.recv(33, socket.MSG_WAITALL)
    assert welcome[0] == 1 and welcome[1:] == bytes(32), welcome  # WRONG_KEY, no MAC to guess from
    assert s.recv(1) == b""
    s.close()
    # no stream port takes a connection: the sender's was handed out once and is taken
    taken = 0
    for p in range(49200, 49401):
        c = w.lan.socket(3, socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(2)
        try:
            c.connect((addr, p))
            taken += 1
        except (ConnectionRefusedError, socket.timeout):
            pass
        finally:
            c.close()
    assert taken == 0
    # the share goes on, unharmed
    wait_for(lambda: shows(w, 0, 0, DISPLAY_W, w.area_h, PATTERNS[0]), timeout=20, interval=0.3,
             what="the picture after the stranger")
    assert w.display.streaming() == 1


def test_five_wrong_keys_draw_a_new_key(world):
    w = world
    wrong = "%06d" % ((int(w.key) + 1) % 1000000)
    for attempt in range(5):
        p = sharing.start_sender(w.lan, 2, BUILD, w.laptops[0].name, w.display.code, wrong)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 1, out + err
    # the fifth is told the display drew a new key, which the kiosk shows
    assert "shows a new one" in err, err
    new_key = wait_for(lambda: w.display.status()["key"] != w.key and w.display.status()["key"], timeout=10,
                       what="a new key")
    p = sharing.start_sender(w.lan, 2, BUILD, w.laptops[0].name, w.display.code, w.key)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1 and "refused the key" in err, out + err  # the old key is no key any more
    w.key = new_key
    share(w, 0)
    wait_streaming(w, 1)


def gst_has(*elements):
    return all(subprocess.run(["gst-inspect-1.0", e], capture_output=True).returncode == 0 for e in elements)


@pytest.mark.skipif(not gst_has("x264enc", "h264parse", "avdec_h264"),
                    reason="x264enc, h264parse or avdec_h264 is missing (gstreamer1.0-plugins-ugly, -bad, -libav)")
def test_an_h264_sender(world):
    w = world
    p = share(w, 1, "--codec", "h264")
    wait_streaming(w, 1)
    assert w.display.status()["senders"][0]["codec"] == "h264"
    wait_for(lambda: shows(w, 0, 0, DISPLAY_W, w.area_h, PATTERNS[1]), timeout=20, interval=0.3,
             what="the H.264 sender's green | yellow")
    p.terminate()
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, out + err


def share_tool(w, send):
    """tests/tools/share_tool from namespace 3: a good handshake, then `send`."""
    st = w.display.status()
    p = w.lan.run(3, [os.path.join(BUILD, "share_tool"), "--to", "%s:%d" % (st["address"], st["port"]),
                      "--code", w.display.code.replace("-", ""), "--key", w.key, "--send", send],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                  env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, out + err
    return out


def test_a_sender_with_the_key_that_sends_nonsense_harms_nobody(world):
    """The key proves who may share, not that what comes is sane: bad offers
    are refused with a sentence, junk frames and an oversized record end
    that sender only, and the display then serves an honest one."""
    w = world
    for offer, words in (('not json', "the offer needs"), ('{"type":"offer"}', "the offer needs"),
                         ('{"type":"offer","name":"%s","width":640,"height":360,"input":false,"input_port":0}'
                          % ("x" * 65), "1-64 bytes"),
                         ('{"type":"offer","name":"a","width":640,"height":360,"input":false,"input_port":0,'
                          '"codec":"av1"}', "vp8 or h264"),
                         ('{"type":"offer","name":"a","width":0,"height":360,"input":false,"input_port":0}',
                          "the offer needs")):
        out = share_tool(w, "offer:" + offer)
        assert '"type":"refuse"' in out and words in out, (offer, out)
    out = share_tool(w, "huge")
    assert "the display closed the stream" in out, out
    out = share_tool(w, "junk:60")
    assert "sent" in out, out
    wait_streaming(w, 0)
    share(w, 0)
    wait_streaming(w, 1)
    wait_for(lambda: shows(w, 0, 0, DISPLAY_W, w.area_h, PATTERNS[0]), timeout=20, interval=0.3,
             what="an honest sender after the nonsense")
