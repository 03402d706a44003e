"""Hypothesis strategies for wire values, shared by codec tests."""
from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from bgpcore.wire.attrs import ATTRS
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes

u32 = st.integers(0, 2**32 - 1)
asn = st.integers(1, 2**32 - 1)
ipv4 = st.integers(0x01000000, 0xDFFFFFFF).map(lambda n: str(ipaddress.IPv4Address(n)))
global6 = st.integers(0, 2**96 - 1).map(lambda n: str(ipaddress.IPv6Address((0x20010DB8 << 96) | n)))
link_local6 = st.integers(1, 2**64 - 1).map(lambda n: str(ipaddress.IPv6Address((0xFE80 << 112) | n)))


@st.composite
def prefix_keys(draw: st.DrawFn, afi: int, addpath: bool = False, max_size: int = 60) -> list[bytes]:
    bits = 32 if afi == 1 else 128
    nets = draw(st.lists(st.tuples(st.integers(0, bits), st.integers(0, 2**bits - 1)), max_size=max_size))
    keys = []
    for plen, addr in nets:
        net = (ipaddress.IPv4Network if afi == 1 else ipaddress.IPv6Network)((addr, plen), strict=False)
        pid = draw(st.integers(0, 2**32 - 1)) if addpath else None
        keys.append(network_key(net, pid))
    return keys


def as_path(confed_first_only: bool = False) -> st.SearchStrategy[tuple[tuple[int, tuple[int, ...]], ...]]:
    seg = st.tuples(st.sampled_from([1, 2]), st.lists(asn, min_size=1, max_size=12).map(tuple))
    confed = st.tuples(st.sampled_from([3, 4]), st.lists(asn, min_size=1, max_size=4).map(tuple))
    if confed_first_only:
        # a 2-octet session has no way to carry a 4-octet confederation member (RFC 6793 §3)
        confed = st.tuples(st.sampled_from([3, 4]), st.lists(st.integers(1, 65535), min_size=1, max_size=4).map(tuple))
        return st.tuples(st.lists(confed, max_size=2), st.lists(seg, max_size=4)).map(lambda p: tuple(p[0] + p[1]))
    return st.lists(st.one_of(seg, confed), max_size=5).map(tuple)


unknown_codes = st.integers(19, 255).filter(lambda c: c not in ATTRS)


@st.composite
def path_attributes(draw: st.DrawFn, asn4: bool = True, next_hop: str | None = None) -> PathAttributes:
    return PathAttributes(
        origin=draw(st.integers(0, 2)),
        as_path=draw(as_path(confed_first_only=not asn4)),
        next_hop=next_hop,
        med=draw(st.none() | u32),
        local_pref=draw(st.none() | u32),
        atomic_aggregate=draw(st.booleans()),
        aggregator=draw(st.none() | st.tuples(asn, ipv4)),
        communities=tuple(draw(st.lists(u32, max_size=80))),
        originator_id=draw(st.none() | ipv4),
        cluster_list=tuple(draw(st.lists(ipv4, max_size=5))),
        extended_communities=tuple(draw(st.lists(st.integers(0, 2**64 - 1), max_size=5))),
        large_communities=tuple(draw(st.lists(st.tuples(u32, u32, u32), max_size=5))),
        unknown=tuple(sorted({c: (0xE0, c, draw(st.binary(max_size=300))) for c in draw(st.lists(unknown_codes, max_size=2))}.values())),
    )
