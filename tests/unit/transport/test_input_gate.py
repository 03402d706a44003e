"""How sessions read their sockets, on loopback: a bounded read per loop turn, and the input
gate that holds every session's reading while a consumer downstream catches up."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest

from bgpcore.transport import protocol as protocol_mod
from bgpcore.transport.protocol import READ_SIZE, InputGate, SessionProtocol

ME = "127.0.0.1"


async def until(pred: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder:
    """Stands where a SessionDriver goes: records each chunk of input."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def data_received(self, protocol: SessionProtocol, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, protocol: SessionProtocol, exc: Exception | None) -> None:
        pass


class Server:
    """A listener whose connections are SessionProtocols behind one gate."""

    def __init__(self, gate: InputGate) -> None:
        self.gate = gate
        self.protocols: list[SessionProtocol] = []
        self.recorders: list[Recorder] = []

    def _connected(self, protocol: SessionProtocol) -> None:
        recorder = Recorder()
        protocol.driver = recorder  # type: ignore[assignment]
        self.protocols.append(protocol)
        self.recorders.append(recorder)

    async def __aenter__(self) -> Server:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SessionProtocol(self._connected, outgoing=False, gate=self.gate), ME, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for p in self.protocols:
            p.close()
        self.server.close()
        await self.server.wait_closed()

    async def client(self) -> asyncio.StreamWriter:
        count = len(self.protocols)
        _reader, writer = await asyncio.open_connection(ME, self.port)
        await until(lambda: len(self.protocols) > count, what="the connection")
        return writer


async def test_a_large_write_arrives_in_reads_of_at_most_read_size() -> None:
    async with Server(InputGate()) as server:
        writer = await server.client()
        data = bytes(range(256)) * 2048  # 512 KiB
        writer.write(data)
        await writer.drain()
        await until(lambda: sum(map(len, server.recorders[0].chunks)) == len(data), what="all bytes")
        chunks = server.recorders[0].chunks
        assert b"".join(chunks) == data
        assert max(map(len, chunks)) <= READ_SIZE
        assert len(chunks) >= len(data) // READ_SIZE
        writer.close()


async def test_a_held_gate_keeps_every_sessions_bytes_in_its_socket_until_released() -> None:
    gate = InputGate()
    async with Server(gate) as server:
        first = await server.client()
        gate.hold()
        second = await server.client()  # a connection made while held starts held
        first.write(b"a" * 1000)
        second.write(b"b" * 1000)
        await asyncio.gather(first.drain(), second.drain())
        await asyncio.sleep(0.2)
        assert [p.bytes_in for p in server.protocols] == [0, 0]
        gate.release()
        await until(lambda: [p.bytes_in for p in server.protocols] == [1000, 1000], what="the bytes after release")
        assert not gate.held
        # every session reads through one buffer: each still gets only its own bytes
        assert [b"".join(r.chunks) for r in server.recorders] == [b"a" * 1000, b"b" * 1000]
        first.close()
        second.close()


async def test_the_gate_releases_itself_so_hold_timers_cannot_expire_behind_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol_mod, "GATE_MAX_HOLD_S", 0.3)
    gate = InputGate()
    async with Server(gate) as server:
        writer = await server.client()
        gate.hold()
        writer.write(b"k" * 19)
        await writer.drain()
        await asyncio.sleep(0.1)
        assert server.protocols[0].bytes_in == 0
        await until(lambda: server.protocols[0].bytes_in == 19, timeout=2.0, what="the bytes after the hold ran out")
        assert not gate.held
        writer.close()


async def test_a_closed_connection_leaves_the_gate() -> None:
    gate = InputGate()
    async with Server(gate) as server:
        writer = await server.client()
        assert len(gate._transports) == 1
        writer.close()
        await until(lambda: not gate._transports, what="the gate to forget the transport")
        gate.hold()
        gate.release()  # nothing left to pause or resume
