"""Sync groups on a LAN (issue 14): three real players in network
namespaces joined by veths (a bridge, or a relay that drops 20 % of the
multicast and delays it 5 +- 3 ms), each with headless Chromium on its
kiosk page, in one sync group made through the API. The transitions the
pages report are compared instant by instant: on the group clock, and on
the one kernel clock all namespaces share (performance.timeOrigin + the
requestAnimationFrame timestamp of the frame that showed the new item).

Also: the leader killed (a new one within 5 s, no member's timeline jumps
by more than a frame), forged datagrams (a stranger's key) change nothing,
and a member whose wall clock is 3 s off locks within 10 s and then plays
in step. `make sync-lan` runs it alone (make check too): it times frames,
which a suite running beside it would make late."""
import os
import shutil
import socket
import struct
import sys
import tempfile
import time

import pytest

from conftest import BUILD, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
import lan as lanlib  # noqa: E402
import syncfleet  # noqa: E402

PLAYER = os.path.join(BUILD, "vitrine-player")
FRAME_MS = 1000 / 60
TRANSITIONS = 50
WALL_OFFSETS = (0, -2, 1)  # seconds, players 1..3

pytestmark = [
    pytest.mark.skipif(not syncfleet.chromium_path(), reason="chromium is not installed (scripts/deps)"),
    pytest.mark.skipif(not shutil.which("gst-launch-1.0"), reason="gstreamer1.0-tools is not installed (scripts/deps)"),
]


def channel(admin, tmp):
    """Two zones of 1 s text items (every second a transition in each) and
    a zone with a 4 s video (no duration: it lasts its own length)."""
    import hashlib
    video = syncfleet.test_video(os.path.join(tmp, "ball.webm"))
    sha = hashlib.sha256(video).hexdigest()
    r = admin.put("/api/v1/media/" + sha, data=video, headers={"X-Filename": "ball.webm"})
    assert r.status_code in (200, 201), r.text
    items = [{"text": "one", "duration": 1}, {"text": "two", "duration": 1}, {"text": "three", "duration": 1}]
    body = {"name": "Wall", "width": 640, "height": 360, "zones": [
        {"name": "left", "x": 0, "y": 0, "w": 320, "h": 180, "items": items},
        {"name": "right", "x": 320, "y": 0, "w": 320, "h": 180, "items": items[:2]},
        {"name": "video", "x": 0, "y": 180, "w": 640, "h": 180, "items": [{"media": sha, "duration": 0}]}]}
    r = admin.post("/api/v1/channels", json=body)
    assert r.status_code == 201, r.text
    return r.json()["channel"]["id"]


class Fleet:
    def __init__(self, lan, server, admin, tmp, n=3):
        self.lan, self.admin = lan, admin
        self.fwd = syncfleet.HubForwarder(lan, server.port)
        self.tmp = tmp
        # every screen's wall clock is off by another amount (as without
        # NTP): agreement comes from the group's clock, not from the kernel
        # clock the namespaces share
        self.players = [syncfleet.NsPlayer(lan, k, PLAYER, self.fwd.port, tmp, wall_offset_s=WALL_OFFSETS[k - 1])
                        for k in range(1, n + 1)]
        cid = channel(admin, tmp)
        self.screens = []
        for p in self.players:
            p.start()
            sid = syncfleet.pair(admin, p, "Wall %d" % p.k)
            assert admin.put("/api/v1/screens/%s/channel" % sid, json={"channel_id": cid}).status_code == 200
            self.screens.append(sid)
        r = admin.post("/api/v1/sync-groups", json={"name": "Wall", "screens": self.screens})
        assert r.status_code == 201, r.text
        self.group = r.json()["sync_group"]["id"]
        for p in self.players:
            p.start_browser()

    def live(self):
        return [p for p in self.players if p.proc]

    def clocks(self):
        return {p.k: p.clock() for p in self.live()}

    def wait_settled(self, timeout=30):
        """Every live player in the group, one leader, the others locked."""
        def settled():
            c = self.clocks()
            if not all(v and v.get("group") == self.group for v in c.values()):
                return None
            roles = sorted(v["state"] for v in c.values())
            return c if roles == ["leader"] + ["member"] * (len(c) - 1) else None
        return wait_for(settled, timeout=timeout, interval=0.2, what="one leader and locked members")

    def wait_transitions(self, players, count, since_ms=None, timeout=120):
        def enough():
            rows = syncfleet.agreement(players, since_ms)
            return rows if len(rows) >= count else None
        return wait_for(enough, timeout=timeout, interval=1, what="%d transitions on every page" % count)

    def group_view(self):
        return self.admin.get("/api/v1/sync-groups/" + self.group).json()["sync_group"]

    def close(self):
        for p in self.players:
            p.stop()
        self.fwd.close()


@pytest.fixture
def fleet(request, server, admin):
    lanlib.skip_unless_netns()
    impaired = getattr(request, "param", None)
    tmp = tempfile.TemporaryDirectory(prefix="vitrine-sync-")
    with lanlib.Lan(3, impaired=impaired) as lan:
        f = Fleet(lan, server, admin, tmp.name)
        try:
            yield f
        finally:
            logs = {p.k: p.read_log() for p in f.players}
            f.close()
            for k, log in logs.items():
                assert "ERROR: AddressSanitizer" not in log and "runtime error:" not in log, log
    tmp.cleanup()


def assert_in_step(rows, what):
    """The frames that showed each transition are at most one apart (p99,
    both as the pages' group clocks and as the shared kernel clock say),
    and the pages' clocks agree within 5 ms (p99)."""
    group, wall, clock = ([r[i] for r in rows] for i in (1, 2, 3))
    p = syncfleet.percentile
    print("%s: %d instants; spread of the frames on the group clock p50 %.2f p99 %.2f ms, on the wall clock "
          "(rAF) p50 %.2f p99 %.2f ms; of the pages' clocks p50 %.2f p99 %.2f max %.2f ms"
          % (what, len(rows), p(group, 50), p(group, 99), p(wall, 50), p(wall, 99), p(clock, 50), p(clock, 99),
             max(clock)))
    assert p(group, 99) <= 17 and p(wall, 99) <= 17, (what, rows)
    assert p(clock, 99) <= 5, (what, rows)


def assert_video_in_step(players, settled_wall_ms, reports=13):
    """Each page's video shows the frame the group clock says (drift: the
    presented frame's time against the group clock at its display time;
    one frame is 33 ms at 30 fps). A page reports its drift once a second
    while within 0.3 s (else it seeks): waits for `reports` of them on every
    page, and says how long after the group settled each page's first came."""
    def enough():
        d = {p.k: syncfleet.video_drifts(p) for p in players}
        return d if all(len(v) >= reports for v in d.values()) else None
    by_player = wait_for(enough, timeout=60, interval=1, what="%d video drift reports on every page" % reports)
    drifts, smoothed = [], []
    for k, d in sorted(by_player.items()):
        print("video p%d: first in-step frame %.1f s after the group settled" % (k, (d[0][0] - settled_wall_ms) / 1e3))
        d = d[3:]  # the first seconds: seeks and lock-in
        drifts += [abs(x[1]) for x in d]
        smoothed += [abs(x[2]) for x in d]
    pc = syncfleet.percentile
    print("video: %d reports; |drift| of the frame p50 %.1f p90 %.1f max %.1f ms, smoothed p50 %.1f p90 %.1f ms"
          % (len(drifts), pc(drifts, 50), pc(drifts, 90), max(drifts), pc(smoothed, 50), pc(smoothed, 90)))
    assert pc(drifts, 90) <= 34 and pc(smoothed, 90) <= 17, (drifts, smoothed)


def forge(lan, k, group_id):
    """Datagrams shaped like the group's, with the group's tag but a
    stranger's key: a HELLO and a BEACON claiming member 1 leads with a
    clock 10 s ahead, and a DELAY_RESP to every member."""
    import hashlib
    tag = hashlib.blake2b(group_id.encode(), digest_size=16).digest()
    key = b"\x42" * 32
    now = time.time_ns() + 10 * 10**9
    msgs = []
    for typ, port, target in ((1, 16732, 0), (2, 16733, 0), (4, 16733, 2), (4, 16733, 3)):
        head = b"VSG1" + bytes([typ, 3, 1, 0]) + tag + struct.pack(">IIII", 1, 1, target, 0)
        body = head + struct.pack(">QQqqq", 7, int(time.time()), now, now, now)
        mac = hashlib.blake2b(body, digest_size=16, key=key).digest()
        msgs.append((body + mac, port))
    s = lan.socket(k)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    for _ in range(40):
        for data, port in msgs:
            s.sendto(data, ("239.255.67.32" if port == 16732 else "239.255.67.33", port))
        time.sleep(0.05)
    s.close()


def test_three_players_change_together_and_survive_their_leader(fleet):
    c = fleet.wait_settled()
    settled_wall_ms = time.time() * 1000
    leader = [k for k, v in c.items() if v["state"] == "leader"][0]
    assert leader == 1  # the lowest number alive
    start = c[1]["now_ms"] + 2000  # the pages' own clock samples settle too
    # a stranger on the LAN (in p2's namespace) sends the group's kind of
    # datagrams with another key while the group plays: nothing changes
    steps = {k: v["steps"] for k, v in c.items()}
    forge(fleet.lan, 2, fleet.group)
    rows = fleet.wait_transitions(fleet.players, TRANSITIONS, since_ms=start)
    assert_in_step(rows, "bridged LAN")
    assert_video_in_step(fleet.players, settled_wall_ms)
    c = fleet.clocks()
    assert {k: v["steps"] for k, v in c.items()} == steps and c[1]["state"] == "leader"
    # the members' true offsets from the leader's clock (all namespaces
    # share one steady clock, which /clock reads with the group clock)
    true_ms = {k: (v["now_ms"] - v["steady_ms"]) - (c[1]["now_ms"] - c[1]["steady_ms"]) for k, v in c.items()}
    print("true offsets from the leader: " + ", ".join("p%d %.3f ms" % kv for kv in sorted(true_ms.items())))
    assert all(abs(x) < 2 for x in true_ms.values()), true_ms
    # the console shows the members, the leader and their offsets
    view = wait_for(lambda: (lambda g: g if sum(m["leader"] for m in g["members"]) == 1
                             and all(m["offset_ms"] is not None for m in g["members"]) else None)(
        fleet.group_view()), timeout=15, what="the group's members with offsets")
    for m in view["members"]:
        assert abs(m["offset_ms"]) < 5, view

    # the leader goes: a new one within 5 s, and no jump on the others' timelines
    killed = time.time()
    fleet.players[0].stop(sig=9)
    c = wait_for(lambda: (lambda c: c if all(v and v["state"] == "leader" and v["peers"] == 1 or
                                             v and v["state"] == "member" for v in c.values())
                          and sum(v["state"] == "leader" for v in c.values()) == 1 else None)(fleet.clocks()),
                 timeout=5, interval=0.1, what="a new leader")
    print("new leader after %.2f s" % (time.time() - killed))
    assert [k for k, v in c.items() if v["state"] == "leader"] == [2]
    after = c[2]["now_ms"]
    rows = fleet.wait_transitions(fleet.live(), 8, since_ms=after)
    assert_in_step(rows, "after the leader went")
    for p in fleet.live():
        walls = sorted((t["target_ms"], t["wall_ms"]) for t in p.transitions()
                       if t["zone"] == "left" and t["target_ms"] >= start)
        # each transition follows the one before by exactly the item's
        # second on the group clock: the timeline never jumped by a frame
        for (t0, w0), (t1, w1) in zip(walls, walls[1:]):
            assert abs((w1 - w0) - (t1 - t0)) <= FRAME_MS + 1, (p.k, t0, t1, w1 - w0)

    # it comes back with its wall clock 3 s ahead: it locks within 10 s
    # (it does not pull the others: its clock is not the group's yet), then
    # leads, and the group stays in step
    back = fleet.players[0]
    back.wall_offset_s = 3
    back.start().start_browser()
    began = time.time()
    wait_for(lambda: (lambda v: v and v["state"] in ("member", "leader") and v["peers"] == 2)(back.clock()),
             timeout=10, interval=0.1, what="the member 3 s off to lock")
    print("locked %.2f s after its start" % (time.time() - began))
    c = fleet.wait_settled(timeout=10)
    rows = fleet.wait_transitions(fleet.players, 6, since_ms=max(v["now_ms"] for v in c.values()) + 3000)
    assert_in_step(rows, "with the member 3 s off back")


@pytest.mark.parametrize("fleet", [lanlib.Impairment(loss=0.2, delay_ms=5, jitter_ms=3)], indirect=True)
def test_in_step_with_loss_and_jitter(fleet):
    c = fleet.wait_settled(timeout=40)
    rows = fleet.wait_transitions(fleet.players, TRANSITIONS, since_ms=max(v["now_ms"] for v in c.values()) + 2000)
    assert_in_step(rows, "20 % loss, 5 +- 3 ms")
    stats = fleet.lan.relay_stats()
    assert stats["dropped"] > 0.15 * stats["received"] * 2, stats  # each datagram is copied to two legs
