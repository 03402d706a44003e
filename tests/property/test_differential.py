"""bgpcore_fast against the pure-Python codec: for any input, equal results or the same error.

Valid UPDATEs come from the pure encoder over random attribute sets, families, contexts
(ADD-PATH, 2-octet AS, extended next hop) and prefixes; malformed ones are those with bytes
flipped, cut or inserted, and plain random bytes. Real MRT dumps and captures close the loop
on what routers actually send.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest_codec import FAST, NOT_BUILT, PY
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bgpcore.errors import ErrorAction, ProtocolError, UpdateMessageError
from bgpcore.wire.context import CodecContext
from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update
from bgpcore.wire.update import encode_update, encode_updates, encode_withdrawals

pytestmark = pytest.mark.skipif(FAST is None, reason=NOT_BUILT)

FAMILIES = [(1, 1), (1, 2), (2, 1), (2, 2), (1, 4), (1, 128), (2, 128)]
MAX_BITS = {(1, 4): 56, (1, 128): 120, (2, 128): 216}


def outcome(call: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """What a codec call did: its value, or the error class with (code, subcode, data)."""
    try:
        return ("value", call(*args))
    except ProtocolError as exc:
        return ("error", type(exc), exc.code, exc.subcode, exc.data)
    except Exception as exc:  # a codec bug: both paths must still agree on it
        return ("bug", type(exc), str(exc))


def assert_same_update(body: bytes, ctx: CodecContext) -> tuple[Any, ...]:
    assert FAST is not None
    expected = outcome(PY.decode_update, body, ctx)
    assert outcome(FAST.decode_update, body, ctx) == expected
    return expected


# ---- strategies ----------------------------------------------------------------------------

u32 = st.integers(0, 2**32 - 1)
asn = st.integers(1, 2**32 - 1) | st.integers(1, 65535)
ipv4 = st.integers(0x01000000, 0xDFFFFFFF).map(lambda n: ".".join(str(n >> s & 255) for s in (24, 16, 8, 0)))
ipv6 = st.sampled_from(["2001:db8::1", "2001:db8:0:1::a", "::ffff:192.0.2.1", "fe80::1", "::", "2001:db8:1:2:3:4:5:6"])
contexts = st.builds(
    CodecContext, asn4=st.booleans(),
    addpath=st.frozensets(st.sampled_from(FAMILIES)),
    extended_nexthop=st.frozensets(st.sampled_from([(1, 1), (1, 2)])),
    extended_message=st.booleans(),
    families=st.none() | st.frozensets(st.sampled_from(FAMILIES)),
)


@st.composite
def prefix_keys(draw: st.DrawFn, family: tuple[int, int], addpath: bool, max_size: int = 40) -> list[bytes]:
    limit = MAX_BITS.get(family, 32 if family[0] == 1 else 128)
    keys = []
    for plen in draw(st.lists(st.integers(0, limit), max_size=max_size)):
        size = (plen + 7) // 8
        addr = bytearray(draw(st.binary(min_size=size, max_size=size)))
        if plen % 8:
            addr[-1] &= (0xFF << (8 - plen % 8)) & 0xFF
        key = bytes((plen,)) + bytes(addr)
        keys.append(draw(u32).to_bytes(4, "big") + key if addpath else key)
    return keys


@st.composite
def attribute_sets(draw: st.DrawFn) -> PathAttributes:
    segment = st.tuples(st.integers(1, 4), st.lists(asn, min_size=1, max_size=10).map(tuple))
    return PathAttributes(
        origin=draw(st.none() | st.integers(0, 2)),
        as_path=tuple(draw(st.lists(segment, max_size=4))),
        med=draw(st.none() | u32),
        local_pref=draw(st.none() | u32),
        atomic_aggregate=draw(st.booleans()),
        aggregator=draw(st.none() | st.tuples(asn, ipv4)),
        communities=tuple(draw(st.lists(u32, max_size=12))),
        originator_id=draw(st.none() | ipv4),
        cluster_list=tuple(draw(st.lists(ipv4, max_size=4))),
        extended_communities=tuple(draw(st.lists(st.integers(0, 2**64 - 1), max_size=3))),
        large_communities=tuple(draw(st.lists(st.tuples(u32, u32, u32), max_size=3))),
        unknown=tuple(sorted({c: (0xC0, c, draw(st.binary(max_size=20)))
                              for c in draw(st.lists(st.integers(33, 255), max_size=2))}.values())),
    )


@st.composite
def valid_updates(draw: st.DrawFn) -> tuple[list[bytes], CodecContext, list[bytes]]:
    """(bodies, context, prefixes announced) of UPDATEs the pure encoder wrote."""
    ctx = draw(contexts)
    family = draw(st.sampled_from(FAMILIES))
    keys = draw(prefix_keys(family, family in ctx.addpath))
    attrs = draw(attribute_sets())
    if family[0] == 1 and (family not in ctx.extended_nexthop or draw(st.booleans())):
        next_hop: tuple[str, ...] = (draw(ipv4),)
    else:
        next_hop = tuple(draw(st.lists(ipv6, min_size=1, max_size=1 if family[1] == 128 else 2)))
    kind = draw(st.sampled_from(["announce", "withdraw", "mixed"]))
    if kind == "announce":
        messages = encode_updates(attrs, family, next_hop, keys, ctx)
    elif kind == "withdraw":
        messages = encode_withdrawals(family, keys, ctx)
    else:
        v4 = draw(prefix_keys((1, 1), (1, 1) in ctx.addpath, 10))
        gone = draw(prefix_keys((1, 1), (1, 1) in ctx.addpath, 10))
        mp_family = draw(st.sampled_from(FAMILIES))
        unreach = MpUnreach(*mp_family, draw(prefix_keys(mp_family, mp_family in ctx.addpath, 10)))
        reach = MpReach(*family, next_hop, keys[:20]) if family != (1, 1) or ":" in next_hop[0] else None
        plain_attrs = attrs._replace(next_hop=draw(ipv4)) if v4 else attrs
        update = Update(gone, plain_attrs, v4, reach, draw(st.none() | st.just(unreach)))
        try:
            messages = [encode_update(update, ctx)]
        except Exception:
            assume(False)
        keys = v4 + (reach.nlri if reach else [])
    return [m[19:] for m in messages], ctx, keys


# ---- properties ----------------------------------------------------------------------------

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(valid_updates())
def test_valid_updates_decode_equal_on_both_paths(case: tuple[list[bytes], CodecContext, list[bytes]]) -> None:
    bodies, ctx, keys = case
    announced = []
    for body in bodies:
        result = assert_same_update(body, ctx)
        if result[0] == "error":  # only a treat-as-withdraw of two MP families at once resets (update._as_withdraw)
            with pytest.raises(UpdateMessageError, match="^treat-as-withdraw of afi"):
                PY.decode_update(body, ctx)
            continue
        assert result[0] == "value"
        update = result[1]
        if update.action == ErrorAction.NONE:
            announced += update.nlri + (update.mp_reach.nlri if update.mp_reach else [])
    if announced:
        assert set(announced) <= set(keys)


@SETTINGS
@given(valid_updates(), st.data())
def test_mutated_updates_give_the_same_outcome(case: tuple[list[bytes], CodecContext, list[bytes]], data: st.DataObject) -> None:
    bodies, ctx, _ = case
    assume(bodies)
    body = bytearray(data.draw(st.sampled_from(bodies)))
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["flip", "cut", "insert", "length"]))
        pos = data.draw(st.integers(0, max(len(body) - 1, 0)))
        if how == "flip" and body:
            body[pos] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del body[pos:pos + data.draw(st.integers(1, 8))]
        elif how == "insert":
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif len(body) > pos + 1:  # nudge a 2-octet field by a little, as length bugs do
            value = (int.from_bytes(body[pos:pos + 2], "big") + data.draw(st.integers(-3, 3))) & 0xFFFF
            body[pos:pos + 2] = value.to_bytes(2, "big")
    assert_same_update(bytes(body), ctx)


# UPDATE bodies from hostile peers (tests/unit/wire/test_hostile_regressions.py), and contexts that change their outcome
IPV4_OVER_IPV6 = bytes.fromhex("00000029400101004002060201""0000fde9800e190001011020010db8000000000000000000000002""0018c61307")
WITHDRAW_TWO_FAMILIES = bytes.fromhex("00000038400101074002060201""0000fde9800e1e0002011020010db8000000000000000000000002"
                                      "004020010db8000a0001800f0700010118c61308")
def _body(attrs: bytes, nlri: bytes = b"") -> bytes:
    return len(b"").to_bytes(2, "big") + len(attrs).to_bytes(2, "big") + attrs + nlri


_AS_PATH = bytes.fromhex("400206020100" "00fde9")
_NEXT_HOP = bytes.fromhex("40030401020304")
_NLRI = bytes.fromhex("18c63364")  # 198.51.100.0/24
PARTIAL_ORIGIN = _body(bytes.fromhex("60010100") + _AS_PATH + _NEXT_HOP, _NLRI)
ATOMIC_AGGREGATE_FLAGS = _body(bytes.fromhex("40010100") + _AS_PATH + _NEXT_HOP + bytes.fromhex("c00600"), _NLRI)
IPV6_OVER_4_OCTETS = _body(bytes.fromhex("40010100") + _AS_PATH + bytes.fromhex("800e10" "00020104" "01020304" "00" "302001" "0db80001"))
HOSTILE = [IPV4_OVER_IPV6, WITHDRAW_TWO_FAMILIES, PARTIAL_ORIGIN, ATOMIC_AGGREGATE_FLAGS, IPV6_OVER_4_OCTETS]
HOSTILE_CONTEXTS = [CodecContext(), CodecContext(extended_nexthop=frozenset({(1, 1)})),
                    CodecContext(families=frozenset({(1, 1)})), CodecContext(families=frozenset({(2, 1)}))]


@pytest.mark.parametrize("body", HOSTILE)
@pytest.mark.parametrize("ctx", HOSTILE_CONTEXTS)
def test_hostile_updates_give_the_same_outcome(body: bytes, ctx: CodecContext) -> None:
    assert_same_update(body, ctx)


@SETTINGS
@given(st.binary(max_size=200), contexts)
@example(IPV4_OVER_IPV6, CodecContext())
@example(IPV4_OVER_IPV6, CodecContext(extended_nexthop=frozenset({(1, 1)})))
@example(WITHDRAW_TWO_FAMILIES, CodecContext())
@example(WITHDRAW_TWO_FAMILIES, CodecContext(families=frozenset({(1, 1)})))
@example(PARTIAL_ORIGIN, CodecContext())
@example(ATOMIC_AGGREGATE_FLAGS, CodecContext())
@example(IPV6_OVER_4_OCTETS, CodecContext(extended_nexthop=frozenset({(1, 1)})))
def test_random_bytes_give_the_same_outcome(body: bytes, ctx: CodecContext) -> None:
    assert_same_update(body, ctx)


@SETTINGS
@given(valid_updates(), st.data())
def test_framing_agrees_on_any_stream(case: tuple[list[bytes], CodecContext, list[bytes]], data: st.DataObject) -> None:
    assert FAST is not None
    bodies, _, _ = case
    stream = bytearray(b"".join(b"\xff" * 16 + (19 + len(b)).to_bytes(2, "big") + b"\x02" + b for b in bodies))
    stream += b"\xff" * 16 + b"\x00\x13\x04"
    for _ in range(data.draw(st.integers(0, 2))):
        pos = data.draw(st.integers(0, len(stream) - 1))
        stream[pos] ^= data.draw(st.integers(1, 255))
    stream = stream[:data.draw(st.integers(0, len(stream)))]
    max_len = data.draw(st.sampled_from([4096, 65535, 100, 19, 0, 70000, 2**70]))
    for buf in (bytes(stream), stream):
        assert outcome(FAST.split_messages, buf, max_len) == outcome(PY.split_messages, buf, max_len)


@SETTINGS
@given(st.binary(max_size=120), st.sampled_from([1, 2]), st.booleans(), st.none() | st.integers(-2, 300) | st.sampled_from([2**70, -2**70, 32.5]))
def test_prefix_fields_split_the_same(raw: bytes, afi: int, addpath: bool, max_bits: int | None) -> None:
    assert FAST is not None
    assert outcome(FAST.decode_prefixes, raw, afi, addpath, max_bits) == outcome(PY.decode_prefixes, raw, afi, addpath, max_bits)


# ---- real data -----------------------------------------------------------------------------

MRT_UPDATES = [
    "ripe-bgpdump/updates.20070211.0141.gz", "ripe-bgpdump/updates.20160811.1600.gz",
    "ripe-bgpdump/updates.et-header.2015.gz", "ripe-bgpdump/updates.long_withdrawal.gz",
    "ripe-bgpdump/updates.nlri_mask_trailing_bits.gz", "bgpkit/updates.20100227.1600.gz",
    "bgpkit/updates.20100227.1610.gz", "libbgpstream/ris.rrc06.updates.1427846400.gz",
    "libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2", "mrtparse-samples/bird_bgp",
    "mrtparse-samples/bird6_bgp", "mrtparse-samples/quagga_bgp", "mrtparse-samples/openbgpd_bgp",
]


def _captures_module(shared_data: Path) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    try:
        import captures
    finally:
        sys.path.pop(0)
    return captures


@pytest.mark.parametrize("name", MRT_UPDATES)
def test_real_mrt_updates_decode_equal_on_both_paths(name: str, shared_data: Path) -> None:
    mrt = pytest.importorskip("bgpcore.mrt")
    path = shared_data / "mrt" / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    assert FAST is not None
    captures = _captures_module(shared_data)
    decoded = 0
    stream = bytearray()
    for rec in captures.with_dumped_add_path(mrt.read_mrt(path)):
        stream += rec.message
        if rec.message[18] == 2:
            assert_same_update(rec.message[19:], rec.ctx)
            decoded += 1
    assert decoded
    assert outcome(FAST.split_messages, stream, 65535) == outcome(PY.split_messages, stream, 65535)


def test_real_captures_decode_equal_on_both_paths(shared_data: Path) -> None:
    captures = _captures_module(shared_data)
    assert FAST is not None
    decoded = 0
    for path in sorted((shared_data / "pcap").rglob("*.pcap*")):
        streams = captures.tcp_streams(path)
        contexts = captures.negotiated_contexts(streams, CodecContext())
        for flow, runs in streams.items():
            for run in runs:
                framed = outcome(PY.split_messages, run, 65535)
                assert outcome(FAST.split_messages, run, 65535) == framed
                messages = framed[1][0] if framed[0] == "value" else []
                for msg_type, body in messages:
                    if msg_type == 2:
                        assert_same_update(body, contexts[flow])
                        decoded += 1
    assert decoded > 100


ODD_FIELDS = st.sampled_from([
    {"med": 2**32}, {"local_pref": -1}, {"origin": 256}, {"communities": (2**32,)}, {"as_path": ((256, (1,)),)},
    {"as_path": ((2, ()),)}, {"as_path": [(2, (1,))]}, {"atomic_aggregate": 1}, {"aggregator": (1, "x")},
    {"originator_id": "1"}, {"cluster_list": ("10.0.0.1", 7)}, {"unknown": ((0x1C0, 99, b""),)},
    {"unknown": ((0xC0, 99, b"z" * 70000),)}, {"communities": tuple(range(17000))}, {"extended_communities": (-1,)},
    {"large_communities": ((1, 2),)}, {"next_hop": "192.0.2.1"},
])


@SETTINGS
@given(contexts, st.sampled_from(FAMILIES), attribute_sets(), st.data())
def test_encoders_write_the_same_bytes_or_raise_the_same_error(
        ctx: CodecContext, family: tuple[int, int], attrs: PathAttributes, data: st.DataObject) -> None:
    assert FAST is not None
    keys = data.draw(prefix_keys(family, family in ctx.addpath, max_size=data.draw(st.sampled_from([5, 400]))))
    if data.draw(st.booleans()):
        attrs = attrs._replace(**data.draw(ODD_FIELDS))
    if data.draw(st.booleans()):
        next_hop: tuple[str, ...] = tuple(data.draw(st.lists(ipv4, min_size=1, max_size=2)))
    else:
        next_hop = tuple(data.draw(st.lists(ipv6, min_size=1, max_size=2)))
    args = (attrs, family, next_hop, keys, ctx)
    expected = outcome(PY.encode_updates, *args)
    assert outcome(FAST.encode_updates, *args) == expected
    assert outcome(FAST.encode_withdrawals, family, keys, ctx) == outcome(PY.encode_withdrawals, family, keys, ctx)
