"""Minimal BGP endpoints for the route-reflector benchmark, built on bgpcore's codec.

``send``: opens one iBGP session and streams a file of pre-encoded UPDATEs (written by
``generator.py --out`` or :func:`mrt_table`) as fast as TCP takes them, then End-of-RIB, and
stays up until stopped. ``receive``: opens N sessions from N source addresses and counts the
prefixes each receives; a client is *full* when it holds the expected number. Both print JSON
lines on stdout (``established``, ``first_update``, ``full``) with ``time.monotonic()``
stamps, which are comparable across processes on Linux, so a harness can compute "first UPDATE
sent to last client full" without trusting any daemon's logs.

    python benchmarks/feeder.py send --peer 198.51.100.1 --source 198.51.100.2 --table table.bgp
    python benchmarks/feeder.py receive --peer 198.51.100.1 --source 198.51.100.10 --clients 4 \
        --expect "$(python benchmarks/feeder.py octets table.bgp)"

The receivers count announced NLRI octets (IPv4 field and MP_REACH): a reflector with one
feeder announces each prefix once, so the count reaches the table's NLRI octets exactly when
the table is complete, however the reflector packs it. Withdrawals are counted separately.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import selectors
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: make the source tree importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgpcore.constants import AttrCode, MsgType
from bgpcore.wire.capabilities import FourOctetAs, Multiprotocol, RouteRefresh
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST
from bgpcore.wire.messages import KEEPALIVE
from bgpcore.wire.open import Open, decode_open, encode_open
from bgpcore.wire.update import encode_end_of_rib

HOLD_TIME_S = 240
KEEPALIVE_EVERY_S = 60.0
_CHUNK = 1 << 20


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def open_message(asn: int, router_id: str) -> bytes:
    caps = (Multiprotocol(1, 1), Multiprotocol(2, 1), RouteRefresh(), FourOctetAs(asn))
    return encode_open(Open(asn if asn <= 0xFFFF else 23456, HOLD_TIME_S, router_id, caps))


def connect(peer: str, port: int, source: str | None, asn: int, router_id: str, timeout_s: float = 60.0) -> tuple[socket.socket, bytes]:
    """A TCP connection that has reached Established, and the bytes that followed the KEEPALIVE.

    Retries the TCP connect until ``timeout_s``: the reflector may still be starting.
    """
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    deadline = time.monotonic() + timeout_s
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            sock.bind((source, 0))
        try:
            sock.settimeout(5.0)
            sock.connect((peer, port))
            break
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    sock.settimeout(timeout_s)
    sock.sendall(open_message(asn, router_id))
    buf = b""
    got_open = False
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"{peer} closed the connection before Established")
        buf += data
        while len(buf) >= 19 and len(buf) >= (length := (buf[16] << 8) | buf[17]):
            msg_type, body, buf = buf[18], buf[19:length], buf[length:]
            if msg_type == MsgType.OPEN:
                decode_open(body)
                got_open = True
                sock.sendall(KEEPALIVE)
            elif msg_type == MsgType.KEEPALIVE and got_open:
                sock.settimeout(None)
                return sock, buf
            elif msg_type == MsgType.NOTIFICATION:
                raise ConnectionError(f"{peer} sent NOTIFICATION {body[:2].hex()}")


def _keepalives(sock: socket.socket, stop: threading.Event, lock: threading.Lock) -> None:
    """KEEPALIVEs between whole writes of the table (a write interleaved into an UPDATE
    would corrupt the stream)."""
    while not stop.wait(KEEPALIVE_EVERY_S):
        try:
            with lock:
                sock.sendall(KEEPALIVE)
        except OSError:
            return


def _message_aligned(stream: bytes, size: int) -> list[tuple[int, int]]:
    """(start, end) slices of about ``size`` octets that end on message boundaries."""
    cuts = []
    start = pos = 0
    while pos < len(stream):
        pos += (stream[pos + 16] << 8) | stream[pos + 17]
        if pos - start >= size or pos >= len(stream):
            cuts.append((start, pos))
            start = pos
    return cuts


def _drain(sock: socket.socket) -> None:
    """Read and drop what the reflector sends the feeder (KEEPALIVEs, EoR)."""
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def send(args: argparse.Namespace) -> int:
    """Stream the table, then keep the session up until stdin closes or the process is stopped."""
    table = Path(args.table).read_bytes()
    sock, _ = connect(args.peer, args.port, args.source, args.asn, args.router_id)
    emit(event="established", role="feeder", t=time.monotonic())
    stop = threading.Event()
    lock = threading.Lock()
    threading.Thread(target=_drain, args=(sock,), daemon=True).start()
    threading.Thread(target=_keepalives, args=(sock, stop, lock), daemon=True).start()
    view = memoryview(table)
    t_first = time.monotonic()
    emit(event="first_update", t=t_first)
    for start, end in _message_aligned(table, _CHUNK):
        with lock:
            sock.sendall(view[start:end])
    with lock:
        sock.sendall(encode_end_of_rib(IPV4_UNICAST, DEFAULT_CONTEXT) + encode_end_of_rib(IPV6_UNICAST, DEFAULT_CONTEXT))
    t_sent = time.monotonic()
    emit(event="sent", t=t_sent, octets=len(table), seconds=t_sent - t_first)
    sys.stdin.read()  # the harness closes stdin (or kills us) when the measurement is over
    stop.set()
    sock.close()
    return 0


class _Counter:
    """Counts the NLRI octets announced and withdrawn in one session's byte stream.

    Counting octets instead of prefixes keeps the work per UPDATE, not per prefix (the
    UPDATE's length fields and the attribute headers only), so receivers stay cheap next
    to the reflector on a small machine. A table's NLRI octets (length octet plus address
    octets per prefix) are the same however a reflector packs it into UPDATEs.
    """

    __slots__ = ("buf", "announced", "withdrawn", "updates")

    def __init__(self) -> None:
        self.buf = b""
        self.announced = 0
        self.withdrawn = 0
        self.updates = 0

    def feed(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if _FAST is not None:
            pos, announced, withdrawn, updates = _FAST(buf)
            self.buf = buf[pos:]
            self.announced += announced
            self.withdrawn += withdrawn
            self.updates += updates
            return
        end = len(buf)
        pos = 0
        announced = withdrawn = updates = 0
        while end - pos >= 19:
            length = (buf[pos + 16] << 8) | buf[pos + 17]
            if end - pos < length:
                break
            if buf[pos + 18] == 2:
                updates += 1
                wlen = (buf[pos + 19] << 8) | buf[pos + 20]
                withdrawn += wlen
                a = pos + 21 + wlen
                aend = a + 2 + ((buf[a] << 8) | buf[a + 1])
                announced += pos + length - aend
                a += 2
                while a < aend:
                    if buf[a] & 0x10:
                        vlen = (buf[a + 2] << 8) | buf[a + 3]
                        v = a + 4
                    else:
                        vlen = buf[a + 2]
                        v = a + 3
                    code = buf[a + 1]
                    if code == _MP_REACH:
                        announced += vlen - 5 - buf[v + 3]
                    elif code == _MP_UNREACH:
                        withdrawn += vlen - 3
                    a = v + vlen
            pos += length
        self.buf = buf[pos:]
        self.announced += announced
        self.withdrawn += withdrawn
        self.updates += updates


_MP_REACH = AttrCode.MP_REACH_NLRI.value
_MP_UNREACH = AttrCode.MP_UNREACH_NLRI.value


_CYTHON_COUNTER = """
# cython: language_level=3, boundscheck=False, wraparound=False
def count_octets(const unsigned char[:] buf):
    cdef Py_ssize_t end = buf.shape[0], pos = 0, length, a, aend, v, vlen
    cdef long long announced = 0, withdrawn = 0, updates = 0
    while end - pos >= 19:
        length = (buf[pos + 16] << 8) | buf[pos + 17]
        if length < 19 or end - pos < length:
            break
        if buf[pos + 18] == 2:
            updates += 1
            vlen = (buf[pos + 19] << 8) | buf[pos + 20]
            withdrawn += vlen
            a = pos + 21 + vlen
            aend = a + 2 + ((buf[a] << 8) | buf[a + 1])
            announced += pos + length - aend
            a += 2
            while a < aend:
                if buf[a] & 0x10:
                    vlen = (buf[a + 2] << 8) | buf[a + 3]
                    v = a + 4
                else:
                    vlen = buf[a + 2]
                    v = a + 3
                if buf[a + 1] == 14:
                    announced += vlen - 5 - buf[v + 3]
                elif buf[a + 1] == 15:
                    withdrawn += vlen - 3
                a = v + vlen
        pos += length
    return pos, announced, withdrawn, updates
"""


_FAST: Callable[[bytes], tuple[int, int, int, int]] | None = None


def compiled_counter() -> Callable[[bytes], tuple[int, int, int, int]] | None:
    """The same walk compiled with Cython when it is installed (build dependency only), so K
    receivers on a 2-core machine cost far less than the reflector they measure."""
    try:
        import pyximport  # type: ignore[import-untyped]
    except ImportError:
        return None
    default = Path(__file__).resolve().parents[1] / "build" / "bench"
    build = Path(os.environ.get("BGPCORE_BENCH_CACHE", default)) / "pyx"
    build.mkdir(parents=True, exist_ok=True)
    source = build / "rr_count.pyx"
    if not source.exists() or source.read_text() != _CYTHON_COUNTER:
        source.write_text(_CYTHON_COUNTER)
    sys.path.insert(0, str(build))
    pyximport.install(build_dir=str(build / "build"), language_level=3)
    try:
        import rr_count  # type: ignore[import-not-found]
    except Exception as exc:  # no compiler: the Python walk still works, only slower
        print(f"feeder: Cython counter unavailable ({exc}); counting in Python", file=sys.stderr)
        return None
    return rr_count.count_octets  # type: ignore[no-any-return]


def nlri_octets(messages: bytes) -> int:
    """NLRI octets a stream of UPDATEs announces: what a receiver must count to hold it all."""
    counter = _Counter()
    counter.feed(messages)
    return counter.announced


def receive(args: argparse.Namespace) -> int:
    """Open ``--clients`` sessions from consecutive source addresses and report each one full."""
    first = ipaddress.ip_address(args.source)
    global _FAST
    _FAST = compiled_counter()
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(args.clients):
        source = str(first + i)
        router_id = source if first.version == 4 else f"10.255.0.{i + 1}"
        sock, early = connect(args.peer, args.port, source, args.asn, router_id)
        sock.setblocking(False)
        socks.append(sock)
        counter = _Counter()
        counter.feed(early)
        sel.register(sock, selectors.EVENT_READ, (source, counter))
        emit(event="established", role="client", source=source, t=time.monotonic())
    last_keepalive = last_progress = time.monotonic()
    counters = [key.data[1] for key in sel.get_map().values()]
    waiting = args.clients
    while True:
        for key, _ in sel.select(timeout=args.progress or 1.0):
            source, counter = key.data
            try:
                data = key.fileobj.recv(1 << 18)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not data:
                emit(event="closed", source=source, t=time.monotonic(), announced=counter.announced)
                sel.unregister(key.fileobj)
                waiting -= 1
                continue
            was_full = counter.announced >= args.expect
            counter.feed(data)
            if not was_full and counter.announced >= args.expect:
                emit(event="full", source=source, t=time.monotonic(), announced=counter.announced,
                     withdrawn=counter.withdrawn, updates=counter.updates)
        now = time.monotonic()
        if args.progress and now - last_progress >= args.progress:
            last_progress = now
            emit(event="progress", t=now, announced=[c.announced for c in counters])
        if now - last_keepalive > KEEPALIVE_EVERY_S:
            last_keepalive = now
            for s in socks:
                try:
                    s.send(KEEPALIVE)
                except OSError:
                    pass
        if waiting <= 0:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, run in (("send", send), ("receive", receive)):
        p = sub.add_parser(name)
        p.add_argument("--peer", required=True, help="the reflector's address")
        p.add_argument("--port", type=int, default=179)
        p.add_argument("--source", required=True, help="local address (first of --clients consecutive ones)")
        p.add_argument("--asn", type=int, default=64496)
        p.set_defaults(run=run)
        if name == "send":
            p.add_argument("--table", required=True, help="file of concatenated UPDATE messages")
            p.add_argument("--router-id", default=None)
        else:
            p.add_argument("--clients", type=int, default=1)
            p.add_argument("--progress", type=float, default=0.0, help="report counts every this many seconds")
            p.add_argument("--expect", type=int, required=True, help="NLRI octets of the full table (see 'octets')")
    octets = sub.add_parser("octets", help="print the NLRI octets a table file announces")
    octets.add_argument("table")
    octets.set_defaults(run=lambda a: print(nlri_octets(Path(a.table).read_bytes())) or 0)
    args = parser.parse_args(argv)
    if args.command == "send" and args.router_id is None:
        args.router_id = args.source if ":" not in args.source else "10.255.255.1"
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
