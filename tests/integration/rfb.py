"""A minimal RFB (VNC) client for the remote-control tests: protocol 3.8,
security type None (what the remote-control host offers a guest through the
tunnel), 32-bit true colour, Raw encoding only. It reads the whole
framebuffer and sends key and pointer events, which is all the tests need to
check pixels and to type a marker through a session. Written from RFC 6143."""
import socket
import struct


class RFBError(Exception):
    pass


def _recv_exact(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise RFBError(f"the server closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


class RFBClient:
    def __init__(self, host, port, timeout=20.0, shared=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        version = _recv_exact(self.sock, 12)
        if not version.startswith(b"RFB 003."):
            raise RFBError(f"not an RFB server: {version!r}")
        self.sock.sendall(b"RFB 003.008\n")
        count = _recv_exact(self.sock, 1)[0]
        if count == 0:
            (length,) = struct.unpack(">I", _recv_exact(self.sock, 4))
            raise RFBError("refused: " + _recv_exact(self.sock, length).decode(errors="replace"))
        types = _recv_exact(self.sock, count)
        if 1 not in types:
            raise RFBError(f"security type None not offered: {list(types)}")
        self.sock.sendall(b"\x01")
        (result,) = struct.unpack(">I", _recv_exact(self.sock, 4))
        if result != 0:
            raise RFBError("security handshake failed")
        self.sock.sendall(b"\x01" if shared else b"\x00")
        self.width, self.height = struct.unpack(">HH", _recv_exact(self.sock, 4))
        _recv_exact(self.sock, 16)  # the server's pixel format
        (name_len,) = struct.unpack(">I", _recv_exact(self.sock, 4))
        self.name = _recv_exact(self.sock, name_len).decode(errors="replace")
        # 32 bpp, depth 24, little endian, true colour, R at bit 16, G 8, B 0
        self.sock.sendall(struct.pack(">B3xBBBBHHHBBB3x", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        self.sock.sendall(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw
        self.pixels = bytearray(self.width * self.height * 4)

    def update(self, incremental=False):
        """Asks for the whole screen and applies the answer (Raw rectangles)."""
        self.sock.sendall(struct.pack(">BBHHHH", 3, 1 if incremental else 0, 0, 0, self.width, self.height))
        while True:
            kind = _recv_exact(self.sock, 1)[0]
            if kind == 0:
                break
            if kind == 2:  # bell
                continue
            if kind == 3:  # server cut text
                _recv_exact(self.sock, 3)
                (length,) = struct.unpack(">I", _recv_exact(self.sock, 4))
                _recv_exact(self.sock, length)
                continue
            if kind == 1:  # colour map entries: not with true colour
                raise RFBError("unexpected colour map")
            raise RFBError(f"unknown server message {kind}")
        _recv_exact(self.sock, 1)
        (rects,) = struct.unpack(">H", _recv_exact(self.sock, 2))
        for _ in range(rects):
            x, y, w, h, enc = struct.unpack(">HHHHi", _recv_exact(self.sock, 12))
            if enc != 0:
                raise RFBError(f"encoding {enc} was not asked for")
            data = _recv_exact(self.sock, w * h * 4)
            for row in range(h):
                start = ((y + row) * self.width + x) * 4
                self.pixels[start : start + w * 4] = data[row * w * 4 : (row + 1) * w * 4]

    def pixel(self, x, y):
        """(r, g, b) at x, y."""
        b, g, r, _ = self.pixels[(y * self.width + x) * 4 : (y * self.width + x) * 4 + 4]
        return r, g, b

    def key(self, keysym):
        self.sock.sendall(struct.pack(">BBxxI", 4, 1, keysym))
        self.sock.sendall(struct.pack(">BBxxI", 4, 0, keysym))

    def type_text(self, text):
        for ch in text:
            self.key(ord(ch))

    def pointer(self, x, y, buttons=0):
        self.sock.sendall(struct.pack(">BBHH", 5, buttons, x, y))

    def click(self, x, y):
        self.pointer(x, y, 1)
        self.pointer(x, y, 0)

    def close(self):
        self.sock.close()
