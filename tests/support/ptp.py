"""linuxptp's ptp4l as the reference of the sync benchmark: run_ptp4l(lan,
duration) runs one PTP master in player namespace 1 and slaves in 2..n of
a tests/support/lan.py LAN, over UDP/IPv4 (-4) on each namespace's lan0
with software timestamping (-S), for `duration` seconds, and returns what
each slave measured: its offsets from the master and its path delays (ns).

Measuring only. All namespaces share one kernel clock, so no ptp4l may
adjust it: every instance runs with `free_running 1`, with which ptp4l
opens no clock at all (clock id CLOCK_INVALID: no clock_adjtime, no step,
no leap flag, not even on the master) and only estimates. In that mode a
slave still prints "master offset N s0 freq F path delay D" lines: N the
offset (ns) from the master computed from Sync/Follow_Up and the filtered
path delay D (ns); s0 always (the servo is never used, so the port stays
UNCALIBRATED and the state never leaves s0); F not an adjustment but the
estimated frequency ratio to the master in ppb (noise here: one clock).
It prints one such line per freq_est_interval (2^0 s at least: the option
takes no negative value), whatever the Sync rate, and none at all when
summary statistics are on (summary_interval must equal logSyncInterval),
so: Sync, Delay_Req, line once a second. The first line comes before any
Delay_Resp and says "path delay 0": it is left out. The master announces
without the PTP timescale (free running with software timestamps uses
UTC), so slaves warn "foreign master not using PTP timescale" and do not
add the 37 s of TAI.

All of ptp4l's messages here are multicast to 224.0.1.129 (event messages
to port 319, general ones to 320); with the E2E delay mechanism and
hybrid_e2e off (ptp4l's defaults, kept here) it sends no unicast at all,
so nothing of it needs unicast routing. On an impaired LAN the relay must
carry PTP too: build it with Impairment(...).with_ptp() (the same loss and
delay then apply to Sync, Follow_Up, Delay_Req, Delay_Resp and Announce);
run_ptp4l refuses an impaired LAN whose relay does not. Each instance gets
its own UNIX management socket in a temporary folder (the default
/var/run/ptp4l is one path for all namespaces)."""
import dataclasses
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time


PTP4L = "/usr/sbin/ptp4l"
LINE = re.compile(r"master offset\s+(-?\d+)\s+s(\d+)\s+freq\s+([+-]?\d+)\s+path delay\s+(-?\d+)")


def ptp4l_path():
    """ptp4l's path, or None when linuxptp is not installed."""
    if os.access(PTP4L, os.X_OK):
        return PTP4L
    return shutil.which("ptp4l")


@dataclasses.dataclass
class SlaveRun:
    """What one slave's ptp4l printed: offsets_ns[i], path_delays_ns[i] and
    freqs_ppb[i] come from its i-th "master offset" line (the one with path
    delay 0 left out); log is its whole output."""
    k: int
    offsets_ns: list
    path_delays_ns: list
    freqs_ppb: list
    log: str

    def p50_abs_offset_ns(self):
        return statistics.median(abs(o) for o in self.offsets_ns)


def config(uds, master, log_sync_interval=0, extra=None):
    """The [global] section of one instance (extra: more options; none may
    turn free_running off)."""
    opts = {
        "free_running": 1,  # measure only: never adjust the machine's one clock
        "uds_address": uds,
        "logSyncInterval": log_sync_interval,
        "logMinDelayReqInterval": log_sync_interval,
        "summary_interval": log_sync_interval,  # else summaries replace the offset lines
        "freq_est_interval": 0,  # one offset line a second, the most free_running prints
        "logAnnounceInterval": -2,  # Announce 4 times a second
        # the master waits 2 intervals before it takes the role; a slave
        # gives its master up after 8 missed Announces (2 s), which a 20 %
        # loss does not make (0.2^8)
        "announceReceiptTimeout": 2 if master else 8,
        "tx_timestamp_timeout": 50,  # ms: software TX timestamps of a busy machine
        "network_transport": "UDPv4",
        "time_stamping": "software",
        "delay_mechanism": "E2E",
        "hybrid_e2e": 0,
    }
    if master:
        opts["priority1"] = 10
    else:
        opts["slaveOnly"] = 1
    opts.update(extra or {})
    if str(opts["free_running"]) != "1":
        raise ValueError("ptp4l must run free (free_running 1): all namespaces share the machine's clock")
    return "[global]\n" + "".join("%s %s\n" % kv for kv in opts.items())


def run_ptp4l(lan, duration=15.0, master=1, slaves=None, log_sync_interval=0, extra=None, log_dir=None):
    """Runs ptp4l for `duration` seconds (start-up included: the first
    offsets come about 3 s in) with the master in player `master` and
    slaves in `slaves` (default: every other player); returns {k:
    SlaveRun}. log_dir: keeps each instance's config and output there."""
    binary = ptp4l_path()
    if not binary:
        raise RuntimeError("ptp4l is missing (Debian package linuxptp)")
    if lan.impaired and not lan.impaired.carries_ptp():
        raise ValueError("this impaired LAN's relay does not carry PTP: make it with Impairment(...).with_ptp()")
    slaves = [k for k in range(1, lan.n + 1) if k != master] if slaves is None else list(slaves)
    folder = log_dir or tempfile.mkdtemp(prefix="vitrine-ptp-")
    os.makedirs(folder, exist_ok=True)
    procs, logs = {}, {}
    try:
        for k in [master] + slaves:
            conf = os.path.join(folder, "p%d.conf" % k)
            with open(conf, "w") as f:
                f.write(config(os.path.join(folder, "p%d.uds" % k), k == master, log_sync_interval, extra))
            logs[k] = os.path.join(folder, "p%d.log" % k)
            argv = [binary, "-f", conf, "-i", lan.iface(k), "-S", "-4", "-m", "-q"] + ([] if k == master else ["-s"])
            with open(logs[k], "wb") as out:
                procs[k] = lan.run(k, argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            for k, p in procs.items():
                if p.poll() is not None:
                    raise RuntimeError("ptp4l in p%d exited (%s): %s" % (k, p.returncode, _read(logs[k])))
            time.sleep(0.1)
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return {k: parse(k, _read(logs[k])) for k in slaves}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        if not log_dir:
            shutil.rmtree(folder, ignore_errors=True)


def parse(k, log):
    """A SlaveRun from one slave's output."""
    offsets, delays, freqs = [], [], []
    for m in LINE.finditer(log):
        offset, _state, freq, delay = (int(g) for g in m.groups())
        if delay == 0:
            continue  # printed before any Delay_Resp: no path delay yet
        offsets.append(offset)
        delays.append(delay)
        freqs.append(freq)
    return SlaveRun(k, offsets, delays, freqs, log)


def _read(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")
