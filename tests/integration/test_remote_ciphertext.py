"""Remote control: the relay sees only ciphertext. A real session (player
host on an Xvfb display, vitrine-relay, `vitrine remote` as the guest, the
test's own RFB client as the viewer) while tshark captures the loopback
traffic of the relay's port and, as the control, of the guest's plain VNC
port. A marker is on the screen (a block of pixels whose bytes spell it)
and is sent through the session (typed as key events and put on the
clipboard, which RFB carries as text): both appear in the plain capture,
neither in the bytes to and from the relay."""
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import wait_for
from test_remote_host import Guest, Relay, cli_login, display, paired_player, register  # noqa: F401
from xdisplay import PAINTER

MARKER = b"VITRINE-MARKER-7Q3Z"

# a window whose colour's pixel bytes (B, G, R, pad in the viewer's 32-bit
# format) are the marker's bytes "VIT" (pixel 0x544956) and pad 0
MARKER_PAINTER = PAINTER.replace(
    "x.XSync(d, 0)",
    "x.XMapWindow(d, x.XCreateSimpleWindow(d, root, 40, 40, 120, 80, 0, 0, 0x544956))\nx.XSync(d, 0)",
)
MARKER_PIXELS = bytes([0x56, 0x49, 0x54, 0x00]) * 32  # 32 marker pixels in a row, as the viewer gets them


class Capture:
    """tshark on lo for some TCP ports, to a pcap file."""

    def __init__(self, path, ports):
        self.path = path
        flt = " or ".join("tcp port %d" % p for p in ports)
        self.err_path = path + ".err"
        self.err = open(self.err_path, "w+")
        self.proc = subprocess.Popen(["tshark", "-i", "lo", "-f", flt, "-w", path, "-q"], stdout=subprocess.DEVNULL,
                                     stderr=self.err)

        def started():
            if self.proc.poll() is not None:
                self.err.seek(0)
                raise AssertionError("tshark exited: " + self.err.read())
            self.err.seek(0)
            return "Capturing on" in self.err.read()
        wait_for(started, timeout=30, what="tshark to capture")

    def stop(self):
        time.sleep(0.5)  # the last packets reach the file
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)
        self.err.close()

    def streams(self, port):
        """Bytes of each direction of each TCP connection to port, reassembled in order."""
        out = subprocess.run(["tshark", "-r", self.path, "-Y", "tcp.port == %d && tcp.len > 0" % port, "-T", "fields",
                              "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.seq", "-e", "tcp.payload"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        parts = {}
        for line in out.stdout.splitlines():
            stream, src, seq, payload = line.split("\t")
            parts.setdefault((stream, src), {})[int(seq)] = bytes.fromhex(payload.replace(":", ""))
        return {k: b"".join(v[s] for s in sorted(v)) for k, v in parts.items()}


@pytest.fixture
def marked_display(display):
    """The red | blue display with the marker block painted over it."""
    name = display
    painter = subprocess.Popen([sys.executable, "-c", MARKER_PAINTER, name, "320", "240"], stdout=subprocess.PIPE,
                               text=True)
    assert painter.stdout.readline().strip() == "painted"
    yield name
    painter.kill()
    painter.wait()


def test_the_relay_sees_neither_the_screen_nor_what_is_typed(tmp_path, server, admin, make_player, marked_display):
    if not shutil.which("tshark"):
        pytest.skip("tshark is not installed")
    from rfb import RFBClient
    relay = Relay(str(tmp_path), server)
    capture = None
    guest = None
    try:
        register(admin, server, relay)
        player, screen = paired_player(make_player, server, admin, marked_display)
        config = tmp_path / "cli"
        cli_login(server, config)
        guest = Guest(config, screen, str(tmp_path))
        capture = Capture(str(tmp_path / "lo.pcap"), [relay.port, guest.port])
        guest.wait_vnc()
        viewer = RFBClient("127.0.0.1", guest.port)
        viewer.update()
        assert viewer.pixel(60, 60) == (0x54, 0x49, 0x56)  # the marker block reached the viewer
        viewer.type_text(MARKER.decode())
        clip = len(MARKER).to_bytes(4, "big")
        viewer.sock.sendall(b"\x06\x00\x00\x00" + clip + MARKER)  # ClientCutText: the marker as text
        viewer.update()  # a full update after them: the messages before it went through
        viewer.close()
    finally:
        if guest:
            guest.stop()
        if capture:
            capture.stop()
        relay.stop()

    plain = capture.streams(guest.port)
    to_relay = capture.streams(relay.port)
    assert plain and to_relay, "tshark captured nothing"
    plain_bytes = b"".join(plain.values())
    relay_bytes = b"".join(to_relay.values())
    # the control: in the clear between the viewer and vitrine remote
    assert MARKER in plain_bytes
    assert MARKER_PIXELS in plain_bytes
    # KeyEvent down and up of the first two letters, as the viewer sent them
    keys = b"".join(b"\x04" + bytes([down]) + b"\x00\x00" + ord(c).to_bytes(4, "big") for c in "VI" for down in (1, 0))
    assert keys in plain_bytes
    # what the relay forwarded: as much as the plain side, and none of it readable
    assert len(relay_bytes) > len(MARKER_PIXELS) * 10
    assert MARKER not in relay_bytes
    assert MARKER_PIXELS[:16] not in relay_bytes
    assert keys not in relay_bytes
    assert b"RFB 003" not in relay_bytes  # not even the VNC greeting
