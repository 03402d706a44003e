"""Split horizon in a shared update group: a route never goes back to the peer it came from,
while every other member still reads the one shared encoding."""
from __future__ import annotations

from receiver import Receiver

from bgpcore.constants import AsPathSegmentType
from bgpcore.rib import Rib, RibConfig, RibPeer
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import PathAttributes, Update

SEQ = AsPathSegmentType.AS_SEQUENCE
ME = "10.0.0.254"


def attrs(n: int, nh: str, local_pref: int = 100) -> PathAttributes:
    return PathAttributes(origin=0, as_path=((SEQ, (65010, n)),), next_hop=nh, local_pref=local_pref)


def client(n: int, **kw: object) -> RibPeer:
    # each client on its own link: our address differs per session
    return RibPeer(asn=65000, router_id=f"1.1.1.{n}", address=f"10.0.{n}.1", local_address=f"10.0.{n}.254",
                   rr_client=True, **kw)  # type: ignore[arg-type]


def prefixes(start: int, count: int) -> list[bytes]:
    return [bytes((24, 10, (start + i) >> 8 & 0xFF, (start + i) & 0xFF)) for i in range(count)]


def pull(rib: Rib, receivers: dict[int, Receiver], budget: int = 1 << 16) -> dict[int, int]:
    """Drain every peer; returns the octets each one received."""
    got = dict.fromkeys(receivers, 0)
    for peer, receiver in receivers.items():
        while messages := rib.next_messages(peer, budget):
            receiver.feed(messages)
            got[peer] += sum(map(len, messages))
    return got


def setup(n: int = 3) -> tuple[Rib, dict[int, Receiver]]:
    rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=1))
    for i in range(1, n + 1):
        rib.peer_up(i, client(i))
    return rib, {i: Receiver() for i in range(1, n + 1)}


def test_a_client_that_sends_the_table_receives_none_of_it_back() -> None:
    rib, receivers = setup(4)
    pull(rib, receivers)  # End-of-RIB
    for start in range(0, 3000, 500):
        rib.receive(1, Update([], attrs(start, "192.0.2.1"), prefixes(start, 500)))
    got = pull(rib, receivers)
    assert receivers[1].table == {}, "split horizon"
    assert got[1] == 0, "not even a withdrawal"
    assert all(len(receivers[i].table) == 3000 for i in (2, 3, 4))
    assert len({id(rib.groups.by_member[i]) for i in (1, 2, 3, 4)}) == 1, "one shared group"


def test_a_sender_whose_route_replaces_one_it_received_gets_it_withdrawn() -> None:
    rib, receivers = setup(3)
    keys = prefixes(0, 10)
    rib.receive(2, Update([], attrs(2, "192.0.2.2"), keys))
    pull(rib, receivers)
    assert len(receivers[1].table) == 10 and receivers[2].table == {}
    rib.receive(1, Update([], attrs(1, "192.0.2.1", local_pref=200), keys))  # client 1's route wins
    pull(rib, receivers)
    assert receivers[1].table == {}, "its copy of client 2's route is withdrawn, its own is not sent"
    assert {v[1] for v in receivers[2].table.values()} == {("192.0.2.1",)}
    assert {v[1] for v in receivers[3].table.values()} == {("192.0.2.1",)}
    rib.receive(1, Update(keys, None, []))  # back to client 2's route
    pull(rib, receivers)
    assert {v[1] for v in receivers[1].table.values()} == {("192.0.2.2",)}
    assert receivers[2].table == {}
    assert {v[1] for v in receivers[3].table.values()} == {("192.0.2.2",)}


def test_withdrawals_skip_the_sender_when_it_held_nothing() -> None:
    rib, receivers = setup(2)
    rib.receive(1, Update([], attrs(1, "192.0.2.1"), prefixes(0, 100)))
    pull(rib, receivers)
    rib.receive(1, Update(prefixes(0, 100), None, []))
    got = pull(rib, receivers)
    assert got[1] == 0 and receivers[2].table == {}


def test_route_refresh_and_late_joiner_get_nothing_of_their_own() -> None:
    rib, receivers = setup(2)
    rib.receive(1, Update([], attrs(1, "192.0.2.1"), prefixes(0, 50)))
    rib.receive(2, Update([], attrs(2, "192.0.2.2"), prefixes(100, 50)))
    pull(rib, receivers)
    rib.route_refresh(1)
    again = Receiver()
    pull(rib, {1: again})
    assert {k[1] for k in again.table} == set(prefixes(100, 50)), "client 2's routes only"
    rib.peer_down(2)
    rib.peer_up(2, client(2))
    rib.receive(2, Update([], attrs(2, "192.0.2.2"), prefixes(100, 50)))
    late = Receiver()
    pull(rib, {2: late})
    assert len(late.table) == 50 and all(v[1] == ("192.0.2.1",) for v in late.table.values())


def test_split_horizon_holds_with_shards() -> None:
    for shards in (1, 3):
        rib = Rib(RibConfig(local_asn=65000, router_id=ME, shards=shards, start_method="inline"))
        for i in (1, 2):
            rib.peer_up(i, client(i))
        receivers = {1: Receiver(), 2: Receiver()}
        rib.receive(1, Update([], attrs(1, "192.0.2.1"), prefixes(0, 300)))
        rib.flush()
        pull(rib, receivers, 4096)
        assert receivers[1].table == {} and len(receivers[2].table) == 300


def test_advertised_routes_of_a_sender_leave_out_its_own() -> None:
    rib, receivers = setup(2)
    rib.receive(1, Update([], attrs(1, "192.0.2.1"), prefixes(0, 5)))
    rib.receive(2, Update([], attrs(2, "192.0.2.2"), prefixes(10, 3)))
    pull(rib, receivers)
    assert set(rib.advertised(1, IPV4_UNICAST)) == set(prefixes(10, 3)) == {k for _, k in receivers[1].table}
    assert set(rib.advertised(2, IPV4_UNICAST)) == set(prefixes(0, 5)) == {k for _, k in receivers[2].table}
