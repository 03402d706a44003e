"""Which implementation runs the UPDATE hot path: the bgpcore_fast extension or pure Python.

This is the only module that imports ``bgpcore_fast``. The extension is used when it was
built, unless ``BGPCORE_NO_EXTENSIONS`` is set to a non-empty value; other interpreters than
CPython, and type checkers, get the pure-Python codec. Both give equal results and raise the
same errors; ``ACCELERATED`` says which one runs, so a program can log it at start.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from bgpcore.wire.framing import split_messages as _py_split_messages
from bgpcore.wire.nlri import decode_prefixes as _py_decode_prefixes
from bgpcore.wire.update import decode_update as _py_decode_update

NO_EXTENSIONS: bool = bool(os.environ.get("BGPCORE_NO_EXTENSIONS")) or sys.implementation.name != "cpython"

ACCELERATED: bool = False
split_messages = _py_split_messages
decode_update = _py_decode_update
decode_prefixes = _py_decode_prefixes

if not TYPE_CHECKING and not NO_EXTENSIONS:
    try:
        from bgpcore_fast._update import decode_prefixes, decode_update, split_messages
    except ImportError:  # not built: the pure-Python codec stays in place
        pass
    else:
        ACCELERATED = True

__all__ = ["ACCELERATED", "NO_EXTENSIONS", "decode_prefixes", "decode_update", "split_messages"]
