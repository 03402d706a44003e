"""Routes through a link that goes down are not lost: they wait and return when it comes up."""
from __future__ import annotations

import asyncio
import ipaddress

import pytest
from fib_oracle import hops_of
from netns import Lab

from bgpcore.fib.install import Fib, FibRoute, NextHop

net = ipaddress.ip_network


async def _until(predicate, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("nexthop_objects", [False, True], ids=["plain", "nhobj"])
async def test_link_down_and_up_loses_no_route(lab: Lab, nexthop_objects: bool) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.link(a, "vC", b, "vD")
    lab.addr(a, "vA", "192.0.2.1/24")
    lab.addr(a, "vC", "198.51.100.1/24")
    lab.addr(a, "vA", "2001:db8::1/64")
    via_a, via_c = NextHop("192.0.2.2", ifname="vA"), NextHop("198.51.100.2", ifname="vC")
    wanted = {
        "203.0.113.0/26": (via_a,),
        "203.0.113.64/26": (via_c,),
        "203.0.113.128/26": (via_a, via_c),
        "2001:db8:300::/48": (NextHop("2001:db8::2", ifname="vA"),),
    }
    fib = Fib(namespace=a, nexthop_objects=nexthop_objects)
    fib.start([FibRoute(net(p), hops) for p, hops in wanted.items()])
    fib.attach()

    def expected(routes: dict[str, tuple[NextHop, ...]]) -> dict[str, set[tuple[str, str, int]]]:
        return {p: {(h.gateway or "", h.ifname or "", 1) for h in hops} for p, hops in routes.items()}

    assert hops_of(lab, a) == expected(wanted)
    await asyncio.to_thread(lab.exec, a, "ip", "link", "set", "vA", "down")
    await _until(lambda: len(fib.pending) == 2, "routes through vA to wait")
    assert set(hops_of(lab, a)) == {"203.0.113.64/26", "203.0.113.128/26"}

    # a route through the down link is kept pending, not refused
    late = FibRoute(net("203.0.113.192/26"), (via_a,))
    result = fib.apply([late])
    assert result.pending == [late.prefix] and not result.failed
    # the kernel's words: the device is down, or (plain routes) the gateway's subnet went with it
    expected_reason = "ENETDOWN" if nexthop_objects else "ENETUNREACH"
    assert expected_reason in fib.pending[late.prefix], fib.pending
    if nexthop_objects:
        assert "Nexthop device is not up" in fib.pending[late.prefix]
    wanted["203.0.113.192/26"] = late.nexthops

    await asyncio.to_thread(lab.exec, a, "ip", "link", "set", "vA", "up")
    await _until(lambda: not fib.pending and hops_of(lab, a) == expected(wanted), "every route back")
    fib.stop()
    assert hops_of(lab, a) == {}


@pytest.mark.parametrize("nexthop_objects", [False, True], ids=["plain", "nhobj"])
async def test_routes_by_interface_name_return_when_the_interface_is_recreated(lab: Lab, nexthop_objects: bool) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", "192.0.2.1/24")
    hop = (NextHop("192.0.2.2", ifname="vA"),)
    fib = Fib(namespace=a, nexthop_objects=nexthop_objects)
    fib.start([FibRoute(net("203.0.113.0/24"), hop), FibRoute(net("198.51.100.0/24"), hop)])
    fib.attach()
    await asyncio.to_thread(lab.exec, a, "ip", "link", "del", "vA")
    await _until(lambda: len(fib.pending) == 2, "routes to wait for vA")
    assert hops_of(lab, a) == {}
    await asyncio.to_thread(lab.link, a, "vA", b, "vB")  # a new interface index, same name
    await asyncio.to_thread(lab.addr, a, "vA", "192.0.2.1/24")
    expected = {"203.0.113.0/24": {("192.0.2.2", "vA", 1)}, "198.51.100.0/24": {("192.0.2.2", "vA", 1)}}
    await _until(lambda: not fib.pending and hops_of(lab, a) == expected, "routes back on the new vA")
    fib.stop()
    assert hops_of(lab, a) == {}


async def test_one_link_monitor_serves_the_fib_and_another_consumer(lab: Lab) -> None:
    """A router's FIB and its unnumbered discovery share one monitor: both see every event."""
    from bgpcore.fib.kernel import LinkEvent, LinkMonitor
    from bgpcore.fib.netlink import LinkMessage
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", "192.0.2.1/24")
    monitor = LinkMonitor(neighbours=True, addresses=True, namespace=a)
    fib = Fib(namespace=a)
    fib.start([FibRoute(net("203.0.113.0/26"), (NextHop("192.0.2.2", ifname="vA"),))], links=monitor)
    fib.attach()
    seen: list[LinkEvent] = []
    monitor.subscribe(lambda events, overrun: seen.extend(events))
    try:
        await asyncio.to_thread(lab.exec, a, "ip", "link", "set", "vA", "down")
        await _until(lambda: len(fib.pending) == 1, "the route through vA to wait")
        assert any(isinstance(e, LinkMessage) and e.name == "vA" and not e.up for e in seen)
        await asyncio.to_thread(lab.exec, a, "ip", "link", "set", "vA", "up")
        await _until(lambda: not fib.pending, "the route to come back")
        assert set(hops_of(lab, a)) == {"203.0.113.0/26"}
    finally:
        fib.stop()
        monitor.close()
