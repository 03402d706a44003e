"""Route-reflector clients written with the codec over plain loopback sockets, for the hostile
peer tests (tests/unit/router/test_hostile_peers.py) and the reflector fuzz target.

A ``Client`` opens a session from its own 127.0.0.x address, then a reader task takes in
every message the reflector sends: the UPDATEs build its view of the table (``rib``), the
End-of-RIB markers record how much of the table had arrived before them, and every message
is checked against the negotiated maximum length (``MessageReader`` refuses a longer one and
the client records it in ``errors``).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, Iterable, Mapping

from bgpcore import NeighborConfig, Router, RouterConfig
from bgpcore.constants import MsgType
from bgpcore.transport.limits import SpeakerLimits
from bgpcore.wire.capabilities import Capability, ExtendedMessage, FourOctetAs, Multiprotocol, RouteRefresh
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext, Family
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.open import Open, decode_open, encode_open
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import decode_update, encode_end_of_rib, encode_updates

ASN = 65000
FAMILIES = (IPV4_UNICAST, IPV6_UNICAST)


class EscapedTracebacks(logging.Handler):
    """Collects log records that carry a traceback (none may, in a reflector under attack)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or "Traceback" in record.getMessage():
            self.records.append(self.format(record))


def reflector_config(clients: Iterable[str], *, extended_message: Iterable[str] = (),
                     limits: SpeakerLimits | None = None,
                     neighbor_options: Mapping[str, Mapping[str, Any]] | None = None) -> RouterConfig:
    """A route reflector on 127.0.0.1 (a free port) whose clients are the given addresses
    (``neighbor_options``: more ``NeighborConfig`` values for some of them)."""
    big = set(extended_message)
    options = neighbor_options or {}
    neighbors = tuple(NeighborConfig(address=a, remote_as=ASN, passive=True, rr_client=True, hold_time_s=0,
                                     extended_message=a in big, families=FAMILIES, **options.get(a, {}))
                      for a in clients)
    return RouterConfig(local_as=ASN, router_id="127.0.0.1", listen=(("127.0.0.1", 0),), neighbors=neighbors,
                        track_changes=False, limits=limits or SpeakerLimits())


async def until(predicate, timeout: float = 10.0, what: str = "condition") -> float:  # type: ignore[no-untyped-def]
    """Wait until ``predicate()`` holds; returns the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


class Client:
    """One BGP session to the reflector, spoken with the codec.

    Args:
        address: the 127.0.0.x address the session comes from (a configured neighbor).
        extended_message: announce RFC 8654 extended messages.
        decode: decode what is received (a client that only drains its socket says False).
        families: the families it announces (Multiprotocol capabilities).
    """

    def __init__(self, address: str, *, extended_message: bool = False, decode: bool = True,
                 families: tuple[Family, ...] = FAMILIES) -> None:
        self.address = address
        self.extended_message = extended_message
        self.decode = decode
        self.families = families
        self.rib: dict[Family, dict[bytes, PathAttributes | None]] = {f: {} for f in FAMILIES}
        self.eor: dict[Family, int] = {}  # family -> prefixes held when its End-of-RIB arrived
        self.errors: list[str] = []
        self.notifications: list[bytes] = []
        self.longest = 0
        self.received = 0
        self.closed = False
        self.ctx = CodecContext(families=frozenset(FAMILIES))
        self.sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self, port: int, timeout: float = 10.0) -> None:
        """Connect, exchange OPEN and KEEPALIVE (hold time 0: no keepalives), start reading."""
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.address, 0))
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        self.sock = sock
        caps: list[Capability] = [*(Multiprotocol(a, s) for a, s in self.families), FourOctetAs(ASN), RouteRefresh()]
        if self.extended_message:
            caps.append(ExtendedMessage())
        await loop.sock_sendall(sock, encode_open(Open(ASN, 0, self.address, tuple(caps))) + KEEPALIVE)
        reader = MessageReader()
        got: list[int] = []
        rest = b""
        deadline = time.monotonic() + timeout
        while MsgType.KEEPALIVE not in got:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), max(0.01, deadline - time.monotonic()))
            if not data:
                raise AssertionError(f"{self.address}: connection closed before the session came up")
            for msg_type, body in reader.feed(data):
                if MsgType.KEEPALIVE in got:
                    rest += b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + bytes((msg_type,)) + body
                    continue
                if msg_type == MsgType.NOTIFICATION:
                    raise AssertionError(f"{self.address}: NOTIFICATION {body.hex()} while opening")
                if msg_type == MsgType.OPEN:
                    theirs = decode_open(body).capabilities
                    self.ctx = CodecContext(families=frozenset(FAMILIES), extended_message=self.extended_message
                                            and any(isinstance(c, ExtendedMessage) for c in theirs))
                got.append(msg_type)
        self._reader = MessageReader(self.ctx.max_message_len)
        rest += bytes(reader._buf)
        self._task = asyncio.get_running_loop().create_task(self._read(rest))

    async def _read(self, first: bytes) -> None:
        loop = asyncio.get_running_loop()
        assert self.sock is not None
        data = first
        try:
            while True:
                if data:
                    self._take(data)
                data = await loop.sock_recv(self.sock, 1 << 18)
                if not data:
                    break
        except (ConnectionError, OSError):
            pass
        except Exception as exc:  # a message over the negotiated maximum, or one that does not decode
            self.errors.append(f"{type(exc).__name__}: {exc}")
        self.closed = True

    def _take(self, data: bytes) -> None:
        for msg_type, body in self._reader.feed(data):
            self.received += 1
            self.longest = max(self.longest, 19 + len(body))
            if msg_type == MsgType.NOTIFICATION:
                self.notifications.append(bytes(body))
            elif msg_type == MsgType.UPDATE and self.decode:
                self._update(body)

    def _update(self, body: bytes) -> None:
        update = decode_update(body, self.ctx)
        if update.action:
            self.errors.append(f"reflector sent an UPDATE with problems: {update.problems}")
        v4 = self.rib[IPV4_UNICAST]
        for key in update.withdrawn:
            v4.pop(key, None)
        for key in update.nlri:
            v4[key] = update.attributes
        if update.mp_unreach is not None:
            family = (update.mp_unreach.afi, update.mp_unreach.safi)
            table = self.rib.setdefault(family, {})
            for key in update.mp_unreach.nlri:
                table.pop(key, None)
            if not update.mp_unreach.nlri and update.attributes is None and not update.withdrawn:
                self.eor[family] = len(table)
        if update.mp_reach is not None:
            table = self.rib.setdefault((update.mp_reach.afi, update.mp_reach.safi), {})
            for key in update.mp_reach.nlri:
                table[key] = update.attributes
        if not (update.withdrawn or update.nlri or update.mp_reach or update.mp_unreach) and update.attributes is None:
            self.eor[IPV4_UNICAST] = len(v4)

    async def send(self, data: bytes) -> None:
        assert self.sock is not None
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def announce(self, keys: list[bytes], attrs: PathAttributes | None = None, family: Family = IPV4_UNICAST,
                       next_hop: str | None = None, end_of_rib: bool = False) -> None:
        """Announce ``keys`` with one attribute set (next hop: our own address)."""
        attrs = attrs or PathAttributes(origin=0, as_path=())
        hop = next_hop or (self.address if family == IPV4_UNICAST else "2001:db8::" + self.address.split(".")[-1])
        out = b"".join(encode_updates(attrs, family, (hop,), keys, self.ctx))
        if end_of_rib:
            out += encode_end_of_rib(family, self.ctx)
        await self.send(out)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self.sock is not None:
            self.sock.close()


async def start_reflector(clients: Iterable[str], **options: object) -> tuple[Router, int]:
    router = Router(reflector_config(clients, **options))  # type: ignore[arg-type]
    await router.start()
    return router, router.listening[0][1]
