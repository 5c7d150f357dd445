"""A throwaway LAN of network namespaces for the tests of sync groups:
`with Lan(n) as lan:` makes a hub namespace and n player namespaces
p1..pn, each joined to the hub by a veth pair (the player's end is `lan0`,
the hub's `leg<k>`), `lo` up everywhere. Traffic stays in these namespaces
and on loopback: no interface of the LAN is in the test's own namespace.

Two shapes:
- Lan(n): the hub's leg<k> ends join a Linux bridge `br0` (10.77.0.1/24,
  multicast snooping off so multicast floods every port); player k is
  10.77.0.(10+k)/24 with its default route via 10.77.0.1. Multicast flows
  between players natively.
- Lan(n, impaired=Impairment(...)): no bridge; each leg is a routed /24:
  leg<k> 10.78.k.1, player 10.78.k.2, default route via 10.78.k.1, and
  ip_forward on in the hub (players reach each other by unicast through
  it). Multicast does not cross the hub by itself: tests/support/lan_relay.py,
  started in the hub, re-sends each datagram of the Impairment's
  groups × ports to the same group:port on every other leg, dropping each
  copy with probability `loss` and delaying it by delay ± jitter. Its
  counters: Lan.relay_stats(). Unicast (players to the server in the hub,
  or to each other) is routed by the kernel and not impaired.
In both, each player namespace also has the route 224.0.0.0/4 dev lan0, so
multicast leaves by lan0 whatever else a test adds, and a server run in the
hub on 0.0.0.0 is reached by player k at lan.hub_addr(k).

Names are unique per Lan (vt<pid><4 letters>h for the hub, ...p<k> for the
players), so parallel runs do not clash. Everything is removed -- processes
started through lan.run/run_hub (SIGTERM, then SIGKILL), any other process
left in the namespaces, the namespaces themselves (with them the veths and
the bridge), the temporary folder -- at context exit, at interpreter exit
and on SIGTERM, even when the test failed. Processes started through the
Lan also get SIGKILL should the test process die without cleaning up
(setpriv --pdeathsig, set from the moment setpriv runs; it follows the
*thread* that started them: start them from the main thread, as pytest
does). The Popen's pid is the program itself (ip netns exec and setpriv
exec, they do not fork), so signals reach it."""
import atexit
import contextlib
import ctypes
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RELAY = os.path.join(HERE, "lan_relay.py")
PYTHON = "/usr/bin/python3"

SYNC_GROUPS = ("239.255.67.32", "239.255.67.33")  # discovery, leader (clock beacons, delay requests)
SYNC_PORTS = (16732, 16733)
PTP_GROUPS = ("224.0.1.129",)  # PTP's primary multicast group (E2E: Sync, Follow_Up, Delay_Req/Resp, Announce)
PTP_PORTS = (319, 320)  # event, general

PLAYER_IF = "lan0"
BRIDGE = "br0"
CLONE_NEWNET = 0x40000000
_AF_INET, _SOCK_DGRAM = socket.AF_INET, socket.SOCK_DGRAM  # Lan.socket hides the module

_live = set()
_probe = None


@dataclasses.dataclass(frozen=True)
class Impairment:
    """What the relay does to every copy of a multicast datagram: dropped
    with probability loss, else delayed by delay_ms plus a uniform draw in
    [-jitter_ms, +jitter_ms] (never below 0), independently per copy.
    Every (group, port) pair of groups × ports is relayed; for PTP too:
    with_ptp(). seed: a fixed random sequence."""
    loss: float = 0.2
    delay_ms: float = 5.0
    jitter_ms: float = 3.0
    ports: tuple = SYNC_PORTS
    groups: tuple = SYNC_GROUPS
    seed: int = None

    def with_ptp(self):
        """The same impairment, applied to PTP's multicast as well."""
        return dataclasses.replace(self, groups=tuple(dict.fromkeys(self.groups + PTP_GROUPS)),
                                   ports=tuple(dict.fromkeys(self.ports + PTP_PORTS)))

    def carries_ptp(self):
        return set(PTP_GROUPS) <= set(self.groups) and set(PTP_PORTS) <= set(self.ports)


def _ip(*args, check=True):
    out = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise RuntimeError("ip %s failed: %s" % (" ".join(args), out.stderr.strip()))
    return out


def _netns_list():
    out = _ip("netns", "list", check=False)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def netns_usable():
    """None when this process can make network namespaces, else why not."""
    global _probe
    if _probe is None:
        if os.geteuid() != 0:
            _probe = "they need root (this test process is uid %d)" % os.geteuid()
        elif not shutil.which("ip"):
            _probe = "the ip command (iproute2) is missing"
        else:
            name = "vt%dprobe" % os.getpid()
            out = _ip("netns", "add", name, check=False)
            if out.returncode != 0:
                _probe = "'ip netns add' failed: " + out.stderr.strip()
            else:
                _ip("netns", "del", name, check=False)
                _probe = ""
    return _probe or None


def skip_unless_netns():
    """pytest-skips the calling test when network namespaces cannot be made here."""
    why = netns_usable()
    if why:
        import pytest
        pytest.skip("this test runs players in network namespaces, which cannot be made here: " + why)


@contextlib.contextmanager
def in_netns(name):
    """Runs the block with the calling thread in network namespace `name`
    (sockets made inside stay in it for good), then moves it back."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join("/run/netns", name), os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into " + name)
        finally:
            os.close(target)
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                # a test process stuck in a namespace must not go on
                os.write(2, b"lan.py: cannot return to the test's own network namespace\n")
                os._exit(70)
    finally:
        os.close(own)


class Lan:
    """See the module's docstring. n: number of players (1..200)."""

    def __init__(self, n, impaired=None, stats_interval=0.5):
        if not 1 <= n <= 200:
            raise ValueError("n must be within 1..200")
        self.n = n
        self.impaired = impaired
        tag = "".join(random.choice(string.ascii_lowercase) for _ in range(4))
        self.prefix = "vt%d%s" % (os.getpid(), tag)
        self.hub = self.prefix + "h"
        self._players = [self.prefix + "p%d" % k for k in range(1, n + 1)]
        self.tmp = tempfile.mkdtemp(prefix="vitrine-lan-")
        self.stats_path = os.path.join(self.tmp, "relay-stats.json")
        self.relay = None
        self._procs = []
        self._made = []
        self._closed = False
        _live.add(self)
        _install_cleanup()
        try:
            self._build(stats_interval)
        except BaseException:
            self.close()
            raise

    # --- topology -----------------------------------------------------

    def ns(self, k):
        """The name of player k's namespace (k = 1..n)."""
        self._check(k)
        return self._players[k - 1]

    def addr(self, k):
        """Player k's IPv4 address (on lan0)."""
        self._check(k)
        return "10.78.%d.2" % k if self.impaired else "10.77.0.%d" % (10 + k)

    def hub_addr(self, k):
        """The hub's address as player k reaches it (its gateway)."""
        self._check(k)
        return "10.78.%d.1" % k if self.impaired else "10.77.0.1"

    def iface(self, k):
        """Player k's interface in its namespace: always lan0."""
        self._check(k)
        return PLAYER_IF

    def hub_iface(self, k):
        """The hub's end of player k's veth: leg<k> (a port of br0 when bridged)."""
        self._check(k)
        return "leg%d" % k

    def _check(self, k):
        if not isinstance(k, int) or not 1 <= k <= self.n:
            raise ValueError("player %r: this LAN has players 1..%d" % (k, self.n))

    def _build(self, stats_interval):
        for name in [self.hub] + self._players:
            _ip("netns", "add", name)
            self._made.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        hub = ["-n", self.hub]
        if not self.impaired:
            _ip(*hub, "link", "add", "name", BRIDGE, "type", "bridge", "mcast_snooping", "0", "stp_state", "0")
            _ip(*hub, "addr", "add", "10.77.0.1/24", "dev", BRIDGE)
            _ip(*hub, "link", "set", BRIDGE, "up")
        else:
            self._sysctl(self.hub, "net.ipv4.ip_forward=1")
        for k in range(1, self.n + 1):
            ns, leg = self.ns(k), self.hub_iface(k)
            _ip(*hub, "link", "add", "name", leg, "type", "veth", "peer", "name", PLAYER_IF, "netns", ns)
            if self.impaired:
                _ip(*hub, "addr", "add", "10.78.%d.1/24" % k, "dev", leg)
            else:
                _ip(*hub, "link", "set", leg, "master", BRIDGE)
            _ip(*hub, "link", "set", leg, "up")
            _ip("-n", ns, "addr", "add", self.addr(k) + "/24", "dev", PLAYER_IF)
            _ip("-n", ns, "link", "set", PLAYER_IF, "up")
            _ip("-n", ns, "route", "add", "default", "via", self.hub_addr(k), "dev", PLAYER_IF)
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", PLAYER_IF)
        if self.impaired:
            self._start_relay(stats_interval)

    @staticmethod
    def _sysctl(ns, setting):
        out = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", setting],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError("sysctl %s in %s failed: %s" % (setting, ns, out.stderr.strip()))

    def _start_relay(self, stats_interval):
        imp = self.impaired
        cfg = {
            "legs": [{"leg": k, "ifname": self.hub_iface(k), "addr": self.hub_addr(k)} for k in range(1, self.n + 1)],
            "groups": list(imp.groups), "ports": list(imp.ports),
            "loss": imp.loss, "delay_ms": imp.delay_ms, "jitter_ms": imp.jitter_ms, "seed": imp.seed,
            "stats": self.stats_path, "stats_interval": stats_interval,
        }
        path = os.path.join(self.tmp, "relay.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.relay_log = open(os.path.join(self.tmp, "relay.log"), "ab")
        self.relay = self.run_hub([PYTHON, RELAY, path], stdout=self.relay_log, stderr=self.relay_log)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.stats_path):
            if self.relay.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the LAN's relay did not start: " + self.read_relay_log())
            time.sleep(0.01)

    def read_relay_log(self):
        try:
            with open(os.path.join(self.tmp, "relay.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # --- processes and sockets ---------------------------------------------

    def run(self, k, argv, **popen_kwargs):
        """subprocess.Popen of argv inside player k's namespace."""
        return self._popen(self.ns(k), argv, popen_kwargs)

    def run_hub(self, argv, **popen_kwargs):
        """subprocess.Popen of argv inside the hub's namespace."""
        return self._popen(self.hub, argv, popen_kwargs)

    def _popen(self, ns, argv, kw):
        if self._closed:
            raise RuntimeError("this LAN is closed")
        cmd = ["ip", "netns", "exec", ns, "setpriv", "--pdeathsig", "KILL", "--"] + list(argv)
        proc = subprocess.Popen(cmd, **kw)
        self._procs.append(proc)
        return proc

    def socket(self, k, family=_AF_INET, type=_SOCK_DGRAM, proto=0):
        """A socket of this process, made inside player k's namespace."""
        with in_netns(self.ns(k)):
            return socket.socket(family, type, proto)

    def hub_socket(self, family=_AF_INET, type=_SOCK_DGRAM, proto=0):
        """A socket of this process, made inside the hub's namespace."""
        with in_netns(self.hub):
            return socket.socket(family, type, proto)

    # --- the relay's counters ------------------------------------------

    def relay_stats(self, fresh=True, timeout=5):
        """The relay's counters (see lan_relay.py): totals received,
        forwarded, dropped, send_errors, pending; legs {"1": {"ifname",
        "addr", "received", "forwarded", "dropped", "send_errors"}, ...};
        flows {"group:port": {...}}; late_ms {"max", "mean", "over_1ms"}.
        fresh: asks the relay to write them now (SIGUSR1) and waits for it.
        After the LAN is closed: its last numbers."""
        if not self.impaired:
            raise RuntimeError("a bridged LAN has no relay")
        if fresh and self.relay and self.relay.poll() is None:
            before = self._read_stats()["generation"]
            self.relay.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                stats = self._read_stats()
                if stats["generation"] > before:
                    return stats
                time.sleep(0.005)
            raise RuntimeError("the relay did not write its stats: " + self.read_relay_log())
        return self._read_stats()

    def _read_stats(self):
        with open(self.stats_path) as f:
            return json.load(f)

    # --- cleanup ---------------------------------------------------------

    def close(self):
        """Stops every process started through the LAN (SIGTERM, then
        SIGKILL after 5 s), kills whatever else runs in its namespaces and
        deletes them. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        for p in self._procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in self._procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.relay is not None:
            self.relay_log.close()
            self._keep_last_stats()
        for name in reversed(self._made):
            pids = _ip("netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", name, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _keep_last_stats(self):
        """The relay's last counters stay readable after the folder goes."""
        try:
            last = self._read_stats()
        except (OSError, ValueError):
            return
        self._read_stats = lambda: last

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        shape = "impaired %r" % (self.impaired,) if self.impaired else "bridged"
        return "<Lan %s: %d players, %s>" % (self.prefix, self.n, shape)


def _close_all():
    for lan in list(_live):
        lan.close()


_installed = False


def _install_cleanup():
    """At interpreter exit, and on SIGTERM (as tests/support/pg.py does: a
    CI timeout still removes the namespaces), every open Lan is closed."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_close_all)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
