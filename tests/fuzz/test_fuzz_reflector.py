"""Fuzz a live route reflector: an attacker client sends mutated OPEN and UPDATE streams while a
well-behaved feeder announces and withdraws routes to two well-behaved clients.

The reflector runs in a process of its own (``reflector_process.py``), so that its memory is
measured alone; the feeder, the clients, the attacker and hypothesis share the test process.
Each hypothesis example is one batch: the feeder changes its table (the model), the attacker
connects, sends its stream (after a correct handshake, or instead of it: a mutated OPEN),
half-closes and drains until the reflector closes the session. Then, with the attacker gone:

* both clients hold exactly the feeder's table (prefixes and the attributes it sent);
* no other session was ever reset (no NOTIFICATION, no close at the feeder or the clients, each
  one Established once in the reflector's own count);
* no exception escaped, in either process: no log record with a traceback, nothing for the
  event loop's exception handler.

The normal test run does 200 examples (derandomized, a few seconds). ``make fuzz`` runs random
seeds until ``BGPCORE_FUZZ_MESSAGES`` mutated messages were sent (1,000,000), at most
``BGPCORE_FUZZ_EXAMPLES`` batches and ``BGPCORE_FUZZ_SECONDS`` when set, prints a progress line
every 10,000 batches and then the figures: messages, batches, attacker sessions, tracebacks,
resets, and the reflector's RSS (after ``gc.collect()``) at the start, its peak, and after the
attacker left, also once ``malloc_trim(0)`` returned the heap glibc keeps free, with the Python
objects alive and what malloc holds in use and free. The reflector's allocator is set up as
``bgpcore run`` sets up its own (``bgpcore/program/tuning.py``; its collector keeps Python's
defaults). The run fails when the objects or the RSS end more than 10 % above the start, besides
the fast decoder's cache of 65,536 ints (bounded; the attacker's random values fill it). ``BGPCORE_FUZZ_LOG=path`` keeps the reflector's
log.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import sys
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
from hostile_clients import ASN, Client, until
from hostile_clients import EscapedTracebacks as _Escaped

MESSAGES = int(os.environ.get("BGPCORE_FUZZ_MESSAGES", "0"))  # stop once this many were sent (0: no target)
EXAMPLES = int(os.environ.get("BGPCORE_FUZZ_EXAMPLES", "10000000" if MESSAGES else "200"))
LONG_RUN = "BGPCORE_FUZZ_EXAMPLES" in os.environ or MESSAGES > 0  # random seeds; the normal run is derandomized
REPORT_EVERY = 10_000  # batches between two progress lines of a long run
INT_CACHE_SLOTS = 1 << 16  # bgpcore_fast._update's cache of AS numbers and community values: one int each
INT_CACHE_KIB = INT_CACHE_SLOTS * 40 // 1024  # an int and its share of pymalloc's pools
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


class Reflector:
    """The reflector in its own process (``reflector_process.py``), driven over its stdin/stdout."""

    def __init__(self, trace: bool = False) -> None:
        self.trace = trace
        self.port = 0

    async def start(self) -> None:
        log_path = os.environ.get("BGPCORE_FUZZ_LOG")
        self._log = open(log_path, "w") if log_path else open(os.devnull, "w")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, os.path.join(os.path.dirname(__file__), "reflector_process.py"),
            FEEDER, ATTACKER, GOOD1, GOOD2, "--extended-message", ATTACKER, *(["--trace"] if self.trace else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._log, limit=1 << 20)
        self.port = (await self._line())["port"]

    async def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise AssertionError(f"the reflector process exited with status {await self.proc.wait()}")
        return json.loads(line)  # type: ignore[no-any-return]

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._line()

    async def settled(self) -> dict[str, Any]:
        """The neighbors' states once the attacker's session is down (at most 10 s)."""
        return await self.request("settled", address=ATTACKER, timeout=10)

    async def memory(self, trim: bool = False) -> dict[str, Any]:
        """RSS and peak RSS after ``gc.collect()``, in KiB (and after ``malloc_trim(0)`` with ``trim``)."""
        return await self.request("memory", gc=True, trim=trim)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                await self.request("stop")
            except (AssertionError, OSError, asyncio.TimeoutError):
                self.proc.kill()
            await self.proc.wait()
        self._log.close()


class Harness:
    """The feeder, the two clients, the attacker and the model in one event loop; the reflector
    in a process of its own, so that its memory is measured alone."""

    def __init__(self, loop: asyncio.AbstractEventLoop, trace: bool = False) -> None:
        self.loop = loop
        self.model: dict[bytes, int] = {}  # slot key -> MED the feeder sent
        self.loop_errors: list[str] = []
        self.reflector = Reflector(trace)
        self.stats = {"examples": 0, "attacker_sessions": 0, "attacker_notifications": 0, "messages": 0}
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(str(context)))

    async def start(self) -> None:
        await self.reflector.start()
        self.port = self.reflector.port
        self.feeder, self.good = Client(FEEDER), [Client(GOOD1), Client(GOOD2)]
        for c in (self.feeder, *self.good):
            await c.open(self.port)

    async def stop(self) -> None:
        for c in (self.feeder, *self.good):
            await c.close()
        await self.reflector.stop()

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
        states = (await self.reflector.settled())["states"]
        assert states[ATTACKER] != "ESTABLISHED", "the attacker's previous session is still up"
        if mode == "update":
            attacker = Client(ATTACKER, extended_message=True, decode=False)
            try:
                await attacker.open(self.port, timeout=5)
            except (AssertionError, OSError, asyncio.TimeoutError):
                await attacker.close()  # refused while the previous connection closes: try next time
                return
            self.stats["attacker_sessions"] += 1
            self.stats["messages"] += len(stream)
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
            self.stats["messages"] += len(stream) + (mode == "open")
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
        settled = await self.reflector.settled()
        assert settled["states"][ATTACKER] != "ESTABLISHED", "the attacker's session is still up after 10 s"
        assert not settled["tracebacks"], settled["first"]
        await until(self.converged, timeout=10, what="the clients' tables equal to the feeder's")
        for c in (self.feeder, *self.good):
            assert not c.errors, (c.address, c.errors)
            assert not c.closed and not c.notifications, f"{c.address} was reset: {c.notifications}"
            assert c.longest <= 4096
            assert settled["states"][c.address] == "ESTABLISHED"
            assert settled["established"][c.address] == 1, f"{c.address} was reset"
        assert not self.loop_errors, self.loop_errors


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def _heap(memory: dict[str, Any]) -> str:
    """Python objects alive and what malloc holds, from a reflector ``memory`` answer."""
    malloc = memory["malloc"]
    held = f", malloc {_mib(malloc['in_use_kib'])} in use + {_mib(malloc['free_kib'])} free" if malloc else ""
    return f"{memory['blocks']} Python objects{held}"


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


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
        memory_start = loop.run_until_complete(harness.reflector.memory())
        test_rss_start = _rss_kib()
        start = time.monotonic()
        budget = float(os.environ.get("BGPCORE_FUZZ_SECONDS", "0")) or None
        next_report = REPORT_EVERY

        # long runs go in chunks: hypothesis keeps a tree of the examples of one run in memory
        chunk = min(EXAMPLES, 500)

        @settings(max_examples=chunk, deadline=None, database=None, derandomize=not LONG_RUN,
                  suppress_health_check=list(HealthCheck))
        @given(batches)
        def run(batch: Any) -> None:
            loop.run_until_complete(harness.batch(*batch))
            assert not escaped.records, escaped.records[:3]

        stats = harness.stats
        while (stats["examples"] < EXAMPLES and (not MESSAGES or stats["messages"] < MESSAGES)
               and (budget is None or time.monotonic() - start < budget)):
            run()
            if LONG_RUN and stats["examples"] >= next_report:
                next_report += REPORT_EVERY
                now = loop.run_until_complete(harness.reflector.memory())
                print(f"fuzz: {stats['examples']} batches, {stats['messages']} messages, "
                      f"{time.monotonic() - start:.0f} s; reflector: RSS {_mib(now['rss_kib'])}, "
                      f"{_heap(now)}; test process RSS {_mib(_rss_kib())}", flush=True)
        elapsed = time.monotonic() - start
        settled = loop.run_until_complete(harness.reflector.settled())
        memory_end = loop.run_until_complete(harness.reflector.memory(trim=True))
        resets = sum(settled["established"][a] - 1 for a in (FEEDER, GOOD1, GOOD2))
        rss_start, rss_end = memory_start["rss_kib"], memory_end["rss_kib"]
        print(f"\nfuzz: {stats['messages']} mutated messages in {stats['examples']} batches, {elapsed:.0f} s; "
              f"{stats['attacker_sessions']} attacker sessions established, {stats['attacker_notifications']} "
              f"NOTIFICATIONs to the attacker; {settled['tracebacks'] + len(escaped.records)} tracebacks, "
              f"{resets} resets of other sessions; reflector RSS (after gc) at start {_mib(rss_start)}, "
              f"peak {_mib(memory_end['peak_kib'])} (VmHWM), after the attacker left "
              f"{_mib(rss_end)} ({(rss_end - rss_start) * 100 / rss_start:+.1f} %), "
              f"{_mib(memory_end.get('trimmed_rss_kib', rss_end))} after malloc_trim(0); "
              f"at start {_heap(memory_start)}, at the end {_heap(memory_end)}; asyncio tasks "
              f"{memory_start['tasks']} -> {memory_end['tasks']}; test process RSS {_mib(test_rss_start)} -> "
              f"{_mib(_rss_kib())}")
        assert not resets and not settled["tracebacks"]
        assert memory_end["tasks"] <= memory_start["tasks"]
        if LONG_RUN:
            # what the reflector itself still holds once the attacker left: its objects and its RSS, with
            # the allocator set up as ``bgpcore run`` sets it up (``program/tuning.py``); the fast
            # decoder's int cache fills up with the attacker's random values, to its bound
            assert memory_end["blocks"] <= memory_start["blocks"] * 1.1 + INT_CACHE_SLOTS, "objects left behind"
            assert rss_end <= rss_start * 1.1 + INT_CACHE_KIB, "the reflector's memory did not come back"
    finally:
        try:
            loop.run_until_complete(harness.stop())
        finally:
            root.removeHandler(escaped)
            root.setLevel(level)
            loop.close()
