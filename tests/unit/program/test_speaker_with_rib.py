"""The speaker with the RIB as its route handler: graceful restart helper mode (RFC 4724), origination.

The restarting peer is a plain TCP client speaking BGP with the codec: it opens a session,
announces a prefix and drops the connection without a NOTIFICATION.
"""
from __future__ import annotations

import asyncio
import socket
import time

from bgpcore.constants import MsgType
from bgpcore.program.rr import RibHandler
from bgpcore.rib import Rib, RibConfig
from bgpcore.transport.config import NeighborConfig, SpeakerConfig
from bgpcore.transport.speaker import Speaker
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


async def _reflector(graceful_restart_time_s: int | None) -> tuple[Rib, Speaker]:
    """A started speaker on 127.0.0.1 with the RIB as route handler and 127.0.0.2 as passive neighbor."""
    rib = Rib(RibConfig(local_asn=65001, router_id="127.0.0.1", shards=1, start_method="inline"))
    handler = RibHandler(rib)
    neighbor = NeighborConfig(address="127.0.0.2", remote_as=65002, passive=True,
                              graceful_restart_time_s=graceful_restart_time_s)
    speaker = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),),
                                    neighbors=(neighbor,)), handler=handler)
    handler.speaker = speaker
    await speaker.start()
    return rib, speaker


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
