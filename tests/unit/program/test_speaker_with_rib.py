"""The router (speaker + RIB) on loopback: graceful restart helper mode (RFC 4724), origination,
maximum-prefix (RFC 4486 Cease/1 in its three variants).

The restarting peer is a plain TCP client speaking BGP with the codec: it opens a session,
announces a prefix and drops the connection without a NOTIFICATION.
"""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from bgpcore.constants import MsgType
from bgpcore import MaxPrefixAction, NeighborConfig, Rib, Router, RouterConfig, Speaker
from bgpcore.wire.capabilities import FourOctetAs, GracefulRestart, Multiprotocol
from bgpcore.wire.context import IPV4_UNICAST, CodecContext
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.nlri import network_key
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_end_of_rib, encode_updates

PREFIX = network_key("203.0.113.0/24")
RESTART_TIME_S = 2


async def _restarting_peer(port: int, announce: bool) -> socket.socket:
    """Open a session from 127.0.0.2 with graceful restart; announce PREFIX or send End-of-RIB only."""
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    caps = (Multiprotocol(1, 1), FourOctetAs(65002), GracefulRestart(0, RESTART_TIME_S, ((1, 1, 0),)))
    await loop.sock_sendall(sock, encode_open(Open(65002, 9, "127.0.0.2", caps)) + KEEPALIVE)
    reader = MessageReader()
    types: list[int] = []
    while MsgType.KEEPALIVE not in types:
        types += [t for t, _ in reader.feed(await loop.sock_recv(sock, 4096))]
    ctx = CodecContext()
    out = b""
    if announce:
        out = b"".join(encode_updates(PathAttributes(origin=0, as_path=((2, (65002,)),)), IPV4_UNICAST,
                                      ("127.0.0.2",), [PREFIX], ctx))
    await loop.sock_sendall(sock, out + encode_end_of_rib(IPV4_UNICAST, ctx))
    return sock


def _drop(sock: socket.socket) -> None:
    """Close with a TCP reset: the connection just dies, no NOTIFICATION."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


async def _until(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _router(**neighbor_options: object) -> Router:
    """A started router on 127.0.0.1 with 127.0.0.2 as passive neighbor."""
    neighbor = NeighborConfig(address="127.0.0.2", remote_as=65002, passive=True, **neighbor_options)  # type: ignore[arg-type]
    router = Router(RouterConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),),
                                 neighbors=(neighbor,)))
    await router.start()
    return router


async def _reflector(graceful_restart_time_s: int | None) -> tuple[Rib, Speaker]:
    router = await _router(graceful_restart_time_s=graceful_restart_time_s)
    return router.rib, router.speaker


async def test_routes_of_a_restarting_peer_stay_until_its_restart_time_then_go() -> None:
    rib, speaker = await _reflector(graceful_restart_time_s=120)
    try:
        port = speaker.listening[0][1]
        sock = await _restarting_peer(port, announce=True)
        await _until(lambda: PREFIX in rib.best_paths(IPV4_UNICAST))
        _drop(sock)
        await _until(lambda: speaker.neighbor("127.0.0.2").state != "ESTABLISHED")
        await asyncio.sleep(RESTART_TIME_S / 2)
        assert PREFIX in rib.best_paths(IPV4_UNICAST), "route kept, stale, while the peer restarts"
        await _until(lambda: PREFIX not in rib.best_paths(IPV4_UNICAST), timeout=RESTART_TIME_S + 3)
    finally:
        await speaker.stop()


async def test_end_of_rib_after_restart_purges_what_the_peer_did_not_send_again() -> None:
    rib, speaker = await _reflector(graceful_restart_time_s=120)
    try:
        port = speaker.listening[0][1]
        _drop(await _restarting_peer(port, announce=True))
        await _until(lambda: speaker.neighbor("127.0.0.2").state != "ESTABLISHED")
        assert PREFIX in rib.best_paths(IPV4_UNICAST)
        sock = await _restarting_peer(port, announce=False)  # back, with an empty table and End-of-RIB
        await _until(lambda: PREFIX not in rib.best_paths(IPV4_UNICAST), timeout=5)
        sock.close()
    finally:
        await speaker.stop()


async def test_a_notification_ends_the_session_without_graceful_restart() -> None:
    rib, speaker = await _reflector(graceful_restart_time_s=120)
    try:
        sock = await _restarting_peer(speaker.listening[0][1], announce=True)
        await _until(lambda: PREFIX in rib.best_paths(IPV4_UNICAST))
        await asyncio.get_running_loop().sock_sendall(sock, bytes.fromhex("ff" * 16 + "0015030602"))  # Cease/Admin Shutdown
        await _until(lambda: PREFIX not in rib.best_paths(IPV4_UNICAST), timeout=3)
        sock.close()
    finally:
        await speaker.stop()


async def test_announced_route_without_origin_is_sent_as_igp() -> None:
    """A programmatic announcement through the RIB reaches the peer as a valid route (ORIGIN IGP)."""
    from bgpcore.wire.update import decode_update

    rib, speaker = await _reflector(graceful_restart_time_s=None)
    try:
        sock = await _restarting_peer(speaker.listening[0][1], announce=False)
        await _until(lambda: speaker.neighbor("127.0.0.2").state == "ESTABLISHED")
        speaker.announce("198.51.100.0/24")
        loop = asyncio.get_running_loop()
        reader = MessageReader()
        deadline = time.monotonic() + 5
        announced = []
        while not announced:
            assert time.monotonic() < deadline, "no UPDATE announcing the prefix"
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
            for msg_type, body in reader.feed(data):
                if msg_type == MsgType.UPDATE:
                    update = decode_update(body, CodecContext())
                    if update.nlri:
                        announced.append(update)
        assert announced[0].nlri == [network_key("198.51.100.0/24")] and announced[0].attributes is not None
        assert announced[0].attributes.origin == 0 and announced[0].action == 0
        sock.close()
    finally:
        await speaker.stop()


async def _session_with_prefixes(port: int, count: int) -> socket.socket:
    """A peer at 127.0.0.2 that opens a session and announces ``count`` prefixes of 203.0.113.0/24."""
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    caps = (Multiprotocol(1, 1), FourOctetAs(65002))
    await loop.sock_sendall(sock, encode_open(Open(65002, 9, "127.0.0.2", caps)) + KEEPALIVE)
    keys = [network_key(f"203.0.113.{i * 4}/30") for i in range(count)]
    out = b"".join(encode_updates(PathAttributes(origin=0, as_path=((2, (65002,)),)), IPV4_UNICAST,
                                  ("127.0.0.2",), keys, CodecContext()))
    await loop.sock_sendall(sock, out)
    return sock


async def _notification(sock: socket.socket, timeout: float = 5.0) -> bytes | None:
    """The body of the first NOTIFICATION the router sends on ``sock``; None if it closes first."""
    loop = asyncio.get_running_loop()
    reader = MessageReader()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), timeout)
        except ConnectionResetError:
            return None
        if not data:
            return None
        for msg_type, body in reader.feed(data):
            if msg_type == MsgType.NOTIFICATION:
                return bytes(body)
    raise AssertionError("no NOTIFICATION")


@pytest.mark.parametrize("action", [MaxPrefixAction.SHUTDOWN, MaxPrefixAction.RESTART])
async def test_maximum_prefix_sends_cease_1_and_closes_the_session(action: MaxPrefixAction) -> None:
    router = await _router(max_prefix=3, max_prefix_action=action, max_prefix_restart_s=1.0)
    try:
        port = router.speaker.listening[0][1]
        sock = await _session_with_prefixes(port, 4)
        body = await _notification(sock)
        assert body is not None and body[:2] == bytes((6, 1)), f"Cease/1 expected, got {body!r}"
        assert body[2:] == bytes((0, 1, 1, 0, 0, 0, 3)), "AFI 1, SAFI 1, limit 3 (RFC 4486)"
        sock.close()
        await _until(lambda: router.neighbor("127.0.0.2").state == "IDLE")
        await _until(lambda: router.route_count() == 0)
        await asyncio.sleep(1.5)
        retry = await _session_with_prefixes(port, 2)
        if action is MaxPrefixAction.SHUTDOWN:  # stays down: the connection is refused
            assert await _notification(retry) is None, "a shut-down neighbor's connection is refused"
            assert router.neighbor("127.0.0.2").state == "IDLE" and router.route_count() == 0
        else:  # restarted after max_prefix_restart_s: the peer is accepted again
            await _until(lambda: router.neighbor("127.0.0.2").state == "ESTABLISHED")
            await _until(lambda: router.route_count() == 2)
        retry.close()
    finally:
        await router.stop()


async def test_maximum_prefix_warning_only_keeps_the_session_and_the_routes() -> None:
    router = await _router(max_prefix=3, max_prefix_action=MaxPrefixAction.WARNING_ONLY)
    try:
        sock = await _session_with_prefixes(router.speaker.listening[0][1], 5)
        await _until(lambda: router.route_count() == 5)
        await asyncio.sleep(0.3)
        assert router.neighbor("127.0.0.2").state == "ESTABLISHED"
        sock.close()
    finally:
        await router.stop()
