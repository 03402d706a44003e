"""Neighbor discovery on a veth pair in namespaces: FRR's zebra advertisements, validation, link flaps.

The peer side is either FRR's zebra (``ipv6 nd ra-interval 1``) or raw ICMPv6 sockets opened
in the other namespace; bgpcore's side runs in-process with its sockets opened in its namespace.
"""
from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from bgpcore.discovery import ra
from bgpcore.discovery.listener import RaListener, RouterHeard
from bgpcore.discovery.unnumbered import InterfacePeering, Unnumbered
from bgpcore.errors import ConfigError
from bgpcore.fib import kernel

ZEBRA = Path("/usr/lib/frr/zebra")


class RecordingTable:
    """A neighbor table that keeps what it was told, in order (the Speaker's two methods)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.configs: list[dict[str, Any]] = []

    def add_neighbor(self, config: Any) -> str:
        self.configs.append(config)
        peer = f"{config['address']}%{config['interface']}"
        self.calls.append(("add", peer))
        return peer

    def remove_neighbor(self, peer: str, message: str = "") -> None:
        self.calls.append(("remove", peer))


def _pair(lab: Any) -> tuple[str, str]:
    """Two namespaces joined by vA-vB, returned once both link-local addresses are usable."""
    a, b = lab.ns("a"), lab.ns("b")
    lab.link(a, "vA", b, "vB")
    deadline = time.monotonic() + 5
    while not (_link_local(lab, a, "vA") and _link_local(lab, b, "vB")):
        assert time.monotonic() < deadline, "no link-local addresses on vA/vB"
        time.sleep(0.02)
    return a, b


def _link_local(lab: Any, ns: str, ifname: str) -> str:
    info = json.loads(lab.exec(ns, "ip", "-j", "-6", "addr", "show", "dev", ifname, "scope", "link",
                               "-tentative").stdout)
    addrs = [a["local"] for entry in info for a in entry.get("addr_info", []) if "local" in a]
    return str(addrs[0]) if addrs else ""


async def _until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _send_advert(ns: str, ifname: str, *, hop_limit: int, source: str | None = None) -> None:
    """Send one Router Advertisement from namespace ``ns`` with the given hop limit and source."""
    with kernel.netns(ns):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hop_limit)
        if source:
            sock.bind((source, 0))
        with kernel.netns(ns):
            ifindex = kernel.link_by_name(ifname).ifindex
        sock.sendto(ra.encode_router_advert(ra.RouterAdvert()), ("ff02::1", 0, 0, ifindex))
    finally:
        sock.close()


@pytest.mark.skipif(not ZEBRA.exists(), reason="FRR is not installed")
async def test_learns_zebra_advertisements_and_the_kernel_takes_ours(lab: Any) -> None:
    a, b = _pair(lab)
    conf = lab.dir / "zebra.conf"
    conf.write_text("interface vA\n ipv6 nd ra-interval 1\n no ipv6 nd suppress-ra\n!\n")
    conf.chmod(0o644)
    lab.spawn(a, str(ZEBRA), "-f", str(conf), "-i", str(lab.dir / "zebra.pid"), "-z", str(lab.dir / "zserv.api"),
              "-u", "frr", "-g", "frr", "--vty_socket", str(lab.dir), "-A", "127.0.0.1", "-P", "0",
              log="zebra.log")
    heard: list[RouterHeard] = []
    listener = RaListener(heard.append, interval_s=1)
    with kernel.netns(b):
        link = kernel.link_by_name("vB")
        listener.add_interface(link.ifindex, "vB", link.mac)
    try:
        zebra_ll = _link_local(lab, a, "vA")
        await _until(lambda: any(str(h.address) == zebra_ll for h in heard), 15, "zebra's advertisement")
        assert all(h.ifindex == link.ifindex for h in heard)
        assert listener.stats(link.ifindex).dropped == 0
        # zebra's host kernel parsed our advertisement as valid ND: our address is a router there
        ours = _link_local(lab, b, "vB")
        await _until(lambda: any(str(n.address) == ours and n.router for n in
                                  kernel.list_neighbours(namespace=a)), 10, "our advertisement in the peer's kernel")
        assert listener.stats(link.ifindex).ra_sent >= 1
    finally:
        listener.close()


async def test_advertisements_forwarded_or_from_global_addresses_are_dropped(lab: Any) -> None:
    a, b = _pair(lab)
    lab.addr(a, "vA", "2001:db8::a/64")
    heard: list[RouterHeard] = []
    listener = RaListener(heard.append, interval_s=30)
    with kernel.netns(b):
        ifindex = kernel.link_by_name("vB").ifindex
        listener.add_interface(ifindex, "vB")
    try:
        stats = listener.stats(ifindex)
        _send_advert(a, "vA", hop_limit=64)
        await _until(lambda: stats.dropped == 1, 5, "the hop limit 64 advertisement to be dropped")
        assert "hop limit 64" in stats.last_drop
        _send_advert(a, "vA", hop_limit=255, source="2001:db8::a")
        await _until(lambda: stats.dropped == 2, 5, "the advertisement from a global address to be dropped")
        assert "not a link-local" in stats.last_drop
        assert heard == []
        _send_advert(a, "vA", hop_limit=255)
        await _until(lambda: heard, 5, "a valid advertisement")
        assert str(heard[0].address) == _link_local(lab, a, "vA") and stats.ra_received == 1
    finally:
        listener.close()


async def test_one_neighbor_per_interface_dropped_on_link_down_and_rediscovered(lab: Any) -> None:
    a, b = _pair(lab)
    table = RecordingTable()
    peer_side = RaListener(lambda heard: None, interval_s=1)
    with kernel.netns(a):
        ifindex_a = kernel.link_by_name("vA").ifindex
        peer_side.add_interface(ifindex_a, "vA")
    unnumbered = Unnumbered(table, [InterfacePeering(interfaces=("vB*",), remote_as="external",
                                                     options={"hold_time_s": 9})],
                            make_config=dict, ra_interval_s=1, namespace=b)
    await unnumbered.start()
    try:
        peer = f"{_link_local(lab, a, 'vA')}%vB"
        await _until(lambda: table.calls, 5, "the peer to be discovered")
        assert table.calls == [("add", peer)]
        assert table.configs[0] == {"address": peer.split("%")[0], "interface": "vB", "remote_as": "external",
                                    "hold_time_s": 9, "extended_nexthop": ((1, 1),)}
        await asyncio.sleep(1.5)  # more advertisements and neighbour entries: still one session
        assert table.calls == [("add", peer)]

        started = time.monotonic()
        lab.exec(b, "ip", "link", "set", "vB", "down")
        await _until(lambda: len(table.calls) == 2, 5, "the neighbor to be dropped")
        dropped_s = time.monotonic() - started
        assert table.calls[1] == ("remove", peer) and dropped_s < 0.5, dropped_s

        lab.exec(b, "ip", "link", "set", "vB", "up")
        await _until(lambda: len(table.calls) == 3, 10, "the peer to be rediscovered")
        assert table.calls[2] == ("add", peer)

        # the peer's address changes: the session is replaced, one per interface
        lab.exec(a, "ip", "-6", "addr", "flush", "dev", "vA", "scope", "link")
        lab.addr(a, "vA", "fe80::99/64")
        await _until(lambda: len(table.calls) == 5, 10, "the session to move to the new address")
        assert table.calls[3:] == [("remove", peer), ("add", "fe80::99%vB")]
        assert [p.address for p in unnumbered.peers()] == ["fe80::99"]
    finally:
        await unnumbered.stop()
        peer_side.close()
    assert table.calls[-1] == ("remove", "fe80::99%vB")


async def test_wrong_sysctl_refuses_to_start_and_names_it(lab: Any) -> None:
    a, b = _pair(lab)
    lab.exec(b, "sysctl", "-qw", "net.ipv6.conf.vB.accept_ra=2")
    unnumbered = Unnumbered(RecordingTable(), [InterfacePeering(interfaces=("vB",), remote_as=65001)],
                            make_config=dict, namespace=b)
    with pytest.raises(ConfigError, match=r"net\.ipv6\.conf\.vB\.accept_ra"):
        await unnumbered.start()
    await unnumbered.stop()


async def test_kernel_neighbour_table_router_entries_are_a_second_source(lab: Any) -> None:
    a, b = _pair(lab)
    table = RecordingTable()
    unnumbered = Unnumbered(table, [InterfacePeering(interfaces=("vB",), remote_as="internal")],
                            make_config=dict, namespace=b)
    await unnumbered.start()
    try:
        # a neighbour the kernel does not flag as a router is not a BGP peer
        lab.exec(b, "ip", "neigh", "replace", "fe80::66", "dev", "vB", "lladdr", "02:00:00:00:00:66", "nud", "stale")
        await asyncio.sleep(0.3)
        assert table.calls == []
        lab.exec(b, "ip", "neigh", "replace", "fe80::77", "dev", "vB", "lladdr", "02:00:00:00:00:77",
                 "router", "nud", "stale")
        await _until(lambda: table.calls, 5, "the router entry to become the neighbor")
        assert table.calls == [("add", "fe80::77%vB")]
        assert unnumbered.peers()[0].learned_from == "neighbour table"

        # an advertisement beats the neighbour table; another table entry does not move it back
        _send_advert(a, "vA", hop_limit=255)
        advertiser = f"{_link_local(lab, a, 'vA')}%vB"
        await _until(lambda: len(table.calls) == 3, 5, "the advertised router to replace the table entry")
        assert table.calls[1:] == [("remove", "fe80::77%vB"), ("add", advertiser)]
        lab.exec(b, "ip", "neigh", "replace", "fe80::88", "dev", "vB", "lladdr", "02:00:00:00:00:88",
                 "router", "nud", "stale")
        await asyncio.sleep(0.3)
        assert len(table.calls) == 3
    finally:
        await unnumbered.stop()
