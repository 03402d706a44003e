"""rtnetlink message bytes (no sockets): routes, nexthop objects, links, addresses, neighbours.

Every message is ``nlmsghdr`` + a fixed family header + TLV attributes (RFC 3549; Linux
``include/uapi/linux/{netlink,rtnetlink,if_link,neighbour,nexthop}.h``)::

     0                   1                   2                   3
    +-------------------------------+---------------+---------------+
    |                         nlmsg_len (u32)                       |
    +-------------------------------+-------------------------------+
    |      nlmsg_type (u16)         |      nlmsg_flags (u16)        |
    +-------------------------------+-------------------------------+
    |                         nlmsg_seq (u32)                       |
    |                         nlmsg_pid (u32)                       |
    +---------------------------------------------------------------+
    |  family header (rtmsg, nhmsg, ifinfomsg, ifaddrmsg, ndmsg)    |
    +-------------------------------+-------------------------------+
    |      rta_len (u16)            |      rta_type (u16)           |  value, padded to 4
    +-------------------------------+-------------------------------+

Each message kind is a frozen dataclass with ``encode(seq, flags)`` and ``decode(body)``; the
family header is a ``struct`` and the attributes are a table ``{type: (field, decode)}``, in the
manner of pyroute2's ``fields``/``nla_map``. Addresses are packed bytes here; ``ipaddress`` objects
are made by callers at the API edge.
"""
from __future__ import annotations

import errno as errno_mod
import os
import socket
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable, Final, Iterator

from bgpcore.errors import FibError

# --- netlink header --------------------------------------------------------------------------

NLMSG_HDR: Final = struct.Struct("=IHHII")  # len, type, flags, seq, pid
NLA_HDR: Final = struct.Struct("=HH")  # len, type
NLMSGERR: Final = struct.Struct("=i")

NLM_F_REQUEST: Final = 0x01
NLM_F_MULTI: Final = 0x02
NLM_F_ACK: Final = 0x04
NLM_F_DUMP_INTR: Final = 0x10
NLM_F_DUMP: Final = 0x300
NLM_F_REPLACE: Final = 0x100
NLM_F_EXCL: Final = 0x200
NLM_F_CREATE: Final = 0x400
NLM_F_CAPPED: Final = 0x100  # in NLMSG_ERROR: the request payload was left out
NLM_F_ACK_TLVS: Final = 0x200  # in NLMSG_ERROR: extended-ack TLVs follow

NLMSGERR_ATTR_MSG: Final = 1
NLMSGERR_ATTR_OFFS: Final = 2

SOL_NETLINK: Final = 270
NETLINK_ADD_MEMBERSHIP: Final = 1
NETLINK_NO_ENOBUFS: Final = 5
NETLINK_CAP_ACK: Final = 10
NETLINK_EXT_ACK: Final = 11
NETLINK_GET_STRICT_CHK: Final = 12

RTNLGRP_LINK: Final = 1
RTNLGRP_NEIGH: Final = 3
RTNLGRP_IPV4_IFADDR: Final = 5
RTNLGRP_IPV6_IFADDR: Final = 9


class MsgType(IntEnum):
    """nlmsg_type values bgpcore sends or reads."""

    NOOP = 1
    ERROR = 2
    DONE = 3
    OVERRUN = 4
    NEWLINK = 16
    DELLINK = 17
    GETLINK = 18
    NEWADDR = 20
    DELADDR = 21
    GETADDR = 22
    NEWROUTE = 24
    DELROUTE = 25
    GETROUTE = 26
    NEWNEIGH = 28
    DELNEIGH = 29
    GETNEIGH = 30
    NEWNEXTHOP = 104
    DELNEXTHOP = 105
    GETNEXTHOP = 106


# --- route, nexthop, link, address and neighbour codes -----------------------------------------

class Rta(IntEnum):
    DST = 1
    OIF = 4
    GATEWAY = 5
    PRIORITY = 6
    PREFSRC = 7
    MULTIPATH = 9
    TABLE = 15
    VIA = 18
    NH_ID = 30


class Nha(IntEnum):
    ID = 1
    GROUP = 2
    GROUP_TYPE = 3
    BLACKHOLE = 4
    OIF = 5
    GATEWAY = 6


class Ifla(IntEnum):
    ADDRESS = 1
    IFNAME = 3
    MTU = 4
    OPERSTATE = 16
    CARRIER = 33


class Ifa(IntEnum):
    ADDRESS = 1
    LOCAL = 2
    LABEL = 3
    FLAGS = 8


class Nda(IntEnum):
    DST = 1
    LLADDR = 2


RTN_UNICAST: Final = 1
RT_SCOPE_UNIVERSE: Final = 0
RT_SCOPE_LINK: Final = 253
RT_SCOPE_NOWHERE: Final = 255
RT_TABLE_MAIN: Final = 254
RT_TABLE_COMPAT: Final = 252
RTNH_F_ONLINK: Final = 0x04
IFF_UP: Final = 0x1
IFF_LOWER_UP: Final = 0x10000
NTF_ROUTER: Final = 0x80
NUD_PERMANENT: Final = 0x80
OPERSTATE_UP: Final = 6

NUD_NAMES: Final = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY",
                    0x10: "PROBE", 0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}

# --- primitives --------------------------------------------------------------------------------

_U32: Final = struct.Struct("=I")
_U16: Final = struct.Struct("=H")


def align4(n: int) -> int:
    return (n + 3) & ~3


def push_attr(attr_type: int, value: bytes) -> bytes:
    """One TLV attribute, padded to a 4-octet boundary."""
    length = 4 + len(value)
    return NLA_HDR.pack(length, attr_type) + value + b"\0" * (align4(length) - length)


def push_u32_attr(attr_type: int, value: int) -> bytes:
    return NLA_HDR.pack(8, attr_type) + _U32.pack(value)


def iter_attrs(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(type, value)`` for each TLV in ``data[start:end]`` (nested flag bit cleared)."""
    end = len(data) if end is None else end
    pos = start
    while pos + 4 <= end:
        length, attr_type = NLA_HDR.unpack_from(data, pos)
        if length < 4 or pos + length > end:
            break
        yield attr_type & 0x3FFF, bytes(data[pos + 4:pos + length])
        pos += align4(length)


def _u32(v: bytes) -> int:
    return int(_U32.unpack_from(v)[0])


def _u8(v: bytes) -> int:
    return v[0]


def _cstr(v: bytes) -> str:
    return v.split(b"\0", 1)[0].decode("utf-8", "replace")


def _raw(v: bytes) -> bytes:
    return v


def encode_message(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    """Prefix ``body`` with an nlmsghdr (port id 0: the kernel fills in ours); pad to 4 octets."""
    length = NLMSG_HDR.size + len(body)
    return NLMSG_HDR.pack(length, msg_type, flags, seq, 0) + body + b"\0" * (align4(length) - length)


def iter_messages(data: bytes | memoryview) -> Iterator[tuple[int, int, int, memoryview]]:
    """Split a datagram from the kernel into ``(type, flags, seq, body)``."""
    view = memoryview(data)
    pos, end = 0, len(view)
    while pos + 16 <= end:
        length, msg_type, flags, seq, _pid = NLMSG_HDR.unpack_from(view, pos)
        if length < 16 or pos + length > end:
            break
        yield msg_type, flags, seq, view[pos + 16:pos + length]
        pos += align4(length)


def _decode_table(table: dict[int, tuple[str, Callable[[bytes], Any]]], body: memoryview | bytes,
                  start: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr_type, value in iter_attrs(body, start):
        spec = table.get(attr_type)
        if spec is not None:
            out[spec[0]] = spec[1](value)
    return out


# --- NLMSG_ERROR -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorMessage:
    """An ACK (``errno == 0``) or a refusal, with the kernel's extended-ack text when sent."""

    errno: int
    request_type: int
    request_seq: int
    extack: str = ""

    @classmethod
    def decode(cls, body: memoryview | bytes, flags: int) -> ErrorMessage:
        error = NLMSGERR.unpack_from(body, 0)[0]
        _length, req_type, _req_flags, req_seq, _pid = NLMSG_HDR.unpack_from(body, 4)
        extack = ""
        if flags & NLM_F_ACK_TLVS:
            start = 20 if flags & NLM_F_CAPPED else 4 + align4(_length)
            for attr_type, value in iter_attrs(body, start):
                if attr_type == NLMSGERR_ATTR_MSG:
                    extack = _cstr(value)
        return cls(errno=-error, request_type=req_type, request_seq=req_seq, extack=extack)

    @classmethod
    def decode_done(cls, body: memoryview | bytes, flags: int) -> ErrorMessage:
        """NLMSG_DONE ends a dump with an error code (non-zero when the dump was refused)."""
        error = NLMSGERR.unpack_from(body, 0)[0] if len(body) >= 4 else 0
        extack = ""
        if flags & NLM_F_ACK_TLVS:
            for attr_type, value in iter_attrs(body, 4):
                if attr_type == NLMSGERR_ATTR_MSG:
                    extack = _cstr(value)
        return cls(errno=-error, request_type=MsgType.DONE, request_seq=0, extack=extack)


def fib_error(err: ErrorMessage, what: str = "") -> FibError:
    """A FibError naming the errno and the kernel's extended-ack message."""
    name = errno_mod.errorcode.get(err.errno, str(err.errno))
    text = f"{name} ({os.strerror(err.errno)})"
    if err.extack:
        text += f": {err.extack}"
    if what:
        text = f"{what}: {text}"
    return FibError(err.errno, text, err.extack)


# --- routes (rtmsg) ----------------------------------------------------------------------------

RTMSG: Final = struct.Struct("=BBBBBBBBI")  # family dst_len src_len tos table protocol scope type flags
RTNEXTHOP: Final = struct.Struct("=HBBi")  # len flags hops(weight-1) ifindex


@dataclass(frozen=True, slots=True, kw_only=True)
class PathHop:
    """One next hop inside a route: in RTA_MULTIPATH, or the route's own gateway/oif/via."""

    gateway: bytes | None = None  # packed, same family as the route
    via: tuple[int, bytes] | None = None  # (address family, packed): IPv4 route via IPv6 (RTA_VIA)
    ifindex: int = 0
    weight: int = 1
    flags: int = 0

    def encode_attrs(self) -> bytes:
        out = b""
        if self.gateway is not None:
            out += push_attr(Rta.GATEWAY, self.gateway)
        if self.via is not None:
            out += push_attr(Rta.VIA, _U16.pack(self.via[0]) + self.via[1])
        return out


def _decode_via(v: bytes) -> tuple[int, bytes]:
    return _U16.unpack_from(v)[0], v[2:]


def _decode_multipath(v: bytes) -> tuple[PathHop, ...]:
    hops = []
    pos = 0
    while pos + RTNEXTHOP.size <= len(v):
        length, flags, hops_minus_one, ifindex = RTNEXTHOP.unpack_from(v, pos)
        if length < RTNEXTHOP.size:
            break
        attrs = _decode_table(_HOP_ATTRS, v[pos:pos + length], RTNEXTHOP.size)
        hops.append(PathHop(ifindex=ifindex, weight=hops_minus_one + 1, flags=flags, **attrs))
        pos += align4(length)
    return tuple(hops)


_HOP_ATTRS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    Rta.GATEWAY: ("gateway", _raw),
    Rta.VIA: ("via", _decode_via),
}

ROUTE_ATTRS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    Rta.DST: ("dst", _raw),
    Rta.OIF: ("oif", _u32),
    Rta.GATEWAY: ("gateway", _raw),
    Rta.PRIORITY: ("priority", _u32),
    Rta.PREFSRC: ("prefsrc", _raw),
    Rta.MULTIPATH: ("multipath", _decode_multipath),
    Rta.TABLE: ("table", _u32),
    Rta.VIA: ("via", _decode_via),
    Rta.NH_ID: ("nh_id", _u32),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteMessage:
    """RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE (``rtmsg`` + RTA_* attributes)."""

    family: int
    dst_len: int = 0
    dst: bytes | None = None
    table: int = RT_TABLE_MAIN
    protocol: int = 0
    scope: int = RT_SCOPE_UNIVERSE
    type: int = RTN_UNICAST
    flags: int = 0
    oif: int | None = None
    gateway: bytes | None = None
    via: tuple[int, bytes] | None = None
    priority: int | None = None
    prefsrc: bytes | None = None
    multipath: tuple[PathHop, ...] = ()
    nh_id: int | None = None

    def encode_header(self) -> bytes:
        """rtmsg; tables past 255 travel in RTA_TABLE with the compat value in the header."""
        header_table = self.table if self.table < 256 else RT_TABLE_COMPAT
        return RTMSG.pack(self.family, self.dst_len, 0, 0, header_table, self.protocol,
                          self.scope, self.type, self.flags)

    def encode_tail(self) -> bytes:
        """Every attribute except RTA_DST: shared by all routes with the same next hops."""
        out = push_u32_attr(Rta.TABLE, self.table) if self.table else b""
        if self.priority is not None:
            out += push_u32_attr(Rta.PRIORITY, self.priority)
        if self.nh_id is not None:
            out += push_u32_attr(Rta.NH_ID, self.nh_id)
        if self.oif is not None:
            out += push_u32_attr(Rta.OIF, self.oif)
        if self.gateway is not None:
            out += push_attr(Rta.GATEWAY, self.gateway)
        if self.via is not None:
            out += push_attr(Rta.VIA, _U16.pack(self.via[0]) + self.via[1])
        if self.prefsrc is not None:
            out += push_attr(Rta.PREFSRC, self.prefsrc)
        if self.multipath:
            hops = b""
            for hop in self.multipath:
                attrs = hop.encode_attrs()
                hops += RTNEXTHOP.pack(RTNEXTHOP.size + len(attrs), hop.flags, hop.weight - 1, hop.ifindex) + attrs
            out += push_attr(Rta.MULTIPATH, hops)
        return out

    def encode_body(self) -> bytes:
        dst = push_attr(Rta.DST, self.dst) if self.dst is not None else b""
        return self.encode_header() + dst + self.encode_tail()

    def encode(self, msg_type: int, flags: int, seq: int) -> bytes:
        return encode_message(msg_type, flags, seq, self.encode_body())

    @classmethod
    def decode(cls, body: memoryview | bytes) -> RouteMessage:
        family, dst_len, _src_len, _tos, table, protocol, scope, rtype, flags = RTMSG.unpack_from(body, 0)
        attrs = _decode_table(ROUTE_ATTRS, body, RTMSG.size)
        attrs.setdefault("table", table)
        return cls(family=family, dst_len=dst_len, protocol=protocol, scope=scope, type=rtype,
                   flags=flags, **attrs)


class RouteTemplate:
    """Routes that differ only in destination: the header and attribute tail are encoded once.

    A full table shares a handful of next-hop sets, so per prefix only the nlmsghdr and RTA_DST
    are packed (the hot path of a 1M-route install).
    """

    __slots__ = ("_family", "_rest", "_tail", "_type", "_flags", "_dst_hdr", "_hdr_len", "_head", "_mid", "_pack",
                 "_alen", "encode_key")

    encode_key: Callable[[int, bytes], bytes]
    """:meth:`encode` for a FIB key (``bgpcore.fib.routes.route_key``) with a sequence number."""

    def __init__(self, route: RouteMessage, msg_type: int, flags: int) -> None:
        header = route.encode_header()
        self._family = route.family
        self._rest = header[2:]  # everything after family and dst_len
        self._tail = route.encode_tail()
        self._type = msg_type
        self._flags = flags
        alen = 4 if route.family == socket.AF_INET else 16
        self._dst_hdr = NLA_HDR.pack(4 + alen, Rta.DST)
        self._hdr_len = 16 + RTMSG.size + 4 + alen + len(self._tail)
        # one struct per template: nlmsg_len/type/flags, seq, pid, family, dst_len, the rest of
        # rtmsg + the RTA_DST header, the address, the attribute tail -- a single pack per route
        self._alen = alen
        self._head = NLMSG_HDR.pack(self._hdr_len, msg_type, flags, 0, 0)[:8]
        self._mid = self._rest + self._dst_hdr
        # the address field pads a shorter IPv4 key (its significant octets only) with zeros
        self._pack = struct.Struct(f"=8sIIBB{len(self._mid)}s{alen}s{len(self._tail)}s").pack
        self.encode_key = self._encode_v4_key if route.family == socket.AF_INET else self._encode_v6_key

    def encode(self, seq: int, dst: bytes, dst_len: int) -> bytes:
        """The message for prefix ``dst``/``dst_len`` with sequence number ``seq``."""
        return b"".join((NLMSG_HDR.pack(self._hdr_len, self._type, self._flags, seq, 0),
                         bytes((self._family, dst_len)), self._rest, self._dst_hdr, dst, self._tail))

    def _encode_v4_key(self, seq: int, key: bytes) -> bytes:
        """:meth:`encode` for an IPv4 FIB key (the prefix length, then the significant octets)."""
        return self._pack(self._head, seq, 0, self._family, key[0], self._mid, key[1:], self._tail)

    def _encode_v6_key(self, seq: int, key: bytes) -> bytes:
        """:meth:`encode` for an IPv6 FIB key (the packed address, then the prefix length)."""
        return self._pack(self._head, seq, 0, self._family, key[-1], self._mid, key[:-1], self._tail)


# --- nexthop objects (nhmsg) -------------------------------------------------------------------

NHMSG: Final = struct.Struct("=BBBBI")  # family scope protocol resvd flags
NEXTHOP_GRP: Final = struct.Struct("=IBBH")  # id weight(-1) weight_high resvd


def _decode_group(v: bytes) -> tuple[tuple[int, int], ...]:
    return tuple((nh_id, weight + 1) for nh_id, weight, _hi, _r in NEXTHOP_GRP.iter_unpack(v))


NEXTHOP_ATTRS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    Nha.ID: ("id", _u32),
    Nha.GROUP: ("group", _decode_group),
    Nha.OIF: ("oif", _u32),
    Nha.GATEWAY: ("gateway", _raw),
    Nha.BLACKHOLE: ("blackhole", lambda v: True),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NexthopMessage:
    """RTM_NEWNEXTHOP / RTM_DELNEXTHOP: one next hop, or a group of ``(id, weight)``."""

    id: int
    family: int = socket.AF_UNSPEC
    protocol: int = 0
    flags: int = 0
    oif: int | None = None
    gateway: bytes | None = None
    group: tuple[tuple[int, int], ...] = ()
    blackhole: bool = False

    def encode(self, msg_type: int, flags: int, seq: int) -> bytes:
        body = NHMSG.pack(self.family, 0, self.protocol, 0, self.flags) + push_u32_attr(Nha.ID, self.id)
        if msg_type == MsgType.NEWNEXTHOP:
            if self.group:
                body += push_attr(Nha.GROUP, b"".join(NEXTHOP_GRP.pack(i, w - 1, 0, 0) for i, w in self.group))
            if self.blackhole:
                body += push_attr(Nha.BLACKHOLE, b"")
            if self.oif is not None:
                body += push_u32_attr(Nha.OIF, self.oif)
            if self.gateway is not None:
                body += push_attr(Nha.GATEWAY, self.gateway)
        return encode_message(msg_type, flags, seq, body)

    @classmethod
    def decode(cls, body: memoryview | bytes) -> NexthopMessage:
        family, _scope, protocol, _r, flags = NHMSG.unpack_from(body, 0)
        attrs = _decode_table(NEXTHOP_ATTRS, body, NHMSG.size)
        return cls(family=family, protocol=protocol, flags=flags, **attrs)


# --- links (ifinfomsg) -------------------------------------------------------------------------

IFINFOMSG: Final = struct.Struct("=BxHiII")  # family type index flags change

LINK_ATTRS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    Ifla.IFNAME: ("name", _cstr),
    Ifla.ADDRESS: ("mac", _raw),
    Ifla.MTU: ("mtu", _u32),
    Ifla.OPERSTATE: ("operstate", _u8),
    Ifla.CARRIER: ("carrier", lambda v: bool(v[0])),
}


def mac_text(mac: bytes | None) -> str | None:
    return None if mac is None else ":".join(f"{b:02x}" for b in mac)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkMessage:
    """RTM_NEWLINK / RTM_DELLINK: an interface, its flags, carrier and MAC."""

    ifindex: int
    name: str = ""
    flags: int = 0
    mac: bytes | None = None
    mtu: int = 0
    operstate: int = 0
    carrier: bool | None = None
    deleted: bool = False

    @property
    def up(self) -> bool:
        """Administratively up (IFF_UP)."""
        return bool(self.flags & IFF_UP)

    @property
    def running(self) -> bool:
        """Up with carrier: routes through it can be installed and used."""
        return self.up and bool(self.flags & IFF_LOWER_UP) and not self.deleted

    @property
    def mac_text(self) -> str | None:
        return mac_text(self.mac)

    @staticmethod
    def encode_request(msg_type: int, flags: int, seq: int, ifindex: int = 0) -> bytes:
        return encode_message(msg_type, flags, seq, IFINFOMSG.pack(socket.AF_UNSPEC, 0, ifindex, 0, 0))

    @classmethod
    def decode(cls, body: memoryview | bytes, msg_type: int = MsgType.NEWLINK) -> LinkMessage:
        _family, _type, index, flags, _change = IFINFOMSG.unpack_from(body, 0)
        attrs = _decode_table(LINK_ATTRS, body, IFINFOMSG.size)
        return cls(ifindex=index, flags=flags, deleted=msg_type == MsgType.DELLINK, **attrs)


# --- addresses (ifaddrmsg) ---------------------------------------------------------------------

IFADDRMSG: Final = struct.Struct("=BBBBI")  # family prefixlen flags scope index

ADDRESS_ATTRS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    Ifa.ADDRESS: ("address", _raw),
    Ifa.LOCAL: ("local", _raw),
    Ifa.LABEL: ("label", _cstr),
    Ifa.FLAGS: ("flags", _u32),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressMessage:
    """RTM_NEWADDR: an address on an interface (IFA_LOCAL is ours on point-to-point links)."""

    family: int
    prefixlen: int
    scope: int
    ifindex: int
    address: bytes | None = None
    local: bytes | None = None
    label: str = ""
    flags: int = 0

    @staticmethod
    def encode_request(seq: int, family: int = socket.AF_UNSPEC, ifindex: int = 0) -> bytes:
        return encode_message(MsgType.GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq,
                              IFADDRMSG.pack(family, 0, 0, 0, ifindex))

    @classmethod
    def decode(cls, body: memoryview | bytes) -> AddressMessage:
        family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(body, 0)
        attrs = _decode_table(ADDRESS_ATTRS, body, IFADDRMSG.size)
        attrs.setdefault("flags", flags)
        return cls(family=family, prefixlen=prefixlen, scope=scope, ifindex=index, **attrs)


# --- neighbours (ndmsg) ------------------------------------------------------------------------

NDMSG: Final = struct.Struct("=BxxxiHBB")  # family ifindex state flags type

NEIGH_ATTRS: Final[dict[int, tuple[str, Callable[[bytes], Any]]]] = {
    Nda.DST: ("dst", _raw),
    Nda.LLADDR: ("lladdr", _raw),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighbourMessage:
    """RTM_NEWNEIGH: an ARP/ND entry (address, MAC, router flag, NUD state)."""

    family: int
    ifindex: int
    state: int = 0
    flags: int = 0
    dst: bytes | None = None
    lladdr: bytes | None = None

    @property
    def router(self) -> bool:
        return bool(self.flags & NTF_ROUTER)

    @property
    def state_name(self) -> str:
        names = [name for bit, name in NUD_NAMES.items() if self.state & bit]
        return "|".join(names) or "NONE"

    def encode(self, msg_type: int, flags: int, seq: int) -> bytes:
        body = NDMSG.pack(self.family, self.ifindex, self.state, self.flags, 0)
        if self.dst is not None:
            body += push_attr(Nda.DST, self.dst)
        if self.lladdr is not None:
            body += push_attr(Nda.LLADDR, self.lladdr)
        return encode_message(msg_type, flags, seq, body)

    @classmethod
    def decode(cls, body: memoryview | bytes) -> NeighbourMessage:
        family, index, state, flags, _type = NDMSG.unpack_from(body, 0)
        attrs = _decode_table(NEIGH_ATTRS, body, NDMSG.size)
        return cls(family=family, ifindex=index, state=state, flags=flags, **attrs)

