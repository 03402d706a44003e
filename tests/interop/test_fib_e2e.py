"""BGP to FIB end to end, against the real kernel in namespaces.

* A peer with hold time 3 s stays Established while another peer's 200,000 routes leave the
  kernel (``bgpcore run`` with ``[fib]``; the FIB streams the withdraw in bounded slices).
* ECMP members keep their order (interface name, then address) across a member's flap, so
  ``ip route get`` sends every flow where it went before.
* Random announce / withdraw / peer-flap sequences through ``FibFeed`` leave the kernel holding
  exactly the best routes of a model RIB.
* A backlog of ``FULL_BACKLOG`` prefixes makes the feed say it is full (the router then holds
  reading from peers) until the kernel has taken all but ``EASED_BACKLOG``.
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netns import Lab

from bgpcore.fib.install import Fib, NextHop
from bgpcore.fib.kernel import netns
from bgpcore.route import BestChange, Path as RibPath, Source
from bgpcore.router.fib_feed import FibFeed
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_fib_e2e as e2e  # noqa: E402

ROUTES = 200_000


def _table(path: Path, count: int) -> Path:
    """``count`` /24s from 16.0.0.0 in UPDATEs of 500 prefixes, from AS 64501 via 192.0.2.2."""
    attrs = PathAttributes(origin=0, as_path=((2, (e2e.FEED_AS,)),))
    keys = [bytes((24,)) + (0x100000 + i).to_bytes(3, "big") for i in range(count)]
    messages: list[bytes] = []
    for i in range(0, count, 500):
        messages += encode_updates(attrs, IPV4_UNICAST, (e2e.FEED_IP,), keys[i:i + 500], DEFAULT_CONTEXT)
    path.write_bytes(b"".join(messages))
    return path


def test_hold_time_3s_peer_stays_established_while_200k_routes_leave_the_kernel(lab: Lab, tmp_path: Path) -> None:
    dut, feed_ns = lab.ns("d"), lab.ns("f")
    lab.link(dut, "vD", feed_ns, "vF")
    lab.addr(dut, "vD", f"{e2e.DUT_IP}/24")
    lab.addr(feed_ns, "vF", f"{e2e.FEED_IP}/24")
    lab.addr(feed_ns, "vF", f"{e2e.IDLE_IP}/24")
    table = _table(tmp_path / "table.bgp", ROUTES)
    procs = e2e.start_bgpcore(dut, tmp_path)  # stopped by PID below
    idle = e2e.IdlePeer(feed_ns)
    try:
        idle.open()
        sock, _t0, _t1 = e2e.feed(feed_ns, table)
        deadline = time.monotonic() + 120
        while e2e.kernel_count(dut, 186) != ROUTES:
            assert time.monotonic() < deadline, "the table never reached the kernel"
            time.sleep(0.5)
        t_close = time.monotonic()
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        deadline = time.monotonic() + 120
        while e2e.kernel_count(dut, 186) != 0:
            assert time.monotonic() < deadline, "the routes never left the kernel"
            time.sleep(0.2)
        t_empty = time.monotonic()
        time.sleep(1.5)
        assert idle.down is None, idle.down
        gap = idle.longest_gap(t_close, t_empty)
        assert gap is not None and gap < 2.0, (gap, t_empty - t_close)
        assert idle.times[-1] > t_empty  # still keeping the session alive afterwards
    finally:
        idle.close()
        for proc in procs:
            proc.terminate()
            proc.wait(15)
    # the node read at the kernel's pace: its FIB backlog stayed within one full mark plus what
    # one 64 KiB read (at most 16,384 prefixes) or one removal slice adds before reading stops
    from bgpcore.router.fib_feed import FULL_BACKLOG
    report = re.search(r"largest backlog (\d+) prefixes, full (\d+) times", (tmp_path / "bgpcore.log").read_text())
    assert report is not None, "the node did not report its FIB feed at stop"
    assert int(report[1]) <= FULL_BACKLOG + 16384, report[0]


def _flows(lab: Lab, ns: str) -> list[str]:
    out = []
    for sport in range(1000, 1064):
        res = lab.exec(ns, "ip", "-j", "route", "get", "203.0.113.7", "from", "192.0.2.1", "ipproto", "udp",
                       "sport", str(sport), "dport", "53")
        out.append(json.loads(res.stdout)[0]["dev"])
    return out


def _group_members(lab: Lab, ns: str) -> list[tuple[str, str]]:
    objs = {n["id"]: n for n in json.loads(lab.exec(ns, "ip", "-j", "nexthop", "show").stdout)}
    route = json.loads(lab.exec(ns, "ip", "-j", "route", "show", "203.0.113.0/24").stdout)[0]
    group = objs[route["nhid"]]["group"]
    return [(objs[m["id"]]["dev"], objs[m["id"]]["gateway"]) for m in group]


def test_ecmp_member_order_and_flows_survive_a_member_flap(lab: Lab) -> None:
    a = lab.ns("a")
    hops = []
    for i, name in enumerate(("vC", "vA", "vB")):  # created out of name order on purpose
        peer = lab.ns(f"p{i}")
        lab.link(a, name, peer, "vX")
        lab.addr(a, name, f"198.51.100.{1 + 4 * i}/30")
        hops.append(NextHop(f"198.51.100.{2 + 4 * i}", ifname=name))
    lab.addr(a, "lo", "192.0.2.1/32")
    lab.exec(a, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")
    fib = Fib(namespace=a, nexthop_objects=True)
    fib.start()
    try:
        key = bytes((24, 203, 0, 113))
        fib.apply_keys(1, [(key, tuple(hops))])
        before, flows = _group_members(lab, a), _flows(lab, a)
        assert [dev for dev, _gw in before] == ["vA", "vB", "vC"]
        assert len(set(flows)) == 3
        fib.apply_keys(1, [(key, (hops[1], hops[2]))])  # vC's peer goes away ...
        assert [dev for dev, _gw in _group_members(lab, a)] == ["vA", "vB"]
        fib.apply_keys(1, [(key, (hops[0], hops[2], hops[1]))])  # ... and comes back, paths in another order
        assert _group_members(lab, a) == before
        assert _flows(lab, a) == flows
    finally:
        fib.stop()


# --- random sequences against a model RIB -------------------------------------------------------

PREFIXES = [bytes((24, 203, 0, 113)), bytes((25, 198, 51, 100, 0)), bytes((25, 198, 51, 100, 128)),
            bytes((32, 192, 0, 2, 77)), bytes((28, 192, 0, 2, 64)), bytes((16, 100, 64))]
PEERS = {1: ("192.0.2.2", "vA"), 2: ("192.0.2.6", "vB")}

actions = st.lists(st.one_of(
    st.tuples(st.just("announce"), st.sampled_from(list(PEERS)), st.sampled_from(range(len(PREFIXES)))),
    st.tuples(st.just("withdraw"), st.sampled_from(list(PEERS)), st.sampled_from(range(len(PREFIXES)))),
    st.tuples(st.just("flap"), st.sampled_from(list(PEERS)), st.just(0)),
), min_size=1, max_size=25)


@pytest.fixture(scope="module")
def small_lab() -> Iterator[tuple[Lab, str, Fib]]:
    from netns import Lab as LabClass, require_netns
    require_netns()
    lab = LabClass()
    try:
        a = lab.ns("a")
        for i, name in enumerate(("vA", "vB")):
            peer = lab.ns(f"q{i}")
            lab.link(a, name, peer, "vX")
            lab.addr(a, name, f"192.0.2.{1 + 4 * i}/30")
        fib = Fib(namespace=a)
        fib.start()
        yield lab, a, fib
        fib.stop()
    finally:
        lab.close()


def _kernel(lab: Lab, ns: str) -> dict[str, str]:
    routes = json.loads(lab.exec(ns, "ip", "-j", "-4", "route", "show", "proto", "bgp").stdout)
    out = {}
    for r in routes:
        dst = r["dst"] if "/" in r["dst"] else r["dst"] + "/32"
        out[dst] = r.get("gateway") or r["nexthops"][0]["gateway"]
    return out


def _prefix_text(key: bytes) -> str:
    addr = key[1:].ljust(4, b"\0")
    return f"{'.'.join(str(b) for b in addr)}/{key[0]}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions)
def test_random_announce_withdraw_flap_leaves_the_kernel_equal_to_the_ribs_best(small_lab: Any,
                                                                                   steps: list[tuple[str, int, int]]) -> None:
    lab, ns, fib = small_lab
    sources = {p: Source(p, addr, addr, 64500 + p, True) for p, (addr, _ifname) in PEERS.items()}
    paths = {p: RibPath(PathAttributes(origin=0), (addr,), sources[p]) for p, (addr, _ifname) in PEERS.items()}
    rib: dict[bytes, set[int]] = {}  # prefix -> peers announcing it; best = lowest peer id

    def best_change(keys: list[bytes]) -> list[BestChange]:
        out = []
        for key in keys:
            peers = rib.get(key)
            best = paths[min(peers)] if peers else None
            out.append(BestChange(IPV4_UNICAST, [key], best, (best,) if best else ()))
        return out

    async def run() -> None:
        feed = FibFeed(fib, lambda peer: None, slice_routes=2)
        feed.changes(best_change(PREFIXES))  # start from a clean table
        for verb, peer, index in steps:
            key = PREFIXES[index]
            if verb == "announce":
                rib.setdefault(key, set()).add(peer)
                feed.changes(best_change([key]))
            elif verb == "withdraw":
                rib.get(key, set()).discard(peer)
                feed.changes(best_change([key]))
            else:
                held = [k for k, ps in rib.items() if peer in ps]
                for k in held:
                    rib[k].discard(peer)
                feed.changes(best_change(held))  # peer down ...
                await asyncio.sleep(0)
                for k in held:
                    rib[k].add(peer)
                feed.changes(best_change(held))  # ... and back with the same routes
            if index % 2:
                await asyncio.sleep(0)  # sometimes let a slice run in between
        while feed.backlog:
            await asyncio.sleep(0)
        feed.close()

    asyncio.run(run())
    expected = {_prefix_text(k): PEERS[min(ps)][0] for k, ps in rib.items() if ps}
    assert _kernel(lab, ns) == expected


def test_a_full_backlog_says_so_and_eases_as_the_kernel_takes_it(small_lab: Any) -> None:
    """The feed reports full at FULL_BACKLOG prefixes (the router then holds reading from peers)
    and eased once the kernel has taken all but EASED_BACKLOG, and the kernel ends up with all."""
    from bgpcore.router import fib_feed

    lab, ns, fib = small_lab
    count = fib_feed.FULL_BACKLOG + 4096
    keys = [bytes((32,)) + (0x0A000000 + i).to_bytes(4, "big") for i in range(count)]  # 10.0.0.0/32 up
    source = Source(0, "192.0.2.2", "192.0.2.2", 64501, True)
    path = RibPath(PathAttributes(origin=0), ("192.0.2.2",), source)
    seen: list[tuple[bool, int]] = []
    before = e2e.kernel_count(ns, 186)  # what earlier tests on this FIB left

    async def run() -> None:
        feed = FibFeed(fib, lambda peer: None, on_full=lambda full: seen.append((full, feed.backlog)))
        feed.changes([BestChange(IPV4_UNICAST, keys[:fib_feed.FULL_BACKLOG - 1], path, (path,))])
        assert seen == []  # one short of full
        feed.changes([BestChange(IPV4_UNICAST, keys[fib_feed.FULL_BACKLOG - 1:], path, (path,))])
        assert seen == [(True, count)]
        while feed.backlog:
            await asyncio.sleep(0)
        assert [full for full, _ in seen] == [True, False]
        assert seen[1][1] <= fib_feed.EASED_BACKLOG
        assert feed.fulls == 1 and not feed.full
        assert e2e.kernel_count(ns, 186) == before + count
        feed.changes([BestChange(IPV4_UNICAST, keys, None, ())])  # and all of them away again
        while feed.backlog:
            await asyncio.sleep(0)
        feed.close()
        assert [full for full, _ in seen] == [True, False, True, False]

    try:
        asyncio.run(run())
        assert e2e.kernel_count(ns, 186) == before
    finally:
        fib.apply_keys(1, [(k, ()) for k in keys])
