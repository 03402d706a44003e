"""Next hops as bgpcore names them (gateway text, interface name or index) turned into the
kernel's terms: interface indexes, the interface a bare gateway is reached through, and IPv4
routes via IPv6 next hops either as RTA_VIA or as 169.254.0.1 onlink with a permanent
neighbour entry for the peer's MAC (the way FRR does it on kernels without RTA_VIA).
"""
from __future__ import annotations

import errno as errno_mod
import ipaddress
import socket
from typing import Final

from bgpcore.errors import FibError
from bgpcore.fib import kernel
from bgpcore.fib import netlink as nl
from bgpcore.fib.objects import Hop
from bgpcore.fib.routes import NextHop

ONLINK_GATEWAY_V4: Final = ipaddress.IPv4Address("169.254.0.1").packed


class NextHopResolver:
    """Interface names and states, and the interface each bare gateway is reached through."""

    def __init__(self, sock: kernel.NetlinkSocket) -> None:
        self.sock = sock
        self.links: dict[int, nl.LinkMessage] = {}
        self.names: dict[str, int] = {}
        self._gateway_oif: dict[tuple[bytes, int], int] = {}
        for link in kernel.list_links(sock):
            self.note_link(link)

    def forget_gateways(self, ifindexes: set[int]) -> None:
        """Bare gateways reached through these links are looked up again next time."""
        self._gateway_oif = {k: v for k, v in self._gateway_oif.items() if v not in ifindexes}

    def vanished(self) -> list[nl.LinkMessage]:
        """Deletion events for links we knew that the kernel no longer lists."""
        present = {link.ifindex for link in kernel.list_links(self.sock)}
        return [nl.LinkMessage(ifindex=i, name=link.name, deleted=True)
                for i, link in self.links.items() if i not in present]

    def note_link(self, link: nl.LinkMessage) -> bool:
        """Record a link's state; True when its name changed (resolved names are then stale)."""
        old = self.links.get(link.ifindex)
        renamed = old is not None and old.name != link.name
        if renamed and old is not None:
            self.names.pop(old.name, None)
        if link.deleted:
            self.links.pop(link.ifindex, None)
            self.names.pop(link.name, None)
            return renamed
        self.links[link.ifindex] = link
        if link.name:
            self.names[link.name] = link.ifindex
        return renamed

    def hop(self, family: int, hop: NextHop, v4_via_v6: str | None) -> Hop:
        """The kernel's view of a next hop for a route of ``family``.

        Raises:
            FibError: an unknown interface, no gateway and no interface, an IPv6 route via an
                IPv4 gateway, or (169.254.0.1 mode) no MAC known for the peer.
        """
        if hop.ifindex is not None:
            oif = hop.ifindex
        elif hop.ifname is not None:
            if hop.ifname not in self.names:
                raise FibError(errno_mod.ENODEV, f"ENODEV: no interface named {hop.ifname!r}")
            oif = self.names[hop.ifname]
        else:
            oif = 0
        if hop.gateway is None:
            if not oif:
                raise FibError(errno_mod.EINVAL, "EINVAL: a next hop needs a gateway or an interface")
            return (socket.AF_UNSPEC, b"", oif, 0, hop.weight)
        gw = ipaddress.ip_address(hop.gateway)
        gw_family = socket.AF_INET if gw.version == 4 else socket.AF_INET6
        if family == socket.AF_INET6 and gw_family == socket.AF_INET:
            raise FibError(errno_mod.EAFNOSUPPORT, f"EAFNOSUPPORT: IPv6 route via IPv4 next hop {gw}")
        if not oif:
            if gw.is_link_local:
                raise FibError(errno_mod.EINVAL, f"EINVAL: link-local next hop {gw} needs an interface")
            oif = self._oif_for(gw_family, gw.packed)
        if family == socket.AF_INET and gw_family == socket.AF_INET6 and v4_via_v6 == "onlink":
            if not oif:
                raise FibError(errno_mod.EINVAL, f"EINVAL: next hop {gw} needs an interface")
            self._ensure_onlink_neighbour(oif, gw, hop.mac)
            return (socket.AF_INET, ONLINK_GATEWAY_V4, oif, nl.RTNH_F_ONLINK, hop.weight)
        flags = nl.RTNH_F_ONLINK if family != gw_family else 0
        return (gw_family, gw.packed, oif, flags, hop.weight)

    def _oif_for(self, family: int, gateway: bytes) -> int:
        """The interface the kernel reaches ``gateway`` through (0 when it cannot)."""
        cached = self._gateway_oif.get((gateway, family))
        if cached is not None:
            return cached
        sock = self.sock
        msg = nl.RouteMessage(family=family, dst_len=len(gateway) * 8, dst=gateway, table=0, type=0)
        oif = 0
        try:
            for msg_type, body in sock.query(msg.encode(nl.MsgType.GETROUTE, nl.NLM_F_REQUEST, 0)):
                if msg_type == nl.MsgType.NEWROUTE:
                    oif = nl.RouteMessage.decode(body).oif or 0
        except FibError:
            return 0
        if oif:
            self._gateway_oif[(gateway, family)] = oif
        return oif

    def _ensure_onlink_neighbour(self, oif: int, gw: ipaddress.IPv4Address | ipaddress.IPv6Address,
                                 mac: str | None) -> None:
        if mac is None:
            known = [n.mac for n in kernel.list_neighbours(oif, socket.AF_INET6, sock=self.sock)
                     if n.address == gw and n.mac]
            if not known:
                raise FibError(errno_mod.EHOSTUNREACH, f"EHOSTUNREACH: no MAC known for {gw} on ifindex {oif}")
            mac = known[0]
        kernel.add_neighbour(self.sock, oif, "169.254.0.1", bytes.fromhex(mac.replace(":", "")))
