"""bgpcore.mrt over the real MRT dumps: record and prefix counts as PROVENANCE.md gives them,
every BGP message decoded, and bgpdump (an independent decoder) agreeing route by route."""
from __future__ import annotations

import bz2
import collections
import gzip
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from captures import with_dumped_add_path  # noqa: E402

from bgpcore.constants import MsgType, UpdateSubcode  # noqa: E402
from bgpcore.errors import ErrorAction, ProtocolError  # noqa: E402
from bgpcore.mrt import BgpMessage, MrtReader, PeerIndexTable, RibEntry, StateChange, decode_rib_attributes  # noqa: E402
from bgpcore.wire.framing import MessageReader  # noqa: E402
from bgpcore.wire.messages import decode_message  # noqa: E402
from bgpcore.wire.nlri import key_to_network  # noqa: E402
from bgpcore.wire.types import PathAttributes, Update  # noqa: E402

MRT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mrt"
LARGE = 65535

# path: (records of each kind, announced NLRI, withdrawn NLRI) -- PROVENANCE.md's counts
UPDATE_DUMPS = {
    "ripe-bgpdump/updates.20070211.0141.gz": ({"BgpMessage": 23394}, 51329, 2328),
    "ripe-bgpdump/updates.20160811.1600.gz": ({"BgpMessage": 17384, "StateChange": 22}, 39256, 1956),
    "ripe-bgpdump/updates.et-header.2015.gz": ({"BgpMessage": 89682, "StateChange": 4}, 577737, None),
    "ripe-bgpdump/updates.long_withdrawal.gz": ({"BgpMessage": 1}, 0, 4096),
    "bgpkit/updates.20100227.1600.gz": (None, 52468, 1318),
    "bgpkit/updates.20100227.1610.gz": (None, 5920, 1549),
    "libbgpstream/ris.rrc06.updates.1427846400.gz": ({"BgpMessage": 791, "StateChange": 4}, 1435, 122),
    "libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2": ({"BgpMessage": 1756}, 8160, 451),
}
UPDATE_DUMP_RECORDS = {  # total records where PROVENANCE gives only the total
    "bgpkit/updates.20100227.1600.gz": 6615, "bgpkit/updates.20100227.1610.gz": 1953,
    "ripe-bgpdump/updates.et-header.2015.gz": 89686,
}
# path: (RIB entries, unique prefixes, peers in PEER_INDEX_TABLE or None for TABLE_DUMP v1, truncated)
RIB_DUMPS = {
    "ripe-bgpdump/bview.20020722.2337.gz": (115521, 112988, None, False),
    "ripe-bgpdump/bview.ipv4_unicast_add_path.gz": (62, 31, 3, False),
    "ripe-bgpdump/bview.ipv6_unicast_add_path.gz": (62, 31, 3, False),
    "pyasn/rib.20140523.0600_firstMB.bz2": (270005, 9072, 47, True),
    "pyasn/rib6.20151101.0600_firstMB.bz2": (149578, 6870, 29, True),
    "pyasn/rib.20080501.0644_firstMB.bz2": (139291, 3507, None, True),
    "mrtparse-samples/quagga_rib": (None, 6, 2, False),
}
SMALL_DUMPS = ["mrtparse-samples/" + n for n in ("bird_bgp", "bird6_bgp", "openbgpd_bgp", "quagga_bgp")]
RIB_SAMPLES = ["mrtparse-samples/" + n for n in ("bird-mrtdump_rib", "bird6-mrtdump_rib", "openbgpd_rib_table-v2", "quagga_rib")]


def decoded(record: BgpMessage) -> object:
    (msg_type, body), = MessageReader(LARGE).feed(record.message)
    return decode_message(msg_type, body, record.ctx)


def nlri_counts(update: Update) -> tuple[int, int]:
    announced = len(update.nlri) + (len(update.mp_reach.nlri) if update.mp_reach else 0)
    withdrawn = len(update.withdrawn) + (len(update.mp_unreach.nlri) if update.mp_unreach else 0)
    return announced, withdrawn


@pytest.mark.parametrize("name", sorted(UPDATE_DUMPS))
def test_update_dump_decodes_with_the_published_counts(name: str, shared_data: Path) -> None:
    kinds, announced, withdrawn = UPDATE_DUMPS[name]
    reader = MrtReader(MRT / name)
    seen: collections.Counter[str] = collections.Counter()
    totals = [0, 0]
    for record in reader:
        seen[type(record).__name__] += 1
        if isinstance(record, BgpMessage):
            message = decoded(record)
            if isinstance(message, Update):
                assert message.action == ErrorAction.NONE, message.problems
                a, w = nlri_counts(message)
                totals[0] += a
                totals[1] += w
    assert reader.note is None and reader.problems == []
    if kinds is not None:
        assert dict(seen) == kinds
    if name in UPDATE_DUMP_RECORDS:
        assert sum(seen.values()) == UPDATE_DUMP_RECORDS[name]
    assert totals[0] == announced
    if withdrawn is not None:
        assert totals[1] == withdrawn


@pytest.mark.parametrize("name", sorted(RIB_DUMPS))
def test_rib_dump_reads_every_entry_with_the_published_counts(name: str, shared_data: Path) -> None:
    entries, prefixes, peers, truncated = RIB_DUMPS[name]
    reader = MrtReader(MRT / name)
    count = 0
    unique = set()
    tables = []
    blocks: dict[tuple[bytes, bool], PathAttributes] = {}
    for record in reader:
        if isinstance(record, PeerIndexTable):
            tables.append(record)
            continue
        assert isinstance(record, RibEntry)
        count += 1
        unique.add((record.afi, record.prefix))
        key = (record.attributes, record.ctx.asn4)
        if key not in blocks:  # decode each distinct attribute block once, as a RIB would
            attrs = decode_rib_attributes(record)
            assert attrs.action == ErrorAction.NONE, attrs.problems
            blocks[key] = attrs.attributes
        assert blocks[key].as_path or record.peer.asn == 0 or name.startswith("mrtparse")
    if entries is not None:
        assert count == entries
    assert len(unique) == prefixes
    assert reader.problems == []
    if peers is None:
        assert tables == []
    else:
        assert len(tables[-1].peers) == peers
    assert (reader.note is not None) == truncated
    if truncated:
        assert "ends early" in reader.note  # type: ignore[operator]


@pytest.mark.parametrize("name", SMALL_DUMPS)
def test_router_written_bgp4mp_samples_decode(name: str, shared_data: Path) -> None:
    reader = MrtReader(MRT / name)
    records = list(reader)
    if "bird" in name:  # BIRD records ADD-PATH sessions under plain MESSAGE subtypes
        messages = list(with_dumped_add_path(iter(records)))
    else:
        messages = [r for r in records if isinstance(r, BgpMessage)]
    kinds = collections.Counter(type(decoded(m)).__name__ for m in messages)
    assert kinds["Update"] > 0 and kinds["Open"] > 0 and kinds["Keepalive"] > 0
    assert any(isinstance(r, StateChange) for r in records)
    assert reader.note is None and reader.problems == []


@pytest.mark.parametrize("name", RIB_SAMPLES)
def test_router_written_table_dumps_decode(name: str, shared_data: Path) -> None:
    reader = MrtReader(MRT / name)
    entries = [r for r in reader if isinstance(r, RibEntry)]
    assert entries and reader.note is None and reader.problems == []
    for entry in entries:
        assert decode_rib_attributes(entry).action == ErrorAction.NONE


def test_nlri_with_an_entry_past_the_field_resets_the_session(shared_data: Path) -> None:
    (record,) = MrtReader(MRT / "ripe-bgpdump/updates.nlri_mask_trailing_bits.gz")
    assert isinstance(record, BgpMessage)
    with pytest.raises(ProtocolError) as info:
        decoded(record)
    assert (info.value.code, info.value.subcode) == (3, UpdateSubcode.INVALID_NETWORK_FIELD)


def test_early_table_dump_with_short_record_lengths_ends_with_a_note(shared_data: Path) -> None:
    reader = MrtReader(MRT / "bgpkit/bview.20000111.0032.gz")
    records = list(reader)
    assert records and isinstance(records[0], RibEntry)
    assert reader.note is not None and "runs past the end" in reader.note


@pytest.mark.parametrize("compress, suffix", [(gzip.compress, ".gz"), (lambda b: bz2.compress(b, 1), ".bz2"),
                                             (lambda b: b, "")])
def test_truncated_file_yields_every_complete_record_and_a_note(compress: Callable[[bytes], bytes], suffix: str,
                                                                 tmp_path: Path, shared_data: Path) -> None:
    raw = gzip.decompress((MRT / "bgpkit/updates.20100227.1610.gz").read_bytes())
    whole = list(MrtReader(raw))
    packed = compress(raw)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    reader = MrtReader(cut)
    partial = list(reader)
    assert 0 < len(partial) < len(whole)
    assert partial == whole[: len(partial)]
    assert reader.note is not None


def test_reader_takes_an_open_file_and_multi_member_gzip(shared_data: Path) -> None:
    raw = gzip.decompress((MRT / "libbgpstream/ris.rrc06.updates.1427846400.gz").read_bytes())
    half = len(raw) // 2
    whole = list(MrtReader(raw))
    stream = io.BytesIO(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    stream.name = "two-members.gz"  # type: ignore[attr-defined]
    reader = MrtReader(stream)
    assert list(reader) == whole and reader.note is None


# ---------------------------------------------------------------- bgpdump as oracle

def as_path_text(attrs: PathAttributes) -> str:
    parts = []
    for seg_type, asns in attrs.as_path:
        parts.append(" ".join(map(str, asns)) if seg_type == 2 else "{" + ",".join(map(str, asns)) + "}")
    return " ".join(parts)


def route_line(kind: str, peer: str, peer_as: int, prefix: str, attrs: PathAttributes | None, next_hop: str) -> tuple[str, ...]:
    if attrs is None:
        return (kind, peer, str(peer_as), prefix)
    communities = " ".join(f"{c >> 16}:{c & 0xFFFF}" for c in attrs.communities)
    # bgpdump prints an absent ORIGIN as INCOMPLETE and an absent next hop as 255.255.255.255
    origin = "INCOMPLETE" if attrs.origin is None else ["IGP", "EGP", "INCOMPLETE"][attrs.origin]
    return (kind, peer, str(peer_as), prefix, as_path_text(attrs), origin, next_hop or "255.255.255.255",
            str(attrs.local_pref or 0), str(attrs.med or 0), communities)


def bgpdump_lines(path: Path) -> collections.Counter[tuple[str, ...]]:
    out = subprocess.run(["bgpdump", "-m", str(path)], capture_output=True, text=True, check=True).stdout
    lines: collections.Counter[tuple[str, ...]] = collections.Counter()
    for line in out.splitlines():
        f = line.split("|")
        if f[2] == "W":
            lines[("W", f[3], f[4], f[5])] += 1
        elif f[2] in ("A", "B"):
            ap = f[0].endswith("_AP")  # path id after the prefix
            rest = f[7:] if ap else f[6:]
            lines[("A", f[3], f[4], f[5], rest[0], rest[1], rest[2], rest[3], rest[4], rest[5])] += 1
    return lines


needs_bgpdump = pytest.mark.skipif(shutil.which("bgpdump") is None, reason="bgpdump not installed")


@needs_bgpdump
@pytest.mark.parametrize("name", ["libbgpstream/ris.rrc06.updates.1427846400.gz", "bgpkit/updates.20100227.1610.gz"])
def test_update_routes_match_bgpdump(name: str, shared_data: Path) -> None:
    ours: collections.Counter[tuple[str, ...]] = collections.Counter()
    for record in MrtReader(MRT / name):
        if not isinstance(record, BgpMessage) or record.message[18] != MsgType.UPDATE:
            continue
        u = decoded(record)
        assert isinstance(u, Update)
        peer, peer_as = record.peer_address, record.peer_as
        for key in u.withdrawn:
            ours[route_line("W", peer, peer_as, str(key_to_network(key, 1)), None, "")] += 1
        if u.mp_unreach:
            for key in u.mp_unreach.nlri:
                ours[route_line("W", peer, peer_as, str(key_to_network(key, u.mp_unreach.afi)), None, "")] += 1
        for key in u.nlri:
            assert u.attributes is not None and u.attributes.next_hop
            ours[route_line("A", peer, peer_as, str(key_to_network(key, 1)), u.attributes, u.attributes.next_hop)] += 1
        if u.mp_reach:
            for key in u.mp_reach.nlri:
                ours[route_line("A", peer, peer_as, str(key_to_network(key, u.mp_reach.afi)), u.attributes,
                                u.mp_reach.next_hop[0])] += 1
    assert ours == bgpdump_lines(MRT / name)


@needs_bgpdump
@pytest.mark.parametrize("name", ["ripe-bgpdump/bview.ipv6_unicast_add_path.gz", "mrtparse-samples/quagga_rib",
                                  "ripe-bgpdump/bview.ipv4_unicast_add_path.gz"])
def test_rib_routes_match_bgpdump(name: str, shared_data: Path) -> None:
    ours: collections.Counter[tuple[str, ...]] = collections.Counter()
    for entry in MrtReader(MRT / name):
        if not isinstance(entry, RibEntry):
            continue
        d = decode_rib_attributes(entry)
        next_hop = d.mp_reach.next_hop[0] if d.mp_reach else d.attributes.next_hop or ""
        ours[route_line("A", entry.peer.address, entry.peer.asn, str(key_to_network(entry.prefix, entry.afi)),
                        d.attributes, next_hop)] += 1
    assert ours == bgpdump_lines(MRT / name)
