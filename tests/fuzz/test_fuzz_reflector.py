"""Fuzz a live route reflector: an attacker client sends mutated OPEN and UPDATE streams while a
well-behaved feeder announces and withdraws routes to two well-behaved clients.

Each hypothesis example is one batch: the feeder changes its table (the model), the attacker
connects, sends its stream (after a correct handshake, or instead of it: a mutated OPEN),
half-closes and drains until the reflector closes the session. Then, with the attacker gone:

* both clients hold exactly the feeder's table (prefixes and the attributes it sent);
* no other session was ever reset (no NOTIFICATION, no close at the feeder or the clients);
* no exception escaped: no log record with a traceback, nothing for the loop's exception handler.

The normal test run does 200 examples (derandomized, a few seconds);
``make fuzz`` runs many more (``BGPCORE_FUZZ_EXAMPLES=100000``, random seeds, at most
``BGPCORE_FUZZ_SECONDS`` when set) and prints the figures: batches, attacker sessions, tracebacks,
RSS before and after.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgpcore.wire.capabilities import (AddPath, ExtendedMessage, ExtendedNextHop, FourOctetAs, GracefulRestart,
                                       Multiprotocol, RouteRefresh)
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.nlri import network_key
from bgpcore.wire.open import Open, encode_open
from bgpcore.wire.refresh import RouteRefresh as RefreshMessage
from bgpcore.wire.refresh import encode_refresh
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_end_of_rib, encode_updates, encode_withdrawals
from hostile_clients import ASN, Client, start_reflector, until

EXAMPLES = int(os.environ.get("BGPCORE_FUZZ_EXAMPLES", "200"))
LONG_RUN = "BGPCORE_FUZZ_EXAMPLES" in os.environ  # random seeds; the normal run is derandomized
FEEDER, ATTACKER, GOOD1, GOOD2 = (f"127.0.0.{n}" for n in (2, 3, 4, 5))
SLOTS = 64  # the feeder's prefixes: 10.0.<slot>.0/24
_CTX = CodecContext(families=frozenset((IPV4_UNICAST, IPV6_UNICAST)))
_BIG_CTX = CodecContext(families=frozenset((IPV4_UNICAST, IPV6_UNICAST)), extended_message=True)


def _slot(n: int) -> bytes:
    return bytes((24, 10, 0, n))


def _seeds() -> list[bytes]:
    """Valid messages to mutate: UPDATEs of every shape the reflector handles, OPENs, the issue's reproducers."""
    attrs = PathAttributes(origin=0, as_path=((2, (65001, 65002)),), med=5, local_pref=200, communities=(1, 2),
                           large_communities=((1, 2, 3),), cluster_list=("10.9.9.9",), originator_id="10.8.8.8")
    v4 = [_slot(n) for n in range(0, SLOTS, 7)] + [network_key("198.51.100.0/24"), network_key("0.0.0.0/0")]
    v6 = [network_key("2001:db8:a:1::/64"), network_key("2001:db8::/32")]
    seeds = [
        *encode_updates(attrs, IPV4_UNICAST, (ATTACKER,), v4, _CTX),
        *encode_updates(PathAttributes(origin=2, as_path=()), IPV4_UNICAST, (ATTACKER,), v4[:2], _CTX),
        *encode_updates(attrs, IPV6_UNICAST, ("2001:db8::3", "fe80::3"), v6, _CTX),
        *encode_updates(attrs, IPV4_UNICAST, ("2001:db8::3",), v4[:3],
                        CodecContext(extended_nexthop=frozenset((IPV4_UNICAST,)))),
        *encode_withdrawals(IPV4_UNICAST, v4, _CTX),
        *encode_withdrawals(IPV6_UNICAST, v6, _CTX),
        encode_end_of_rib(IPV4_UNICAST, _CTX), encode_end_of_rib(IPV6_UNICAST, _CTX),
        encode_refresh(RefreshMessage(1, 1)), encode_refresh(RefreshMessage(2, 1, 1)), KEEPALIVE,
        *encode_updates(attrs._replace(communities=tuple(range(1100))), IPV4_UNICAST, (ATTACKER,), v4[:2], _BIG_CTX),
        bytes.fromhex("ffffffffffffffffffffffffffffffff004002000000294001010040020602010000fde9800e19000101"
                      "1020010db80000000000000000000000020018c61307"),
        bytes.fromhex("ffffffffffffffffffffffffffffffff004f02000000384001010740020602010000fde9800e1e000201"
                      "1020010db8000000000000000000000002004020010db8000a0001800f0700010118c61308"),
        bytes.fromhex("ffffffffffffffffffffffffffffffff0015030602"),  # NOTIFICATION Cease
    ]
    return seeds


SEEDS = _seeds()


def _open_seed() -> bytes:
    caps = (Multiprotocol(1, 1), Multiprotocol(2, 1), FourOctetAs(ASN), RouteRefresh(), ExtendedMessage(),
            GracefulRestart(0, 120, ((1, 1, 0),)), AddPath(((1, 1, 3),)), ExtendedNextHop(((1, 1, 2),)))
    return encode_open(Open(ASN, 90, ATTACKER, caps))


OPEN_SEED = _open_seed()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One seed message with a few byte-level mutations; the header length fixed up most of the time."""
    msg = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "extend")))
        pos = draw(st.integers(16, max(16, len(msg) - 1)))
        if kind == "flip" and pos < len(msg):
            msg[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and pos < len(msg):
            msg[pos] = draw(st.sampled_from((0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255)))))
        elif kind == "insert":
            msg[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del msg[pos:pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del msg[max(19, pos):]
        elif kind == "extend":
            msg += draw(st.binary(min_size=1, max_size=64))
    if len(msg) >= 18 and draw(st.integers(0, 9)):
        msg[16:18] = min(len(msg), 65535).to_bytes(2, "big")
    return bytes(msg)


feeder_ops = st.lists(st.tuples(st.sampled_from(("announce", "withdraw")),
                                st.lists(st.integers(0, SLOTS - 1), min_size=1, max_size=8, unique=True),
                                st.integers(0, 3)), max_size=3)
batches = st.tuples(
    st.sampled_from(("update", "update", "update", "open", "garbage")),
    st.lists(mutated(SEEDS), min_size=1, max_size=6),
    mutated([OPEN_SEED]),
    st.binary(max_size=64),
    feeder_ops,
)


class _Escaped(logging.Handler):
    """Collects log records that carry a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or "Traceback" in record.getMessage():
            self.records.append(self.format(record))


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Harness:
    """The reflector, the feeder, the two clients and the model, in one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.model: dict[bytes, int] = {}  # slot key -> MED the feeder sent
        self.loop_errors: list[str] = []
        self.stats = {"examples": 0, "attacker_sessions": 0, "attacker_notifications": 0}
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(str(context)))

    async def start(self) -> None:
        self.router, self.port = await start_reflector((FEEDER, ATTACKER, GOOD1, GOOD2), extended_message=(ATTACKER,))
        self.feeder, self.good = Client(FEEDER), [Client(GOOD1), Client(GOOD2)]
        for c in (self.feeder, *self.good):
            await c.open(self.port)

    async def stop(self) -> None:
        for c in (self.feeder, *self.good):
            await c.close()
        await self.router.stop()

    async def batch(self, mode: str, stream: list[bytes], open_msg: bytes, garbage: bytes,
                    ops: list[tuple[str, list[int], int]]) -> None:
        self.stats["examples"] += 1
        for op, slots, med in ops:
            keys = [_slot(n) for n in slots]
            if op == "announce":
                await self.feeder.announce(keys, PathAttributes(origin=0, as_path=(), med=med))
                self.model.update(dict.fromkeys(keys, med))
            else:
                await self.feeder.send(b"".join(encode_withdrawals(IPV4_UNICAST, keys, self.feeder.ctx)))
                for k in keys:
                    self.model.pop(k, None)
        await until(lambda: self.router.speaker.neighbor(ATTACKER).state != "ESTABLISHED", timeout=10,
                    what="the attacker's previous session gone")
        if mode == "update":
            attacker = Client(ATTACKER, extended_message=True, decode=False)
            try:
                await attacker.open(self.port, timeout=5)
            except (AssertionError, OSError, asyncio.TimeoutError):
                await attacker.close()  # refused while the previous connection closes: try next time
                return
            self.stats["attacker_sessions"] += 1
            await self._send_and_drain(attacker.sock, b"".join(stream), attacker)
            self.stats["attacker_notifications"] += len(attacker.notifications)
        else:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ATTACKER, 0))
            sock.setblocking(False)
            try:
                await self.loop.sock_connect(sock, ("127.0.0.1", self.port))
            except OSError:
                sock.close()
                return
            data = open_msg + KEEPALIVE + b"".join(stream) if mode == "open" else garbage + b"".join(stream)
            await self._send_and_drain(sock, data, None)
        await self.check()

    async def _send_and_drain(self, sock: socket.socket | None, data: bytes, client: Client | None) -> None:
        assert sock is not None
        try:
            await self.loop.sock_sendall(sock, data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if client is not None:
            await until(lambda: client.closed, timeout=10, what="the reflector closing the attacker's session")
            await client.close()
            return
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                got = await asyncio.wait_for(self.loop.sock_recv(sock, 65536), deadline - time.monotonic())
                if not got:
                    break
        except (OSError, asyncio.TimeoutError):
            pass
        sock.close()

    def converged(self) -> bool:
        for c in self.good:
            table = c.rib[IPV4_UNICAST]
            if table.keys() != self.model.keys() or c.rib[IPV6_UNICAST]:
                return False
            if any(table[k] is None or table[k].med != med for k, med in self.model.items()):  # type: ignore[union-attr]
                return False
        return True

    async def check(self) -> None:
        await until(lambda: self.router.speaker.neighbor(ATTACKER).state != "ESTABLISHED", timeout=10,
                    what="the attacker's session gone")
        await until(self.converged, timeout=10, what="the clients' tables equal to the feeder's")
        for c in (self.feeder, *self.good):
            assert not c.errors, (c.address, c.errors)
            assert not c.closed and not c.notifications, f"{c.address} was reset: {c.notifications}"
            assert c.longest <= 4096
        for c in (self.feeder, *self.good):
            assert self.router.speaker.neighbor(c.address).state == "ESTABLISHED"
        assert not self.loop_errors, self.loop_errors


def test_fuzz_reflector_keeps_good_clients_whole() -> None:
    loop = asyncio.new_event_loop()
    escaped = _Escaped()
    root = logging.getLogger()
    root.addHandler(escaped)
    level = root.level
    root.setLevel(logging.INFO)
    harness = Harness(loop)
    try:
        loop.run_until_complete(harness.start())
        rss_before = _rss_kib()
        start = time.monotonic()
        budget = float(os.environ.get("BGPCORE_FUZZ_SECONDS", "0")) or None

        # long runs go in chunks: hypothesis keeps a tree of the examples of one run in memory
        chunk = min(EXAMPLES, 500)

        @settings(max_examples=chunk, deadline=None, database=None, derandomize=not LONG_RUN,
                  suppress_health_check=list(HealthCheck))
        @given(batches)
        def run(batch: Any) -> None:
            loop.run_until_complete(harness.batch(*batch))
            assert not escaped.records, escaped.records[:3]

        while harness.stats["examples"] < EXAMPLES and (budget is None or time.monotonic() - start < budget):
            run()
        elapsed = time.monotonic() - start
        rss_after = _rss_kib()
        stats = harness.stats
        print(f"\nfuzz: {stats['examples']} batches in {elapsed:.0f} s, {stats['attacker_sessions']} attacker "
              f"sessions, {stats['attacker_notifications']} NOTIFICATIONs to the attacker, "
              f"{len(escaped.records)} tracebacks, 0 resets of other sessions, "
              f"RSS {rss_before // 1024} MiB -> {rss_after // 1024} MiB")
    finally:
        try:
            loop.run_until_complete(harness.stop())
        finally:
            root.removeHandler(escaped)
            root.setLevel(level)
            loop.close()
