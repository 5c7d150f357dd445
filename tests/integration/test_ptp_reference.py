"""Checks that the sync benchmark's reference works here: linuxptp's ptp4l
(tests/support/ptp.py) with software timestamps, free running, between
namespaces of tests/support/lan.py. On the bridged LAN both slaves print
offsets, small ones (one kernel clock for all, so what they measure is
timestamping noise); through the impaired LAN's relay the path delay is
the relay's 5 ms. Neither run may touch the machine's clock (ptp4l
free-running opens none; the test reads the kernel's adjtimex state
before and after)."""
import ctypes
import os
import statistics
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import lan as lanmod  # noqa: E402
import ptp  # noqa: E402
from lan import Impairment, Lan  # noqa: E402


@pytest.fixture(autouse=True)
def needs():
    lanmod.skip_unless_netns()
    if not ptp.ptp4l_path():
        pytest.skip("ptp4l is not installed (Debian package linuxptp, installed by scripts/deps): "
                    "the sync benchmark's reference cannot run")


def kernel_clock_state():
    """(offset, freq, status) of adjtimex(2) in read-only mode."""
    buf = ctypes.create_string_buffer(512)
    if ctypes.CDLL(None, use_errno=True).adjtimex(buf) < 0:
        raise OSError(ctypes.get_errno(), "adjtimex")
    offset, freq = struct.unpack_from("qq", buf, 8)
    status, = struct.unpack_from("i", buf, 40)
    return offset, freq, status


def summary(run):
    return ("p%d: %d offsets, p50 |offset| %.1f us, max |offset| %.1f us, path delay median %.1f us"
            % (run.k, len(run.offsets_ns), run.p50_abs_offset_ns() / 1e3, max(abs(o) for o in run.offsets_ns) / 1e3,
               statistics.median(run.path_delays_ns) / 1e3))


def test_ptp4l_measures_small_offsets_on_the_bridged_lan():
    before = kernel_clock_state()
    with Lan(3) as lan:
        runs = ptp.run_ptp4l(lan, duration=15)
    assert kernel_clock_state() == before, "the machine's clock was adjusted"
    assert set(runs) == {2, 3}
    for run in runs.values():
        print(summary(run))
        assert len(run.offsets_ns) >= 6, run.log
        assert run.p50_abs_offset_ns() < 1e6, run.log
        assert all(0 < d < 1e6 for d in run.path_delays_ns), run.log
        assert " s0 " in run.log and "clockadj" not in run.log


def test_ptp4l_through_the_impaired_relay_sees_its_delay():
    before = kernel_clock_state()
    with Lan(3, impaired=Impairment(loss=0.2, delay_ms=5, jitter_ms=3).with_ptp()) as lan:
        # 25 s: enough lines that a few low estimates (the jitter, a busy
        # machine's late timestamps) do not make the median
        runs = ptp.run_ptp4l(lan, duration=25)
        stats = lan.relay_stats()
    assert kernel_clock_state() == before, "the machine's clock was adjusted"
    for port in lanmod.PTP_PORTS:
        flow = stats["flows"]["%s:%d" % (lanmod.PTP_GROUPS[0], port)]
        assert flow["received"] > 0 and flow["dropped"] > 0 and flow["forwarded"] > 0, stats["flows"]
    for run in runs.values():
        print(summary(run))
        assert len(run.offsets_ns) >= 2, run.log  # a lost Sync or Follow_Up costs a line
        assert 3.0e6 <= statistics.median(run.path_delays_ns) <= 7.0e6, run.log


def test_an_impaired_lan_without_ptp_is_refused():
    with Lan(2, impaired=Impairment()) as lan:
        with pytest.raises(ValueError, match="does not carry PTP"):
            ptp.run_ptp4l(lan, duration=1)
