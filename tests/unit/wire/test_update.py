"""UPDATE codec: round trips of every attribute and NLRI form, packing, End-of-RIB."""
from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

from bgpcore.constants import HEADER_LEN
from bgpcore.errors import ErrorAction
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, CodecContext
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.nlri import key_to_network, network_key
from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update
from bgpcore.wire.update import decode_update, encode_end_of_rib, encode_update, encode_updates, encode_withdrawals

from wire_strategies import global6, ipv4, link_local6, path_attributes, prefix_keys

contexts = st.builds(
    CodecContext,
    asn4=st.booleans(),
    addpath=st.sets(st.sampled_from([IPV4_UNICAST, IPV6_UNICAST])).map(frozenset),
    extended_nexthop=st.just(frozenset({IPV4_UNICAST})),
    extended_message=st.booleans(),
)


def _body(msg: bytes) -> bytes:
    assert msg[:16] == b"\xff" * 16 and struct.unpack_from("!H", msg, 16)[0] == len(msg)
    return msg[HEADER_LEN:]


@settings(max_examples=150)
@given(st.data())
def test_ipv4_update_round_trip(data: st.DataObject) -> None:
    ctx = data.draw(contexts)
    attrs = data.draw(path_attributes(asn4=ctx.asn4, next_hop=data.draw(ipv4)))
    addpath = IPV4_UNICAST in ctx.addpath
    update = Update(data.draw(prefix_keys(1, addpath, 20)), attrs, data.draw(prefix_keys(1, addpath, 20)))
    assert decode_update(_body(encode_update(update, ctx)), ctx) == update


@settings(max_examples=150)
@given(st.data())
def test_mp_update_round_trip(data: st.DataObject) -> None:
    ctx = data.draw(contexts)
    afi = data.draw(st.sampled_from([1, 2]))
    next_hop = data.draw(st.one_of(st.tuples(global6), st.tuples(global6, link_local6), st.tuples(link_local6, link_local6)))
    addpath = (afi, 1) in ctx.addpath
    reach = MpReach(afi, 1, next_hop, data.draw(prefix_keys(afi, addpath, 20)))
    unreach = MpUnreach(afi, 1, data.draw(prefix_keys(afi, addpath, 20)))
    update = Update([], data.draw(path_attributes(asn4=ctx.asn4)), [], reach, unreach)
    assert decode_update(_body(encode_update(update, ctx)), ctx) == update


@settings(max_examples=60)
@given(st.data())
def test_encode_updates_packs_every_prefix_within_the_size_limit(data: st.DataObject) -> None:
    ctx = data.draw(contexts)
    family = data.draw(st.sampled_from([IPV4_UNICAST, IPV6_UNICAST]))
    next_hop = data.draw(st.tuples(ipv4)) if family == IPV4_UNICAST and data.draw(st.booleans()) else data.draw(st.tuples(global6, link_local6))
    keys = data.draw(prefix_keys(family[0], family in ctx.addpath, 1500))
    attrs = data.draw(path_attributes(asn4=ctx.asn4))
    msgs = encode_updates(attrs, family, next_hop, keys, ctx)
    got: list[bytes] = []
    for msg in msgs:
        assert len(msg) <= ctx.max_message_len
        u = decode_update(_body(msg), ctx)
        assert u.action == ErrorAction.NONE
        if u.mp_reach is not None:
            assert (u.mp_reach.afi, u.mp_reach.safi, u.mp_reach.next_hop) == (*family, next_hop)
            got += u.mp_reach.nlri
            assert u.attributes == attrs._replace(next_hop=None)
        else:
            got += u.nlri
            assert u.attributes == attrs._replace(next_hop=next_hop[0])
    assert got == keys
    if msgs:  # packed: every message but the last is nearly full
        assert all(len(m) > ctx.max_message_len - 40 - (5 if ctx.asn4 else 0) - 17 for m in msgs[:-1])
    withdrawn: list[bytes] = []
    for msg in encode_withdrawals(family, keys, ctx):
        u = decode_update(_body(msg), ctx)
        withdrawn += u.withdrawn if family == IPV4_UNICAST else u.mp_unreach.nlri  # type: ignore[union-attr]
    assert withdrawn == keys


def test_end_of_rib_for_each_family() -> None:
    ctx = CodecContext()
    for family in [(1, 1), (2, 1), (1, 2), (2, 2), (1, 128)]:
        assert decode_update(_body(encode_end_of_rib(family, ctx)), ctx).end_of_rib() == family
    update = decode_update(_body(encode_withdrawals(IPV6_UNICAST, [network_key("2001:db8::/32")], ctx)[0]), ctx)
    assert update.end_of_rib() is None


def test_ipv4_over_ipv6_next_hop_uses_mp_reach_with_both_addresses() -> None:
    """RFC 8950: IPv4 NLRI in MP_REACH (AFI 1) with a 32-octet next hop, as FRR sends it."""
    ctx = CodecContext(extended_nexthop=frozenset({IPV4_UNICAST}))
    attrs = PathAttributes(origin=0, as_path=((2, (65001,)),))
    msg = encode_updates(attrs, IPV4_UNICAST, ("fe80::1", "fe80::1"), [network_key("198.51.100.1/32")], ctx)[0]
    value_start = msg.index(bytes((0x80, 14)))
    assert msg[value_start + 3 : value_start + 3 + 4] == bytes((0, 1, 1, 32))
    update = decode_update(_body(msg), ctx)
    assert update.mp_reach is not None and update.mp_reach.next_hop == ("fe80::1", "fe80::1")
    assert [str(key_to_network(k, 1)) for k in update.mp_reach.nlri] == ["198.51.100.1/32"]


def test_ipv6_next_hop_for_ipv4_refused_without_extended_next_hop() -> None:
    import pytest

    from bgpcore.errors import UsageError

    with pytest.raises(UsageError, match="extended next hop"):
        encode_updates(PathAttributes(origin=0), IPV4_UNICAST, ("2001:db8::1",), [network_key("192.0.2.0/24")], CodecContext())


def test_two_octet_session_carries_four_octet_path_in_as4_path() -> None:
    ctx2 = CodecContext(asn4=False)
    attrs = PathAttributes(origin=0, as_path=((2, (65001, 4200000001, 65002)),), aggregator=(4200000001, "192.0.2.9"))
    msg = encode_updates(attrs, IPV4_UNICAST, ("192.0.2.1",), [network_key("192.0.2.0/24")], ctx2)[0]
    assert bytes((0xC0, 17)) in msg and bytes((0xC0, 18)) in msg  # AS4_PATH, AS4_AGGREGATOR
    assert struct.pack("!HHH", 65001, 23456, 65002) in msg
    assert decode_update(_body(msg), ctx2).attributes == attrs._replace(next_hop="192.0.2.1")


def test_reader_and_decoder_agree_on_many_messages() -> None:
    ctx = CodecContext()
    keys = [network_key(f"10.{i >> 8}.{i & 255}.0/24") for i in range(5000)]
    msgs = encode_updates(PathAttributes(origin=0, as_path=((2, (1, 2)),)), IPV4_UNICAST, ("192.0.2.1",), keys, ctx)
    reader = MessageReader()
    got = [k for _, body in reader.feed(b"".join(msgs)) for k in decode_update(body, ctx).nlri]
    assert got == keys and len(msgs) == 5
