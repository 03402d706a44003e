"""Routes of a family the session did not negotiate (RFC 4760 §7, §8): ``unnegotiated_family``.

By default they are ignored with a log line and the rest of the UPDATE is kept; with
``unnegotiated_family = "reset"`` the session is reset with UPDATE Message Error / Optional
Attribute Error. Through a live route reflector, and from the configuration file.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path as FilePath

import pytest

from bgpcore import ConfigError, parse_config
from bgpcore.constants import UpdateSubcode
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST
from bgpcore.wire.nlri import network_key
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates, encode_withdrawals

sys.path.insert(0, str(FilePath(__file__).resolve().parents[2] / "fuzz"))
from hostile_clients import Client, start_reflector, until  # noqa: E402

IGNORING, RESETTING, WATCHER = "127.0.0.2", "127.0.0.3", "127.0.0.4"
V4 = network_key("198.51.100.0/24")
V6 = network_key("2001:db8:a::/48")

_CONFIG = """
[speaker]
asn = 65000
router_id = "192.0.2.1"

[[neighbor]]
address = "192.0.2.2"
asn = 65001
{line}
"""


def _ipv6_and_ipv4(client: Client) -> bytes:
    """One UPDATE: IPv4 NLRI with its NEXT_HOP, and an IPv6 MP_REACH_NLRI the session did not negotiate."""
    attrs = PathAttributes(origin=0, as_path=())
    v6 = encode_updates(attrs, IPV6_UNICAST, ("2001:db8::2",), [V6], client.ctx)[0]
    v4 = encode_updates(attrs, IPV4_UNICAST, (client.address,), [V4], client.ctx)[0]
    # the IPv6 UPDATE's attributes (MP_REACH_NLRI included), the IPv4 one's NEXT_HOP and NLRI
    v6_attrs = v6[23:23 + int.from_bytes(v6[21:23], "big")]
    v4_attrs = v4[23:23 + int.from_bytes(v4[21:23], "big")]
    next_hop = v4_attrs[v4_attrs.index(bytes((0x40, 3, 4))):][:7]
    attrs_out = v6_attrs + next_hop
    body = b"\0\0" + len(attrs_out).to_bytes(2, "big") + attrs_out + V4
    return b"\xff" * 16 + (19 + len(body)).to_bytes(2, "big") + b"\x02" + body


async def test_a_family_not_negotiated_is_ignored_or_resets_as_configured(caplog: pytest.LogCaptureFixture) -> None:
    router, port = await start_reflector((IGNORING, RESETTING, WATCHER),
                                         neighbor_options={RESETTING: {"unnegotiated_family": "reset"}})
    only_v4 = (IPV4_UNICAST,)
    ignoring, resetting = Client(IGNORING, families=only_v4), Client(RESETTING, families=only_v4)
    watcher = Client(WATCHER)
    clients = (ignoring, resetting, watcher)
    try:
        for c in clients:
            await c.open(port)
        with caplog.at_level(logging.WARNING):
            await ignoring.send(_ipv6_and_ipv4(ignoring))
            await until(lambda: V4 in watcher.rib[IPV4_UNICAST], what="the IPv4 route of the same UPDATE")
        assert not watcher.rib[IPV6_UNICAST]
        assert not ignoring.closed and not ignoring.notifications
        assert any("ipv6-unicast, a family not negotiated on this session, ignored" in r.getMessage()
                   for r in caplog.records)

        await ignoring.send(b"".join(encode_withdrawals(IPV4_UNICAST, [V4], ignoring.ctx)))
        await until(lambda: V4 not in watcher.rib[IPV4_UNICAST], what="the IPv4 route withdrawn")

        await resetting.send(_ipv6_and_ipv4(resetting))
        await until(lambda: resetting.closed, what="the session reset")
        assert [n[:2] for n in resetting.notifications] == [bytes((3, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR))]
        assert V4 not in watcher.rib[IPV4_UNICAST] and not watcher.rib[IPV6_UNICAST]
        assert not watcher.closed and not watcher.notifications and not ignoring.closed
    finally:
        for c in clients:
            await c.close()
        await router.stop()


def test_unnegotiated_family_reaches_the_session_policy() -> None:
    default = parse_config(_CONFIG.format(line="")).router.neighbors[0]
    assert default.unnegotiated_family == "ignore"
    assert not default.open_policy(65000, "192.0.2.1").reset_unnegotiated
    reset = parse_config(_CONFIG.format(line='unnegotiated_family = "reset"')).router.neighbors[0]
    assert reset.unnegotiated_family == "reset"
    assert reset.open_policy(65000, "192.0.2.1").reset_unnegotiated


def test_bad_unnegotiated_family_names_the_key_and_line() -> None:
    with pytest.raises(ConfigError, match=r'<config>:9: neighbor\[1\].unnegotiated_family: "ignore" or "reset"'):
        parse_config(_CONFIG.format(line='unnegotiated_family = "drop"'))
