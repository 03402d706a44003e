"""Router Advertisements on interfaces: sent at an interval, and the peers that send theirs learned.

One raw ICMPv6 socket per interface (``SO_BINDTODEVICE``), filtered to Router Solicitations and
Advertisements (``ICMP6_FILTER``), sending with hop limit 255 and receiving the hop limit of
each packet as ancillary data (``IPV6_RECVHOPLIMIT``) so forwarded or forged messages are
dropped (RFC 4861 §6.1). A valid advertisement's link-local source and the interface it came
in on name the peer; the caller decides what to do with it (open a BGP session).

Advertising starts fast: a solicitation and an advertisement at once, then ``fast_count``
more one second apart, then every ``interval_s`` (FRR's ``ipv6 nd ra-interval``). A received
solicitation is answered at once, so two speakers that start at different times find each
other within a round trip. Call :meth:`RaListener.restart` when a link comes back up.

Needs CAP_NET_RAW. Runs on the asyncio loop that is running when an interface is added.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Final

from bgpcore.discovery import ra

log = logging.getLogger(__name__)

ICMP6_FILTER: Final = 1
_ANCILLARY_SIZE: Final = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20)
_MIN_REPLY_GAP_S: Final = 0.2
_FAST_GAP_S: Final = 1.0
# A send failed: right after a link comes up the kernel refuses IPv6 on it until carrier and
# addrconf settle (up to a second, linkwatch); retry every _RETRY_S that long, then back off.
_RETRY_S: Final = 0.05
_QUICK_RETRIES: Final = 40


@dataclass(frozen=True, slots=True)
class RouterHeard:
    """A valid Router Advertisement arrived: ``address`` on ``ifindex`` is a router."""

    ifindex: int
    address: ipaddress.IPv6Address
    mac: bytes | None
    router_lifetime_s: int


@dataclass(slots=True)
class InterfaceStats:
    """Counters of one interface, for ``show`` output and tests."""

    ra_sent: int = 0
    rs_sent: int = 0
    ra_received: int = 0
    rs_received: int = 0
    dropped: int = 0
    send_errors: int = 0
    last_drop: str = ""


@dataclass(slots=True)
class _Interface:
    ifindex: int
    name: str
    sock: socket.socket
    advert: bytes
    solicit: bytes
    stats: InterfaceStats = field(default_factory=InterfaceStats)
    fast_left: int = 0
    solicit_pending: bool = False
    failures: int = 0
    timer: asyncio.TimerHandle | None = None
    last_advert: float = float("-inf")


class RaListener:
    """Send Router Advertisements on interfaces and report routers heard on them.

    Args:
        on_router: called with a :class:`RouterHeard` for every valid advertisement received.
        interval_s: seconds between periodic advertisements (FRR's default for BGP is 10,
            ``ipv6 nd ra-interval 3`` is common in fabrics).
        fast_count: advertisements one second apart after start or restart.
        router_lifetime_s: the Router Lifetime we advertise; 0 keeps hosts from using us as
            their default router, which discovery does not need.
    """

    def __init__(self, on_router: Callable[[RouterHeard], None], *, interval_s: float = 3.0,
                 fast_count: int = 3, router_lifetime_s: int = 0) -> None:
        if interval_s <= 0:
            raise ValueError(f"advertisement interval {interval_s} s must be positive")
        self.on_router = on_router
        self.interval_s = interval_s
        self.fast_count = fast_count
        self.router_lifetime_s = router_lifetime_s
        self._interfaces: dict[int, _Interface] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- interfaces ------------------------------------------------------------------------------

    def add_interface(self, ifindex: int, name: str, mac: bytes | None = None) -> None:
        """Start advertising on ``name`` and listening for advertisements there.

        Raises:
            PermissionError: without CAP_NET_RAW.
            OSError: the interface does not exist.
        """
        if ifindex in self._interfaces:
            return
        self._loop = asyncio.get_running_loop()
        sock = _open_socket(ifindex, name)
        advert = ra.encode_router_advert(ra.RouterAdvert(router_lifetime_s=self.router_lifetime_s, source_mac=mac))
        solicit = ra.encode_router_solicit(ra.RouterSolicit(source_mac=mac))
        iface = _Interface(ifindex, name, sock, advert, solicit)
        self._interfaces[ifindex] = iface
        self._loop.add_reader(sock.fileno(), self._readable, iface)
        self.restart(ifindex)

    def remove_interface(self, ifindex: int) -> None:
        """Stop advertising on ``ifindex`` and close its socket."""
        iface = self._interfaces.pop(ifindex, None)
        if iface is None:
            return
        if iface.timer is not None:
            iface.timer.cancel()
        if self._loop is not None:
            self._loop.remove_reader(iface.sock.fileno())
        iface.sock.close()

    def restart(self, ifindex: int) -> None:
        """Solicit and advertise at once, then fast (a link came up or the peer went away)."""
        iface = self._interfaces.get(ifindex)
        if iface is None:
            return
        iface.fast_left = self.fast_count
        iface.solicit_pending = True
        iface.failures = 0
        self._advertise(iface)

    def interfaces(self) -> dict[int, str]:
        """ifindex -> name of every interface advertised on."""
        return {i: iface.name for i, iface in self._interfaces.items()}

    def stats(self, ifindex: int) -> InterfaceStats:
        return self._interfaces[ifindex].stats

    def close(self) -> None:
        for ifindex in list(self._interfaces):
            self.remove_interface(ifindex)

    # -- sending ---------------------------------------------------------------------------------

    def _advertise(self, iface: _Interface) -> None:
        if iface.timer is not None:
            iface.timer.cancel()
        if iface.solicit_pending:
            iface.solicit_pending = not self._send(iface, iface.solicit, ra.ALL_ROUTERS)
        sent = self._send(iface, iface.advert, ra.ALL_NODES)
        iface.last_advert = time.monotonic()
        if not sent or iface.solicit_pending:
            iface.failures += 1
            backoff = max(0, iface.failures - _QUICK_RETRIES)
            delay = min(_RETRY_S * 2 ** min(backoff, 10), self.interval_s)
        elif iface.fast_left > 0:
            iface.failures = 0
            iface.fast_left -= 1
            delay = min(_FAST_GAP_S, self.interval_s)
        else:
            iface.failures = 0
            delay = self.interval_s
        assert self._loop is not None
        iface.timer = self._loop.call_later(delay, self._advertise, iface)

    def _send(self, iface: _Interface, message: bytes, dest: ipaddress.IPv6Address) -> bool:
        try:
            iface.sock.sendto(message, (str(dest), 0, 0, iface.ifindex))
        except OSError as exc:  # link down, or no link-local address yet: the timer retries
            iface.stats.send_errors += 1
            log.debug("%s: sending ICMPv6 type %d failed: %s", iface.name, message[0], exc)
            return False
        if message[0] == ra.ICMPV6_ROUTER_ADVERT:
            iface.stats.ra_sent += 1
        else:
            iface.stats.rs_sent += 1
        return True

    # -- receiving -------------------------------------------------------------------------------

    def _readable(self, iface: _Interface) -> None:
        while True:
            try:
                data, ancdata, _flags, source = iface.sock.recvmsg(4096, _ANCILLARY_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("%s: receive failed: %s", iface.name, exc)
                return
            self._handle(iface, data, _hop_limit(ancdata), source[0])

    def _handle(self, iface: _Interface, data: bytes, hop_limit: int | None, source: str) -> None:
        try:
            message = ra.decode_message(data)
        except ra.NdError as exc:
            self._drop(iface, f"malformed from {source}: {exc}")
            return
        reason = ra.drop_reason(source, hop_limit, message)
        if reason:
            self._drop(iface, reason)
            return
        if isinstance(message, ra.RouterSolicit):
            iface.stats.rs_received += 1
            if time.monotonic() - iface.last_advert >= _MIN_REPLY_GAP_S:
                self._advertise(iface)
            return
        iface.stats.ra_received += 1
        address = ipaddress.IPv6Address(source.split("%", 1)[0])
        self.on_router(RouterHeard(iface.ifindex, address, message.source_mac, message.router_lifetime_s))

    def _drop(self, iface: _Interface, reason: str) -> None:
        iface.stats.dropped += 1
        iface.stats.last_drop = reason
        log.info("%s: dropped a Neighbor Discovery message: %s", iface.name, reason)


def _open_socket(ifindex: int, name: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                         socket.IPPROTO_ICMPV6)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name.encode())
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER,
                        ra.icmp6_filter(ra.ICMPV6_ROUTER_SOLICIT, ra.ICMPV6_ROUTER_ADVERT))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ra.ND_HOP_LIMIT)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ra.ND_HOP_LIMIT)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        # solicitations go to all-routers
        mreq = ra.ALL_ROUTERS.packed + struct.pack("=I", ifindex)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    except BaseException:
        sock.close()
        raise
    return sock


def _hop_limit(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, value in ancdata:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
            return int(struct.unpack("=i", value[:4])[0])
    return None


__all__ = ["InterfaceStats", "RaListener", "RouterHeard"]
