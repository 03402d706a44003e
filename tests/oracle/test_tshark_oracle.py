"""tshark (Wireshark's BGP dissector, not ours) reads what bgpcore encodes.

Each example is a stream of messages cut into TCP segments at random points and written to
a pcap; tshark reassembles it and its fields must say what bgpcore meant.
"""
from __future__ import annotations

import ipaddress
import random
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from strategies import CTX, notifications, opens, refreshes, updates  # noqa: E402
from wirecap import Fields, tshark_messages, value, values, write_stream_pcap  # noqa: E402

from bgpcore.constants import AS_TRANS, MsgType  # noqa: E402
from bgpcore.wire.capabilities import FourOctetAs, encode_capability  # noqa: E402
from bgpcore.wire.messages import KEEPALIVE, Keepalive, Message, encode_message  # noqa: E402
from bgpcore.wire.nlri import key_to_network  # noqa: E402
from bgpcore.wire.notification import Notification  # noqa: E402
from bgpcore.wire.open import Open  # noqa: E402
from bgpcore.wire.refresh import RouteRefresh  # noqa: E402
from bgpcore.wire.types import PathAttributes, Update  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
FOUR_OCTET_PATHS = "bgp.asn_len:4 octet"
# One tshark run per example: few examples of many messages, and no shrinking (each step is a run).
# Derandomized: Wireshark guesses ADD-PATH from the NLRI bytes of an UPDATE (there is no preference
# to turn that off), and some random withdrawn lists read as ADD-PATH to it; a fixed set of
# examples keeps the oracle about bgpcore, not about that guess.
ORACLE = settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.generate], derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])

messages = st.one_of(opens(), updates(), updates(), updates(), notifications, refreshes, st.just(Keepalive()))


def tshark_read(tmp: Path, sent: list[Message], seed: int) -> list[Fields]:
    stream = b"".join(encode_message(m, CTX) for m in sent)
    pcap = tmp / f"stream-{seed}.pcap"
    write_stream_pcap(pcap, stream, random.Random(seed))
    return tshark_messages(pcap, FOUR_OCTET_PATHS)


def prefixes(fields: Fields) -> dict[str, list[str]]:
    """Prefixes by role, each ``address/length`` as tshark pairs them."""
    roles = {"bgp.withdrawn_prefix": "withdrawn", "bgp.nlri_prefix": "nlri",
             "bgp.mp_reach_nlri_ipv4_prefix": "mp", "bgp.mp_reach_nlri_ipv6_prefix": "mp"}
    out: dict[str, list[str]] = {"withdrawn": [], "nlri": [], "mp": []}
    length = ""
    for key, val in fields:
        if key == "bgp.prefix_length":
            length = val
        elif key in roles:
            out[roles[key]].append(str(ipaddress.ip_network(f"{val}/{length}")))  # '::9.0.0.0' -> '::900:0'

    return out


def as_path(fields: Fields) -> tuple[tuple[int, tuple[int, ...]], ...]:
    segments: list[tuple[int, list[int]]] = []
    for key, val in fields:
        if key == "bgp.update.path_attribute.as_path_segment.type":
            segments.append((int(val), []))
        elif key in ("bgp.update.path_attribute.as_path_segment.as4", "bgp.update.path_attribute.as_path_segment.as2"):
            segments[-1][1].append(int(val))
    return tuple((t, tuple(a)) for t, a in segments)


def texts(keys: list[bytes], afi: int) -> list[str]:
    return [str(key_to_network(k, afi)) for k in keys]


def check_update(u: Update, f: Fields) -> None:
    found = prefixes(f)
    assert found["withdrawn"] == texts(u.withdrawn, 1)
    assert found["nlri"] == texts(u.nlri, 1)
    attrs = u.attributes
    if attrs is None:
        assert value(f, "bgp.update.path_attribute.origin") is None
        return
    path = "bgp.update.path_attribute."
    assert value(f, path + "origin") == str(attrs.origin)
    assert as_path(f) == attrs.as_path
    assert value(f, path + "next_hop") == attrs.next_hop
    assert value(f, path + "multi_exit_disc") == (None if attrs.med is None else str(attrs.med))
    assert value(f, path + "local_pref") == (None if attrs.local_pref is None else str(attrs.local_pref))
    communities = list(zip(values(f, path + "community_as"), values(f, path + "community_value")))
    assert [(int(a) << 16) | int(v) for a, v in communities] == list(attrs.communities)
    large = zip(values(f, "bgp.large_communities.ga"), values(f, "bgp.large_communities.ldp1"), values(f, "bgp.large_communities.ldp2"))
    assert [tuple(map(int, t)) for t in large] == list(attrs.large_communities)
    if u.mp_reach is None:
        assert value(f, path + "mp_reach_nlri.afi") is None
        return
    assert (value(f, path + "mp_reach_nlri.afi"), value(f, path + "mp_reach_nlri.safi")) == (str(u.mp_reach.afi), str(u.mp_reach.safi))
    hops = values(f, path + "mp_reach_nlri.next_hop.ipv6") + values(f, path + "mp_reach_nlri.next_hop.ipv6.link_local")
    assert [ipaddress.ip_address(h) for h in hops] == [ipaddress.ip_address(h) for h in u.mp_reach.next_hop]
    assert found["mp"] == texts(u.mp_reach.nlri, u.mp_reach.afi)


def check_open(o: Open, f: Fields) -> None:
    assert value(f, "bgp.open.myas") == str(o.my_as if o.my_as <= 0xFFFF else AS_TRANS)
    assert value(f, "bgp.open.holdtime") == str(o.hold_time_s)
    assert value(f, "bgp.open.identifier") == o.bgp_id
    assert [int(t) for t in values(f, "bgp.cap.type")] == [encode_capability(c)[0] for c in o.capabilities]
    assert values(f, "bgp.cap.4as") == [str(c.asn) for c in o.capabilities if isinstance(c, FourOctetAs)]


def check(sent: Message, f: Fields) -> None:
    kinds = {Open: MsgType.OPEN, Update: MsgType.UPDATE, Notification: MsgType.NOTIFICATION,
             RouteRefresh: MsgType.ROUTE_REFRESH, Keepalive: MsgType.KEEPALIVE}
    assert value(f, "bgp.type") == str(kinds[type(sent)])
    assert value(f, "bgp.length") == str(len(encode_message(sent, CTX)))
    if isinstance(sent, Open):
        check_open(sent, f)
    elif isinstance(sent, Update):
        check_update(sent, f)
    elif isinstance(sent, Notification):
        assert value(f, "bgp.notify.major_error") == str(sent.code)
        minor = [v for k, v in f if k.startswith("bgp.notify.minor_error")]
        assert minor == [str(sent.subcode)]
        if sent.shutdown_message:
            assert value(f, "bgp.notify.communication") == sent.shutdown_message
    elif isinstance(sent, RouteRefresh):
        assert (value(f, "bgp.route_refresh.afi"), value(f, "bgp.route_refresh.safi")) == (str(sent.afi), str(sent.safi))
        assert value(f, "bgp.route_refresh.subtype") == str(sent.subtype)


@ORACLE
@given(st.lists(messages, min_size=1, max_size=40), st.integers(0, 2**32))
def test_tshark_reads_every_field_bgpcore_encodes(tmp_path_factory: pytest.TempPathFactory, sent: list[Message], seed: int) -> None:
    read = tshark_read(tmp_path_factory.mktemp("tshark"), sent, seed)
    assert len(read) == len(sent)
    for message, fields in zip(sent, read):
        check(message, fields)


def test_tshark_reads_a_lone_keepalive(tmp_path: Path) -> None:
    read = tshark_read(tmp_path, [Keepalive()], 7)
    assert [(value(f, "bgp.type"), value(f, "bgp.length")) for f in read] == [("4", "19")]
