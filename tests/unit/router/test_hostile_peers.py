"""A hostile or broken client must never harm another: a route reflector on loopback with
well-behaved clients and one that is not.

* ``[limits]`` reaches the speaker (``RouterConfig.limits`` → ``SpeakerConfig.limits``).
* memory comes back: paths withdrawn, replaced or of a peer gone leave the Adj-RIB-In's shared
  path cache and the Loc-RIB's decision-key cache (swept lazily, not at their size limits).
"""
from __future__ import annotations

import pytest

from bgpcore import ConfigError, RouterConfig, parse_config
from bgpcore.rib.adj_in import AdjRibIn
from bgpcore.rib.loc import LocRib
from bgpcore.route import Path, Source
from bgpcore.wire.context import IPV4_UNICAST
from bgpcore.wire.types import PathAttributes
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
