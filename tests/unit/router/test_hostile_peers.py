"""A hostile or broken client must never harm another: a route reflector on loopback with
well-behaved clients and one that is not.

* ``[limits]`` reaches the speaker (``RouterConfig.limits`` → ``SpeakerConfig.limits``).
"""
from __future__ import annotations

import pytest

from bgpcore import ConfigError, RouterConfig, parse_config
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
