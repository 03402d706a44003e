"""FIB routes as values, and as the kernel lists them (``show fib``).

``FibRoute(prefix, nexthops)`` is what the RIB hands to :class:`bgpcore.fib.install.Fib`;
:func:`show_fib` reads our proto-bgp routes back from the kernel in the same shape, resolving
nexthop-object ids to their gateways, and :func:`format_fib` prints them.
"""
from __future__ import annotations

import errno as errno_mod
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Iterable

from bgpcore.constants import RTPROT_BGP
from bgpcore.errors import FibError
from bgpcore.fib import kernel
from bgpcore.fib import netlink as nl
from bgpcore.fib.objects import Hop

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class NextHop:
    """One next hop: a gateway, an interface, or both (link-local gateways need the interface).

    ``mac`` is the peer's link-layer address, needed only when an IPv4 route via an IPv6 next
    hop falls back to 169.254.0.1 and the neighbour table does not know the peer yet.
    """

    gateway: str | None = None
    ifindex: int | None = None
    ifname: str | None = None
    weight: int = 1
    mac: str | None = None


@dataclass(frozen=True, slots=True)
class FibRoute:
    """A prefix and its next hops (more than one: ECMP; none: remove the prefix)."""

    prefix: IPNetwork
    nexthops: tuple[NextHop, ...]


@dataclass(slots=True)
class ApplyResult:
    """What one ``apply`` did: counts, routes waiting for a link, and refusals by prefix."""

    installed: int = 0
    removed: int = 0
    unchanged: int = 0
    pending: list[IPNetwork] = field(default_factory=list)
    failed: dict[IPNetwork, FibError] = field(default_factory=dict)


V6_KEY_LEN = 17
"""The length of every IPv6 FIB key, and of no IPv4 one (those are 1 to 5 octets)."""


def route_key(prefix: IPNetwork) -> bytes:
    """The FIB key of a prefix: for IPv4 the RIB's NLRI key (prefix length, then the significant
    address octets), so a full table's FIB state shares the RIB's key objects; for IPv6 the
    packed address, then the prefix length (17 octets)."""
    if prefix.version == 4:
        plen = prefix.prefixlen
        return bytes((plen,)) + prefix.network_address.packed[:(plen + 7) // 8]
    return prefix.network_address.packed + bytes((prefix.prefixlen,))


def fib_key(afi: int, key: bytes) -> bytes:
    """The FIB key of a RIB prefix key of address family ``afi`` (1 or 2)."""
    return key if afi == 1 else key[1:].ljust(16, b"\0") + key[:1]


def kernel_key(family: int, dst: bytes | None, dst_len: int) -> bytes:
    """The FIB key of a route the kernel lists (``dst`` None: the default route)."""
    if family == socket.AF_INET:
        return bytes((dst_len,)) + (dst or b"")[:(dst_len + 7) // 8]
    return (dst or bytes(16)) + bytes((dst_len,))


def key_family(key: bytes) -> int:
    return socket.AF_INET6 if len(key) == V6_KEY_LEN else socket.AF_INET


def key_prefix(key: bytes) -> IPNetwork:
    if len(key) == V6_KEY_LEN:
        return ipaddress.ip_network((key[:-1], key[-1]))
    return ipaddress.ip_network((key[1:].ljust(4, b"\0"), key[0]))


def hops_of(msg: nl.RouteMessage) -> tuple[Hop, ...]:
    """The hops of a dumped route, in the form and order ``Fib`` produces (the kernel keeps the order)."""
    if msg.multipath:
        return tuple(_hop_of(msg.family, h.gateway, h.via, h.ifindex, h.flags, h.weight) for h in msg.multipath)
    return (_hop_of(msg.family, msg.gateway, msg.via, msg.oif or 0, msg.flags, 1),)


def _hop_of(family: int, gateway: bytes | None, via: tuple[int, bytes] | None, oif: int, flags: int, weight: int) -> Hop:
    if gateway:
        return (family, gateway, oif, flags & nl.RTNH_F_ONLINK, weight)
    if via:
        return (via[0], via[1], oif, flags & nl.RTNH_F_ONLINK, weight)
    return (socket.AF_UNSPEC, b"", oif, 0, weight)


def dump_nexthop_objects(sock: kernel.NetlinkSocket) -> list[nl.NexthopMessage]:
    """Every nexthop object in the namespace (RTM_GETNEXTHOP dump).

    Raises:
        FibError: the kernel has no nexthop objects (before Linux 5.3).
    """
    request = nl.encode_message(nl.MsgType.GETNEXTHOP, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, 0,
                                nl.NHMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0))
    return [nl.NexthopMessage.decode(body) for t, body in sock.dump(request) if t == nl.MsgType.NEWNEXTHOP]


def dump_routes(sock: kernel.NetlinkSocket, table: int) -> list[nl.RouteMessage]:
    """Routes of ours (proto bgp) in ``table``, both families; the kernel filters (strict dump)."""
    out = []
    for family in (socket.AF_INET, socket.AF_INET6):
        request = nl.RouteMessage(family=family, table=table, protocol=RTPROT_BGP, type=0).encode(
            nl.MsgType.GETROUTE, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, 0)
        try:
            replies = sock.dump(request)
        except FibError as exc:
            if exc.errno == errno_mod.ENOENT:  # the table does not exist yet
                continue
            raise
        for msg_type, body in replies:
            if msg_type != nl.MsgType.NEWROUTE:
                continue
            msg = nl.RouteMessage.decode(body)
            if msg.protocol == RTPROT_BGP and msg.table == table:  # older kernels do not filter
                out.append(msg)
    return out


def show_fib(table: int = nl.RT_TABLE_MAIN, sock: kernel.NetlinkSocket | None = None,
             namespace: str | None = None) -> list[FibRoute]:
    """Proto-bgp routes in ``table`` as the kernel holds them (what ``show fib`` prints)."""
    own = sock is None
    sock = sock or kernel.NetlinkSocket(namespace=namespace)
    try:
        try:
            objects = {obj.id: obj for obj in dump_nexthop_objects(sock)}
        except FibError:
            objects = {}
        routes = []
        for msg in dump_routes(sock, table):
            dst = msg.dst or bytes(4 if msg.family == socket.AF_INET else 16)
            prefix = ipaddress.ip_network((dst, msg.dst_len))
            routes.append(FibRoute(prefix, _nexthops_of(msg, objects)))
        return sorted(routes, key=lambda r: (r.prefix.version, r.prefix))
    finally:
        if own:
            sock.close()


def _nexthops_of(msg: nl.RouteMessage, objects: dict[int, nl.NexthopMessage]) -> tuple[NextHop, ...]:
    if msg.nh_id is not None and msg.nh_id in objects:
        obj = objects[msg.nh_id]
        members = obj.group or ((obj.id, 1),)
        out = []
        for member, weight in members:
            m = objects.get(member)
            if m is not None:
                gw = str(ipaddress.ip_address(m.gateway)) if m.gateway else None
                out.append(NextHop(gw, m.oif, weight=weight))
        return tuple(out)
    return tuple(NextHop(str(ipaddress.ip_address(h[1])) if h[1] else None, h[2] or None, weight=h[4])
                 for h in hops_of(msg))


def format_fib(routes: Iterable[FibRoute]) -> str:
    """``show fib`` text: one line per route, next hops separated by commas."""
    lines = []
    for route in routes:
        hops = ", ".join(
            f"via {h.gateway or 'direct'}" + (f" ifindex {h.ifindex}" if h.ifindex else "")
            + (f" weight {h.weight}" if len(route.nexthops) > 1 else "") for h in route.nexthops)
        lines.append(f"{route.prefix} {hops}")
    return "\n".join(lines)
