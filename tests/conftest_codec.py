"""The ``codec`` fixture: the UPDATE hot path in pure Python (id ``py``) and in bgpcore_fast (``fast``).

Conftest files of the codec test directories import the fixture from here, so every test that
takes ``codec`` runs on both paths. ``fast`` is skipped when the extension is not built or
``BGPCORE_NO_EXTENSIONS`` is set; ``BGPCORE_REQUIRE_EXTENSIONS=1`` (CI) turns a missing
extension into a failure in ``tests/unit/wire/test_accel.py``.
"""
from __future__ import annotations

import os
from typing import Callable, NamedTuple

import pytest

from bgpcore.wire import accel, framing, nlri, update
from bgpcore.wire.context import CodecContext
from bgpcore.wire.types import Update

REQUIRE_EXTENSIONS = bool(os.environ.get("BGPCORE_REQUIRE_EXTENSIONS"))


class Codec(NamedTuple):
    """One implementation of the hot path, with the pure codec's signatures."""

    name: str
    decode_update: Callable[[bytes | bytearray | memoryview, CodecContext], Update]
    split_messages: Callable[..., tuple[list[tuple[int, bytes]], int]]
    decode_prefixes: Callable[..., list[bytes]]
    encode_updates: Callable[..., list[bytes]]
    encode_withdrawals: Callable[..., list[bytes]]


PY = Codec("py", update.decode_update, framing.split_messages, nlri.decode_prefixes, update.encode_updates,
           update.encode_withdrawals)
FAST = Codec("fast", accel.decode_update, accel.split_messages, accel.decode_prefixes, accel.encode_updates,
             accel.encode_withdrawals) if accel.ACCELERATED else None
NOT_BUILT = "bgpcore_fast is not loaded (not built, or BGPCORE_NO_EXTENSIONS is set)"


@pytest.fixture(params=["py", "fast"])
def codec(request: pytest.FixtureRequest) -> Codec:
    if request.param == "py":
        return PY
    if FAST is None:
        pytest.skip(NOT_BUILT)
    return FAST
