"""Two BfdEndpoints over real loopback sockets: Up, the negotiated timers, and Down on silence.

Both endpoints share one address, so each listens on its own free port and names the other's
as ``remote_port`` (RFC 5881 uses 3784 on both sides; the rest is unchanged).
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import socket
import time

import pytest

from bgpcore.bfd.packet import ControlPacket, Diag, State, encode_control
from bgpcore.bfd.transport import SOURCE_PORT_MAX, SOURCE_PORT_MIN, BfdEndpoint, BfdPeerEvent, BfdPeerHandle, PeerKey
from bgpcore.errors import UsageError


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


async def _wait(predicate, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def _pair(address: str, interval_ms: int = 100) -> tuple[BfdEndpoint, BfdEndpoint, list[BfdPeerEvent]]:
    """Endpoints a and b on ``address``, each with the other as peer; a's events collected."""
    a = BfdEndpoint(listen_port=0, listen_addresses=(address,), rng=random.Random(1))
    b = BfdEndpoint(listen_port=0, listen_addresses=(address,), rng=random.Random(2))
    await a.start()
    await b.start()
    events: list[BfdPeerEvent] = []
    a.subscribe(events.append)
    b.add_peer(address, interval_ms=interval_ms, multiplier=3, remote_port=a.ports[address])
    a.add_peer(address, interval_ms=interval_ms, multiplier=3, remote_port=b.ports[address])
    return a, b, events


@pytest.mark.parametrize("address", ["127.0.0.1", pytest.param("::1", marks=pytest.mark.skipif(
    not _has_ipv6(), reason="no IPv6 loopback"))])
async def test_endpoints_come_up_and_go_down_within_detection_time(address: str) -> None:
    a, b, events = await _pair(address)
    key = PeerKey(ipaddress.ip_address(address).compressed)
    try:
        await _wait(lambda: a.state(key) is State.UP and b.state(key) is State.UP)
        await _wait(lambda: not a.status(key).session.poll_in_progress and not b.status(key).session.poll_in_progress)
        st = a.status(key)
        assert st.session.tx_interval_us == 100_000 and st.session.detection_time_us == 300_000
        assert SOURCE_PORT_MIN <= st.source_port <= SOURCE_PORT_MAX
        row = json.loads(json.dumps([s.as_dict() for s in a.sessions()]))[0]
        assert row["state"] == "up" and row["peer"] == key.address and row["remote_discriminator"] != 0
        await asyncio.sleep(0.3)  # steady state: nothing drops
        assert a.state(key) is State.UP and a.dropped == {"ttl": 0, "malformed": 0, "no_session": 0}
        stopped = asyncio.get_running_loop().time()
        b.close()
        await _wait(lambda: a.state(key) is State.DOWN, 2.0)
        down = [e for e in events if e.new is State.DOWN][-1]
        assert down.diag is Diag.CONTROL_DETECTION_TIME_EXPIRED and down.peer == key
        assert down.at - stopped <= 0.300 + 0.15  # detection time, plus scheduling slack
    finally:
        a.close()
        b.close()


async def test_remove_peer_sends_admin_down_and_the_other_side_follows() -> None:
    a, b, events = await _pair("127.0.0.1")
    key = PeerKey("127.0.0.1")
    stream = a.events()
    try:
        await _wait(lambda: a.state(key) is State.UP)
        b.remove_peer(key)
        ev = await asyncio.wait_for(anext(stream), 1.0)
        while ev.new is not State.DOWN:
            ev = await asyncio.wait_for(anext(stream), 1.0)
        assert ev.diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN and ev.remote_diag is Diag.ADMINISTRATIVELY_DOWN
        assert b.sessions() == []
    finally:
        stream.close()
        a.close()
        b.close()


async def test_admin_down_and_enable_through_the_endpoint() -> None:
    a, b, _ = await _pair("127.0.0.1")
    key = PeerKey("127.0.0.1")
    try:
        await _wait(lambda: a.state(key) is State.UP)
        h = BfdPeerHandle(peer=key, local_discriminator=a.status(key).session.local_discriminator)
        a.admin_down(h)
        await _wait(lambda: b.state(key) is State.DOWN, 1.0)
        assert a.state(key) is State.ADMIN_DOWN
        a.enable(h)
        await _wait(lambda: a.state(key) is State.UP and b.state(key) is State.UP, 5.0)
        a.set_intervals(h, 30, 4)
        await _wait(lambda: not a.status(key).session.poll_in_progress, 2.0)
        assert b.status(key).session.detection_time_us == 4 * 100_000
    finally:
        a.close()
        b.close()


async def test_packet_with_ttl_below_255_is_dropped() -> None:
    a = BfdEndpoint(listen_port=0, listen_addresses=("127.0.0.1",))
    await a.start()
    a.add_peer("127.0.0.1", remote_port=9)  # discard port: nobody answers
    try:
        pkt = encode_control(ControlPacket(state=State.DOWN, my_discriminator=5))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
            s.sendto(pkt, ("127.0.0.1", a.ports["127.0.0.1"]))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            s.sendto(b"\x20" * 10, ("127.0.0.1", a.ports["127.0.0.1"]))
            s.sendto(encode_control(ControlPacket(state=State.UP, my_discriminator=5, your_discriminator=77)),
                     ("127.0.0.1", a.ports["127.0.0.1"]))
        await _wait(lambda: a.dropped == {"ttl": 1, "malformed": 1, "no_session": 1}, 1.0)
        assert a.state(PeerKey("127.0.0.1")) is State.DOWN
    finally:
        a.close()


async def test_usage_errors() -> None:
    a = BfdEndpoint(listen_port=0, listen_addresses=("127.0.0.1",))
    with pytest.raises(UsageError):
        a.add_peer("192.0.2.1")
    await a.start()
    try:
        a.add_peer("192.0.2.1", remote_port=9)
        with pytest.raises(UsageError):
            a.add_peer("192.0.2.1")
        with pytest.raises(UsageError):
            a.add_peer("fe80::1")
        with pytest.raises(UsageError):
            a.status(PeerKey("198.51.100.1"))
    finally:
        a.close()
