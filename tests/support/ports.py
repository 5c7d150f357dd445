"""Loopback ports for the tests' servers, picked so that nothing else takes
them between the pick and the server's bind.

A port the kernel hands out for bind(0) comes from the ephemeral range
(net.ipv4.ip_local_port_range), where every outgoing connection of every
process on the machine also takes its source port, and where the other
suite of `make check` (SQLite and PostgreSQL run side by side) picks its
servers' ports too: a test that picks a port and starts its server a few
seconds later may find it taken (the server then exits with "address in
use" and the test talks to somebody else's server). So ports come from
below the ephemeral range, each suite from a band of its own (the band is
chosen by VITRINE_TEST_DB), and a process never hands out the same port
twice until it has gone round its whole band."""
import itertools
import os
import random
import socket

_LOW = 20000


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _band():
    high = max(_LOW + 2000, _ephemeral_start())
    half = (high - _LOW) // 2
    if os.environ.get("VITRINE_TEST_DB") == "postgresql":
        return _LOW + half, high
    return _LOW, _LOW + half


def _cycle():
    low, high = _band()
    ports = list(range(low, high))
    start = random.randrange(len(ports))
    return itertools.cycle(ports[start:] + ports[:start])


_next = _cycle()


def _unused(port):
    """Nobody listens on or is bound to port (TCP and UDP, loopback)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port():
    """A loopback port nobody uses now and that no other test of this run
    was given recently."""
    for _ in range(5000):
        port = next(_next)
        if _unused(port):
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")
