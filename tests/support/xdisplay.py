"""Xvfb displays with a known picture, for the tests that read a screen back
(remote control through VNC now; screen sharing and sync later).

`painted_display(w, h)` starts `Xvfb -noreset` on a free display number
(the reset would drop the picture when its last client leaves), paints it
red on the left half and blue on the right through libX11 with ctypes, and
yields its name (":N"); everything it started is killed on the way out.
`painter` replaces the painting script (argv: display name, width, height;
it prints "painted" when done and then stays, as its windows must).
"""
import contextlib
import ctypes.util
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

# The start of a script that talks to the X display argv[1] through libX11
# with ctypes: `x` the library (the calls the painters and readers use,
# typed), `d` the display, `root` its root window.
XLIB = r"""
import ctypes, sys, time
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XCreateSimpleWindow.restype = ctypes.c_ulong
x.XCreateSimpleWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                  ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_ulong]
x.XMapWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
x.XFlush.argtypes = [ctypes.c_void_p]
x.XSetWindowBackground.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
x.XClearWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XGetImage.restype = ctypes.c_void_p
x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                        ctypes.c_ulong, ctypes.c_int]
x.XGetPixel.restype = ctypes.c_ulong
x.XGetPixel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
d = x.XOpenDisplay(sys.argv[1].encode())
if not d:
    sys.exit("cannot open display")
root = x.XDefaultRootWindow(d)
"""

PAINTER = XLIB + r"""
w, h = int(sys.argv[2]), int(sys.argv[3])
for left, colour in ((0, 0xFF0000), (w // 2, 0x0000FF)):
    x.XMapWindow(d, x.XCreateSimpleWindow(d, root, left, 0, w // 2, h, 0, 0, colour))
x.XSync(d, 0)
print("painted", flush=True)
time.sleep(3600)
"""


def lock_is_live(n):
    """Display n's lock file names a running process (a lock left by a
    killed Xvfb is not: Xvfb takes such a number over by itself)."""
    try:
        with open(f"/tmp/.X{n}-lock") as f:
            pid = int(f.read().strip())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # unreadable: someone's, keep off
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def listening(path):
    """Something accepts connections on the Unix socket path."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        try:
            c.connect(path)
            return True
        except OSError:
            return False


def stop_xvfb(xvfb):
    """Ends an Xvfb with SIGTERM, so that it removes its lock file and
    socket (SIGKILL leaves them behind), then SIGKILL if it lingers."""
    if xvfb.poll() is None:
        xvfb.terminate()
        try:
            xvfb.wait(timeout=10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
    xvfb.wait()


def start_xvfb(w, h, first=140, last=700):
    """Xvfb -noreset on the first free display number from a pid-dependent start: (process, ":N")."""
    span = last - first
    for i in range(span):
        n = first + (os.getpid() + i) % span
        if lock_is_live(n):
            continue
        xvfb = subprocess.Popen(["Xvfb", f":{n}", "-noreset", "-nolisten", "tcp", "-screen", "0", f"{w}x{h}x24"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        sock = f"/tmp/.X11-unix/X{n}"  # a killed server's file may still be there: connect to it
        while time.monotonic() < deadline and xvfb.poll() is None and not listening(sock):
            time.sleep(0.05)  # polling for the server's socket, not a test wait
        if xvfb.poll() is None and listening(sock):
            return xvfb, f":{n}"
        stop_xvfb(xvfb)
    pytest.skip("no free X display number")


@contextlib.contextmanager
def painted_display(w, h, tools=("Xvfb",), painter=PAINTER):
    """A display painted red | blue (or by `painter`); skips when a tool of `tools` or libX11 is missing."""
    for tool in tools:
        if not shutil.which(tool):
            pytest.skip(tool + " is not installed")
    if not ctypes.util.find_library("X11"):
        pytest.skip("libX11 is not installed")
    xvfb, name = start_xvfb(w, h)
    procs = [xvfb]
    try:
        paint = subprocess.Popen([sys.executable, "-c", painter, name, str(w), str(h)], stdout=subprocess.PIPE,
                                 text=True)
        procs.append(paint)
        assert paint.stdout.readline().strip() == "painted"
        yield name
    finally:
        for p in reversed(procs):
            if p is xvfb:
                stop_xvfb(p)
            else:
                p.kill()
                p.wait()
