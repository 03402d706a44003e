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


def _drain(sock: socket.socket, back: _Counter) -> None:
    """Read what the reflector sends the feeder (KEEPALIVEs, EoR, and with split horizon
    none of its own routes): counted in ``back``."""
    try:
        while data := sock.recv(65536):
            back.feed(data)
    except OSError:
        pass


def send(args: argparse.Namespace) -> int:
    """Stream the table, then keep the session up until stdin closes or the process is stopped."""
    table = Path(args.table).read_bytes()
    with NetNs(args.netns):
        sock, _ = connect(args.peer, args.port, args.source, args.asn, args.router_id)
    emit(event="established", role="feeder", t=time.monotonic())
    stop = threading.Event()
    lock = threading.Lock()
    back = _Counter()
    threading.Thread(target=_drain, args=(sock, back), daemon=True).start()
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
    emit(event="feeder_done", t=time.monotonic(), back_prefixes=back.prefixes,
         back_octets=back.announced, back_updates=back.updates)
    stop.set()
    sock.close()
    return 0


class _Counter:
    """Counts what one session's byte stream announces and withdraws, and checks it exactly.

    Per direction it keeps the NLRI octets, the prefix count and an order-independent digest
    (the sum of a 64-bit FNV-1a hash of (AFI, prefix) per prefix, announced minus withdrawn):
    with one announcement per prefix, a receiver holds exactly the table when its announced
    octets, count and digest equal the table's, however the reflector packs it. The walk is
    compiled with Cython when available, so receivers stay cheap next to the reflector.
    """

    __slots__ = ("buf", "announced", "withdrawn", "updates", "prefixes", "digest", "exact")

    def __init__(self) -> None:
        self.buf = b""
        self.announced = 0
        self.withdrawn = 0
        self.updates = 0
        self.prefixes = 0
        self.digest = 0
        self.exact = False

    def feed(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        walk = _FAST if _FAST is not None else _walk
        pos, announced, withdrawn, updates, prefixes, digest = walk(buf)
        self.buf = buf[pos:]
        self.announced += announced
        self.withdrawn += withdrawn
        self.updates += updates
        self.prefixes += prefixes
        self.digest = (self.digest + digest) & _MASK


_MASK = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def _prefix_hash(afi: int, nlri: bytes, a: int, end: int) -> tuple[int, int]:
    """(prefixes, sum of their hashes) of the NLRI field ``nlri[a:end]``."""
    count = total = 0
    while a < end:
        n = 1 + (nlri[a] + 7) // 8
        h = (_FNV_OFFSET ^ afi) * _FNV_PRIME & _MASK
        for b in nlri[a:a + n]:
            h = (h ^ b) * _FNV_PRIME & _MASK
        total += h
        count += 1
        a += n
    return count, total


def _walk(buf: bytes) -> tuple[int, int, int, int, int, int]:
    """The pure-Python walk: (bytes consumed, announced octets, withdrawn octets, UPDATEs,
    announced minus withdrawn prefixes, digest)."""
    end = len(buf)
    pos = 0
    announced = withdrawn = updates = prefixes = digest = 0
    while end - pos >= 19:
        length = (buf[pos + 16] << 8) | buf[pos + 17]
        if length < 19 or end - pos < length:
            break
        if buf[pos + 18] == 2:
            updates += 1
            wlen = (buf[pos + 19] << 8) | buf[pos + 20]
            withdrawn += wlen
            c, h = _prefix_hash(1, buf, pos + 21, pos + 21 + wlen)
            prefixes -= c
            digest -= h
            a = pos + 21 + wlen
            aend = a + 2 + ((buf[a] << 8) | buf[a + 1])
            announced += pos + length - aend
            c, h = _prefix_hash(1, buf, aend, pos + length)
            prefixes += c
            digest += h
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
                    c, h = _prefix_hash((buf[v] << 8) | buf[v + 1], buf, v + 5 + buf[v + 3], v + vlen)
                    prefixes += c
                    digest += h
                elif code == _MP_UNREACH:
                    withdrawn += vlen - 3
                    c, h = _prefix_hash((buf[v] << 8) | buf[v + 1], buf, v + 3, v + vlen)
                    prefixes -= c
                    digest -= h
                a = v + vlen
        pos += length
    return pos, announced, withdrawn, updates, prefixes, digest & _MASK


_MP_REACH = AttrCode.MP_REACH_NLRI.value
_MP_UNREACH = AttrCode.MP_UNREACH_NLRI.value


_CYTHON_COUNTER = """
# cython: language_level=3, boundscheck=False, wraparound=False
ctypedef unsigned long long u64

cdef inline void _nlri(const unsigned char[:] buf, u64 afi, Py_ssize_t a, Py_ssize_t end, long long *count,
                       u64 *total) nogil:
    cdef Py_ssize_t n, i
    cdef u64 h
    while a < end:
        n = 1 + (buf[a] + 7) // 8
        h = (14695981039346656037ULL ^ afi) * 1099511628211ULL
        for i in range(a, a + n):
            h = (h ^ buf[i]) * 1099511628211ULL
        total[0] += h
        count[0] += 1
        a += n

def count_octets(const unsigned char[:] buf):
    cdef Py_ssize_t end = buf.shape[0], pos = 0, length, a, aend, v, vlen
    cdef long long announced = 0, withdrawn = 0, updates = 0, plus = 0, minus = 0
    cdef u64 hplus = 0, hminus = 0
    while end - pos >= 19:
        length = (buf[pos + 16] << 8) | buf[pos + 17]
        if length < 19 or end - pos < length:
            break
        if buf[pos + 18] == 2:
            updates += 1
            vlen = (buf[pos + 19] << 8) | buf[pos + 20]
            withdrawn += vlen
            _nlri(buf, 1, pos + 21, pos + 21 + vlen, &minus, &hminus)
            a = pos + 21 + vlen
            aend = a + 2 + ((buf[a] << 8) | buf[a + 1])
            announced += pos + length - aend
            _nlri(buf, 1, aend, pos + length, &plus, &hplus)
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
                    _nlri(buf, (buf[v] << 8) | buf[v + 1], v + 5 + buf[v + 3], v + vlen, &plus, &hplus)
                elif buf[a + 1] == 15:
                    withdrawn += vlen - 3
                    _nlri(buf, (buf[v] << 8) | buf[v + 1], v + 3, v + vlen, &minus, &hminus)
                a = v + vlen
        pos += length
    return pos, announced, withdrawn, updates, plus - minus, <u64>(hplus - hminus)
"""


_FAST: Callable[[bytes], tuple[int, int, int, int, int, int]] | None = None


def compiled_counter() -> Callable[[bytes], tuple[int, int, int, int, int, int]] | None:
    """The same walk compiled with Cython when it is installed (build dependency only), so K
    receivers on a 2-core machine cost far less than the reflector they measure."""
    try:
        import pyximport  # type: ignore[import-untyped]
    except ImportError:
        return None
    default = Path(__file__).resolve().parents[1] / "build" / "bench"
    build = Path(os.environ.get("BGPCORE_BENCH_CACHE", default)) / "pyx"
    build.mkdir(parents=True, exist_ok=True)
    source = build / "rr_digest.pyx"
    if not source.exists() or source.read_text() != _CYTHON_COUNTER:
        source.write_text(_CYTHON_COUNTER)
    sys.path.insert(0, str(build))
    pyximport.install(build_dir=str(build / "build"), language_level=3)
    try:
        import rr_digest  # type: ignore[import-not-found]
    except Exception as exc:  # no compiler: the Python walk still works, only slower
        print(f"feeder: Cython counter unavailable ({exc}); counting in Python", file=sys.stderr)
        return None
    return rr_digest.count_octets  # type: ignore[no-any-return]


def table_summary(messages: bytes) -> tuple[int, int, int]:
    """(NLRI octets, prefixes, digest) a stream of UPDATEs announces: what a receiver must
    hold, exactly, to hold it all."""
    counter = _Counter()
    counter.feed(messages)
    return counter.announced, counter.prefixes, counter.digest


def nlri_octets(messages: bytes) -> int:
    """NLRI octets a stream of UPDATEs announces: what a receiver must count to hold it all."""
    return table_summary(messages)[0]


_CLONE_NEWNET = 0x40000000


class NetNs:
    """``with NetNs(name):`` sockets created inside belong to network namespace ``name``
    (``ip netns add``); the process returns to its own namespace on exit. Single-threaded use."""

    def __init__(self, name: str | None) -> None:
        self.name = name

    def __enter__(self) -> NetNs:
        if self.name:
            import ctypes
            self._libc = ctypes.CDLL(None, use_errno=True)
            self._home = os.open("/proc/self/ns/net", os.O_RDONLY)
            self._enter(f"/run/netns/{self.name}")
        return self

    def _enter(self, path: str | int) -> None:
        fd = os.open(path, os.O_RDONLY) if isinstance(path, str) else path
        try:
            if self._libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(f"setns {path}: errno {__import__('ctypes').get_errno()}")
        finally:
            if isinstance(path, str):
                os.close(fd)

    def __exit__(self, *exc: object) -> None:
        if self.name:
            self._enter(self._home)
            os.close(self._home)


def receive(args: argparse.Namespace) -> int:
    """Open sessions (``--clients`` from consecutive source addresses, or one per
    ``--endpoint NS/SOURCE/PEER``, each in its own network namespace) and report each one full,
    with whether it holds exactly the table (``--expect-prefixes``, ``--expect-digest``)."""
    global _FAST
    _FAST = compiled_counter()
    endpoints: list[tuple[str | None, str, str]] = []
    if args.endpoint:
        for spec in args.endpoint:
            ns, source, peer = spec.split("/")
            endpoints.append((ns or None, source, peer))
    else:
        first = ipaddress.ip_address(args.source)
        endpoints = [(None, str(first + i), args.peer) for i in range(args.clients)]
    sel = selectors.DefaultSelector()
    socks = []
    for i, (ns, source, peer) in enumerate(endpoints):
        router_id = source if ":" not in source else f"10.255.0.{i + 1}"
        with NetNs(ns):
            sock, early = connect(peer, args.port, source, args.asn, router_id)
        sock.setblocking(False)
        socks.append(sock)
        counter = _Counter()
        counter.feed(early)
        sel.register(sock, selectors.EVENT_READ, (source, counter))
        emit(event="established", role="client", source=source, t=time.monotonic())
    last_keepalive = last_progress = time.monotonic()
    counters = [key.data[1] for key in sel.get_map().values()]
    waiting = len(endpoints)
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
            if counter.announced < args.expect:
                continue
            exact = counter.prefixes == args.expect_prefixes and counter.digest == args.expect_digest
            if not was_full:
                emit(event="full", source=source, t=time.monotonic(), announced=counter.announced,
                     withdrawn=counter.withdrawn, updates=counter.updates, prefixes=counter.prefixes, exact=exact)
            if exact and not counter.exact and args.expect_prefixes:
                counter.exact = True  # holds exactly the table (reported once)
                emit(event="exact", source=source, t=time.monotonic(), withdrawn=counter.withdrawn)
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
        p.add_argument("--peer", help="the reflector's address")
        p.add_argument("--port", type=int, default=179)
        p.add_argument("--source", help="local address (first of --clients consecutive ones)")
        p.add_argument("--asn", type=int, default=64496)
        p.set_defaults(run=run)
        if name == "send":
            p.add_argument("--table", required=True, help="file of concatenated UPDATE messages")
            p.add_argument("--router-id", default=None)
            p.add_argument("--netns", default=None, help="network namespace to open the session in")
        else:
            p.add_argument("--clients", type=int, default=1)
            p.add_argument("--progress", type=float, default=0.0, help="report counts every this many seconds")
            p.add_argument("--expect", type=int, required=True, help="NLRI octets of the full table (see 'octets')")
            p.add_argument("--expect-prefixes", type=int, default=0, help="prefixes of the full table")
            p.add_argument("--expect-digest", type=int, default=0, help="digest of the full table")
            p.add_argument("--endpoint", action="append", default=[],
                           help="NS/SOURCE/PEER: one session from SOURCE in namespace NS (repeatable)")
    octets = sub.add_parser("octets", help="print the NLRI octets a table file announces")
    octets.add_argument("table")
    octets.set_defaults(run=lambda a: print(*table_summary(Path(a.table).read_bytes())) or 0)
    args = parser.parse_args(argv)
    if args.command == "send" and args.router_id is None:
        args.router_id = args.source if ":" not in args.source else "10.255.255.1"
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
