"""Installing, replacing and removing routes in a namespace's kernel FIB, `ip -j` as the oracle."""
from __future__ import annotations

import ipaddress
import socket

import pytest
from fib_oracle import hops_of, kernel_nexthops, kernel_routes
from netns import Lab, wait_for

from bgpcore.errors import FibError
from bgpcore.fib import kernel
from bgpcore.fib.install import Fib, FibRoute, NextHop, format_fib, show_fib
from bgpcore.fib.policy import INSTALL_NONE, PrefixFilter

net = ipaddress.ip_network


def _two_namespaces(lab: Lab) -> tuple[str, str]:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "vA", "192.0.2.1/24")
    lab.addr(b, "vB", "192.0.2.2/24")
    lab.addr(a, "vA", "2001:db8::1/64")
    lab.addr(b, "vB", "2001:db8::2/64")
    return a, b


def _link_local(ns: str, ifname: str) -> str:
    ifindex = kernel.link_by_name(ifname, namespace=ns).ifindex
    return str(next(a.ip for a in kernel.addresses(ifindex, socket.AF_INET6, namespace=ns) if a.is_link_local))


@pytest.fixture(params=[False, True], ids=["plain", "nhobj"])
def nexthop_objects(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_ipv4_and_ipv6_routes_install_replace_and_delete(lab: Lab, nexthop_objects: bool) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=nexthop_objects, metric=33)
    fib.start()
    result = fib.apply([FibRoute(net("203.0.113.0/24"), (NextHop("192.0.2.2"),)),
                        FibRoute(net("2001:db8:100::/48"), (NextHop("2001:db8::2", ifname="vA"),))])
    assert (result.installed, result.failed, result.pending) == (2, {}, [])
    routes = kernel_routes(lab, a)
    assert routes["203.0.113.0/24"]["hops"] == {("192.0.2.2", "vA", 1)}
    assert routes["2001:db8:100::/48"]["hops"] == {("2001:db8::2", "vA", 1)}
    assert {info["metric"] for info in routes.values()} == {33}
    assert all((info["nhid"] is not None) == nexthop_objects for info in routes.values())

    fib.install(FibRoute(net("203.0.113.0/24"), (NextHop("192.0.2.3", ifname="vA"),)))
    assert hops_of(lab, a)["203.0.113.0/24"] == {("192.0.2.3", "vA", 1)}
    fib.remove(net("2001:db8:100::/48"))
    assert set(hops_of(lab, a)) == {"203.0.113.0/24"}
    assert [str(r.prefix) for r in show_fib(namespace=a)] == ["203.0.113.0/24"]
    fib.stop()
    assert hops_of(lab, a) == {}
    assert not [n for n in kernel_nexthops(lab, a).values() if n.get("protocol") == "bgp"]


def test_ipv4_via_ipv6_link_local_next_hop_forwards(lab: Lab, nexthop_objects: bool) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "lo", "192.0.2.1/32")
    lab.addr(b, "lo", "198.51.100.7/32")
    peer_ll = wait_for(lambda: _link_local(b, "vB"), what="link-local address on vB")
    our_ll = wait_for(lambda: _link_local(a, "vA"), what="link-local address on vA")
    lab.exec(b, "ip", "route", "add", "192.0.2.1/32", "via", "inet6", our_ll, "dev", "vB")
    fib = Fib(namespace=a, nexthop_objects=nexthop_objects)
    fib.start()
    assert fib.v4_via_v6 == "via"
    fib.install(FibRoute(net("198.51.100.7/32"), (NextHop(peer_ll, ifname="vA"),)))
    assert hops_of(lab, a)["198.51.100.7/32"] == {(peer_ll, "vA", 1)}
    lab.exec(a, "ping", "-c", "1", "-W", "2", "-I", "192.0.2.1", "198.51.100.7")
    fib.stop()


def test_ipv4_via_ipv6_falls_back_to_onlink_169_254_0_1_with_permanent_neighbour(lab: Lab) -> None:
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    lab.addr(a, "lo", "192.0.2.1/32")
    lab.addr(b, "lo", "198.51.100.7/32")
    peer_ll = wait_for(lambda: _link_local(b, "vB"), what="link-local address on vB")
    our_ll = wait_for(lambda: _link_local(a, "vA"), what="link-local address on vA")
    peer_mac = kernel.link_by_name("vB", namespace=b).mac_text
    lab.exec(b, "ip", "route", "add", "192.0.2.1/32", "via", "inet6", our_ll, "dev", "vB")
    fib = Fib(namespace=a, nexthop_objects=False, v4_via_v6="onlink")
    fib.start()
    fib.install(FibRoute(net("198.51.100.7/32"), (NextHop(peer_ll, ifname="vA", mac=peer_mac),)))
    route = kernel_routes(lab, a)["198.51.100.7/32"]
    assert route["hops"] == {("169.254.0.1", "vA", 1)} and route["onlink"]
    neighbours = {str(n.address): n for n in kernel.list_neighbours(namespace=a)}
    assert neighbours["169.254.0.1"].mac == peer_mac and neighbours["169.254.0.1"].state == "PERMANENT"
    lab.exec(a, "ping", "-c", "1", "-W", "2", "-I", "192.0.2.1", "198.51.100.7")
    fib.stop()


@pytest.mark.parametrize("width", [2, 8])
def test_ecmp_routes_carry_every_next_hop(lab: Lab, nexthop_objects: bool, width: int) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=nexthop_objects)
    fib.start()
    v4 = tuple(NextHop(f"192.0.2.{10 + i}", ifname="vA", weight=1 + i % 3) for i in range(width))
    v6 = tuple(NextHop(f"2001:db8::{10 + i:x}", ifname="vA") for i in range(width))
    prefixes4 = [net(f"203.0.113.{16 * i}/28") for i in range(4)]
    fib.apply([FibRoute(p, v4) for p in prefixes4] + [FibRoute(net("2001:db8:200::/48"), v6)])
    hops = hops_of(lab, a)
    expected4 = {(h.gateway, "vA", h.weight) for h in v4}
    assert all(hops[str(p)] == expected4 for p in prefixes4)
    assert hops["2001:db8:200::/48"] == {(h.gateway, "vA", 1) for h in v6}
    if nexthop_objects:
        routes = kernel_routes(lab, a)
        group_ids = {routes[str(p)]["nhid"] for p in prefixes4}
        assert len(group_ids) == 1  # four routes, one group object
        objects = kernel_nexthops(lab, a)
        assert len(objects[group_ids.pop()]["group"]) == width
    listed = {str(r.prefix): {(h.gateway, h.weight) for h in r.nexthops} for r in fib.routes()}
    assert listed[str(prefixes4[0])] == {(h.gateway, h.weight) for h in v4}
    assert "203.0.113.0/28 via 192.0.2.10" in format_fib(fib.routes())
    fib.stop()
    assert hops_of(lab, a) == {}


def test_moving_a_next_hop_rewrites_one_object_not_every_route(lab: Lab) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=True)
    fib.start()
    old, new = NextHop("192.0.2.2", ifname="vA"), NextHop("192.0.2.9", ifname="vA")
    prefixes = [net(f"198.51.100.{i * 8}/29") for i in range(8)]
    fib.apply([FibRoute(p, (old,)) for p in prefixes])
    nhids = {info["nhid"] for info in kernel_routes(lab, a).values()}
    assert fib.move_nexthop(old, new) == 8
    routes = kernel_routes(lab, a)
    assert {info["nhid"] for info in routes.values()} == nhids  # routes untouched, object rewritten
    assert all(info["hops"] == {("192.0.2.9", "vA", 1)} for info in routes.values())
    fib.remove(prefixes[0])
    assert len(kernel_routes(lab, a)) == 7
    fib.stop()


def test_table_and_policy_choose_what_reaches_the_kernel(lab: Lab) -> None:
    a, _b = _two_namespaces(lab)
    hop = (NextHop("192.0.2.2"),)
    offered = [FibRoute(net(p), hop) for p in ("0.0.0.0/0", "192.0.2.77/32", "203.0.113.0/24", "198.51.100.0/25")]
    silent = Fib(namespace=a, policy=INSTALL_NONE, table=1000)
    silent.start(offered)
    assert hops_of(lab, a, 1000) == {}
    silent.stop()
    fib = Fib(namespace=a, table=1000, policy=PrefixFilter(["0.0.0.0/0", "0.0.0.0/0 ge 32"]))
    fib.start(offered)
    assert set(hops_of(lab, a, 1000)) == {"0.0.0.0/0", "192.0.2.77/32"}
    assert hops_of(lab, a) == {}  # main table untouched
    fib.stop()
    assert hops_of(lab, a, 1000) == {}


def test_route_to_missing_interface_is_refused_with_errno_and_extack(lab: Lab) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=True)
    fib.start()
    with pytest.raises(FibError) as caught:
        fib.install(FibRoute(net("198.51.100.8/32"), (NextHop("192.0.2.9", ifindex=9999),)))
    assert caught.value.errno == 22
    assert "EINVAL" in str(caught.value) and "198.51.100.8/32" in str(caught.value)
    assert "Invalid device index" in str(caught.value)  # the kernel's extended ack
    # the rest of a batch goes in; the refusal is reported against its own prefix
    result = fib.apply([FibRoute(net("198.51.100.9/32"), (NextHop("192.0.2.9", ifindex=9999),)),
                        FibRoute(net("198.51.100.10/32"), (NextHop("192.0.2.2"),))])
    assert list(result.failed) == [net("198.51.100.9/32")] and result.installed == 1
    assert set(hops_of(lab, a)) == {"198.51.100.10/32"}
    # an ECMP set with one bad member: nothing of it stays, not even the good member's object
    bad_set = (NextHop("192.0.2.2", ifname="vA"), NextHop("192.0.2.9", ifindex=9999))
    result = fib.apply([FibRoute(net("198.51.100.12/32"), bad_set)])
    assert list(result.failed) == [net("198.51.100.12/32")]
    # a refused replacement does not leave the old route behind
    fib.install(FibRoute(net("198.51.100.13/32"), (NextHop("192.0.2.3", ifname="vA"),)))
    with pytest.raises(FibError):
        fib.install(FibRoute(net("198.51.100.13/32"), (NextHop("192.0.2.9", ifindex=9999),)))
    assert set(hops_of(lab, a)) == {"198.51.100.10/32"}
    used = {info["nhid"] for info in kernel_routes(lab, a).values()}
    assert {i for i, n in kernel_nexthops(lab, a).items() if n.get("protocol") == "bgp"} == used
    plain = Fib(namespace=a, nexthop_objects=False, table=77)
    plain.start()
    with pytest.raises(FibError, match="ENODEV"):
        plain.install(FibRoute(net("198.51.100.11/32"), (NextHop(None, ifindex=9999),)))
    with pytest.raises(FibError, match="needs an interface"):
        plain.install(FibRoute(net("2001:db8:6::/48"), (NextHop("fe80::1"),)))
    with pytest.raises(FibError, match="EAFNOSUPPORT"):
        plain.install(FibRoute(net("2001:db8:5::/48"), (NextHop("192.0.2.2"),)))
    plain.stop()
    fib.stop()
    assert not [n for n in kernel_nexthops(lab, a).values() if n.get("protocol") == "bgp"]


def test_refusals_in_a_large_batch_are_matched_to_their_own_routes(lab: Lab) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=False)
    fib.start()
    good, bad = (NextHop("192.0.2.2", ifname="vA"),), (NextHop(None, ifindex=9999),)
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    routes = [FibRoute(ipaddress.IPv4Network((base + (i << 8), 24)), bad if i % 1500 == 7 else good)
              for i in range(10_000)]  # spans several datagrams of the batch
    refused = {r.prefix for r in routes if r.nexthops == bad}
    result = fib.apply(routes)
    assert set(result.failed) == refused and result.installed == len(routes) - len(refused)
    assert all(exc.errno == 19 for exc in result.failed.values())  # ENODEV
    assert set(fib.failed) == refused
    installed = set(hops_of(lab, a))
    assert len(installed) == len(routes) - len(refused) and not installed & {str(p) for p in refused}
    fib.stop()


def test_lost_replies_are_recovered_by_reading_the_kernel_again(lab: Lab) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=False)
    fib.start()
    sock = fib._sock
    assert sock is not None
    sock.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)  # room for a few dozen refusals
    sock.batch_messages = 4096  # ... in batches sized for a much larger buffer
    good, bad = (NextHop("192.0.2.2", ifname="vA"),), (NextHop(None, ifindex=9999),)
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    routes = [FibRoute(ipaddress.IPv4Network((base + (i << 8), 24)), bad if i % 2 else good) for i in range(3000)]
    result = fib.apply(routes)
    assert sock.batch_messages < 4096  # learned from the overrun
    refused = {r.prefix for r in routes if r.nexthops == bad}
    assert set(result.failed) == refused and set(fib.failed) == refused
    assert set(hops_of(lab, a)) == {str(r.prefix) for r in routes if r.nexthops == good}
    fib.stop()
    assert hops_of(lab, a) == {}


def test_resync_repairs_routes_changed_behind_our_back(lab: Lab) -> None:
    a, _b = _two_namespaces(lab)
    fib = Fib(namespace=a, nexthop_objects=True)
    fib.start([FibRoute(net(f"203.0.113.{i * 64}/26"), (NextHop("192.0.2.2", ifname="vA"),)) for i in range(4)])
    lab.exec(a, "ip", "route", "del", "203.0.113.0/26", "proto", "bgp")
    lab.exec(a, "ip", "route", "replace", "203.0.113.64/26", "via", "192.0.2.7", "dev", "vA", "proto", "bgp", "metric", "20")
    lab.exec(a, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.7", "proto", "bgp", "metric", "20")
    result = fib.resync()
    assert result.installed == 2 and result.removed == 1 and result.unchanged == 2
    assert hops_of(lab, a) == {f"203.0.113.{i * 64}/26": {("192.0.2.2", "vA", 1)} for i in range(4)}
    fib.stop()
