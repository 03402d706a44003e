"""Per-neighbor quotas on loopback: a connection flood from one address, GTSM on the SYN,
a peer that does not read its output (Cease/8)."""
from __future__ import annotations

import asyncio
import socket
import time
from typing import Any, Callable

from bgpcore.constants import CeaseSubcode, MsgType
from bgpcore.transport.config import NeighborConfig, SpeakerConfig
from bgpcore.transport.limits import SpeakerLimits
from bgpcore.transport.speaker import Speaker
from bgpcore.wire.capabilities import FourOctetAs, Multiprotocol
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.types import PathAttributes

ME = "127.0.0.1"


async def until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _speaker(*neighbors: NeighborConfig, limits: SpeakerLimits = SpeakerLimits()) -> Speaker:
    speaker = Speaker(SpeakerConfig(local_as=65001, router_id=ME, listen=((ME, 0),), neighbors=neighbors,
                                    limits=limits))
    await speaker.start()
    return speaker


async def _open_session(port: int, me: str, asn: int, *, ttl: int | None = None, rcvbuf: int | None = None,
                        wait: bool = True) -> socket.socket:
    """A codec-built client: OPEN + KEEPALIVE; with ``wait``, until our KEEPALIVE comes back."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.bind((me, 0))
    if ttl is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await loop.sock_connect(sock, (ME, port))
    caps = (Multiprotocol(1, 1), FourOctetAs(asn))
    await loop.sock_sendall(sock, encode_open(Open(asn, 90, me, caps)) + KEEPALIVE)
    if wait:
        reader = MessageReader()
        types: list[int] = []
        while MsgType.KEEPALIVE not in types:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
            assert data, "closed"
            types += [t for t, _ in reader.feed(data)]
    return sock


async def test_a_connection_flood_from_one_address_leaves_others_alone(caplog: Any) -> None:
    """1,100 connections from one configured address: two are kept (one plus a collision),
    the rest closed at accept with rate-limited log lines; another client still connects
    and the control path answers."""
    speaker = await _speaker(NeighborConfig(address="127.0.0.2", remote_as=65002, passive=True),
                             NeighborConfig(address="127.0.0.3", remote_as=65003, passive=True))
    loop = asyncio.get_running_loop()
    port = speaker.listening[0][1]
    flood: list[socket.socket] = []
    try:
        async def one() -> None:
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.setblocking(False)
            flood.append(sock)
            try:
                await loop.sock_connect(sock, (ME, port))
            except OSError:
                pass
        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(1100)))
        good = await _open_session(port, "127.0.0.3", 65003)
        await until(lambda: speaker.neighbor("127.0.0.3").state == "ESTABLISHED", what="the other client")
        elapsed = time.monotonic() - started
        assert len(speaker.neighbors()) == 2  # the control path answers
        acceptor = speaker._servers[0]
        # the listen backlog (64) holds the rest back: the kernel lets them in as it can
        await until(lambda: acceptor.refused >= 100, what="the flood refused at accept")
        assert acceptor.accepted <= 3, acceptor.accepted
        refusals = [r for r in caplog.records if "connection refused" in r.getMessage()]
        assert 1 <= len(refusals) <= 2, len(refusals)
        print(f"1,100 connections from 127.0.0.2: other client Established {elapsed:.2f} s after the flood began, "
              f"{acceptor.refused} refused at accept so far")
        good.close()
    finally:
        for sock in flood:
            sock.close()
        await speaker.stop()


async def test_gtsm_refuses_a_ttl_64_peer_at_accept_and_admits_a_ttl_255_one() -> None:
    speaker = await _speaker(NeighborConfig(address="127.0.0.2", remote_as=65002, passive=True, ttl_security_hops=1))
    port = speaker.listening[0][1]
    try:
        far = await _open_session(port, "127.0.0.2", 65002, wait=False)
        await asyncio.sleep(0.3)
        assert speaker.neighbor("127.0.0.2").state in ("IDLE", "ACTIVE")
        assert speaker.neighbor("127.0.0.2").messages_in.get("OPEN", 0) == 0
        far.close()
        near = await _open_session(port, "127.0.0.2", 65002, ttl=255)
        await until(lambda: speaker.neighbor("127.0.0.2").state == "ESTABLISHED", what="GTSM peer up")
        near.close()
    finally:
        await speaker.stop()


async def test_a_peer_that_does_not_read_gets_cease_8() -> None:
    limits = SpeakerLimits(max_queued_bytes=64 << 10)
    speaker = await _speaker(NeighborConfig(address="127.0.0.2", remote_as=65002, passive=True), limits=limits)
    port = speaker.listening[0][1]
    loop = asyncio.get_running_loop()
    # loopback autotuning would take megabytes into kernel buffers: keep them small (accepted
    # sockets inherit the listener's SO_SNDBUF), so the transport's own queue is what grows
    speaker._listeners[0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    try:
        sock = await _open_session(port, "127.0.0.2", 65002, rcvbuf=4096)
        await until(lambda: speaker.neighbor("127.0.0.2").state == "ESTABLISHED", what="Established")
        for i in range(40000):  # one attribute set per route: about 2 MB of UPDATEs
            speaker.announce(f"10.{i >> 8 & 255}.{i & 255}.0/24", attributes=PathAttributes(origin=0, med=i))
        await until(lambda: speaker.neighbor("127.0.0.2").state != "ESTABLISHED", timeout=20, what="Cease")
        reader = MessageReader()
        notification = None
        deadline = time.monotonic() + 10
        while notification is None and time.monotonic() < deadline:
            data = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 5)
            if not data:
                break
            for msg_type, body in reader.feed(data):
                if msg_type == MsgType.NOTIFICATION:
                    notification = bytes(body[:2])
        assert notification == bytes((6, CeaseSubcode.OUT_OF_RESOURCES))
        sock.close()
    finally:
        await speaker.stop()
