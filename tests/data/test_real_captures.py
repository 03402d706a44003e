"""Every BGP message in the shared packet captures, through bgpcore's framing and decoders.

tcpdump's expected ``-v`` output (the ``.out`` beside each capture) is the independent
count of messages per type. Captures that tcpdump's fuzzing produced (``-oobr``, ``-ub``,
infinite loop) must end in the RFC outcome, never in an exception bgpcore did not mean.
"""
from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from captures import negotiated_contexts, tcp_streams  # noqa: E402

from bgpcore.constants import HeaderSubcode, MsgType, UpdateSubcode  # noqa: E402
from bgpcore.errors import ErrorAction, MessageHeaderError, ProtocolError, UpdateMessageError  # noqa: E402
from bgpcore.wire.context import CodecContext  # noqa: E402
from bgpcore.wire.framing import MessageReader  # noqa: E402
from bgpcore.wire.messages import Message, decode_message  # noqa: E402
from bgpcore.wire.notification import Notification  # noqa: E402
from bgpcore.wire.open import Open, decode_open, encode_open  # noqa: E402
from bgpcore.wire.refresh import RouteRefresh  # noqa: E402
from bgpcore.wire.types import Update  # noqa: E402

TCPDUMP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pcap" / "tcpdump"
PMACCT = TCPDUMP.parent / "pmacct"
TWO_OCTET = CodecContext(asn4=False)
LARGE = 65535


def _testlist() -> dict[str, str]:
    """pcap name -> its .out, from tcpdump's TESTLIST (first listing of each capture)."""
    entries: dict[str, str] = {}
    if not (TCPDUMP / "TESTLIST.bgp").exists():
        return entries
    for line in (TCPDUMP / "TESTLIST.bgp").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and not line.startswith("#"):
            entries.setdefault(fields[1], fields[2])
    return entries


CAPTURES = _testlist()

# Captures without an OPEN, taken from 2-octet-AS sessions (their AS_PATHs hold 2-octet numbers).
NO_OPEN_CONTEXT = {name: TWO_OCTET for name in (
    "bgp-aigp.pcap", "bgp-aigp-2.pcap", "bgp-rt-prefix.pcap", "mpbgp-linklocal-nexthop.pcap", "bgp-encap.pcap",
    "bgp_vpn_attrset.pcap", "bgp-addpath.pcap", "bgpsec_invalid_signature_block_length.pcap",
)}
NO_OPEN_CONTEXT["bgp-addpath.pcap"] = CodecContext(asn4=False, addpath=frozenset({(1, 1), (2, 1)}))

# Fuzzed captures: the stream is not BGP from the first marker on, or lies about lengths.
FRAMING_FAILS = {
    "bgp-aigp-oobr.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp-as-path-oobr.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp-bgp_capabilities_print-oobr-1.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp-bgp_capabilities_print-oobr-2.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp-ub.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp_mp_reach_nlri-oobr.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp_mvpn_6_and_7_oobr.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp_vpn_rt-oobr.pcap": HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
    "bgp-infinite-loop.pcap": HeaderSubcode.BAD_MESSAGE_LENGTH,
}
# UPDATEs whose RFC 7606 outcome is a session reset, with the UPDATE error subcode.
RESET_UPDATES = {
    "bgp_pmsi_tunnel-oobr.pcap": UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,   # attribute past the message
    "bgp-addpath.pcap": UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,               # MP_REACH_NLRI marked well-known
    "bgp-lu-multiple-labels.pcap": UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR,  # several labels, RFC 8277 not negotiated
}
# UPDATEs that become withdrawals (RFC 7606): BGPsec paths carry no AS_PATH.
WITHDRAWN_UPDATES = {"bgp-bgpsec.pcap", "bgpsec_invalid_signature_block_length.pcap"}

TYPE_NAMES = {"Open": MsgType.OPEN, "Update": MsgType.UPDATE, "Notification": MsgType.NOTIFICATION,
              "Keepalive": MsgType.KEEPALIVE, "Route Refresh": MsgType.ROUTE_REFRESH}
MESSAGE_TYPES = {Open: MsgType.OPEN, Update: MsgType.UPDATE, Notification: MsgType.NOTIFICATION,
                 RouteRefresh: MsgType.ROUTE_REFRESH}


def tcpdump_counts(out: Path) -> collections.Counter[int]:
    text = out.read_text(errors="replace")
    return collections.Counter(TYPE_NAMES[m] for m in re.findall(r"(Open|Update|Notification|Keepalive|Route Refresh) Message \(\d\)", text))


def decode_capture(path: Path) -> tuple[list[Message], list[ProtocolError], int]:
    """Messages decoded, protocol errors raised (one per stream at most), bytes left unframed."""
    streams = tcp_streams(path)
    contexts = negotiated_contexts(streams, NO_OPEN_CONTEXT.get(path.name, CodecContext()))
    messages: list[Message] = []
    errors: list[ProtocolError] = []
    left = 0
    for flow, runs in streams.items():
        for data in runs:
            reader = MessageReader(LARGE)
            try:
                for msg_type, body in reader.feed(data):
                    messages.append(decode_message(msg_type, body, contexts[flow]))
            except ProtocolError as exc:
                errors.append(exc)
                continue
            left += reader.buffered
    return messages, errors, left


def kind(message: Message) -> int:
    return MESSAGE_TYPES.get(type(message), MsgType.KEEPALIVE)


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_tcpdump_capture_decodes_to_the_rfc_outcome(name: str, shared_data: Path) -> None:
    messages, errors, _left = decode_capture(TCPDUMP / name)
    if name in FRAMING_FAILS:
        assert errors and all(isinstance(e, MessageHeaderError) for e in errors)
        assert {e.subcode for e in errors} == {FRAMING_FAILS[name]}
        return
    if name in RESET_UPDATES:
        assert errors and all(isinstance(e, UpdateMessageError) and e.subcode == RESET_UPDATES[name] for e in errors)
        return
    assert errors == []
    updates = [m for m in messages if isinstance(m, Update)]
    actions = {u.action for u in updates}
    if name in WITHDRAWN_UPDATES:
        assert ErrorAction.TREAT_AS_WITHDRAW in actions
    else:
        assert actions <= {ErrorAction.NONE}, [u.problems for u in updates if u.action]
    ours = collections.Counter(kind(m) for m in messages)
    theirs = tcpdump_counts(TCPDUMP / CAPTURES[name])
    assert ours == theirs


def test_four_octet_capture_keeps_as_paths_of_both_session_kinds(shared_data: Path) -> None:
    messages, errors, _ = decode_capture(TCPDUMP / "bgp-4byte-asn.pcap")
    assert errors == []
    paths = {seg for m in messages if isinstance(m, Update) and m.attributes for seg in m.attributes.as_path}
    assert any(2764334674 in asns for _, asns in paths)  # AS 42180.6802 in asdot
    opens = [m for m in messages if isinstance(m, Open)]
    assert {o.asn for o in opens} >= {2764334674, 200, 300, 400}


def test_shutdown_communications_are_read_from_real_notifications(shared_data: Path) -> None:
    texts = {}
    for name in ("bgp-shutdown-communication.pcapng", "bgp-extended-shutdown-msg.pcapng", "bgp-shutdown-msg-variations.pcap"):
        messages, errors, _ = decode_capture(TCPDUMP / name)
        assert errors == []
        texts[name] = [m.shutdown_message for m in messages if isinstance(m, Notification)]
    assert texts["bgp-shutdown-communication.pcapng"] == ["This is a test of the shutdown communication system."] * 2
    # tcpdump: text then extra data; empty; length octet past the data
    assert texts["bgp-shutdown-msg-variations.pcap"] == ["0123456789", "", None]
    (long_text,) = texts["bgp-extended-shutdown-msg.pcapng"]
    assert long_text is not None and 128 < len(long_text.encode()) <= 255


def test_hard_reset_notifications_expose_their_cause(shared_data: Path) -> None:
    messages, errors, _ = decode_capture(TCPDUMP / "bgp-malformed-hard-reset.pcap")
    notifications = [m for m in messages if isinstance(m, Notification)]
    assert errors == [] and notifications and all(n.hard_reset for n in notifications)
    for n in notifications:
        assert n.cause.name  # never raises, also for the malformed inner data


def test_enhanced_route_refresh_markers_are_decoded(shared_data: Path) -> None:
    messages, errors, _ = decode_capture(TCPDUMP / "bgp-enhanced-route-refresh-subtype.pcapng")
    refreshes = [m for m in messages if isinstance(m, RouteRefresh)]
    assert errors == [] and {r.subtype for r in refreshes} == {0, 1, 2}


@pytest.mark.parametrize("pcap", sorted(PMACCT.glob("*/traffic-*.pcap")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ios_xr_captures_decode_with_ipv6_next_hops_for_vpnv4(pcap: Path, shared_data: Path) -> None:
    messages, errors, _left = decode_capture(pcap)
    assert errors == []
    updates = [m for m in messages if isinstance(m, Update)]
    assert updates and all(u.action == ErrorAction.NONE for u in updates)
    assert sum(isinstance(m, Open) for m in messages) >= 1


def raw_opens(path: Path) -> list[bytes]:
    """Every OPEN body in a capture, as sent."""
    bodies = []
    for runs in tcp_streams(path).values():
        for data in runs:
            try:
                bodies += [body for t, body in MessageReader(LARGE).feed(data) if t == MsgType.OPEN]
            except ProtocolError:
                pass
    return bodies


def one_capability_per_parameter(body: bytes) -> bool:
    extended = body[9] == 255 and body[10] == 255
    pos, end, head = (13, len(body), 3) if extended else (10, len(body), 2)
    while pos < end:
        length = int.from_bytes(body[pos + 1:pos + head], "big")
        if body[pos] != 2 or length < 2 or body[pos + head + 1] + 2 != length:
            return False
        pos += head + length
    return True


def test_opens_from_frr_and_others_reencode_byte_for_byte(shared_data: Path) -> None:
    """Real OPENs laid out one capability per parameter (FRR's layout) come back identical,
    RFC 9072 form included (FRR with extended-optional-parameters); the others decode alike."""
    matched = 0
    for pcap in sorted(TCPDUMP.glob("*.pcap*")) + sorted(PMACCT.glob("*/traffic-*.pcap")):
        if pcap.name in FRAMING_FAILS:
            continue
        for body in raw_opens(pcap):
            decoded = decode_open(body)
            assert decode_open(encode_open(decoded)[19:]) == decoded
            if not one_capability_per_parameter(body):
                continue
            extended = body[9] == 255 and body[10] == 255
            assert encode_open(decode_open(body), extended_parameters=extended)[19:] == body, pcap.name
            matched += 1
    assert matched >= 10
