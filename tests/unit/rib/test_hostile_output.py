"""One route a group cannot encode must not cost any other route of the round (RFC 7606 spirit
on the way out): the set is skipped for that group, with one log line, and everything else,
withdrawals included, goes out; a late joiner still gets the full table and End-of-RIB.
Also: the export cache gives its memory back once routes are withdrawn."""
from __future__ import annotations

import logging

import pytest
from receiver import Receiver

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.wire.context import IPV4_UNICAST, CodecContext
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes, Update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"
GOOD = PathAttributes(origin=0, as_path=((SEQ, (65010,)),), next_hop="192.0.2.1", local_pref=100)
# 1,500 communities: 6,000 octets of attributes, more than a 4,096-octet UPDATE can carry
HUGE = GOOD._replace(communities=tuple(range(1, 1501)), next_hop="192.0.2.66")
WIDE = CodecContext(extended_message=True)


def client(n: int, **kw: object) -> RibPeer:
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.0.{n}", local_address=ME, rr_client=True,
                   **kw)  # type: ignore[arg-type]


def drain(rib: Rib, peer: int, receiver: Receiver) -> None:
    while messages := rib.next_messages(peer, 1 << 16):
        receiver.feed(messages)


def keys(n: int, second: int = 0) -> list[bytes]:
    return [network_key(f"10.{second}.{i >> 8}.{i & 255}/32") for i in range(n)]


def test_an_unencodable_set_is_skipped_and_the_rest_of_the_round_goes_out(caplog: pytest.LogCaptureFixture) -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    rib.peer_up(1, client(1, recv_ctx=WIDE))  # hostile: extended messages, so it can send HUGE
    rib.peer_up(2, client(2))                 # feeder
    rib.peer_up(3, client(3))                 # reader
    reader = Receiver()
    rib.receive(2, Update([], GOOD, keys(10, 9)))
    drain(rib, 3, reader)
    assert len(reader.table) == 10
    with caplog.at_level(logging.WARNING, logger="bgpcore.rib"):
        rib.receive(1, Update([], HUGE, [network_key("203.0.113.0/24")]))
        rib.receive(2, Update(keys(5, 9), GOOD, keys(3000)))  # withdrawals and 3,000 routes, same round
        drain(rib, 3, reader)
    assert {k for _, k in reader.table} == set(keys(3000)) | set(keys(10, 9)[5:])
    lines = [r.getMessage() for r in caplog.records if "cannot be encoded" in r.getMessage()]
    assert len(lines) == 1 and "1 prefixes" in lines[0] and "iBGP client" in lines[0], lines
    assert rib.advertised(3, IPV4_UNICAST).get(network_key("203.0.113.0/24")) is None

    late = Receiver()
    rib.peer_up(4, client(4))
    drain(rib, 4, late)
    assert set(late.table) == set(reader.table) and late.end_of_rib == [IPV4_UNICAST]

    # the hostile route replaced by an encodable one: it goes out then
    rib.receive(1, Update([], GOOD._replace(next_hop="192.0.2.66"), [network_key("203.0.113.0/24")]))
    drain(rib, 3, reader)
    assert (IPV4_UNICAST, network_key("203.0.113.0/24")) in reader.table


def test_a_route_that_becomes_unencodable_is_withdrawn_from_the_group() -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    rib.peer_up(1, client(1, recv_ctx=WIDE))
    rib.peer_up(3, client(3))
    reader = Receiver()
    prefix = network_key("203.0.113.0/24")
    rib.receive(1, Update([], GOOD, [prefix]))
    drain(rib, 3, reader)
    assert (IPV4_UNICAST, prefix) in reader.table
    rib.receive(1, Update([], HUGE, [prefix]))
    drain(rib, 3, reader)
    assert reader.table == {}


def test_export_cache_returns_to_nothing_after_withdrawals_and_peer_down() -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    rib.peer_up(1, client(1))
    rib.peer_up(2, client(2))
    rib.peer_up(3, client(3))
    reader = Receiver()
    group = rib.shards[0].shard.groups[rib.groups.by_member[3].id]  # type: ignore[union-attr]
    prefixes = keys(2000)
    for i, key in enumerate(prefixes):  # one attribute set per prefix: one cache entry each
        rib.receive(1, Update([], GOOD._replace(med=i), [key]))
        rib.receive(2, Update([], GOOD._replace(med=i, as_path=((SEQ, (65020,)),)), [key]))
    drain(rib, 3, reader)
    assert len(reader.table) == 2000
    assert group.cache_size() == 0, "a drained group keeps no exports: the next round makes the ones it needs"
    rib.receive(1, Update(prefixes, None, []))
    drain(rib, 3, reader)
    assert group.cache_size() == 0
    rib.peer_down(2)
    drain(rib, 3, reader)
    assert reader.table == {}
    assert group.cache_size() <= 10, group.cache_size()


def test_route_refreshes_while_one_is_served_are_coalesced(caplog: pytest.LogCaptureFixture) -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    rib.peer_up(1, client(1))
    rib.peer_up(2, client(2))
    rib.receive(1, Update([], GOOD, keys(3000)))
    reader = Receiver()
    drain(rib, 2, reader)
    with caplog.at_level(logging.WARNING, logger="bgpcore.rib"):
        for _ in range(1000):
            rib.route_refresh(2)
    assert sum("coalesced" in r.getMessage() for r in caplog.records) == 1
    again = Receiver()
    drain(rib, 2, again)
    assert set(again.table) == set(reader.table) and again.end_of_rib == [IPV4_UNICAST]
    rib.route_refresh(2)  # served: the next one is a new refresh
    drain(rib, 2, again)
    assert again.end_of_rib == [IPV4_UNICAST] * 2


def test_a_next_hop_that_is_our_own_address_is_not_accepted(caplog: pytest.LogCaptureFixture) -> None:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    rib.peer_up(1, client(1))
    prefix = network_key("203.0.113.0/24")
    rib.receive(1, Update([], GOOD, [prefix]))
    assert len(rib) == 1
    with caplog.at_level(logging.WARNING, logger="bgpcore.rib"):
        rib.receive(1, Update([], GOOD._replace(next_hop=ME), [prefix]))
    assert len(rib) == 0 and "our own address as next hop" in caplog.text
