from __future__ import annotations

from pathlib import Path

import pytest

from bgpcore.errors import ConfigError
from bgpcore.program.config import load_config, parse_config
from bgpcore.wire.context import IPV4_UNICAST

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rr.toml"

GOOD = """\
[speaker]
asn = 64496
router_id = "198.51.100.1"
listen = ["198.51.100.1"]
port = 1179
shards = 2
control_socket = "/tmp/x.sock"

[[neighbor]]
address = "198.51.100.2"
asn = 64496
rr_client = true

[[neighbor]]
address = "2001:db8::2"
asn = 64497
passive = true
families = ["ipv4-unicast"]
"""


def test_good_config_builds_speaker_rib_and_client_set() -> None:
    config = parse_config(GOOD, "rr.toml")
    router = config.router
    assert router.local_as == 64496
    assert router.listen == (("198.51.100.1", 1179),)
    assert router.shards == 2 and router.cluster_id == "198.51.100.1"
    first, second = router.neighbors
    assert first.rr_client and not second.rr_client
    assert first.remote_as == 64496 and not first.passive
    assert second.passive and second.families == (IPV4_UNICAST,) and second.remote_as == 64497
    assert config.control_socket == "/tmp/x.sock"


def test_cluster_id_defaults_to_router_id_and_can_be_set() -> None:
    text = GOOD.replace('router_id = "198.51.100.1"', 'router_id = "198.51.100.1"\ncluster_id = "192.0.2.9"')
    assert parse_config(text).router.cluster_id == "192.0.2.9"


@pytest.mark.parametrize("old, new, line, words", [
    ("asn = 64497", 'asn = "sixty"', 16, ["neighbor[2].asn", "AS number"]),
    ("port = 1179", "port = 70000", 5, ["speaker.port", "0 to 65535"]),
    ('address = "198.51.100.2"', 'address = "198.51.100.300"', 10, ["neighbor[1].address", "not an IP address"]),
    ("rr_client = true", 'rr_client = "yes"', 12, ["neighbor[1].rr_client", "true or false"]),
    ('families = ["ipv4-unicast"]', 'families = ["ipv4-flowspec"]', 18, ["neighbor[2].families", "unknown family"]),
    ("passive = true", "passive = true\ncolour = 3", 18, ["neighbor[2].colour", "unknown key"]),
    ('router_id = "198.51.100.1"', 'router_id = "2001:db8::1"', 3, ["speaker.router_id", "IPv4"]),
])
def test_bad_value_error_names_file_line_and_key(old: str, new: str, line: int, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD.replace(old, new), "rr.toml")
    message = str(info.value)
    assert message.startswith(f"rr.toml:{line}: "), message
    for word in words:
        assert word in message


def test_syntax_error_carries_tomllib_line_and_column() -> None:
    with pytest.raises(ConfigError, match=r"^rr\.toml: .*line 2, column 7"):
        parse_config(GOOD.replace("asn = 64496\n", "asn = = 64496\n", 1), "rr.toml")


def test_duplicate_neighbor_is_refused_at_its_line() -> None:
    text = GOOD + '\n[[neighbor]]\naddress = "198.51.100.2"\nasn = 64496\n'
    with pytest.raises(ConfigError, match=r"^rr\.toml:21: neighbor\[3\]\.address: .*already neighbor\[1\]"):
        parse_config(text, "rr.toml")


def test_missing_speaker_table_and_missing_asn() -> None:
    with pytest.raises(ConfigError, match="missing \\[speaker\\]"):
        parse_config('[[neighbor]]\naddress = "192.0.2.1"\nasn = 1\n', "x.toml")
    with pytest.raises(ConfigError, match=r"^x\.toml:1: speaker: missing asn"):
        parse_config('[speaker]\nrouter_id = "192.0.2.1"\n', "x.toml")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_shipped_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert any(n.rr_client for n in config.router.neighbors)
