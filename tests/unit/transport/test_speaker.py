"""Speakers on real loopback sockets (127.0.0.0/8), in one event loop."""
from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any, Callable

import pytest

from bgpcore.constants import CeaseSubcode, ErrorCode, MsgType
from bgpcore.errors import UsageError
from bgpcore.session.events import NotificationReceived, SessionDown, SessionEstablished
from bgpcore.session.timers import TimerSettings
from bgpcore.transport.config import ListenRange, NeighborConfig, SpeakerConfig
from bgpcore.transport.protocol import WRITE_HIGH_WATER
from bgpcore.transport.routes import SimpleRoutes
from bgpcore.transport.speaker import PULL_BATCH, Speaker
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.nlri import network_key
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.types import PathAttributes

FAST = TimerSettings(connect_retry_s=0.5, connect_retry_max_s=2, idle_hold_s=0.2, idle_hold_max_s=1)


async def until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _speaker(me: str, asn: int, peer: str, peer_as: object, peer_port: int, port: int = 0, **kw: Any) -> Speaker:
    n = NeighborConfig(address=peer, remote_as=peer_as, port=peer_port, source_address=me, hold_time_s=9,
                       timers=FAST, **kw)  # type: ignore[arg-type]
    return Speaker(SpeakerConfig(local_as=asn, router_id=me, listen=((me, port),), neighbors=(n,)))


async def _pair(**kw: Any) -> tuple[Speaker, Speaker]:
    """A on 127.0.0.1 (AS 65001) and B on 127.0.0.2 (AS 65002), both connecting out."""
    probe = socket.socket()
    probe.bind(("127.0.0.2", 0))
    port_b = probe.getsockname()[1]
    probe.close()
    a = _speaker("127.0.0.1", 65001, "127.0.0.2", 65002, port_b, **kw)
    await a.start()
    port_a = a.listening[0][1]
    b = _speaker("127.0.0.2", 65002, "127.0.0.1", 65001, port_a, port=port_b, **kw)
    await b.start()
    return a, b


def _received(s: Speaker, peer: str) -> dict[Any, Any]:
    handler = s.handler
    assert isinstance(handler, SimpleRoutes)
    return handler.received.get(peer, {})


async def test_two_speakers_establish_and_exchange_routes() -> None:
    a, b = await _pair()
    events = b.events()
    try:
        await until(lambda: a.neighbor("127.0.0.2").state == "ESTABLISHED" and b.neighbor("127.0.0.1").state == "ESTABLISHED",
                    what="Established")
        attrs = PathAttributes(med=7, communities=(65001 << 16 | 1,), large_communities=((65001, 2, 3),))
        a.announce("198.51.100.0/24", attributes=attrs)
        a.announce("2001:db8:1::/48", next_hop="2001:db8::1", attributes=attrs)
        key4, key6 = network_key("198.51.100.0/24"), network_key("2001:db8:1::/48")
        await until(lambda: key4 in _received(b, "127.0.0.1").get((1, 1), {})
                    and key6 in _received(b, "127.0.0.1").get((2, 1), {}), what="routes at B")
        got, hop = _received(b, "127.0.0.1")[(1, 1)][key4]
        assert hop == ("127.0.0.1",) and got.med == 7 and got.as_path == ((2, (65001,)),)
        assert got.large_communities == ((65001, 2, 3),) and got.local_pref is None
        assert _received(b, "127.0.0.1")[(2, 1)][key6][1][0] == "2001:db8::1"
        a.withdraw("198.51.100.0/24")
        await until(lambda: key4 not in _received(b, "127.0.0.1").get((1, 1), {}), what="withdrawal")
        status = b.neighbor("127.0.0.1")
        assert status.peer_as == 65001 and status.hold_time_s == 9 and status.messages_in["UPDATE"] >= 3
        assert status.prefixes_received == 1 and status.uptime_s is not None
        assert "FourOctetAs" in status.peer_capabilities and status.established_count == 1
        seen = []
        while not events.queue.empty():
            seen.append(type(events.queue.get_nowait().event).__name__)
        assert "SessionEstablished" in seen and "UpdateReceived" in seen
    finally:
        await a.stop()
        await b.stop()


async def test_simultaneous_connections_settle_on_one_session() -> None:
    a, b = await _pair()
    try:
        await until(lambda: a.neighbor("127.0.0.2").state == "ESTABLISHED" and b.neighbor("127.0.0.1").state == "ESTABLISHED",
                    what="Established")
        await asyncio.sleep(2.0)
        sa, sb = a.neighbor("127.0.0.2"), b.neighbor("127.0.0.1")
        assert sa.state == sb.state == "ESTABLISHED"
        assert sa.established_count == 1 and sb.established_count == 1
    finally:
        await a.stop()
        await b.stop()


async def test_shutdown_message_reaches_peer_and_routes_go_away() -> None:
    a, b = await _pair()
    events = b.events()
    try:
        await until(lambda: b.neighbor("127.0.0.1").state == "ESTABLISHED", what="Established")
        a.announce("203.0.113.0/24")
        await until(lambda: _received(b, "127.0.0.1").get((1, 1)), what="route")
        a.shutdown_neighbor("127.0.0.2", "planned maintenance")
        await until(lambda: b.neighbor("127.0.0.1").state != "ESTABLISHED", what="down")
        assert _received(b, "127.0.0.1") == {}
        notes = []
        while not events.queue.empty():
            ev = events.queue.get_nowait().event
            if isinstance(ev, NotificationReceived):
                notes.append(ev.notification)
        assert notes and notes[0].subcode == CeaseSubcode.ADMINISTRATIVE_SHUTDOWN
        assert notes[0].shutdown_message == "planned maintenance"
        assert "planned maintenance" in (b.neighbor("127.0.0.1").last_error or "")
        await asyncio.sleep(1.0)
        assert a.neighbor("127.0.0.2").state == "IDLE"
        a.enable_neighbor("127.0.0.2")
        await until(lambda: b.neighbor("127.0.0.1").state == "ESTABLISHED", what="re-established")
        await until(lambda: _received(b, "127.0.0.1").get((1, 1)), what="route again")
    finally:
        await a.stop()
        await b.stop()


async def test_soft_reset_in_and_out() -> None:
    a, b = await _pair()
    try:
        await until(lambda: b.neighbor("127.0.0.1").state == "ESTABLISHED", what="Established")
        a.announce("203.0.113.0/24")
        await until(lambda: _received(b, "127.0.0.1").get((1, 1)), what="route")
        before = a.neighbor("127.0.0.2").messages_out["UPDATE"]
        b.reset_neighbor("127.0.0.1", soft_in=True)
        await until(lambda: a.neighbor("127.0.0.2").messages_out["UPDATE"] > before, what="re-advertisement")
        # Enhanced Route Refresh (RFC 7313): the resend comes between BoRR and EoRR, and the
        # markers are not taken as requests (one request and two markers per family)
        await until(lambda: b.neighbor("127.0.0.1").messages_in.get("ROUTE_REFRESH") == 4, what="BoRR and EoRR")
        assert a.neighbor("127.0.0.2").messages_in["ROUTE_REFRESH"] == 2
        assert a.neighbor("127.0.0.2").messages_out["ROUTE_REFRESH"] == 4
        before = a.neighbor("127.0.0.2").messages_out["UPDATE"]
        a.reset_neighbor("127.0.0.2", soft_out=True)
        await until(lambda: a.neighbor("127.0.0.2").messages_out["UPDATE"] > before, what="soft out")
        assert b.neighbor("127.0.0.1").established_count == 1
        a.reset_neighbor("127.0.0.2")
        await until(lambda: b.neighbor("127.0.0.1").established_count == 2 and b.neighbor("127.0.0.1").state == "ESTABLISHED",
                    what="hard reset and back")
    finally:
        await a.stop()
        await b.stop()


async def test_md5_password_must_match() -> None:
    a, b = await _pair(password="s3cret")
    try:
        await until(lambda: b.neighbor("127.0.0.1").state == "ESTABLISHED", what="Established with MD5")
    finally:
        await a.stop()
        await b.stop()
    probe = socket.socket()
    probe.bind(("127.0.0.2", 0))
    port_b = probe.getsockname()[1]
    probe.close()
    a = _speaker("127.0.0.1", 65001, "127.0.0.2", 65002, port_b, password="right")
    await a.start()
    b = _speaker("127.0.0.2", 65002, "127.0.0.1", 65001, a.listening[0][1], port=port_b, password="wrong")
    await b.start()
    try:
        await asyncio.sleep(2.5)
        assert a.neighbor("127.0.0.2").established_count == 0 and b.neighbor("127.0.0.1").established_count == 0
    finally:
        await a.stop()
        await b.stop()


async def test_ttl_security_on_loopback() -> None:
    a, b = await _pair(ttl_security_hops=1)
    try:
        await until(lambda: b.neighbor("127.0.0.1").state == "ESTABLISHED", what="Established with GTSM")
    finally:
        await a.stop()
        await b.stop()


def _raw_peer(port: int, src: str, asn: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((src, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(encode_open(Open(asn, 90, src)) + KEEPALIVE)
    return sock


async def _read_until(sock: socket.socket, want: Callable[[list[tuple[int, bytes]]], bool],
                      count: tuple[int, int] | None = None) -> list[tuple[int, bytes]]:
    """Read messages until ``want(messages)``, or until ``count`` = (type, n) of one type arrived."""
    reader, got = MessageReader(), []
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    seen = 0
    while not (seen >= count[1] if count else want(got)):
        data = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 5)
        assert data, "peer closed"
        msgs = reader.feed(data)
        if count:
            seen += sum(1 for t, _ in msgs if t == count[0])
        else:
            got += msgs
    return got


async def test_unconfigured_address_is_refused_and_listen_range_accepts() -> None:
    template = NeighborConfig(address="127.0.0.0", remote_as="external", hold_time_s=9, timers=FAST)
    s = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),),
                              listen_ranges=(ListenRange(prefix="127.0.1.0/24", template=template),)))
    await s.start()
    port = s.listening[0][1]
    try:
        stranger = _raw_peer(port, "127.0.0.9", 65009)
        stranger.setblocking(False)
        try:  # closed without a word (a reset, as our OPEN was left unread)
            data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(stranger, 100), 5)
        except ConnectionResetError:
            data = b""
        assert data == b""
        stranger.close()
        same_as = _raw_peer(port, "127.0.1.5", 65001)
        msgs = await _read_until(same_as, lambda g: any(t == MsgType.NOTIFICATION for t, _ in g))
        note = next(body for t, body in msgs if t == MsgType.NOTIFICATION)
        assert note[:2] == bytes((ErrorCode.OPEN_MESSAGE, 2))  # Bad Peer AS: "external" refuses our own AS
        same_as.close()
        good = _raw_peer(port, "127.0.1.7", 65007)
        await _read_until(good, lambda g: [t for t, _ in g].count(MsgType.KEEPALIVE) >= 1)
        await until(lambda: any(n.peer == "127.0.1.7" and n.state == "ESTABLISHED" and n.dynamic for n in s.neighbors()),
                    what="dynamic neighbor")
        good.close()
        await until(lambda: all(n.peer != "127.0.1.7" for n in s.neighbors()), what="dynamic neighbor removed")
    finally:
        await s.stop()


async def test_garbage_from_one_peer_leaves_the_other_session_alone() -> None:
    a, b = await _pair()
    events = a.events()
    try:
        await until(lambda: a.neighbor("127.0.0.2").state == "ESTABLISHED", what="Established")
        # a third party on B's address cannot reach A's sessions; garbage on a fresh connection
        # from an unknown address is refused, and a malformed UPDATE from B ends only B's session
        up = a._neighbors[("127.0.0.2", None)].up_driver
        assert up is not None and up.protocol is not None
        up.data_received(up.protocol, b"\xff" * 16 + struct.pack("!HB", 25, MsgType.UPDATE) + b"\x00\x09" + b"\x00" * 4)
        await until(lambda: any(isinstance(e.event, SessionDown) for e in _drain(events)), what="session down")
        await until(lambda: a.neighbor("127.0.0.2").state == "ESTABLISHED", what="back up")
    finally:
        await a.stop()
        await b.stop()


_seen: list[Any] = []


def _drain(stream: Any) -> list[Any]:
    while not stream.queue.empty():
        _seen.append(stream.queue.get_nowait())
    return _seen


async def test_peer_that_stops_reading_does_not_grow_memory() -> None:
    n = NeighborConfig(address="127.0.0.3", remote_as=65003, passive=True, hold_time_s=90, timers=FAST)
    s = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),), neighbors=(n,)))
    await s.start()
    peer = _raw_peer(s.listening[0][1], "127.0.0.3", 65003, rcvbuf=4096)
    try:
        await _read_until(peer, lambda g: any(t == MsgType.KEEPALIVE for t, _ in g))
        await until(lambda: s.neighbor("127.0.0.3").state == "ESTABLISHED", what="Established")
        communities = tuple(range(1, 250))  # about 1 KiB per UPDATE: 20 MB in all
        for i in range(20000):
            s.announce(f"10.{i >> 8 & 255}.{i & 255}.0/24", next_hop="127.0.0.1",
                       attributes=PathAttributes(med=i, communities=communities))  # a set per prefix
        await asyncio.sleep(1.0)
        driver = s._neighbors[("127.0.0.3", None)].up_driver
        assert driver is not None and driver.protocol is not None and driver.protocol.transport is not None
        buffered = driver.protocol.transport.get_write_buffer_size()
        assert driver.protocol.paused
        assert buffered <= WRITE_HIGH_WATER + PULL_BATCH * 4096
        handler = s.handler
        assert isinstance(handler, SimpleRoutes)
        pending = sum(len(p) for p in handler._out["127.0.0.3"].pending.values())
        assert pending > 10000  # still state, not bytes
        sent = s.neighbor("127.0.0.3").messages_out["UPDATE"]
        # the peer reads again: everything arrives
        await _read_until(peer, bool, count=(MsgType.UPDATE, 20000))  # one UPDATE per prefix
        assert sent < 20000
        assert s.neighbor("127.0.0.3").state == "ESTABLISHED"
    finally:
        peer.close()
        await s.stop()


@pytest.mark.parametrize("prefix", ["198.51.100.1/24", "198.51.100.0/33", "2001:db8::/129", "not-a-prefix", "10.0.0.0/x"])
async def test_announce_refuses_what_is_not_a_prefix(prefix: str) -> None:
    s = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=()))
    with pytest.raises(UsageError):
        s.announce(prefix)


@pytest.mark.parametrize("password, establishes", [("range-secret", True), ("other", False)])
async def test_listen_range_with_md5_key_for_the_whole_prefix(password: str, establishes: bool) -> None:
    template = NeighborConfig(address="127.0.1.0", remote_as="external", hold_time_s=9, timers=FAST, password="range-secret")
    a = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),),
                              listen_ranges=(ListenRange(prefix="127.0.1.0/24", template=template),)))
    await a.start()
    b = _speaker("127.0.1.5", 65005, "127.0.0.1", 65001, a.listening[0][1], password=password)
    await b.start()
    try:
        if establishes:
            await until(lambda: b.neighbor("127.0.0.1").state == "ESTABLISHED", what="Established through the range key")
            assert [n.peer for n in a.neighbors() if n.dynamic] == ["127.0.1.5"]
        else:
            await asyncio.sleep(2.0)
            assert b.neighbor("127.0.0.1").established_count == 0 and not a.neighbors()
    finally:
        await a.stop()
        await b.stop()


async def test_ipv6_loopback_with_md5_and_ttl_security() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback address")
    port_b = probe.getsockname()[1]
    probe.close()
    opts: dict[str, Any] = {"password": "six", "ttl_security_hops": 1}
    a = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("::1", 0),), neighbors=(
        NeighborConfig(address="::1", remote_as=65002, port=port_b, hold_time_s=9, timers=FAST, **opts),)))
    await a.start()
    b = Speaker(SpeakerConfig(local_as=65002, router_id="127.0.0.2", listen=(("::1", port_b),), neighbors=(
        NeighborConfig(address="::1", remote_as=65001, port=a.listening[0][1], hold_time_s=9, timers=FAST, **opts),)))
    await b.start()
    try:
        await until(lambda: a.neighbor("::1").state == "ESTABLISHED" and b.neighbor("::1").state == "ESTABLISHED",
                    what="Established over ::1 with TCP-MD5 and GTSM")
    finally:
        await a.stop()
        await b.stop()


async def test_neighbors_added_before_start_get_their_keys_at_start() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.2", 0))
    port_b = probe.getsockname()[1]
    probe.close()
    a = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),)))
    a.add_neighbor(NeighborConfig(address="127.0.0.2", remote_as=65002, port=port_b, passive=True, password="early",
                                  hold_time_s=9, timers=FAST))
    await a.start()
    b = _speaker("127.0.0.2", 65002, "127.0.0.1", 65001, a.listening[0][1], port=port_b, password="early")
    await b.start()
    try:
        await until(lambda: a.neighbor("127.0.0.2").state == "ESTABLISHED", what="Established")
    finally:
        await a.stop()
        await b.stop()


async def test_neighbor_waiting_to_retry_takes_the_peers_connection() -> None:
    """A session reset leaves A waiting out a long idle hold; B reconnects at once and A takes it."""
    slow = TimerSettings(connect_retry_s=30, connect_retry_max_s=60, idle_hold_s=30, idle_hold_max_s=60)
    probe = socket.socket()
    probe.bind(("127.0.0.2", 0))
    port_b = probe.getsockname()[1]
    probe.close()
    a = Speaker(SpeakerConfig(local_as=65001, router_id="127.0.0.1", listen=(("127.0.0.1", 0),), neighbors=(
        NeighborConfig(address="127.0.0.2", remote_as=65002, port=port_b, source_address="127.0.0.1", hold_time_s=9,
                       timers=slow),)))
    await a.start()
    b = _speaker("127.0.0.2", 65002, "127.0.0.1", 65001, a.listening[0][1], port=port_b)
    await b.start()
    try:
        await until(lambda: a.neighbor("127.0.0.2").state == "ESTABLISHED", what="first Established")
        reset_at = time.monotonic()
        b.reset_neighbor("127.0.0.1", message="maintenance")
        await until(lambda: (a.neighbor("127.0.0.2").uptime_s or 1e9) < time.monotonic() - reset_at
                    and a.neighbor("127.0.0.2").state == "ESTABLISHED", timeout=10, what="re-established well inside A's idle hold")
        assert time.monotonic() - reset_at < 10 < slow.idle_hold_s
    finally:
        await a.stop()
        await b.stop()
