"""A seeded, realistic BGP full table for benchmarks and the demo.

Shape follows a public full table: the prefix-length mix of IPv4 and IPv6, unique prefixes,
AS paths of 2-8 hops drawn from transit and origin pools (with some prepending and 4-octet
ASNs), and attribute sets shared by about five prefixes on average with a long tail, so that
1.2 M prefixes fill about 240 k UPDATEs. The same seed gives the same table.

    python benchmarks/generator.py --ipv4 1000000 --ipv6 200000 --out table.bgp

writes the table as raw concatenated UPDATE messages that other benchmarks read back with
:func:`read_messages` instead of generating it again.
"""
from __future__ import annotations

import argparse
import bisect
import random
import sys
import time
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):  # run as a script: make the source tree importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bgpcore.constants import HEADER_LEN, AsPathSegmentType, Origin
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST, CodecContext, Family
from bgpcore.wire.types import PathAttributes

# Share of each prefix length in a full table (percent, roughly a 2023-24 DFZ view).
IPV4_LENGTHS: dict[int, float] = {
    8: 0.002, 9: 0.002, 10: 0.004, 11: 0.01, 12: 0.03, 13: 0.06, 14: 0.12, 15: 0.2,
    16: 1.4, 17: 0.85, 18: 1.4, 19: 2.6, 20: 4.6, 21: 5.6,
    22: 12.0, 23: 8.6, 24: 62.0,
    25: 0.02, 26: 0.02, 27: 0.01, 28: 0.01, 29: 0.005, 30: 0.003, 32: 0.002,
}
IPV6_LENGTHS: dict[int, float] = {
    19: 0.01, 20: 0.02, 24: 0.05, 28: 0.3, 29: 2.2, 30: 0.4, 31: 0.3, 32: 12.0,
    33: 1.3, 34: 1.3, 35: 0.8, 36: 3.5, 37: 0.6, 38: 1.0, 39: 0.6, 40: 7.0,
    41: 0.8, 42: 1.8, 43: 0.6, 44: 8.5, 45: 1.3, 46: 3.0, 47: 1.9, 48: 45.0,
    52: 0.2, 56: 1.2, 60: 0.2, 64: 0.5,
}

NEXT_HOP = {IPV4_UNICAST: ("192.0.2.1",), IPV6_UNICAST: ("2001:db8::1", "fe80::1")}
LOCAL_ASN = 64496


class RouteGroup(NamedTuple):
    """Prefixes of one family that share one attribute set: the unit one UPDATE carries."""

    attributes: PathAttributes
    family: Family
    next_hop: tuple[str, ...]
    keys: list[bytes]


def _prefix_keys(rng: random.Random, count: int, afi_bits: int, lengths: dict[int, float]) -> list[bytes]:
    """``count`` unique NLRI keys with the given length mix, in global unicast space."""
    plens = list(lengths)
    cum = list(accumulate(lengths.values()))
    total = cum[-1]
    nbytes = afi_bits // 8
    # per-length capacity bounds how many distinct prefixes one length can give
    capacity = {p: 1 << min(p - (3 if afi_bits == 128 else 1), 62) for p in plens}
    seen: set[bytes] = set()
    counts = dict.fromkeys(plens, 0)
    out: list[bytes] = []
    getrandbits, rand = rng.getrandbits, rng.random
    while len(out) < count:
        plen = plens[bisect.bisect(cum, rand() * total)]
        if counts[plen] >= capacity[plen] // 2:  # that length is nearly full: pick again
            continue
        if afi_bits == 32:
            addr = getrandbits(32)
            first = addr >> 24
            if first in (0, 10, 127) or first >= 224:
                continue
        else:
            addr = (0b001 << 125) | getrandbits(125)  # 2000::/3
        addr = (addr >> (afi_bits - plen)) << (afi_bits - plen)
        key = bytes((plen,)) + addr.to_bytes(nbytes, "big")[: (plen + 7) >> 3]
        if key in seen:
            continue
        seen.add(key)
        counts[plen] += 1
        out.append(key)
    return out


class _AsPools:
    """Upstreams, transits and origins; a few are 4-octet ASNs, as in today's table."""

    def __init__(self, rng: random.Random) -> None:
        self.upstream = rng.choice((174, 1299, 2914, 3257, 3356, 6453, 6762, 6939))  # the feed's eBGP peer
        self.transit = [rng.randrange(1, 64000) for _ in range(1500)]
        self.origins = [rng.randrange(1, 64000) if rng.random() < 0.75 else rng.randrange(131072, 401000)
                        for _ in range(75000)]


def _attributes(rng: random.Random, pools: _AsPools) -> PathAttributes:
    hops = rng.choices((2, 3, 4, 5, 6, 7, 8), weights=(10, 30, 28, 17, 8, 4, 3))[0]
    origin_as = rng.choice(pools.origins)
    path = [pools.upstream] + rng.sample(pools.transit, hops - 2) + [origin_as]
    if rng.random() < 0.12:  # origin prepends itself
        path += [origin_as] * rng.randint(1, 4)
    r = rng.random()
    origin = Origin.IGP if r < 0.86 else Origin.INCOMPLETE if r < 0.99 else Origin.EGP
    communities: tuple[int, ...] = ()
    if rng.random() < 0.6:
        tagger = path[rng.randrange(len(path) - 1)] & 0xFFFF
        communities = tuple(sorted({(tagger << 16) | rng.randrange(65536) for _ in range(rng.randint(1, 8))}))
    large: tuple[tuple[int, int, int], ...] = ()
    if rng.random() < 0.08:
        large = tuple(sorted({(path[0], rng.randrange(1, 10), rng.randrange(1, 1000)) for _ in range(rng.randint(1, 3))}))
    return PathAttributes(
        origin=origin,
        as_path=((AsPathSegmentType.AS_SEQUENCE, tuple(path)),),
        med=rng.randrange(0, 1000) if rng.random() < 0.3 else None,
        local_pref=100,
        communities=communities,
        large_communities=large,
    )


_MAX_GROUP = 2000


def _pareto_shape(mean: float) -> float:
    """Shape a whose ``min(floor(Pareto(a)), _MAX_GROUP)`` has this mean: sum of k**-a, k=1.._MAX_GROUP."""
    low, high = 1.0001, 8.0
    for _ in range(40):
        mid = (low + high) / 2
        if sum(k ** -mid for k in range(1, _MAX_GROUP + 1)) > mean:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _group_sizes(rng: random.Random, count: int, mean: float) -> list[int]:
    """Sizes summing to ``count`` with the given mean: half are 1, a tail into the thousands."""
    alpha = _pareto_shape(mean)
    sizes: list[int] = []
    left = count
    while left > 0:
        size = min(int(rng.paretovariate(alpha)), _MAX_GROUP, left)
        sizes.append(size)
        left -= size
    return sizes


def generate_table(ipv4: int = 1_000_000, ipv6: int = 200_000, seed: int = 1, mean_group: float = 5.0) -> list[RouteGroup]:
    """A full table as route groups, IPv4 first; deterministic for a seed.

    Args:
        ipv4, ipv6: number of unique prefixes of each family.
        seed: seed of the random generator.
        mean_group: average number of prefixes that share one attribute set.
    """
    rng = random.Random(seed)
    pools = _AsPools(rng)
    groups: list[RouteGroup] = []
    for family, count, bits, lengths in ((IPV4_UNICAST, ipv4, 32, IPV4_LENGTHS), (IPV6_UNICAST, ipv6, 128, IPV6_LENGTHS)):
        keys = _prefix_keys(rng, count, bits, lengths)
        pos = 0
        for size in _group_sizes(rng, count, mean_group):
            groups.append(RouteGroup(_attributes(rng, pools), family, NEXT_HOP[family], keys[pos:pos + size]))
            pos += size
    return groups


def encode_table(groups: list[RouteGroup], ctx: CodecContext = DEFAULT_CONTEXT) -> list[bytes]:
    """The UPDATE messages (header included) that announce every group."""
    from bgpcore.wire.update import encode_updates

    messages: list[bytes] = []
    for group in groups:
        messages += encode_updates(group.attributes, group.family, group.next_hop, group.keys, ctx)
    return messages


def write_messages(path: Path, messages: list[bytes]) -> None:
    """Raw concatenated messages, as they would cross a TCP session."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(b"".join(messages))
    tmp.replace(path)


def read_messages(path: Path) -> list[bytes]:
    """Split a file written by :func:`write_messages` back into messages."""
    data = path.read_bytes()
    out, pos, end = [], 0, len(data)
    while pos < end:
        length = int.from_bytes(data[pos + 16:pos + 18], "big")
        if length < HEADER_LEN or pos + length > end:
            raise ValueError(f"{path}: bad message length {length} at offset {pos}")
        out.append(data[pos:pos + length])
        pos += length
    return out


def table_file(ipv4: int, ipv6: int, seed: int, directory: Path) -> Path:
    """A cached table's file, generated and written on first use."""
    path = directory / f"table-v4_{ipv4}-v6_{ipv6}-seed{seed}.bgp"
    if not path.exists():
        write_messages(path, encode_table(generate_table(ipv4, ipv6, seed)))
    return path


def describe(groups: list[RouteGroup]) -> str:
    prefixes = sum(len(g.keys) for g in groups)
    by_len: dict[tuple[int, int], int] = {}
    for g in groups:
        for key in g.keys:
            by_len[(g.family[0], key[0])] = by_len.get((g.family[0], key[0]), 0) + 1
    lines = [f"{prefixes} prefixes in {len(groups)} attribute groups ({prefixes / max(len(groups), 1):.2f} per group), "
             f"{len(set(g.attributes for g in groups))} distinct attribute sets"]
    for afi, name in ((1, "IPv4"), (2, "IPv6")):
        total = sum(n for (a, _), n in by_len.items() if a == afi) or 1
        top = sorted(((n, plen) for (a, plen), n in by_len.items() if a == afi), reverse=True)[:6]
        lines.append(f"  {name}: " + ", ".join(f"/{plen} {100 * n / total:.1f}%" for n, plen in top))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ipv4", type=int, default=1_000_000)
    parser.add_argument("--ipv6", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the UPDATE messages to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    groups = generate_table(args.ipv4, args.ipv6, args.seed)
    print(describe(groups))
    print(f"generated in {time.perf_counter() - start:.1f} s")
    if args.out:
        start = time.perf_counter()
        messages = encode_table(groups)
        write_messages(args.out, messages)
        print(f"{len(messages)} UPDATEs, {sum(map(len, messages))} bytes written to {args.out} "
              f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
