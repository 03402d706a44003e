"""`bgpcore run`'s configuration reaches every part of the router: policies, peer groups,
dynamic neighbors, originated networks, limits, graceful restart, ADD-PATH, unnumbered
interfaces and the FIB. The daemon runs in-process with real TCP sessions on loopback."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bgpcore import (
    ConfigError,
    MaxPrefixAction,
    NeighborConfig,
    Origin,
    PathAttributes,
    Router,
    RouterConfig,
    parse_community,
    parse_config,
)
from bgpcore.program.control import request
from bgpcore.program.daemon import Daemon

SPOKE = "127.0.0.2"


def _hub_config(tmp_path: Path) -> str:
    return f"""
[speaker]
asn = 65000
router_id = "127.0.0.1"
listen = ["127.0.0.1"]
port = 0
control_socket = "{tmp_path / 'ctl.sock'}"

[[networks]]
prefix = "198.51.100.0/24"
communities = ["65000:1"]

[[policy]]
name = "from-spokes"
[[policy.term]]
prefix_list = ["203.0.113.0/24 le 32"]
set_local_pref = 250
add_communities = ["65000:7"]
[[policy.term]]
prefix_list = ["192.0.2.0/24 le 32"]
action = "reject"

[[peer_group]]
name = "spokes"
asn = 65001
import_policy = "from-spokes"
max_prefix = 100
max_prefix_action = "restart"
max_prefix_restart = 30
graceful_restart = 60

[[listen_range]]
prefix = "127.0.0.0/29"
peer_group = "spokes"
"""


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_policy_peer_group_listen_range_and_networks_from_toml(tmp_path: Path) -> None:
    config = parse_config(_hub_config(tmp_path), "hub.toml")
    daemon = Daemon(config)
    await daemon.start()
    port = daemon.router.speaker.listening[0][1]
    spoke = Router(RouterConfig(local_as=65001, router_id=SPOKE, listen=(), neighbors=(
        NeighborConfig(address="127.0.0.1", remote_as=65000, port=port, source_address=SPOKE),)))
    await spoke.start()
    try:
        attrs = PathAttributes(origin=Origin.IGP, as_path=((2, (65001,)),))
        for prefix in ("203.0.113.0/24", "192.0.2.128/25", "198.51.100.128/25"):
            spoke.announce(prefix, next_hop=SPOKE, attributes=attrs)
        hub = daemon.router
        await _until(lambda: bool(hub.route("203.0.113.0/24")) and bool(hub.route("198.51.100.128/25")))
        await _until(lambda: bool(spoke.route("198.51.100.0/24")))
        tagged = hub.route("203.0.113.0/24")[0]
        assert tagged.attrs.local_pref == 250 and parse_community("65000:7") in tagged.attrs.communities
        assert hub.route("198.51.100.128/25")[0].attrs.local_pref is None  # the next term did not match
        assert hub.route("192.0.2.128/25") == ()  # rejected by import policy
        ours = spoke.route("198.51.100.0/24")[0]
        assert ours.attrs.as_path == ((2, (65000,)),) and ours.attrs.communities == (parse_community("65000:1"),)
        shown = await asyncio.to_thread(request, config.control_socket, "show neighbors")
        (dynamic,) = shown
        assert dynamic["peer"] == SPOKE and dynamic["state"] == "ESTABLISHED" and dynamic["prefixes_received"] == 2
        settings = hub.speaker.neighbor_config(SPOKE)  # the listen range's peer group, applied
        assert settings.max_prefix == 100 and settings.max_prefix_action is MaxPrefixAction.RESTART
        assert settings.max_prefix_restart_s == 30 and settings.graceful_restart_time_s == 60
        lpm = await asyncio.to_thread(request, config.control_socket, "show routes", prefix="203.0.113.9")
        assert lpm["routes"][0]["prefix"] == "203.0.113.0/24"
    finally:
        await spoke.stop()
        await daemon.stop()


def test_fabric_keys_build_interfaces_fib_decision_and_addpath() -> None:
    config = parse_config("""
[speaker]
asn = 65101
router_id = "198.51.100.11"
transit = false
ra_interval = 3
[decision]
maximum_paths = 8
multipath_relax = true
[fib]
table = 254
metric = 20
install = ["0.0.0.0/0 le 32"]
[[networks]]
prefix = "198.51.100.11/32"
[[interfaces]]
names = ["eth*", "swp1"]
asn = "external"
families = ["ipv4-unicast"]
graceful_restart = 120
[[neighbor]]
address = "2001:db8::2"
asn = 65002
addpath = "both"
families = ["ipv6-unicast"]
""", "node.toml").router
    assert config.fib is not None and config.fib.table == 254 and config.fib.policy is not None
    assert config.decision.maximum_paths == 8 and config.decision.multipath_relax
    assert config.track_changes, "a FIB needs best-path changes"
    (peering,) = config.interfaces
    assert peering.matches("eth3") and peering.matches("swp1") and not peering.matches("swp2")
    assert peering.remote_as == "external" and peering.options["graceful_restart_time_s"] == 120
    assert config.neighbors[0].addpath == ((2, 1, 3),)
    assert config.networks[0].prefix == "198.51.100.11/32" and config.ra_interval_s == 3


@pytest.mark.parametrize("snippet, words", [
    ('[[neighbor]]\naddress = "192.0.2.2"\nasn = 1\nimport_policy = "nope"\n', ["neighbor[1].import_policy", "nope"]),
    ('[[neighbor]]\naddress = "192.0.2.2"\nasn = 1\npeer_group = "g"\n', ["neighbor[1].peer_group", "'g'"]),
    ('[[neighbor]]\naddress = "192.0.2.2"\nasn = 1\nmax_prefix_action = "explode"\n', ["max_prefix_action"]),
    ('[[neighbor]]\naddress = "192.0.2.2"\nasn = 1\naddpath = "sometimes"\n', ["addpath"]),
    ('[[networks]]\nprefix = "198.51.100.1/24"\n', ["networks[1]", "host bits"]),
    ('[[networks]]\nprefix = "198.51.100.0/24"\norigin = "moon"\n', ["networks[1].origin"]),
    ('[[interfaces]]\nasn = "external"\n', ["interfaces[1].names"]),
    ('[[listen_range]]\nprefix = "banana"\nasn = 1\n', ["listen_range[1].prefix"]),
    ('[[policy]]\nname = "p"\n[[policy.term]]\nset_med = -1\n', ["set_med"]),
    ('[[policy]]\nname = "p"\n[[policy.term]]\nas_path = "("\n', ["as_path", "regular expression"]),
    ('[fib]\ninstall = 3\n', ["fib.install"]),
    ('[decision]\nmaximum_paths = 0\n', ["decision.maximum_paths"]),
])
def test_bad_feature_keys_fail_with_one_line_naming_the_key(snippet: str, words: list[str]) -> None:
    text = '[speaker]\nasn = 65000\nrouter_id = "192.0.2.1"\n' + snippet
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.toml")
    message = str(info.value)
    assert message.startswith("x.toml") and "\n" not in message
    for word in words:
        assert word in message, message
