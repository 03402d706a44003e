"""Independent vectors: ExaBGP's decoding and encoding QA files and GoBGP's bad-length corpus.

ExaBGP's JSON says what each message holds; bgpcore's decode of the same bytes must agree
on the fields bgpcore models (origin, MED, LOCAL_PREF, AS_PATH, communities, large
communities, next hop, announced and withdrawn unicast prefixes, OPEN fields).
"""
from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bgpcore.constants import Afi, MsgType, Safi, UpdateSubcode
from bgpcore.errors import ErrorAction, ProtocolError, UpdateMessageError
from bgpcore.wire.capabilities import UnknownCapability, encode_capability
from bgpcore.wire.context import CodecContext
from bgpcore.wire.framing import MessageReader
from bgpcore.wire.messages import Message, decode_message
from bgpcore.wire.nlri import key_to_network
from bgpcore.wire.open import Open
from bgpcore.wire.types import Update

EXABGP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vectors" / "exabgp"
GOBGP = EXABGP.parent / "gobgp-badlen"
LARGE = 65535
FAMILY_NAMES = {"ipv4 unicast": (Afi.IPV4, Safi.UNICAST), "ipv6 unicast": (Afi.IPV6, Safi.UNICAST)}
ALL_FAMILIES = frozenset((afi, safi) for afi in (1, 2) for safi in (1, 2, 4, 128, 133, 134))
PERMISSIVE_NEXT_HOP = frozenset({(1, 1), (1, 2), (1, 128)})

Route = tuple[str, str, str]  # family name, next hop, prefix


def decode_one(raw: bytes, ctx: CodecContext) -> Message:
    (msg_type, body), = MessageReader(LARGE).feed(raw)
    return decode_message(msg_type, body, ctx)


def our_routes(update: Update, ctx: CodecContext) -> tuple[set[Route], set[tuple[str, str]]]:
    """(announced (family, next hop, prefix), withdrawn (family, prefix)) for unicast families."""
    names = {fam: name for name, fam in FAMILY_NAMES.items()}
    announced: set[Route] = set()
    withdrawn: set[tuple[str, str]] = set()

    def text(key: bytes, fam: tuple[int, int]) -> str:
        return str(key_to_network(key, fam[0], fam in ctx.addpath))

    v4 = (Afi.IPV4, Safi.UNICAST)
    for key in update.nlri:
        assert update.attributes is not None and update.attributes.next_hop is not None
        announced.add(("ipv4 unicast", update.attributes.next_hop, text(key, v4)))
    withdrawn |= {("ipv4 unicast", text(key, v4)) for key in update.withdrawn}
    if update.mp_reach and (update.mp_reach.afi, update.mp_reach.safi) in names:
        fam = (update.mp_reach.afi, update.mp_reach.safi)
        announced |= {(names[fam], update.mp_reach.next_hop[0], text(k, fam)) for k in update.mp_reach.nlri}
    if update.mp_unreach and (update.mp_unreach.afi, update.mp_unreach.safi) in names:
        fam = (update.mp_unreach.afi, update.mp_unreach.safi)
        withdrawn |= {(names[fam], text(k, fam)) for k in update.mp_unreach.nlri}
    return announced, withdrawn


def their_routes(update: dict[str, Any]) -> tuple[set[Route], set[tuple[str, str]]]:
    announced = {(fam, str(ipaddress.ip_address(nh)), str(ipaddress.ip_network(e["nlri"])))
                 for fam, by_nh in update.get("announce", {}).items() if fam in FAMILY_NAMES
                 for nh, entries in by_nh.items() for e in entries}
    withdrawn = {(fam, str(ipaddress.ip_network(e["nlri"])))
                 for fam, entries in update.get("withdraw", {}).items() if fam in FAMILY_NAMES for e in entries}
    return announced, withdrawn


def attributes_agree(update: Update, attribute: dict[str, Any]) -> None:
    attrs = update.attributes
    if attrs is None:  # withdrawals only
        assert not attribute
        return
    assert ["igp", "egp", "incomplete"][attrs.origin or 0] == attribute.get("origin", "igp")
    assert attrs.med == attribute.get("med")
    assert attrs.local_pref == attribute.get("local-preference")
    if "as-path" in attribute:
        kinds = {"as-sequence": 2, "as-set": 1, "as-confed-sequence": 3, "as-confed-set": 4}
        theirs = [(kinds[seg["element"]], tuple(seg["value"])) for _, seg in sorted(attribute["as-path"].items(), key=lambda kv: int(kv[0]))]
        assert list(attrs.as_path) == theirs
    assert [(c >> 16, c & 0xFFFF) for c in attrs.communities] == [tuple(c) for c in attribute.get("community", [])]
    assert [list(c) for c in attrs.large_communities] == attribute.get("large-community", [])


# ---------------------------------------------------------------- qa/decoding

DECODING = sorted(p for p in (EXABGP / "qa" / "decoding").glob("*")
                  if not p.read_text().startswith("nlri ")) if EXABGP.is_dir() else []  # bare BGP-LS NLRI


def vector_message(hexdata: str, ctx: CodecContext) -> Message:
    """A vector is a whole message, or an UPDATE body when it lacks the header."""
    raw = bytes.fromhex(hexdata.replace(":", ""))
    if raw[:16] == b"\xff" * 16:
        return decode_one(raw, ctx)
    return decode_message(MsgType.UPDATE, raw, ctx)


@pytest.mark.parametrize("vector", DECODING, ids=lambda p: p.name)
def test_exabgp_decoding_vector_agrees_with_its_json(vector: Path, shared_data: Path) -> None:
    kind, hexdata, expected = vector.read_text().splitlines()[:3]
    ctx = CodecContext(asn4=True, extended_nexthop=PERMISSIVE_NEXT_HOP)  # the vpnv4-extended-nexthop vectors need it
    message = vector_message(hexdata, ctx)
    body = json.loads(expected)["neighbor"]
    if kind.startswith("open"):
        assert isinstance(message, Open)
        theirs = body["open"]
        assert (message.version, message.asn, message.hold_time_s, message.bgp_id) == (
            theirs["version"], theirs["asn"], theirs["hold_time"], theirs["router_id"])
        assert sorted(int(c) for c in theirs["capabilities"]) == sorted(encode_capability(c)[0] for c in message.capabilities)
        return
    assert isinstance(message, Update) and message.action == ErrorAction.NONE, getattr(message, "problems", None)
    update = body["message"]["update"]
    attributes_agree(message, update.get("attribute", {}))
    announced, withdrawn = their_routes(update)
    ours_announced, ours_withdrawn = our_routes(message, ctx)
    assert (ours_announced, ours_withdrawn) == (announced, withdrawn)


def test_open_software_version_capability_is_kept_raw(shared_data: Path) -> None:
    _, hexdata, _ = (EXABGP / "qa" / "decoding" / "bgp-open-sofware-version").read_text().splitlines()[:3]
    message = decode_one(bytes.fromhex(hexdata), CodecContext())
    assert isinstance(message, Open)
    (software,) = [c for c in message.capabilities if isinstance(c, UnknownCapability)]
    assert software.code == 75 and b"ExaBGP/" in software.value


# ---------------------------------------------------------------- qa/encoding

ENCODING = sorted((EXABGP / "qa" / "encoding").glob("*.ci")) if EXABGP.is_dir() else []
# RFC outcomes that differ from a clean decode, by file: what ExaBGP was told to send on purpose.
ENCODING_OUTCOMES: dict[str, list[object]] = {
    # NEXT_HOP 255.255.255.255 is not a host address: the route is ignored (RFC 7606 §7.3)
    "conf-attributes.ci": [ErrorAction.NONE, ErrorAction.NONE, ErrorAction.TREAT_AS_WITHDRAW],
    # attribute 153 flagged well-known (not optional): unrecognized well-known, session reset
    "conf-generic-attribute.ci": [ErrorAction.NONE, UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                                  UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE],
    # an IPv6 route over a 4-octet IPv4 next hop: IPv6 next hops are 16 or 32 octets, and RFC 8950
    # covers only IPv4 routes over IPv6 next hops, so the MP_REACH_NLRI is malformed (RFC 7606 §7.11)
    "extended-nexthop.ci": [ErrorAction.NONE, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR] + [ErrorAction.NONE] * 4,
}


def encoding_context(ci: Path) -> CodecContext:
    text = ci.read_text()
    conf_name = re.search(r"option:file:(\S+)", text)
    conf = (EXABGP / "etc" / "exabgp" / conf_name.group(1)).read_text() if conf_name else ""
    return CodecContext(asn4=not re.search(r"asn4\s+disable", conf),
                        addpath=ALL_FAMILIES if re.search(r"add-path\s+\S*send", conf) else frozenset(),
                        extended_nexthop=PERMISSIVE_NEXT_HOP, extended_message=True)


@pytest.mark.parametrize("ci", ENCODING, ids=lambda p: p.name)
def test_exabgp_encoding_vector_decodes_and_agrees_with_its_json(ci: Path, shared_data: Path) -> None:
    ctx = encoding_context(ci)
    outcomes: list[object] = []
    updates: list[Update] = []
    updates_treated: list[Update] = []
    others = 0
    for raw in re.findall(r"^\d+:raw:([0-9A-Fa-f:]+)$", ci.read_text(), re.M):
        try:
            message = vector_message(raw, ctx)
        except ProtocolError as exc:
            assert isinstance(exc, UpdateMessageError)
            outcomes.append(exc.subcode)
            continue
        if isinstance(message, Update):
            outcomes.append(message.action)
            if message.action == ErrorAction.NONE:
                updates.append(message)
            elif message.action == ErrorAction.TREAT_AS_WITHDRAW:
                updates_treated.append(message)
        else:
            outcomes.append(ErrorAction.NONE)
            others += 1
    assert outcomes
    assert outcomes == ENCODING_OUTCOMES.get(ci.name, [ErrorAction.NONE] * len(outcomes))
    ours_announced: set[Route] = set()
    ours_withdrawn: set[tuple[str, str]] = set()
    for u in updates:
        a, w = our_routes(u, ctx)
        ours_announced |= a
        ours_withdrawn |= w
    session_reset = len(outcomes) > len(updates) + len(updates_treated) + others
    for line in re.findall(r"^\d+:json:(.*)$", ci.read_text(), re.M):
        j = json.loads(line)
        if j.get("type") != "update":
            continue
        update = j["neighbor"]["message"]["update"]
        announced, withdrawn = their_routes(update)
        if session_reset and not announced <= ours_announced:
            continue  # this JSON reports the UPDATE that bgpcore refused
        assert announced <= ours_announced | treated_routes(updates_treated, ctx, announced)
        assert withdrawn <= ours_withdrawn
        for _fam, _nh, prefix in announced & ours_announced:
            carriers = [u for u in updates if any(p == prefix for _, _, p in our_routes(u, ctx)[0])]
            attributes_agree(carriers[0], update.get("attribute", {}))


def treated_routes(treated: list[Update], ctx: CodecContext, announced: set[Route]) -> set[Route]:
    """The routes of ``announced`` that an RFC 7606 treat-as-withdraw turned into withdrawals."""
    gone = set().union(*(our_routes(u, ctx)[1] for u in treated)) if treated else set()
    return {r for r in announced if (r[0], r[2]) in gone}


def test_unknown_message_vector_is_a_notification_from_exabgp(shared_data: Path) -> None:
    raw = re.findall(r"^\d+:raw:([0-9A-Fa-f:]+)$", (EXABGP / "qa" / "encoding" / "unknown-message.ci").read_text(), re.M)[0]
    message = vector_message(raw, CodecContext())
    assert message.__class__.__name__ == "Notification"
    assert b"can not decode update message" in message.data  # type: ignore[union-attr]


# ---------------------------------------------------------------- gobgp bad-len corpus

GOBGP_INPUTS = sorted(GOBGP.iterdir()) if GOBGP.is_dir() else []


@pytest.mark.parametrize("path", GOBGP_INPUTS, ids=lambda p: p.name[:10])
def test_gobgp_bad_length_inputs_end_in_a_protocol_error(path: Path, shared_data: Path) -> None:
    data = path.read_bytes()
    for stream in (data, b"\xff" * 16 + data[16:]):  # as fuzzed, and with the marker they lack
        reader = MessageReader(LARGE)
        with pytest.raises(ProtocolError) as info:
            for msg_type, body in reader.feed(stream):
                decode_message(msg_type, body, CodecContext())
        assert 1 <= info.value.code <= 7
        assert info.value.notification()[18] == MsgType.NOTIFICATION
