"""NLRI prefixes (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3).

A prefix travels through bgpcore as its *key*: the exact wire bytes of one NLRI entry,
``[path id (4 octets, ADD-PATH only)] [length (1 octet)] [address, ceil(length/8) octets]``
with the bits past the length cleared. Keys are compact, hashable and concatenate straight
back into an UPDATE, so the RIB and the encoder never build ``ipaddress`` objects; those
are made at the API edge by :func:`key_to_network`.
"""
from __future__ import annotations

import ipaddress
import struct
from typing import Final

from bgpcore.constants import Afi, UpdateSubcode
from bgpcore.errors import UpdateMessageError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_PREFIX_LEN: Final = {Afi.IPV4: 32, Afi.IPV6: 128}
_TRAILING_MASK: Final = tuple((0xFF << (8 - r)) & 0xFF if r else 0xFF for r in range(8))


class NlriError(UpdateMessageError):
    """An NLRI field that cannot be parsed (RFC 7606 §5.3: the session is reset)."""


def decode_prefixes(data: bytes | memoryview, afi: int, addpath: bool, max_bits: int | None = None) -> list[bytes]:
    """Split an NLRI or withdrawn-routes field into prefix keys.

    ``max_bits`` is the longest length the family allows (labels and route distinguishers
    count); by default the address size of ``afi``.

    Raises:
        NlriError: a length past the family's maximum or running past the field
            (UPDATE error, Invalid Network Field).
    """
    data = bytes(data)
    end = len(data)
    max_len = max_bits if max_bits is not None else (32 if afi == 1 else 128)
    head = 4 if addpath else 0  # octets of path identifier before the length
    out: list[bytes] = []
    append = out.append
    pos = 0
    while pos < end:
        if pos + head >= end:
            raise NlriError(UpdateSubcode.INVALID_NETWORK_FIELD, reason="ADD-PATH NLRI truncated")
        plen = data[pos + head]
        if plen > max_len:
            raise NlriError(UpdateSubcode.INVALID_NETWORK_FIELD, reason=f"prefix length {plen} > {max_len}")
        nxt = pos + head + 1 + ((plen + 7) >> 3)
        if nxt > end:
            raise NlriError(UpdateSubcode.INVALID_NETWORK_FIELD, reason="prefix runs past the NLRI field")
        key = data[pos:nxt]
        if plen & 7 and key[-1] & ~_TRAILING_MASK[plen & 7] & 0xFF:
            key = key[:-1] + bytes((key[-1] & _TRAILING_MASK[plen & 7],))
        append(key)
        pos = nxt
    return out


def network_key(network: str | IPNetwork, path_id: int | None = None) -> bytes:
    """The key of a prefix such as ``"192.0.2.0/24"`` (host bits must be zero)."""
    net = ipaddress.ip_network(network) if isinstance(network, str) else network
    plen = net.prefixlen
    key = bytes((plen,)) + net.network_address.packed[: (plen + 7) >> 3]
    if path_id is not None:
        key = struct.pack("!I", path_id) + key
    return key


def key_to_network(key: bytes, afi: int, addpath: bool = False) -> IPNetwork:
    """The ``ipaddress`` network a key stands for (path id dropped)."""
    if addpath:
        key = key[4:]
    plen = key[0]
    if afi == Afi.IPV4:
        return ipaddress.IPv4Network((key[1:].ljust(4, b"\0"), plen))
    return ipaddress.IPv6Network((key[1:].ljust(16, b"\0"), plen))


def with_path_id(key: bytes, path_id: int) -> bytes:
    """An ADD-PATH key for a plain prefix key."""
    return struct.pack("!I", path_id) + key
