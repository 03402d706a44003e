"""A route reflector in a process of its own, for the fuzz target: its memory is measured alone.

``python reflector_process.py ADDRESS... [--extended-message ADDRESS]... [--trace]`` starts the
reflector of ``hostile_clients.start_reflector`` on 127.0.0.1, prints ``{"port": N}`` and then
answers one JSON line on stdout for each JSON line on stdin:

* ``{"cmd": "settled", "address": A, "timeout": S}``: waits (at most S seconds) until the
  neighbor A is no longer Established, then answers the state and ``established_count`` of
  every neighbor, and the tracebacks seen so far (log records that carry one, and what
  reached the event loop's exception handler);
* ``{"cmd": "memory", "gc": true, "trim": true}``: RSS (``VmRSS``, after ``gc.collect()`` if
  asked), the peak RSS (``VmHWM``), the number of asyncio tasks, the Python objects alive
  (``sys.getallocatedblocks()``), what glibc's malloc holds in use and free (``mallinfo2``),
  with ``--trace`` the bytes ``tracemalloc`` holds; with ``trim`` also the RSS once
  ``malloc_trim(0)`` gave the free heap back to the system;
* ``{"cmd": "snapshot", "path": P}``: with ``--trace``, a ``tracemalloc`` snapshot dumped to P;
* ``{"cmd": "stop"}``: stops the reflector and exits.

Logging goes to stderr at INFO (rate-limited lines included), as a daemon's would.
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import gc
import json
import logging
import os
import sys
import time
import tracemalloc
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hostile_clients import EscapedTracebacks as _Escaped, start_reflector  # noqa: E402

from bgpcore.program.tuning import tune_malloc  # noqa: E402


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _LIBC.mallinfo2.restype = _MallInfo2
except (OSError, AttributeError):  # not glibc, or older than 2.33
    _LIBC = None


def _malloc() -> dict[str, int] | None:
    """KiB glibc's malloc has handed out (in use, heap and mmap) and holds free."""
    if _LIBC is None:
        return None
    info = _LIBC.mallinfo2()
    return {"in_use_kib": (info.uordblks + info.hblkhd) // 1024, "free_kib": info.fordblks // 1024}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    escaped = _Escaped()
    logging.getLogger().addHandler(escaped)
    loop_errors: list[str] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(str(context)))
    router, port = await start_reflector(args.addresses, extended_message=args.extended_message)
    # the allocator set up as ``bgpcore run`` sets it up; the collector keeps Python's defaults
    # here: ``bgpcore run``'s larger young generation holds more garbage between passes, a plateau
    # of about 9 MiB in this process that is not what this run looks for (docs/hostile-peers.md)
    tune_malloc()
    out = sys.stdout

    def answer(value: dict[str, Any]) -> None:
        out.write(json.dumps(value) + "\n")
        out.flush()

    answer({"port": port, "pid": os.getpid()})
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            cmd = request["cmd"]
            if cmd == "settled":
                deadline = time.monotonic() + request["timeout"]
                while (router.speaker.neighbor(request["address"]).state == "ESTABLISHED"
                       and time.monotonic() < deadline):
                    await asyncio.sleep(0.005)
                states = {a: router.speaker.neighbor(a) for a in args.addresses}
                answer({"states": {a: s.state for a, s in states.items()},
                        "established": {a: s.established_count for a, s in states.items()},
                        "tracebacks": len(escaped.records) + len(loop_errors),
                        "first": (escaped.records + loop_errors)[:3]})
            elif cmd == "memory":
                if request.get("gc"):
                    gc.collect()
                memory = {"rss_kib": _status_kib("VmRSS"), "peak_kib": _status_kib("VmHWM"),
                          "tasks": len(asyncio.all_tasks()), "blocks": sys.getallocatedblocks(),
                          "malloc": _malloc(),
                          "traced": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None}
                if request.get("trim") and _LIBC is not None:
                    _LIBC.malloc_trim(0)
                    memory["trimmed_rss_kib"] = _status_kib("VmRSS")
                answer(memory)
            elif cmd == "snapshot":
                gc.collect()
                tracemalloc.take_snapshot().dump(request["path"])
                answer({"ok": True})
            elif cmd == "stop":
                break
    finally:
        await router.stop()
    answer({"stopped": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addresses", nargs="+")
    parser.add_argument("--extended-message", action="append", default=[])
    parser.add_argument("--trace", action="store_true", help="run tracemalloc (slower)")
    args = parser.parse_args()
    if args.trace:
        tracemalloc.start(8)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
