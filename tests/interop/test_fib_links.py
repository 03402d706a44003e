"""Links, addresses, neighbours and link events read over netlink, checked against `ip -j`."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time

from netns import Lab

from bgpcore.fib import kernel
from bgpcore.fib.netlink import LinkMessage, NeighbourMessage


def _ip_json(lab: Lab, ns: str, *args: str) -> list[dict[str, object]]:
    return json.loads(lab.exec(ns, "ip", "-j", *args).stdout or "[]")  # type: ignore[no-any-return]


def test_list_links_matches_ip_link(lab: Lab) -> None:
    ns, peer = lab.ns("a"), lab.ns("b")
    lab.link(ns, "vA", peer, "vB")
    lab.link(ns, "vC", peer, "vD")
    lab.exec(ns, "ip", "link", "set", "vC", "down")
    links = {link.name: link for link in kernel.list_links(namespace=ns)}
    for row in _ip_json(lab, ns, "link", "show"):
        link = links[str(row["ifname"])]
        assert link.ifindex == row["ifindex"]
        if row.get("link_type") == "ether":
            assert link.mac_text == row["address"]
    assert links["vA"].up and links["vA"].running and links["vA"].carrier
    assert not links["vC"].up and not links["vC"].running
    assert kernel.link_by_name("vA", namespace=ns).ifindex == links["vA"].ifindex


def test_addresses_find_link_local(lab: Lab) -> None:
    ns, peer = lab.ns("a"), lab.ns("b")
    lab.link(ns, "vA", peer, "vB")
    lab.addr(ns, "vA", "2001:db8:7::1/64")
    lab.addr(ns, "vA", "192.0.2.1/24")
    ifindex = kernel.link_by_name("vA", namespace=ns).ifindex
    found = {str(a.interface) for a in kernel.addresses(ifindex, namespace=ns)}
    expected = {f"{info['local']}/{info['prefixlen']}"
                for row in _ip_json(lab, ns, "addr", "show", "dev", "vA") for info in row["addr_info"]}  # type: ignore[attr-defined]
    assert found == expected
    link_local = [a for a in kernel.addresses(ifindex, socket.AF_INET6, namespace=ns) if a.is_link_local]
    assert len(link_local) == 1 and str(link_local[0].ip).startswith("fe80::")


def test_neighbours_report_mac_router_flag_and_state(lab: Lab) -> None:
    ns, peer = lab.ns("a"), lab.ns("b")
    lab.link(ns, "vA", peer, "vB")
    lab.exec(ns, "ip", "-6", "neigh", "add", "fe80::1", "lladdr", "02:00:00:00:00:01", "dev", "vA", "router", "nud", "permanent")
    with kernel.NetlinkSocket(namespace=ns) as sock:
        ifindex = kernel.link_by_name("vA", sock).ifindex
        kernel.add_neighbour(sock, ifindex, "169.254.0.1", bytes.fromhex("020000000002"))
        neighbours = {str(n.address): n for n in kernel.list_neighbours(ifindex, sock=sock)}
    assert neighbours["fe80::1"].mac == "02:00:00:00:00:01"
    assert neighbours["fe80::1"].router and neighbours["fe80::1"].state == "PERMANENT"
    assert neighbours["169.254.0.1"].mac == "02:00:00:00:00:02" and not neighbours["169.254.0.1"].router
    shown = {row["dst"]: row for row in _ip_json(lab, ns, "neigh", "show", "dev", "vA")}
    assert shown["169.254.0.1"]["lladdr"] == "02:00:00:00:00:02"


async def test_link_monitor_yields_down_and_up(lab: Lab) -> None:
    ns, peer = lab.ns("a"), lab.ns("b")
    lab.link(ns, "vA", peer, "vB")
    with kernel.LinkMonitor(namespace=ns) as monitor:
        ifindex = next(link.ifindex for link in monitor.snapshot() if link.name == "vA")
        seen: list[bool] = []

        async def watch() -> None:
            async for event in monitor.events():
                if isinstance(event, LinkMessage) and event.ifindex == ifindex:
                    if not seen or seen[-1] != event.running:
                        seen.append(event.running)
                    if seen == [False, True]:
                        return

        task = asyncio.create_task(watch())
        await asyncio.sleep(0.05)
        await asyncio.to_thread(lab.exec, ns, "ip", "link", "set", "vA", "down")
        await asyncio.to_thread(lab.exec, ns, "ip", "link", "set", "vA", "up")
        await asyncio.wait_for(task, 10)
    assert seen == [False, True]


def test_link_monitor_with_neighbours_reports_new_entries(lab: Lab) -> None:
    ns, peer = lab.ns("a"), lab.ns("b")
    lab.link(ns, "vA", peer, "vB")
    with kernel.LinkMonitor(neighbours=True, namespace=ns) as monitor:
        lab.exec(ns, "ip", "-6", "neigh", "add", "fe80::7", "lladdr", "02:00:00:00:00:07", "dev", "vA", "router")
        deadline = time.monotonic() + 5
        seen = []
        while time.monotonic() < deadline and not seen:
            seen = [e for e in monitor.read() if isinstance(e, NeighbourMessage) and e.dst is not None
                    and str(ipaddress.ip_address(e.dst)) == "fe80::7"]
            time.sleep(0.05)
    assert seen and seen[0].router and seen[0].lladdr == bytes.fromhex("020000000007")
