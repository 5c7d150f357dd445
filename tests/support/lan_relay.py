"""The impairing multicast relay of tests/support/lan.py's routed LAN: runs
in the hub namespace (started by Lan as `ip netns exec HUB /usr/bin/python3
lan_relay.py CONFIG`), joins every configured multicast group on every leg
(IP_ADD_MEMBERSHIP with the leg's address), learns each datagram's ingress
leg (IP_PKTINFO) and its kernel arrival time (SO_TIMESTAMPNS), and sends one
copy to the same group:port out of every OTHER leg (one sending socket per
leg: IP_MULTICAST_IF the leg's address, IP_MULTICAST_LOOP 0, TTL 1). Each
copy is dropped with probability `loss`, otherwise delayed by `delay_ms` ±
`jitter_ms` (uniform, drawn independently per copy, counted from the
datagram's arrival; copies may overtake each other). Copies wait in a heap;
one select() loop with microsecond timeouts both reads and sends, so no
copy waits behind another's sleep. The copies leave from the hub's leg
address and an ephemeral port: receivers must not rely on either (Vitrine's
sync messages and PTP's carry their sender's identity in the payload).

Counters (per leg: received, forwarded, dropped; per group:port; how late
copies left against their schedule) go to the JSON stats file, written
atomically every `stats_interval` seconds, on SIGUSR1 (Lan.relay_stats asks
this way for fresh numbers), and on SIGTERM or SIGINT, after which the
relay exits 0. The file first appears once every socket is set up: that is
how Lan knows the relay is ready.

CONFIG is a JSON file: {"legs": [{"leg": 1, "ifname": "leg1", "addr":
"10.78.1.1"}, ...], "groups": [...], "ports": [...], "loss": 0.2,
"delay_ms": 5, "jitter_ms": 3, "seed": null, "stats": PATH,
"stats_interval": 0.5}. Every (group, port) pair of the two lists is
relayed."""
import ctypes
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
PR_SET_TIMERSLACK = 29
MAX_DATAGRAM = 65535
ANC_SPACE = socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16)


def _timer_slack_1us():
    """Asks the kernel to wake select() within 1 us of its timeout (the
    default slack is 50 us); best effort."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Relay:
    def __init__(self, cfg):
        self.loss = float(cfg.get("loss", 0.0))
        self.delay = float(cfg.get("delay_ms", 0.0)) / 1000.0
        self.jitter = float(cfg.get("jitter_ms", 0.0)) / 1000.0
        self.rng = random.Random(cfg.get("seed"))
        self.stats_path = cfg["stats"]
        self.stats_interval = float(cfg.get("stats_interval", 0.5))
        self.legs = cfg["legs"]
        self.by_ifindex = {}
        self.counters = {}
        self.send_socks = {}
        for leg in self.legs:
            k = leg["leg"]
            self.by_ifindex[socket.if_nametoindex(leg["ifname"])] = k
            self.counters[k] = {"ifname": leg["ifname"], "addr": leg["addr"],
                                "received": 0, "forwarded": 0, "dropped": 0, "send_errors": 0}
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(leg["addr"]))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            s.bind((leg["addr"], 0))
            s.setblocking(False)
            self.send_socks[k] = s
        self.recv_socks = {}
        self.flows = {}
        for group in cfg["groups"]:
            for port in cfg["ports"]:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
                s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
                s.bind((group, port))  # only datagrams to this group:port
                for leg in self.legs:
                    mreq = socket.inet_aton(group) + socket.inet_aton(leg["addr"])
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
                s.setblocking(False)
                self.recv_socks[s.fileno()] = (s, group, port)
                self.flows[f"{group}:{port}"] = {"received": 0, "forwarded": 0, "dropped": 0}
        self.heap = []
        self.seq = 0
        self.late_max = 0.0
        self.late_sum = 0.0
        self.late_over_1ms = 0
        self.sent = 0
        self.generation = 0
        self.started = time.time()

    def receive(self, sock, group, port):
        key = f"{group}:{port}"
        while True:
            try:
                data, anc, _flags, _src = sock.recvmsg(MAX_DATAGRAM, ANC_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            mono_now, real_now = time.monotonic(), time.time()
            ifindex, arrived = None, mono_now
            for level, kind, value in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    ifindex = struct.unpack_from("i", value)[0]
                elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack_from("qq", value)
                    # the kernel's arrival time, moved onto the monotonic clock
                    arrived = mono_now - max(0.0, real_now - (sec + nsec / 1e9))
            ingress = self.by_ifindex.get(ifindex)
            if ingress is None:
                continue
            self.counters[ingress]["received"] += 1
            self.flows[key]["received"] += 1
            for k in self.send_socks:
                if k == ingress:
                    continue
                if self.rng.random() < self.loss:
                    self.counters[k]["dropped"] += 1
                    self.flows[key]["dropped"] += 1
                    continue
                wait = max(0.0, self.delay + self.rng.uniform(-self.jitter, self.jitter))
                self.seq += 1
                heapq.heappush(self.heap, (arrived + wait, self.seq, k, group, port, data))

    def send_due(self):
        now = time.monotonic()
        while self.heap and self.heap[0][0] <= now + 20e-6:
            due, _seq, k, group, port, data = heapq.heappop(self.heap)
            try:
                self.send_socks[k].sendto(data, (group, port))
            except OSError:
                self.counters[k]["send_errors"] += 1
                continue
            late = max(0.0, time.monotonic() - due)
            self.late_max = max(self.late_max, late)
            self.late_sum += late
            self.late_over_1ms += late > 1e-3
            self.sent += 1
            self.counters[k]["forwarded"] += 1
            self.flows[f"{group}:{port}"]["forwarded"] += 1

    def write_stats(self):
        self.generation += 1
        totals = {name: sum(c[name] for c in self.counters.values())
                  for name in ("received", "forwarded", "dropped", "send_errors")}
        doc = dict(totals, generation=self.generation, pid=os.getpid(), time=time.time(),
                   pending=len(self.heap), legs={str(k): c for k, c in self.counters.items()},
                   flows=self.flows, loss=self.loss, delay_ms=self.delay * 1e3, jitter_ms=self.jitter * 1e3,
                   late_ms={"max": self.late_max * 1e3, "mean": self.late_sum / self.sent * 1e3 if self.sent else 0.0,
                            "over_1ms": self.late_over_1ms})
        tmp = self.stats_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, self.stats_path)

    def run(self):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        flags = {"stop": False, "dump": False}
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: flags.__setitem__("stop", True))
        signal.signal(signal.SIGUSR1, lambda *_: flags.__setitem__("dump", True))
        _timer_slack_1us()
        self.write_stats()  # the ready signal
        next_stats = time.monotonic() + self.stats_interval
        fds = list(self.recv_socks) + [wake_r]
        while not flags["stop"]:
            now = time.monotonic()
            until = min(next_stats, self.heap[0][0]) if self.heap else next_stats
            readable, _, _ = select.select(fds, [], [], max(0.0, until - now))
            for fd in readable:
                if fd == wake_r:
                    try:
                        os.read(wake_r, 512)
                    except BlockingIOError:
                        pass
                    continue
                self.receive(*self.recv_socks[fd])
            self.send_due()
            if flags["dump"] or time.monotonic() >= next_stats:
                flags["dump"] = False
                self.write_stats()
                next_stats = time.monotonic() + self.stats_interval
        self.write_stats()


def main(argv):
    with open(argv[1]) as f:
        cfg = json.load(f)
    Relay(cfg).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
