"""What we offer in our OPEN, what we accept in the peer's, and what the two settle on.

``check_open`` raises the OPEN error RFC 4271 §6.2 names for a peer we refuse (bad peer AS,
bad BGP identifier, unacceptable hold time, a required capability missing: RFC 5492 §3);
``negotiate`` combines two OPENs into ``SessionParams``, including one ``CodecContext`` per
direction, since ADD-PATH (RFC 7911) and extended next hop (RFC 8950) are per direction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from bgpcore.constants import AddPathMode, Afi, CapCode, OpenSubcode
from bgpcore.errors import OpenMessageError, UsageError
from bgpcore.session.timers import MIN_HOLD_TIME_S
from bgpcore.wire.capabilities import (
    AddPath,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    Multiprotocol,
    RouteRefresh,
    UnknownCapability,
    encode_capability,
)
from bgpcore.wire.context import IPV4_UNICAST, CodecContext, Family
from bgpcore.wire.open import Open

RemoteAs = int | Literal["internal", "external"]
"""A peer AS number, or FRR's ``internal`` (same AS as ours) / ``external`` (any other AS)."""

_CAP_CODES: Final[dict[type, int]] = {
    Multiprotocol: CapCode.MULTIPROTOCOL,
    RouteRefresh: CapCode.ROUTE_REFRESH,
    ExtendedNextHop: CapCode.EXTENDED_NEXT_HOP,
    ExtendedMessage: CapCode.EXTENDED_MESSAGE,
    GracefulRestart: CapCode.GRACEFUL_RESTART,
    FourOctetAs: CapCode.FOUR_OCTET_AS,
    AddPath: CapCode.ADD_PATH,
    EnhancedRouteRefresh: CapCode.ENHANCED_ROUTE_REFRESH,
    Fqdn: CapCode.FQDN,
}


def capability_code(cap: Capability) -> int:
    """The IANA code of a decoded capability."""
    if isinstance(cap, UnknownCapability):
        return cap.code
    return _CAP_CODES[type(cap)]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenPolicy:
    """Our side of the OPEN exchange with one neighbor.

    Attributes:
        local_as: our AS number (4-octet values need ``four_octet_as``).
        router_id: our BGP identifier, dotted quad.
        remote_as: the peer AS we accept: a number, ``"internal"`` or ``"external"``.
        hold_time_s: hold time we propose: 0 (no keepalives) or at least 3 s.
        min_hold_time_s: refuse a peer proposing a non-zero hold time below this.
        families: (AFI, SAFI) pairs announced with Multiprotocol capabilities.
        addpath: (AFI, SAFI, AddPathMode) we announce for ADD-PATH.
        extended_nexthop: families for which we accept IPv6 next hops (RFC 8950).
        required: capability codes the peer must announce, else Unsupported Capability.
        reset_unnegotiated: routes of a family the session did not negotiate reset it
            (RFC 4760 §7) instead of being ignored with a log line.
    """

    local_as: int
    router_id: str
    remote_as: RemoteAs
    hold_time_s: int = 90
    min_hold_time_s: int = MIN_HOLD_TIME_S
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    four_octet_as: bool = True
    route_refresh: bool = True
    enhanced_route_refresh: bool = True
    extended_message: bool = False
    extended_nexthop: tuple[Family, ...] = ()
    addpath: tuple[tuple[int, int, int], ...] = ()
    graceful_restart_time_s: int | None = None
    hostname: str | None = None
    required: tuple[int, ...] = ()
    reset_unnegotiated: bool = False

    def __post_init__(self) -> None:
        if self.hold_time_s != 0 and self.hold_time_s < MIN_HOLD_TIME_S:
            raise UsageError(f"hold time {self.hold_time_s} s: use 0 or at least {MIN_HOLD_TIME_S} s")
        if self.local_as > 0xFFFF and not self.four_octet_as:
            raise UsageError(f"AS {self.local_as} needs the four-octet AS capability")
        if isinstance(self.remote_as, str) and self.remote_as not in ("internal", "external"):
            raise UsageError(f"remote AS {self.remote_as!r}: a number, 'internal' or 'external'")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionParams:
    """What an Established session runs with.

    Attributes:
        recv_ctx: decode what the peer sends with this.
        send_ctx: encode what we send with this.
        families: families both sides announced (IPv4 unicast when the peer announced none).
        hold_time_s / keepalive_s: negotiated timers; 0 means none.
        route_refresh: the peer accepts ROUTE-REFRESH (soft reset inbound works).
        graceful_restart: the peer's Graceful Restart capability, if it sent one.
    """

    remote_as: int
    remote_id: str
    local_as: int
    ibgp: bool
    hold_time_s: int
    keepalive_s: float
    recv_ctx: CodecContext
    send_ctx: CodecContext
    families: tuple[Family, ...]
    route_refresh: bool
    enhanced_route_refresh: bool
    graceful_restart: GracefulRestart | None = None
    peer_hostname: str | None = None
    peer_capabilities: tuple[Capability, ...] = field(default_factory=tuple)
    local_capabilities: tuple[Capability, ...] = field(default_factory=tuple)


def build_open(policy: OpenPolicy) -> Open:
    """Our OPEN for ``policy``."""
    caps: list[Capability] = [Multiprotocol(afi, safi) for afi, safi in policy.families]
    if policy.route_refresh:
        caps.append(RouteRefresh())
    if policy.enhanced_route_refresh:
        caps.append(EnhancedRouteRefresh())
    if policy.extended_nexthop:
        caps.append(ExtendedNextHop(tuple((afi, safi, Afi.IPV6) for afi, safi in policy.extended_nexthop)))
    if policy.extended_message:
        caps.append(ExtendedMessage())
    if policy.graceful_restart_time_s is not None:
        caps.append(GracefulRestart(0, policy.graceful_restart_time_s, ()))
    if policy.four_octet_as:
        caps.append(FourOctetAs(policy.local_as))
    if policy.addpath:
        caps.append(AddPath(tuple((a, s, AddPathMode(m)) for a, s, m in policy.addpath)))
    if policy.hostname:
        caps.append(Fqdn(policy.hostname, ""))
    return Open(policy.local_as, policy.hold_time_s, policy.router_id, tuple(caps))


def may_accept_peer_as(policy: OpenPolicy, peer_as: int) -> bool:
    """Whether ``peer_as`` matches the configured remote AS rule."""
    if policy.remote_as == "internal":
        return peer_as == policy.local_as
    if policy.remote_as == "external":
        return peer_as != policy.local_as
    return peer_as == policy.remote_as


def check_open(policy: OpenPolicy, remote: Open) -> None:
    """Refuse the peer's OPEN when RFC 4271 §6.2 or our policy says so.

    The codec already refused a bad version, hold time 1-2 s and identifier 0.0.0.0.

    Raises:
        OpenMessageError: Bad Peer AS, Bad BGP Identifier, Unacceptable Hold Time or
            Unsupported Capability (data: the capabilities we miss, RFC 5492 §3).
    """
    if not may_accept_peer_as(policy, remote.asn):
        raise OpenMessageError(OpenSubcode.BAD_PEER_AS, reason=f"peer AS {remote.asn}, expected {policy.remote_as}")
    if remote.asn == policy.local_as and remote.bgp_id == policy.router_id:
        raise OpenMessageError(OpenSubcode.BAD_BGP_IDENTIFIER, reason=f"peer uses our BGP identifier {remote.bgp_id}")
    if remote.hold_time_s and remote.hold_time_s < policy.min_hold_time_s:
        raise OpenMessageError(OpenSubcode.UNACCEPTABLE_HOLD_TIME,
                               reason=f"hold time {remote.hold_time_s} s below {policy.min_hold_time_s} s")
    present = {capability_code(c) for c in remote.capabilities}
    missing = [code for code in policy.required if code not in present]
    if missing:
        local = {capability_code(c): c for c in build_open(policy).capabilities}
        data = b"".join(encode_capability(local[c]) if c in local else bytes((c, 0)) for c in missing)
        raise OpenMessageError(OpenSubcode.UNSUPPORTED_CAPABILITY, data,
                               reason=f"peer lacks required capabilities {missing}")


_C = TypeVar("_C")


def _caps(o: Open, cls: type[_C]) -> list[_C]:
    return [c for c in o.capabilities if isinstance(c, cls)]


def _addpath(o: Open) -> dict[Family, int]:
    modes: dict[Family, int] = {}
    for cap in o.capabilities:
        if isinstance(cap, AddPath):
            for afi, safi, mode in cap.entries:
                modes[(afi, safi)] = modes.get((afi, safi), 0) | int(mode)
    return modes


def _nexthop_families(o: Open) -> set[Family]:
    return {(afi, safi) for cap in o.capabilities if isinstance(cap, ExtendedNextHop)
            for afi, safi, nh_afi in cap.entries if nh_afi == Afi.IPV6}


def negotiate(local: Open, remote: Open, local_as: int, *, reset_unnegotiated: bool = False) -> SessionParams:
    """The parameters two OPENs settle on (RFC 4271 §4.2, 4760, 6793, 7911, 8654, 8950).

    ``reset_unnegotiated`` goes to the receive context (``CodecContext.reset_unnegotiated``).
    """
    asn4 = bool(_caps(local, FourOctetAs)) and bool(_caps(remote, FourOctetAs))
    ours = [(c.afi, c.safi) for c in _caps(local, Multiprotocol)] or [IPV4_UNICAST]
    theirs = {(c.afi, c.safi) for c in _caps(remote, Multiprotocol)} or {IPV4_UNICAST}
    families = tuple(f for f in ours if f in theirs)
    our_ap, their_ap = _addpath(local), _addpath(remote)
    recv_ap = frozenset(f for f, m in our_ap.items() if m & AddPathMode.RECEIVE and their_ap.get(f, 0) & AddPathMode.SEND)
    send_ap = frozenset(f for f, m in our_ap.items() if m & AddPathMode.SEND and their_ap.get(f, 0) & AddPathMode.RECEIVE)
    our_nh, their_nh = _nexthop_families(local), _nexthop_families(remote)
    ext_msg = bool(_caps(local, ExtendedMessage)) and bool(_caps(remote, ExtendedMessage))
    hold = min(local.hold_time_s, remote.hold_time_s)
    gr = _caps(remote, GracefulRestart)
    fqdn = _caps(remote, Fqdn)
    return SessionParams(
        remote_as=remote.asn,
        remote_id=remote.bgp_id,
        local_as=local_as,
        ibgp=remote.asn == local_as,
        hold_time_s=hold,
        keepalive_s=hold / 3,
        recv_ctx=CodecContext(asn4=asn4, addpath=recv_ap, extended_nexthop=frozenset(our_nh), extended_message=ext_msg,
                              families=frozenset(families), reset_unnegotiated=reset_unnegotiated),
        send_ctx=CodecContext(asn4=asn4, addpath=send_ap, extended_nexthop=frozenset(our_nh & their_nh),
                              extended_message=ext_msg),
        families=families,
        route_refresh=bool(_caps(remote, RouteRefresh)) or bool(_caps(remote, EnhancedRouteRefresh)),
        enhanced_route_refresh=bool(_caps(local, EnhancedRouteRefresh)) and bool(_caps(remote, EnhancedRouteRefresh)),
        graceful_restart=gr[0] if gr else None,
        peer_hostname=fqdn[0].hostname if fqdn else None,
        peer_capabilities=remote.capabilities,
        local_capabilities=local.capabilities,
    )
