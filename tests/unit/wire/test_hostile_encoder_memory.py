"""An attribute set a peer cannot take, encoded again and again (as each hostile session that
announces one makes the reflector do), leaves nothing behind, on both codec paths (``codec``).

The fast encoder hands such calls to the pure-Python one by raising an internal exception; a
single shared instance raised again kept every raise's traceback, one frame per Cython function,
for as long as the process ran.
"""
from __future__ import annotations

import gc
import types

import pytest
from conftest_codec import Codec

from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import AttributesTooLarge

CTX = CodecContext()
HUGE = PathAttributes(origin=0, as_path=(), communities=tuple(range(1100)))  # 4,400 octets of COMMUNITIES


def _tracebacks() -> int:
    gc.collect()
    return sum(isinstance(o, (types.TracebackType, types.FrameType)) for o in gc.get_objects())


@pytest.mark.parametrize("family, next_hop, key", [(IPV4_UNICAST, "192.0.2.1", "198.51.100.0/24"),
                                                   (IPV6_UNICAST, "2001:db8::1", "2001:db8:1::/48")])
def test_refused_attribute_sets_keep_no_tracebacks(codec: Codec, family: tuple[int, int], next_hop: str,
                                                   key: str) -> None:
    keys = [network_key(key)]
    for _ in range(3):  # warm up: first calls may import or cache
        with pytest.raises(AttributesTooLarge):
            codec.encode_updates(HUGE, family, (next_hop,), keys, CTX)
    before = _tracebacks()
    for _ in range(200):
        with pytest.raises(AttributesTooLarge):
            codec.encode_updates(HUGE, family, (next_hop,), keys, CTX)
    assert _tracebacks() - before < 10
