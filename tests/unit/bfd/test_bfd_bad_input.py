"""Bad BFD input over real loopback sockets: dropped, counted, logged (rate-limited), harmless.

Endpoint ``a`` has two Up sessions: with ``b`` (127.0.0.1) and with ``c`` (127.0.0.2), each on
its own port. A third socket then sends ``a`` everything RFC 5880 §6.8.6 / RFC 5881 §5 say to
discard: wrong version, a Length field shorter than the header or longer than the datagram,
a truncated datagram, TTL below 255, a zero Detect Mult, an unknown Your Discriminator, and a
valid-looking packet naming a's session with b but coming from another address. Each is
dropped before any session sees it, counted in ``BfdEndpoint.dropped``, and logged at WARNING
at most once per ``DROP_LOG_INTERVAL_S`` per reason; neither session changes state or counts
a packet it did not get from its peer.
"""
from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from typing import Any, Callable

import pytest

from bgpcore.bfd import transport
from bgpcore.bfd.packet import ControlPacket, State, encode_control
from bgpcore.bfd.transport import BfdEndpoint, BfdPeerEvent, PeerKey

B, C = "127.0.0.1", "127.0.0.2"


def _has_second_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((C, 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _has_second_loopback(), reason="127.0.0.2 cannot be bound")


async def _wait(predicate: Callable[[], object], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def _packet(**fields: Any) -> bytes:
    return encode_control(ControlPacket(**{"state": State.UP, "my_discriminator": 4242, **fields}))


def _raw(data: bytes, mutate: Callable[[bytearray], None]) -> bytes:
    out = bytearray(data)
    mutate(out)
    return bytes(out)


async def test_bad_input_is_dropped_logged_once_per_reason_and_harms_no_session(
        caplog: pytest.LogCaptureFixture) -> None:
    a = BfdEndpoint(listen_port=0, listen_addresses=("0.0.0.0",), rng=random.Random(1))
    b = BfdEndpoint(listen_port=0, listen_addresses=(B,), rng=random.Random(2))
    c = BfdEndpoint(listen_port=0, listen_addresses=(C,), rng=random.Random(3))
    for e in (a, b, c):
        await e.start()
    events: list[BfdPeerEvent] = []
    a.subscribe(events.append)
    port = a.ports["0.0.0.0"]
    kb, kc = PeerKey(B), PeerKey(C)
    try:
        b.add_peer(B, interval_ms=50, multiplier=3, remote_port=port)
        c.add_peer(B, local_address=C, interval_ms=50, multiplier=3, remote_port=port)
        to_b = a.add_peer(B, interval_ms=50, multiplier=3, remote_port=b.ports[B])
        a.add_peer(C, interval_ms=50, multiplier=3, remote_port=c.ports[C])
        await _wait(lambda: all(a.state(k) is State.UP and not a.status(k).session.poll_in_progress for k in (kb, kc)))
        assert a.dropped == {"ttl": 0, "malformed": 0, "no_session": 0}
        before = {k: a.status(k).session for k in (kb, kc)}
        ups = len(events)

        ours = to_b.local_discriminator  # a's discriminator of its session with b
        good = _packet(your_discriminator=ours)
        malformed = [
            _raw(good, lambda d: d.__setitem__(0, (2 << 5) | (d[0] & 0x1F))),  # version 2
            _raw(good, lambda d: d.__setitem__(0, (0 << 5) | (d[0] & 0x1F))),  # version 0
            _raw(good, lambda d: d.__setitem__(3, 20)),  # Length below the 24-byte header
            _raw(good, lambda d: d.__setitem__(3, 48)),  # Length beyond the datagram
            good[:20],  # truncated
            _raw(good, lambda d: d.__setitem__(2, 0)),  # Detect Mult zero
            _packet(your_discriminator=0, state=State.UP),  # Your Discriminator zero while Up
        ]
        caplog.set_level(logging.WARNING, logger="bgpcore.bfd")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((C, 0))  # the address of a real peer, from another port: only the content is wrong
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            for _ in range(5):
                for data in malformed:
                    s.sendto(data, (B, port))
                s.sendto(_packet(your_discriminator=0xDEAD), (B, port))  # unknown discriminator
                s.sendto(good, (B, port))  # b's session, but from c's address
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 254)
            for _ in range(5):
                s.sendto(good, (B, port))  # TTL below 255
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
            s.sendto(good, (B, port))
        want = {"ttl": 6, "malformed": 5 * len(malformed), "no_session": 10}
        await _wait(lambda: a.dropped == want, 2.0)
        await asyncio.sleep(0.3)  # two detection times more: both sessions stay Up on their peers' packets

        for k in (kb, kc):
            now = a.status(k).session
            assert a.state(k) is State.UP, k
            assert now.state_changes == before[k].state_changes and now.up_count == 1 and now.down_count == 0
            assert now.remote_discriminator == before[k].remote_discriminator, k
            assert now.packets_dropped == 0, k  # nothing reached a session
            assert now.detection_time_us == 150_000 and now.remote_detect_mult == 3, k
        assert events[ups:] == [], events[ups:]
        assert b.state(kb) is State.UP and c.state(PeerKey(B)) is State.UP
        assert a.dropped == want

        warnings = [r.getMessage() for r in caplog.records if r.name == "bgpcore.bfd" and r.levelno == logging.WARNING]
        # one line per reason within the interval, naming the sender and why
        assert len(warnings) == 3, warnings
        assert any("TTL/hop limit 254, not 255" in w and C in w for w in warnings), warnings
        assert any("version 2" in w and C in w for w in warnings), warnings
        assert any("no session (your discriminator 57005)" in w for w in warnings), warnings
    finally:
        for e in (a, b, c):
            e.close()


async def test_each_reason_logs_again_after_the_interval_with_the_count_in_between(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "DROP_LOG_INTERVAL_S", 0.2)
    a = BfdEndpoint(listen_port=0, listen_addresses=(B,))
    await a.start()
    caplog.set_level(logging.WARNING, logger="bgpcore.bfd")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
            for _ in range(4):
                s.sendto(_packet(detect_mult=0), (B, a.ports[B]))
            await _wait(lambda: a.dropped["malformed"] == 4, 2.0)
            await asyncio.sleep(0.25)
            s.sendto(_packet(detect_mult=0), (B, a.ports[B]))
            await _wait(lambda: a.dropped["malformed"] == 5, 2.0)
        lines = [r.getMessage() for r in caplog.records if r.name == "bgpcore.bfd"]
        assert len(lines) == 2, lines
        assert "detect multiplier is zero" in lines[0] and "more dropped" not in lines[0]
        assert "and 3 more dropped for malformed" in lines[1], lines[1]
    finally:
        a.close()
