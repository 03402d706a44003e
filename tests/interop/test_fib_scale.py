"""A large table goes into the kernel in one pass and comes out again without losing a route.

The full 1,000,000-route install is in benchmarks/bench_fib.py (about a minute with `ip -batch`
alongside); the suite uses 200,000 routes (plain) and 100,000 (ECMP via a nexthop group) to
stay fast.
"""
from __future__ import annotations

import ipaddress

import pytest
from fib_oracle import count_routes, kernel_nexthops
from netns import Lab

from bgpcore.fib.install import Fib, FibRoute, NextHop

BASE = int(ipaddress.IPv4Address("16.0.0.0"))


@pytest.mark.parametrize(("count", "width"), [(200_000, 1), (100_000, 2)], ids=["200k-single", "100k-ecmp2"])
def test_large_table_installs_and_deletes_completely(lab: Lab, count: int, width: int) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", "192.0.2.1/24")
    hops = tuple(NextHop(f"192.0.2.{2 + i}", ifname="vA") for i in range(width))
    routes = [FibRoute(ipaddress.IPv4Network((BASE + (i << 8), 24)), hops) for i in range(count)]
    fib = Fib(namespace=a, nexthop_objects=width > 1)
    fib.start()
    result = fib.apply(routes)
    assert (result.installed, result.failed, result.pending) == (count, {}, [])
    assert count_routes(lab, a) == count
    again = fib.apply(routes[:1000])  # already there: nothing is sent
    assert (again.installed, again.unchanged) == (0, 1000)
    if width > 1:
        assert len([n for n in kernel_nexthops(lab, a).values() if n.get("protocol") == "bgp"]) == width + 1
    fib.stop()
    assert count_routes(lab, a) == 0
    assert not [n for n in kernel_nexthops(lab, a).values() if n.get("protocol") == "bgp"]


async def test_apply_async_lets_the_event_loop_run_during_a_large_install(lab: Lab) -> None:
    import asyncio

    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", "192.0.2.1/24")
    hops = (NextHop("192.0.2.2", ifname="vA"),)
    routes = [FibRoute(ipaddress.IPv4Network((BASE + (i << 8), 24)), hops) for i in range(40_000)]
    fib = Fib(namespace=a)
    fib.start()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    result = await fib.apply_async(routes, chunk=4000)
    task.cancel()
    assert result.installed == 40_000 and count_routes(lab, a) == 40_000
    assert ticks >= 10  # the loop ran between the ten chunks
    fib.stop()
