"""A sans-IO ``Session`` run on asyncio: the thin adapter between socket and state machine.

As aioquic's ``asyncio/protocol.py`` does, after every input the driver writes out
``data_to_send()`` and re-arms its one timer at ``next_deadline()``. Writability comes
from the transport's flow control (``pause_writing``/``resume_writing``): the speaker
asks for more UPDATEs only while the socket is not paused, so a peer that stops reading
leaves what is still to send as RIB state, not as a growing queue of bytes.

Input is read ``READ_SIZE`` bytes at a time, so one loop turn decodes and routes a bounded
amount of it, and an ``InputGate`` can hold every session's reading while a consumer
downstream (the FIB) catches up: the bytes then wait in the socket and TCP slows the peer.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from bgpcore.constants import CeaseSubcode
from bgpcore.session.events import (
    Command,
    ConnectionFailed,
    ConnectionMade,
    DisconnectRequested,
    Event,
    Start,
    Stop,
)
from bgpcore.session.session import Session
from bgpcore.transport.limits import DEFAULT_LIMITS, SpeakerLimits

log = logging.getLogger("bgpcore.transport")

WRITE_HIGH_WATER: int = 256 * 1024
"""Bytes buffered in the transport before the driver stops pulling UPDATEs."""

READ_SIZE: int = 64 * 1024
"""Bytes read from a socket per loop turn (asyncio's default is 256 KiB: about 60 ms of a
full table's decoding and routing in one turn)."""

_READ_BUFFER = memoryview(bytearray(READ_SIZE))
"""One read buffer for every session: asyncio fills it and calls ``buffer_updated`` in the same
callback, which copies the bytes out before any other socket is read."""

GATE_MAX_HOLD_S: float = 1.0
"""The longest an ``InputGate`` holds reading at once, so peers' KEEPALIVEs are still read."""


class InputGate:
    """Holds and releases the reading of every session it knows.

    A consumer that falls behind (the FIB, whose kernel work is slower than decoding) holds the
    gate: what peers send then waits in their sockets instead of piling up in memory. The gate
    releases itself after ``GATE_MAX_HOLD_S``, so hold timers never expire behind it.
    """

    def __init__(self) -> None:
        self.held = False
        self._transports: set[asyncio.Transport] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, transport: asyncio.Transport) -> None:
        self._transports.add(transport)
        if self.held:
            transport.pause_reading()

    def discard(self, transport: asyncio.Transport) -> None:
        self._transports.discard(transport)

    def hold(self) -> None:
        if self.held:
            return
        self.held = True
        for transport in self._transports:
            transport.pause_reading()
        self._timer = asyncio.get_running_loop().call_later(GATE_MAX_HOLD_S, self.release)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for transport in self._transports:
            transport.resume_reading()


class SessionProtocol(asyncio.BufferedProtocol):
    """One TCP connection; hands bytes and flow control to the driver it is attached to."""

    def __init__(self, on_connect: Callable[[SessionProtocol], None], outgoing: bool,
                 limits: SpeakerLimits = DEFAULT_LIMITS, gate: InputGate | None = None) -> None:
        self.on_connect = on_connect
        self.outgoing = outgoing
        self.limits = limits
        self.gate = gate
        self.transport: asyncio.Transport | None = None
        self.driver: SessionDriver | None = None
        self.paused = False
        self.bytes_in = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.gate is not None:
            self.gate.add(transport)
        self.on_connect(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_READ_BUFFER[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.driver is not None:
            self.driver.data_received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.gate is not None and self.transport is not None:
            self.gate.discard(self.transport)
        driver, self.driver = self.driver, None
        if driver is not None:
            driver.connection_lost(self, exc)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.driver is not None:
            self.driver.writable()

    @property
    def peername(self) -> tuple[str, int, int]:
        """(address, port, scope id) of the peer."""
        return _addr(self.transport, "peername")

    @property
    def sockname(self) -> tuple[str, int, int]:
        """(address, port, scope id) of our end."""
        return _addr(self.transport, "sockname")

    def close(self) -> None:
        """Close after what is queued has left; abort after ``close_timeout_s`` if the peer
        does not read it (a transport never gives its buffer back otherwise)."""
        self.driver = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
            if transport.get_write_buffer_size():
                asyncio.get_running_loop().call_later(self.limits.close_timeout_s, transport.abort)

    @property
    def queued(self) -> int:
        """Bytes written and not yet handed to the kernel."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0


def _addr(transport: asyncio.Transport | None, which: str) -> tuple[str, int, int]:
    info = transport.get_extra_info(which) if transport is not None else None
    if not info:
        return ("", 0, 0)
    host = str(info[0]).split("%", 1)[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return host, int(info[1]), int(info[3]) if len(info) > 3 else 0


class SessionDriver:
    """Runs one ``Session`` on the event loop.

    Args:
        session: the state machine.
        on_events: called with every batch of events the session produced.
        on_writable: called when the connection can take more data.
        clock: monotonic seconds (the session's ``now``).
    """

    def __init__(self, session: Session, on_events: Callable[[SessionDriver, list[Event]], None],
                 on_writable: Callable[[SessionDriver], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.protocol: SessionProtocol | None = None
        self._on_events = on_events
        self._on_writable = on_writable
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._overflowed = False
        self.closed = False

    @property
    def can_write(self) -> bool:
        """A connection is attached and its transport is not asking us to pause."""
        return self.protocol is not None and not self.protocol.paused

    def attach(self, protocol: SessionProtocol) -> None:
        """Give the session this connection (RFC 4271 TcpConnectionConfirmed)."""
        self.protocol = protocol
        protocol.driver = self
        self.run(self.session.send(ConnectionMade(), self._clock()))

    def command(self, command: Command) -> None:
        self.run(self.session.send(command, self._clock()))

    def data_received(self, protocol: SessionProtocol, data: bytes) -> None:
        if protocol is self.protocol:
            self.run(self.session.receive_data(data, self._clock()))

    def connection_lost(self, protocol: SessionProtocol, exc: Exception | None) -> None:
        if protocol is not self.protocol:
            return
        self.protocol = None
        reason = f"connection lost: {exc}" if exc else "connection closed by peer"
        self.run(self.session.send(ConnectionFailed(reason=reason), self._clock()))

    def writable(self) -> None:
        if not self.closed:
            self._on_writable(self)

    def run(self, events: list[Event]) -> None:
        """Write what the session produced, act on disconnects, pass events on, re-arm the timer."""
        self.transmit()
        if any(isinstance(e, DisconnectRequested) for e in events):
            protocol, self.protocol = self.protocol, None
            if protocol is not None:
                protocol.close()
        if events:
            self._on_events(self, events)
        self._arm()

    def transmit(self) -> None:
        data = self.session.data_to_send()
        protocol = self.protocol
        if data and protocol is not None and protocol.transport is not None:
            protocol.transport.write(data)
            if protocol.queued > protocol.limits.max_queued_bytes and not self._overflowed:
                self._overflow(protocol)

    def _overflow(self, protocol: SessionProtocol) -> None:
        """The peer does not read its output: Cease/8 (Out of Resources), start again later."""
        self._overflowed = True
        limits = protocol.limits
        log.warning("%s: %d bytes of output queued for a peer that does not read them (limit %d): closing the "
                    "session with Cease/8, restart in %g s", self.session.label, protocol.queued,
                    limits.max_queued_bytes, limits.slow_peer_restart_s)
        self.command(Stop(message="output queue over its limit", subcode=CeaseSubcode.OUT_OF_RESOURCES))
        self._overflowed = False
        asyncio.get_running_loop().call_later(limits.slow_peer_restart_s, self._restart)

    def _restart(self) -> None:
        if not self.closed and not self.session.connected:
            self.command(Start(passive=self.session.passive))

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.session.next_deadline()
        if deadline is not None and not self.closed:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - self._clock())
            self._timer = loop.call_at(loop.time() + delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        try:
            self.run(self.session.handle_timer(self._clock()))
        except Exception:  # noqa: BLE001 - one session's bug must not stop the loop's other sessions
            log.exception("%s: timer handling failed", self.session.label)

    def close(self) -> None:
        """Stop the timer and drop the connection without telling the session."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        protocol, self.protocol = self.protocol, None
        if protocol is not None:
            protocol.close()
