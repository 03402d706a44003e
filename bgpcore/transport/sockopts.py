"""Linux socket options a BGP speaker needs: TCP-MD5 (RFC 2385) and GTSM (RFC 5082).

TCP-MD5 keys are per peer address and live on the socket: on a listener one key per
configured neighbor (or per prefix for a listen range), on an outgoing socket the key of
its one peer, set before ``connect``. GTSM sends with TTL 255 and has the kernel drop
segments that arrive with a lower TTL/hop limit than 256 - hops.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import struct
from typing import Final

log = logging.getLogger("bgpcore.speaker")

TCP_MD5SIG: Final = 14
TCP_MD5SIG_EXT: Final = 32
TCP_MD5SIG_FLAG_PREFIX: Final = 1
TCP_MD5SIG_MAXKEYLEN: Final = 80
IP_MINTTL: Final = 21  # linux/in.h (not in every Python build of the socket module)
IPV6_MINHOPCOUNT: Final = 73
_SOCKADDR_STORAGE_LEN: Final = 128


def _sockaddr(sock_family: int, address: str, scope_id: int = 0) -> bytes:
    """A ``sockaddr_in``/``sockaddr_in6`` for ``address`` padded to ``sockaddr_storage``.

    An IPv4 peer on an IPv6 socket is written as its IPv4-mapped IPv6 address.
    """
    ip = ipaddress.ip_address(address)
    if sock_family == socket.AF_INET:
        if ip.version != 4:
            raise ValueError(f"IPv6 address {address} on an IPv4 socket")
        raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + ip.packed
    else:
        packed = ip.packed if ip.version == 6 else ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed).packed
        raw = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 0, 0) + packed + struct.pack("=I", scope_id)
    return raw.ljust(_SOCKADDR_STORAGE_LEN, b"\0")


def md5sig(sock_family: int, address: str, password: str | None, prefix_len: int | None = None,
           scope_id: int = 0) -> tuple[int, bytes]:
    """The (option, value) pair of ``struct tcp_md5sig`` for one peer or prefix.

    An empty or missing password removes the key. With ``prefix_len`` the key covers a
    whole prefix (``TCP_MD5SIG_EXT`` with ``TCP_MD5SIG_FLAG_PREFIX``).
    """
    key = (password or "").encode()
    if len(key) > TCP_MD5SIG_MAXKEYLEN:
        raise ValueError("TCP-MD5 key longer than 80 octets")
    ip = ipaddress.ip_address(address)
    option, flags, plen = TCP_MD5SIG, 0, 0
    if prefix_len is not None:
        option, flags = TCP_MD5SIG_EXT, TCP_MD5SIG_FLAG_PREFIX
        plen = prefix_len + (96 if sock_family == socket.AF_INET6 and ip.version == 4 else 0)
    value = (_sockaddr(sock_family, address, scope_id) + struct.pack("=BBHI", flags, plen, len(key), 0)
             + key.ljust(TCP_MD5SIG_MAXKEYLEN, b"\0"))
    return option, value


def set_md5(sock: socket.socket, address: str, password: str | None, prefix_len: int | None = None,
            scope_id: int = 0) -> None:
    """Install (or with no password remove) the TCP-MD5 key for ``address`` on ``sock``.

    Raises:
        OSError: the kernel refused (e.g. no CONFIG_TCP_MD5SIG, or removing a key never set).
    """
    option, value = md5sig(sock.family, address, password, prefix_len, scope_id)
    sock.setsockopt(socket.IPPROTO_TCP, option, value)


def set_ttl_security(sock: socket.socket, hops: int) -> None:
    """GTSM: send with TTL/hop limit 255 and drop what arrives from further than ``hops``."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, 256 - hops)
        # IPv4-mapped peers on an IPv6 socket still use the IPv4 header fields
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, 256 - hops)
        except OSError:
            pass
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, 256 - hops)


def socket_family(address: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(address.split("%", 1)[0]).version == 6 else socket.AF_INET


def open_listener(address: str, port: int, backlog: int = 64) -> socket.socket:
    """A non-blocking listening TCP socket; IPv6 sockets are IPv6-only (IPv4 gets its own)."""
    family = socket_family(address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def set_listeners_md5(listeners: list[socket.socket], address: str, password: str | None, prefix_len: int | None,
                      interface: str | None = None) -> None:
    """Set (or clear, with None) the TCP-MD5 key of ``address`` on every listener of its family."""
    scope = socket.if_nametoindex(interface) if interface else 0
    ip = ipaddress.ip_address(address)
    for sock in listeners:
        if sock.family == socket.AF_INET and ip.version != 4:
            continue
        if sock.family == socket.AF_INET6 and ip.version != 6:
            continue
        try:
            set_md5(sock, address, password, prefix_len, scope)
        except OSError as exc:
            if password:
                log.error("TCP-MD5 key for %s not set on listener: %s", address, exc)


def set_listeners_ttl(listeners: list[socket.socket]) -> None:
    """GTSM peers check our SYN-ACK too: listeners send with TTL / hop limit 255, and keep each
    SYN so that its TTL is checked at accept, before any of the peer's data is read."""
    for sock in listeners:
        save_syn(sock)
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)


TCP_SAVE_SYN: Final = 27  # linux/tcp.h: keep the SYN of each connection a listener accepts
TCP_SAVED_SYN: Final = 28


def save_syn(sock: socket.socket) -> bool:
    """Have a listener keep each connection's SYN, so GTSM can check its TTL per neighbor at
    accept (``syn_ttl``); False when the kernel does not support it (before Linux 4.2)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_SAVE_SYN, 1)
    except OSError as exc:
        log.warning("TCP_SAVE_SYN not available (%s): GTSM checks arriving connections only after accept", exc)
        return False
    return True


def syn_ttl(sock: socket.socket) -> int | None:
    """The TTL / hop limit of the SYN that opened an accepted connection, or None when its
    listener did not save it (it can be read once)."""
    try:
        syn = sock.getsockopt(socket.IPPROTO_TCP, TCP_SAVED_SYN, 512)
    except OSError:
        return None
    if len(syn) >= 20 and syn[0] >> 4 == 4:
        return syn[8]
    if len(syn) >= 40 and syn[0] >> 4 == 6:
        return syn[7]
    return None
