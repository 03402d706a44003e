"""A hostile or broken client must never harm another: a route reflector on loopback with
well-behaved clients and one that is not.

* ``[limits]`` reaches the speaker (``RouterConfig.limits`` → ``SpeakerConfig.limits``).
* output poisoning: a route no client without extended messages can take (its attributes
  alone exceed 4096 octets once reflected) arrives with another client's 3,000 routes; the
  others get exactly those 3,000, a late joiner the whole table before End-of-RIB, and no
  message longer than what its session negotiated is ever written.
* 1,000 ROUTE-REFRESH against a 30 k table do not hold up another client's new route.
* the reproducers of the issue, through a live reflector (they need the codec's MP_REACH
  next-hop validation and its treat-as-withdraw across families).
* memory comes back: paths withdrawn, replaced or of a peer gone leave the Adj-RIB-In's shared
  path cache and the Loc-RIB's decision-key cache (swept lazily, not at their size limits).
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path as FilePath

import pytest

from bgpcore import ConfigError, RouterConfig, parse_config
from bgpcore.wire.context import IPV6_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.refresh import RouteRefresh, encode_refresh

sys.path.insert(0, str(FilePath(__file__).resolve().parents[2] / "fuzz"))
from hostile_clients import Client, start_reflector, until  # noqa: E402
from bgpcore.rib.adj_in import AdjRibIn
from bgpcore.rib.loc import LocRib
from bgpcore.route import Path, Source
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates
from bgpcore.transport.limits import SpeakerLimits

_CONFIG = """
[speaker]
asn = 65000
router_id = "192.0.2.1"

[limits]
connections_per_neighbor = 3
max_queued_bytes = 1048576
slow_peer_restart = 5
close_timeout = 2.5
accept_backoff = 0.5
log_interval = 60
"""


def test_limits_table_reaches_the_speaker_config() -> None:
    router = parse_config(_CONFIG).router
    expected = SpeakerLimits(connections_per_neighbor=3, max_queued_bytes=1 << 20, slow_peer_restart_s=5.0,
                             close_timeout_s=2.5, accept_backoff_s=0.5, log_interval_s=60.0)
    assert router.limits == expected
    assert router.speaker_config().limits == expected
    assert parse_config(_CONFIG.split("[limits]")[0]).router.limits == SpeakerLimits()
    assert RouterConfig(local_as=1, router_id="192.0.2.1").speaker_config().limits == SpeakerLimits()


@pytest.mark.parametrize("line, why", [("connections_per_neighbor = 0", "limits.connections_per_neighbor"),
                                       ("max_queued_bytes = 10", "limits.max_queued_bytes"),
                                       ("close_timeout = true", "limits.close_timeout"),
                                       ("max_queue = 1", "limits.max_queue: unknown key")])
def test_bad_limits_name_the_key_and_line(line: str, why: str) -> None:
    text = _CONFIG.split("[limits]")[0] + "[limits]\n" + line + "\n"
    with pytest.raises(ConfigError, match=rf"<config>:7: {why}"):
        parse_config(text)


# -- memory comes back: withdrawn paths leave the Adj-RIB-In and Loc-RIB caches ------------------

def _source(n: int) -> Source:
    return Source(n, f"10.0.0.{n}", f"1.1.1.{n}", 65000, False, True)


def _attrs(med: int) -> PathAttributes:
    return PathAttributes(origin=0, as_path=((2, (65001,)),), med=med)


def _keys(n: int, base: int = 0) -> list[bytes]:
    return [bytes((24, 10, (base + i) >> 8 & 255, (base + i) & 255)) for i in range(n)]


def test_adj_rib_in_forgets_withdrawn_and_replaced_paths() -> None:
    adj = AdjRibIn(_source(1))
    keys = _keys(2000)
    for i, key in enumerate(keys):  # one attribute set per prefix: 2,000 shared paths
        adj.announce(IPV4_UNICAST, _attrs(i), ("10.0.0.1",), [key])
    assert len(adj._paths) == 2000
    adj.withdraw(IPV4_UNICAST, keys[:1500])
    assert len(adj._paths) <= 500, "swept once half the table was withdrawn"
    assert all(p in adj.accepted[IPV4_UNICAST].values() for p in adj._paths.values())
    common = _attrs(10**6)
    adj.announce(IPV4_UNICAST, common, ("10.0.0.1",), keys[1500:])  # replaces the other 500
    assert len(adj._paths) == 1, "replaced paths are swept too"
    adj.withdraw(IPV4_UNICAST, keys)
    assert adj._paths == {}


def test_adj_rib_in_sweep_keeps_paths_of_soft_reconfiguration() -> None:
    adj = AdjRibIn(_source(1), import_policy=lambda family, key, path: None, keep_received=True)
    keys = _keys(100)
    adj.announce(IPV4_UNICAST, _attrs(1), ("10.0.0.1",), keys)
    adj.sweep()
    assert len(adj._paths) == 1, "the path is still held as received"
    adj.withdraw(IPV4_UNICAST, keys)
    assert adj._paths == {}


def test_a_peer_that_goes_down_leaves_nothing_in_the_caches() -> None:
    adj = AdjRibIn(_source(1))
    for i, key in enumerate(_keys(300)):
        adj.announce(IPV4_UNICAST, _attrs(i), ("10.0.0.1",), [key])
    adj.withdraw_all()
    assert adj._paths == {}


def test_loc_rib_forgets_ranks_of_paths_no_destination_holds() -> None:
    loc = LocRib()  # deterministic MED: decision keys are cached per path
    keys = _keys(1000)
    steady = Path(_attrs(5), ("10.0.0.2",), _source(2))
    loc.update(IPV4_UNICAST, steady, keys)
    flapping = [Path(_attrs(i), ("10.0.0.3",), _source(3)) for i in range(len(keys))]
    for key, path in zip(keys, flapping):  # every prefix gets a second path: a destination each
        loc.update(IPV4_UNICAST, path, [key])
    assert len(loc._ranks) >= len(keys)
    loc.remove(IPV4_UNICAST, 3, 0, keys)  # peer 3 goes down
    assert len(loc._ranks) <= 1, "only ranks of paths still in a destination may stay"
    replacement = Path(_attrs(7), ("10.0.0.3",), _source(3))
    for key, path in zip(keys, flapping):
        loc.update(IPV4_UNICAST, path, [key])
    loc.update(IPV4_UNICAST, replacement, keys)  # replaces each flapping path
    assert len(loc._ranks) <= 3
    assert {id(p) for p in loc.paths(IPV4_UNICAST, keys[0])} == {id(steady), id(replacement)}


# -- live reflector -------------------------------------------------------------------------------

FEEDER, HOSTILE, GOOD1, GOOD2, BIG, LATE = (f"127.0.0.{n}" for n in range(2, 8))


def _table(n: int, base: int = 0) -> list[bytes]:
    return [bytes((24, 10 + ((base + i) >> 16), (base + i) >> 8 & 255, (base + i) & 255)) for i in range(n)]


def _healthy(*clients: Client) -> None:
    for c in clients:
        assert not c.errors, (c.address, c.errors)
        assert not c.notifications and not c.closed, f"{c.address}: session reset {c.notifications}"
        assert c.longest <= c.ctx.max_message_len, (c.address, c.longest)


async def test_an_unencodable_route_does_not_poison_another_clients_3000_routes() -> None:
    router, port = await start_reflector((FEEDER, HOSTILE, GOOD1, GOOD2, BIG, LATE), extended_message=(HOSTILE, BIG))
    clients = [Client(FEEDER), Client(HOSTILE, extended_message=True), Client(GOOD1), Client(GOOD2),
               Client(BIG, extended_message=True)]
    feeder, hostile, good1, good2, big = clients
    try:
        for c in clients:
            await c.open(port)
        assert hostile.ctx.max_message_len == 65535 and good1.ctx.max_message_len == 4096
        keys = _table(3000)
        poison = network_key("198.51.100.0/24")
        huge = PathAttributes(origin=0, as_path=(), communities=tuple(range(1 << 16, (1 << 16) + 1100)))  # 4,400 octets
        sets = [PathAttributes(origin=0, as_path=(), med=i) for i in range(30)]
        out = b"".join(b"".join(encode_updates(sets[i], IPV4_UNICAST, (FEEDER,), keys[i * 100:(i + 1) * 100],
                                               feeder.ctx)) for i in range(30))
        poisoned = b"".join(encode_updates(huge, IPV4_UNICAST, (HOSTILE,), [poison], hostile.ctx))
        assert len(poisoned) > 4096
        await asyncio.gather(feeder.send(out[:len(out) // 2]), hostile.send(poisoned))
        await feeder.send(out[len(out) // 2:])
        for c in (good1, good2):
            await until(lambda c=c: len(c.rib[IPV4_UNICAST]) >= 3000, what=f"{c.address}: 3,000 routes")
        await until(lambda: poison in big.rib[IPV4_UNICAST], what="the big route at the extended-message client")
        await asyncio.sleep(0.3)  # anything late would show now
        for c in (good1, good2):
            assert set(c.rib[IPV4_UNICAST]) == set(keys), "exactly the feeder's 3,000 routes"
            assert c.rib[IPV4_UNICAST][keys[2999]].med == 29  # type: ignore[union-attr]
        assert set(big.rib[IPV4_UNICAST]) == set(keys) | {poison}
        assert len(big.rib[IPV4_UNICAST][poison].communities) == 1100  # type: ignore[union-attr]
        late = Client(LATE)
        await late.open(port)
        clients.append(late)
        await until(lambda: IPV4_UNICAST in late.eor, what="End-of-RIB at the late joiner")
        assert late.eor[IPV4_UNICAST] == 3000, "the whole table before End-of-RIB"
        assert set(late.rib[IPV4_UNICAST]) == set(keys)
        _healthy(*clients)
        assert max(c.longest for c in (good1, good2, late)) <= 4096
    finally:
        for c in clients:
            await c.close()
        await router.stop()


async def test_a_thousand_route_refreshes_do_not_hold_up_another_clients_new_route() -> None:
    router, port = await start_reflector((FEEDER, HOSTILE, GOOD1, GOOD2))
    feeder, hostile, good1, good2 = clients = [Client(FEEDER), Client(HOSTILE, decode=False), Client(GOOD1),
                                               Client(GOOD2)]
    try:
        for c in clients:
            await c.open(port)
        keys = _table(30000)
        await feeder.announce(keys, end_of_rib=True)
        await until(lambda: len(good1.rib[IPV4_UNICAST]) == 30000, timeout=30, what="30 k routes at a client")
        await until(lambda: hostile.received >= 30000 // 1100, timeout=30, what="the table at the refresher")
        table_messages = hostile.received
        refresh = encode_refresh(RouteRefresh(1, 1))
        await hostile.send(refresh * 1000)
        await asyncio.sleep(0.05)  # the reflector is now reading and serving them
        new = network_key("203.0.113.0/24")
        start = time.monotonic()
        await good2.announce([new])
        took = await until(lambda: new in good1.rib[IPV4_UNICAST], timeout=5, what="the new route")
        print(f"new route reached another client {took * 1000:.0f} ms after it was sent, "
              f"{(time.monotonic() - start) * 1000:.0f} ms end to end, behind 1,000 ROUTE-REFRESH x 30 k routes")
        assert took < 1.0
        await until(lambda: hostile.received >= 2 * table_messages, timeout=30, what="refreshes served")
        await asyncio.sleep(0.5)
        print(f"{hostile.received - table_messages} messages served for 1,000 ROUTE-REFRESH "
              f"({table_messages} for the table)")
        _healthy(feeder, good1, good2)
        assert not hostile.closed
    finally:
        for c in clients:
            await c.close()
        await router.stop()


# RFC 7606 §7.11 / RFC 4760: an IPv4 MP_REACH_NLRI with a 16-octet next hop, extended next hop not negotiated
BAD_NEXT_HOP = bytes.fromhex("ffffffffffffffffffffffffffffffff004002000000294001010040020602010000fde9800e19000101"
                             "1020010db80000000000000000000000020018c61307")
# ORIGIN 7 (treat-as-withdraw) on an UPDATE carrying an IPv6 MP_REACH_NLRI and an IPv4 MP_UNREACH_NLRI
WITHDRAW_BOTH = bytes.fromhex("ffffffffffffffffffffffffffffffff004f02000000384001010740020602010000fde9800e1e000201"
                              "1020010db8000000000000000000000002004020010db8000a0001800f0700010118c61308")


async def test_the_issues_reproducers_through_a_live_reflector() -> None:
    router, port = await start_reflector((FEEDER, HOSTILE, GOOD1, GOOD2))
    feeder, hostile, good1, good2 = clients = [Client(FEEDER), Client(HOSTILE), Client(GOOD1), Client(GOOD2)]
    try:
        for c in clients:
            await c.open(port)
        await feeder.announce(_table(100))
        v6 = network_key("2001:db8:a:1::/64")
        v4 = network_key("198.19.8.0/24")
        await hostile.announce([v6], family=IPV6_UNICAST, next_hop="2001:db8::2")
        await hostile.announce([v4])
        for c in (good1, good2):
            await until(lambda c=c: v6 in c.rib[IPV6_UNICAST] and v4 in c.rib[IPV4_UNICAST]
                        and len(c.rib[IPV4_UNICAST]) == 101, what="the old paths")
        await hostile.send(WITHDRAW_BOTH)  # treat-as-withdraw: both families' prefixes go
        for c in (good1, good2):
            await until(lambda c=c: v6 not in c.rib[IPV6_UNICAST] and v4 not in c.rib[IPV4_UNICAST],
                        what="no old path left")
        assert not hostile.closed and not hostile.notifications, "treat-as-withdraw keeps the session"
        await hostile.send(BAD_NEXT_HOP)  # session reset (NOTIFICATION UPDATE error)
        await until(lambda: hostile.closed, what="the hostile session reset")
        assert hostile.notifications and hostile.notifications[0][0] == 3
        await asyncio.sleep(0.3)
        bad = network_key("198.19.7.0/24")
        for c in (good1, good2):
            assert bad not in c.rib[IPV4_UNICAST]
            assert set(c.rib[IPV4_UNICAST]) == set(_table(100)) and not c.rib[IPV6_UNICAST]
        _healthy(feeder, good1, good2)
    finally:
        for c in clients:
            await c.close()
        await router.stop()
