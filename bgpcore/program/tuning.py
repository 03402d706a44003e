"""How ``bgpcore run`` sets up its process for a long life with a full table.

* The collector: a full table is millions of long-lived tuples; ``tune_gc`` moves what start-up
  made out of the collector's sight and collects the young generation less often, so a table
  load does not spend its time re-scanning the RIB (route values hold no reference cycles).
* The allocator: with glibc's defaults, memory freed from large blocks (a session's 64 KiB
  reads, a dict's old table after it grew) stays in the heap, so the RSS only ever grows, by
  tens of MiB after a peer that sent a storm of messages has gone. ``tune_malloc`` has blocks
  of 64 KiB and more mapped on their own, so they go back to the system when freed.

``BGPCORE_DEFAULT_GC=1`` and ``BGPCORE_DEFAULT_MALLOC=1`` keep Python's and glibc's defaults.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from typing import Final

log = logging.getLogger("bgpcore.program")

_M_MMAP_THRESHOLD: Final = -3  # mallopt(3)
MMAP_THRESHOLD: Final = 64 * 1024


def tune_gc() -> None:
    """Freeze what start-up made and collect the young generation less often."""
    if os.environ.get("BGPCORE_DEFAULT_GC"):
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def tune_malloc() -> bool:
    """Map blocks of ``MMAP_THRESHOLD`` bytes and more on their own (glibc); False when the
    C library has no ``mallopt`` or the setting was refused."""
    if os.environ.get("BGPCORE_DEFAULT_MALLOC"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("malloc: no mallopt in this C library; its defaults stay")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
