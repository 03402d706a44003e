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
from bgpcore.wire.update import encode_updates as _py_encode_updates
from bgpcore.wire.update import encode_withdrawals as _py_encode_withdrawals

NO_EXTENSIONS: bool = bool(os.environ.get("BGPCORE_NO_EXTENSIONS")) or sys.implementation.name != "cpython"

ACCELERATED: bool = False
split_messages = _py_split_messages
decode_update = _py_decode_update
decode_prefixes = _py_decode_prefixes
encode_updates = _py_encode_updates
encode_withdrawals = _py_encode_withdrawals

if not TYPE_CHECKING and not NO_EXTENSIONS:
    try:
        from bgpcore_fast import _encode, _update
    except ImportError:  # not built: the pure-Python codec stays in place
        pass
    else:
        split_messages = _update.split_messages
        decode_update = _update.decode_update
        decode_prefixes = _update.decode_prefixes
        encode_updates = _encode.encode_updates
        encode_withdrawals = _encode.encode_withdrawals
        ACCELERATED = True
    try:  # the RIB's per-prefix loops, read by bgpcore.rib.accel (built with the codec)
        from bgpcore_fast import _rib
    except ImportError:
        pass
    else:
        group_runs, insert_absent = _rib.group_runs, _rib.insert_absent
        add_keys, take_keys = _rib.add_keys, _rib.take_keys
        split_by_shard, split_ops = _rib.split_by_shard, _rib.split_ops

__all__ = ["ACCELERATED", "NO_EXTENSIONS", "decode_prefixes", "decode_update", "encode_updates", "encode_withdrawals",
           "split_messages"]
