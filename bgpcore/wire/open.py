"""OPEN message (RFC 4271 §4.2, RFC 9072 extended optional parameters)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+
    |    Version    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     My Autonomous System      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Hold Time           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         BGP Identifier                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | Opt Parm Len  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |             Optional Parameters (variable)                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Each optional parameter is ``Type (1) | Length (1) | Value``. When they do not fit in 255
octets, RFC 9072 §2 sets Opt Parm Len = 255, follows it with a Type octet of 255 and a
2-octet Extended Opt. Parm. Length, and every parameter then has a 2-octet length.

Only the message's own rules are checked here; the peer AS and the capabilities a session
requires are the session's business.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

from bgpcore.constants import (
    AS_TRANS, BGP_VERSION, HEADER_LEN, MARKER, HeaderSubcode, MsgType, OpenSubcode, OptParamType,
)
from bgpcore.errors import MessageHeaderError, OpenMessageError, UsageError
from bgpcore.wire.capabilities import Capability, FourOctetAs, decode_capabilities, encode_capability

_FIXED: Final = struct.Struct("!BHH4sB")
_MAX_SHORT_PARAMS: Final = 255


@dataclass(frozen=True, slots=True)
class Open:
    """A decoded or to-be-sent OPEN.

    ``my_as`` is the speaker's real AS, 4-octet when it has one; on the wire the 2-octet
    field then carries AS_TRANS (RFC 6793 §4.2.1).
    """

    my_as: int
    hold_time_s: int
    bgp_id: str
    capabilities: tuple[Capability, ...] = ()
    version: int = BGP_VERSION

    @property
    def asn(self) -> int:
        """The 4-octet AS capability's value when present, else ``my_as``."""
        for cap in self.capabilities:
            if isinstance(cap, FourOctetAs):
                return cap.asn
        return self.my_as


def encode_open(o: Open, *, extended_parameters: bool = False) -> bytes:
    """The whole OPEN message, header included.

    Every capability goes in its own Capabilities parameter, the layout FRR sends; the
    RFC 9072 form is used when the parameters exceed 255 octets, or always with
    ``extended_parameters`` (FRR's ``neighbor X extended-optional-parameters``).

    Raises:
        UsageError: ``my_as`` does not fit two octets and no FourOctetAs capability says it.
    """
    two_octet_as = o.my_as if o.my_as <= 0xFFFF else AS_TRANS
    if two_octet_as == AS_TRANS and o.my_as != AS_TRANS and not any(isinstance(c, FourOctetAs) for c in o.capabilities):
        raise UsageError(f"AS {o.my_as} needs a FourOctetAs capability")
    tlvs = [encode_capability(c) for c in o.capabilities]
    params = b"".join(bytes((OptParamType.CAPABILITIES, len(t))) + t for t in tlvs)
    if not extended_parameters and len(params) <= _MAX_SHORT_PARAMS and all(len(t) <= 255 for t in tlvs):
        opt = bytes((len(params),)) + params
    else:
        params = b"".join(struct.pack("!BH", OptParamType.CAPABILITIES, len(t)) + t for t in tlvs)
        opt = struct.pack("!BBH", _MAX_SHORT_PARAMS, OptParamType.EXTENDED_LENGTH, len(params)) + params
    body = struct.pack("!BHH4s", o.version, two_octet_as, o.hold_time_s, ipaddress.IPv4Address(o.bgp_id).packed) + opt
    return MARKER + struct.pack("!HB", HEADER_LEN + len(body), MsgType.OPEN) + body


def _split_params(data: bytes, extended: bool) -> list[tuple[int, bytes]]:
    head = 3 if extended else 2
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        if pos + head > len(data):
            raise OpenMessageError(OpenSubcode.UNSPECIFIC, reason="optional parameter header truncated")
        ptype = data[pos]
        plen = struct.unpack_from("!H", data, pos + 1)[0] if extended else data[pos + 1]
        value = data[pos + head:pos + head + plen]
        if len(value) != plen:
            raise OpenMessageError(OpenSubcode.UNSPECIFIC, reason=f"optional parameter {ptype} runs past the message")
        out.append((ptype, value))
        pos += head + plen
    return out


def decode_open(body: bytes | memoryview) -> Open:
    """Decode an OPEN body (the message without its 19-octet header).

    Raises:
        MessageHeaderError: body shorter than the fixed fields (Bad Message Length).
        OpenMessageError: version other than 4 (subcode 1, data = largest supported
            version), BGP Identifier 0.0.0.0 (3), an optional parameter other than
            Capabilities (4), hold time 1 or 2 s (6), inconsistent lengths or a
            malformed capability (0).
    """
    body = bytes(body)
    if len(body) < _FIXED.size:
        raise MessageHeaderError(HeaderSubcode.BAD_MESSAGE_LENGTH, struct.pack("!H", HEADER_LEN + len(body)),
                                 reason=f"OPEN of {HEADER_LEN + len(body)} octets")
    version, my_as, hold_time_s, bgp_id, opt_len = _FIXED.unpack_from(body)
    if version != BGP_VERSION:
        raise OpenMessageError(OpenSubcode.UNSUPPORTED_VERSION_NUMBER, struct.pack("!H", BGP_VERSION),
                               reason=f"BGP version {version}")
    if hold_time_s in (1, 2):
        raise OpenMessageError(OpenSubcode.UNACCEPTABLE_HOLD_TIME, reason=f"hold time {hold_time_s} s")
    if bgp_id == b"\0\0\0\0":
        raise OpenMessageError(OpenSubcode.BAD_BGP_IDENTIFIER, reason="BGP identifier 0.0.0.0")
    rest = body[_FIXED.size:]
    extended = opt_len == _MAX_SHORT_PARAMS and rest[:1] == bytes((OptParamType.EXTENDED_LENGTH,))
    if extended:
        if len(rest) < 3:
            raise OpenMessageError(OpenSubcode.UNSPECIFIC, reason="extended optional parameters length truncated")
        opt_len = struct.unpack_from("!H", rest, 1)[0]
        rest = rest[3:]
    if opt_len != len(rest):
        raise OpenMessageError(OpenSubcode.UNSPECIFIC,
                               reason=f"optional parameters length {opt_len}, {len(rest)} octets follow")
    caps: list[Capability] = []
    for ptype, value in _split_params(rest, extended):
        if ptype != OptParamType.CAPABILITIES:
            raise OpenMessageError(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, reason=f"optional parameter type {ptype}")
        caps.extend(decode_capabilities(value))
    real_as = next((c.asn for c in caps if isinstance(c, FourOctetAs)), my_as)
    return Open(real_as, hold_time_s, str(ipaddress.IPv4Address(bgp_id)), tuple(caps), version)
