"""Neighbor and speaker configuration: plain frozen values, checked when built.

A neighbor is identified by its address, plus the interface for an IPv6 link-local address
(unnumbered peering: the session's identity is then the interface). ``ListenRange`` accepts
connections from any address in a prefix, with FRR's ``bgp listen range`` remote-as rule.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from bgpcore.errors import ConfigError
from bgpcore.policy.hooks import RoutePolicy
from bgpcore.rib.manager import MaxPrefixAction
from bgpcore.session.negotiate import OpenPolicy, RemoteAs
from bgpcore.session.timers import TimerSettings
from bgpcore.transport.limits import SpeakerLimits
from bgpcore.wire.context import IPV4_UNICAST, IPV6_UNICAST, Family

NeighborKey = tuple[str, str | None]
"""(address in canonical text, interface name for a link-local address, else None)."""

_FAMILY_NAMES: dict[str, Family] = {"ipv4-unicast": IPV4_UNICAST, "ipv6-unicast": IPV6_UNICAST}


def family_from_name(name: str) -> Family:
    """``"ipv4-unicast"`` / ``"ipv6-unicast"`` to (AFI, SAFI)."""
    try:
        return _FAMILY_NAMES[name]
    except KeyError:
        raise ConfigError(f"unknown family {name!r}; known: {sorted(_FAMILY_NAMES)}") from None


def _check_ip(value: object, what: str) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not an IP address") from None


def _check_router_id(value: object, what: str) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a router id (an IPv4 address, dotted quad)") from None


def _check_asn(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**32:
        raise ConfigError(f"{what}: {value!r} is not an AS number (1 to 4294967295)")


def _remote_as(value: object) -> RemoteAs:
    if value in ("internal", "external"):
        return value
    if isinstance(value, int) and 0 < value < 2**32:
        return value
    raise ConfigError(f"remote-as {value!r}: an AS number, 'internal' or 'external'")


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdSettings:
    """BFD (RFC 5880/5881) for a neighbor: its session going Down closes the BGP session at once
    (Cease/10, RFC 9384).

    Attributes:
        interval_ms: our desired min TX and required min RX, in milliseconds (at least 10).
        multiplier: our Detect Mult (1..255).
        strict: the BGP session may establish only while BFD is Up (FRR's strict mode).
    """

    interval_ms: int = 300
    multiplier: int = 3
    strict: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.interval_ms, bool) or not isinstance(self.interval_ms, int) or self.interval_ms < 10:
            raise ConfigError(f"bfd interval_ms must be an integer of at least 10, not {self.interval_ms!r}")
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int) or not 1 <= self.multiplier <= 255:
            raise ConfigError(f"bfd multiplier must be an integer from 1 to 255, not {self.multiplier!r}")
        if not isinstance(self.strict, bool):
            raise ConfigError(f"bfd strict must be true or false, not {self.strict!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborConfig:
    """One configured neighbor (or the template of a listen range).

    Attributes:
        address: the peer's IP address; IPv6 link-local needs ``interface``.
        remote_as: an AS number, ``"internal"`` or ``"external"``.
        local_as / router_id: override the speaker's.
        interface: for link-local peers: the interface (its scope) that identifies the session.
        port: TCP port of the peer (outgoing connections).
        hold_time_s: proposed hold time (0, or at least 3).
        families: (AFI, SAFI) pairs to negotiate.
        passive: never connect out; wait for the peer.
        password: TCP-MD5 key (RFC 2385), set on the listener and on outgoing sockets.
        ttl_security_hops: GTSM (RFC 5082): send with TTL 255, accept only TTL >= 256 - hops.
        source_address: bind outgoing connections to this address.
        next_hop_ipv4 / next_hop_ipv6: next hop we announce for that address family when the
            session's own local address is of the other family.
        rr_client: the neighbor is a route-reflector client (RFC 4456).
        next_hop_self: we set ourselves as next hop on routes sent to it.
        import_policy / export_policy: route policies (``bgpcore.policy``) applied to routes
            received from / sent to it.
        soft_reconfiguration: keep its routes as received, before import policy.
        max_prefix: most prefixes accepted from it; ``max_prefix_action`` says what crossing
            the limit does (Cease/1 and stay down, Cease/1 and restart after
            ``max_prefix_restart_s``, or a warning only).
        hostname: our host name sent in the FQDN capability (the router sends the system's
            host name when None; "" sends none).
        bfd: run BFD with the neighbor (``BfdSettings``); None: no BFD.
        unnegotiated_family: routes of a family the session did not negotiate are ``"ignore"``d
            with a log line, or ``"reset"`` the session (RFC 4760 §7).
    """

    address: str
    remote_as: RemoteAs
    local_as: int | None = None
    router_id: str | None = None
    interface: str | None = None
    port: int = 179
    hold_time_s: int = 90
    min_hold_time_s: int = 3
    families: tuple[Family, ...] = (IPV4_UNICAST, IPV6_UNICAST)
    description: str = ""
    passive: bool = False
    password: str | None = None
    ttl_security_hops: int | None = None
    source_address: str | None = None
    route_refresh: bool = True
    enhanced_route_refresh: bool = True
    extended_message: bool = False
    extended_nexthop: tuple[Family, ...] = ()
    addpath: tuple[tuple[int, int, int], ...] = ()
    graceful_restart_time_s: int | None = None
    hostname: str | None = None
    required_capabilities: tuple[int, ...] = ()
    next_hop_ipv4: str | None = None
    next_hop_ipv6: str | None = None
    timers: TimerSettings = field(default_factory=TimerSettings)
    rr_client: bool = False
    next_hop_self: bool = False
    import_policy: RoutePolicy | None = None
    export_policy: RoutePolicy | None = None
    soft_reconfiguration: bool = False
    max_prefix: int | None = None
    max_prefix_action: MaxPrefixAction = MaxPrefixAction.SHUTDOWN
    max_prefix_restart_s: float = 60.0
    bfd: BfdSettings | None = None
    unnegotiated_family: str = "ignore"

    def __post_init__(self) -> None:
        _check_ip(self.address, "neighbor address")
        what = f"neighbor {self.address}"
        try:
            _remote_as(self.remote_as)
        except ConfigError as exc:
            raise ConfigError(f"{what}: {exc}") from None
        if self.local_as is not None:
            _check_asn(self.local_as, f"{what}: local_as")
        if self.router_id is not None:
            _check_router_id(self.router_id, f"{what}: router_id")
        if not 0 < self.port < 65536:
            raise ConfigError(f"{what}: port {self.port!r} is not a TCP port")
        if self.hold_time_s in (1, 2) or not 0 <= self.hold_time_s <= 65535:
            raise ConfigError(f"{what}: hold_time_s must be 0 or 3..65535, not {self.hold_time_s!r}")
        for name, value in (("source_address", self.source_address), ("next_hop_ipv4", self.next_hop_ipv4),
                            ("next_hop_ipv6", self.next_hop_ipv6)):
            if value is not None:
                _check_ip(value, f"{what}: {name}")
        if self.max_prefix is not None and (isinstance(self.max_prefix, bool) or not isinstance(self.max_prefix, int)
                                            or self.max_prefix < 1):
            raise ConfigError(f"{what}: max_prefix must be a positive integer, not {self.max_prefix!r}")
        if not self.max_prefix_restart_s > 0:
            raise ConfigError(f"{what}: max_prefix_restart_s must be positive")
        if self.password is not None and len(self.password.encode()) > 80:
            raise ConfigError(f"neighbor {self.address}: TCP-MD5 password longer than 80 octets")
        if self.ttl_security_hops is not None and not 1 <= self.ttl_security_hops <= 254:
            raise ConfigError(f"neighbor {self.address}: ttl-security hops must be 1..254")
        if self.unnegotiated_family not in ("ignore", "reset"):
            raise ConfigError(f"{what}: unnegotiated_family must be 'ignore' or 'reset', not {self.unnegotiated_family!r}")
        if self.bfd is not None and not isinstance(self.bfd, BfdSettings):
            raise ConfigError(f"{what}: bfd must be BfdSettings or None, not {self.bfd!r}")

    @property
    def key(self) -> NeighborKey:
        return neighbor_key(self.address, self.interface)

    def open_policy(self, local_as: int, router_id: str) -> OpenPolicy:
        """The OPEN side of this neighbor, given the speaker's defaults."""
        return OpenPolicy(
            local_as=self.local_as or local_as, router_id=self.router_id or router_id, remote_as=self.remote_as,
            hold_time_s=self.hold_time_s, min_hold_time_s=self.min_hold_time_s, families=self.families,
            route_refresh=self.route_refresh, enhanced_route_refresh=self.enhanced_route_refresh,
            extended_message=self.extended_message, extended_nexthop=self.extended_nexthop, addpath=self.addpath,
            graceful_restart_time_s=self.graceful_restart_time_s, hostname=self.hostname,
            required=self.required_capabilities, reset_unnegotiated=self.unnegotiated_family == "reset",
        )


def neighbor_key(address: str, interface: str | None = None) -> NeighborKey:
    """Canonical identity of a neighbor; the interface counts only for link-local addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    scoped = isinstance(ip, ipaddress.IPv6Address) and ip.is_link_local
    return str(ip), (interface if scoped else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenRange:
    """Accept any peer inside ``prefix``, configured from ``template`` (address replaced)."""

    prefix: str
    template: NeighborConfig

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_network(self.prefix)
        except ValueError as exc:
            raise ConfigError(f"listen range {self.prefix!r}: {exc}") from None

    def matches(self, address: str) -> bool:
        net = ipaddress.ip_network(self.prefix)
        ip = ipaddress.ip_address(address)
        return ip.version == net.version and ip in net


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakerConfig:
    """The speaker: our AS and identifier, where to listen, and the neighbors.

    Attributes:
        listen: (address, port) pairs to accept connections on; port 0 picks a free port.
            Empty: accept nothing (every neighbor then connects out).
    """

    local_as: int
    router_id: str
    listen: tuple[tuple[str, int], ...] = (("0.0.0.0", 179), ("::", 179))
    neighbors: tuple[NeighborConfig, ...] = ()
    listen_ranges: tuple[ListenRange, ...] = ()
    event_queue_size: int = 10000
    limits: SpeakerLimits = field(default_factory=SpeakerLimits)
    """Per-neighbor quotas (connections, queued output, accept back-off): ``SpeakerLimits``."""

    def __post_init__(self) -> None:
        _check_asn(self.local_as, "speaker local_as")
        _check_router_id(self.router_id, "speaker router_id")
        for address, port in self.listen:
            _check_ip(address, "speaker listen")
            if not 0 <= port < 65536:
                raise ConfigError(f"speaker listen: port {port!r} is not a TCP port")


_NEIGHBOR_FIELDS = {f.name for f in fields(NeighborConfig)}
_TIMER_FIELDS = {f.name for f in fields(TimerSettings)}


def neighbor_from_dict(data: Mapping[str, Any]) -> NeighborConfig:
    """A ``NeighborConfig`` from JSON-like data (families by name, e.g. ``"ipv6-unicast"``)."""
    unknown = set(data) - _NEIGHBOR_FIELDS
    if unknown:
        raise ConfigError(f"neighbor {data.get('address')}: unknown keys {sorted(unknown)}")
    values = dict(data)
    for key in ("families", "extended_nexthop"):
        if key in values:
            values[key] = tuple(family_from_name(n) if isinstance(n, str) else tuple(n) for n in values[key])
    if "addpath" in values:
        values["addpath"] = tuple(tuple(e) for e in values["addpath"])
    if "required_capabilities" in values:
        values["required_capabilities"] = tuple(values["required_capabilities"])
    if "timers" in values:
        bad = set(values["timers"]) - _TIMER_FIELDS
        if bad:
            raise ConfigError(f"neighbor {data.get('address')}: unknown timer keys {sorted(bad)}")
        values["timers"] = TimerSettings(**values["timers"])
    if "bfd" in values:
        bfd = values["bfd"]
        try:
            values["bfd"] = (BfdSettings() if bfd is True else None if bfd in (False, None)
                             else BfdSettings(**bfd))
        except TypeError as exc:
            raise ConfigError(f"neighbor {data.get('address')}: bfd: {exc}") from None
    try:
        return NeighborConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"neighbor {data.get('address')}: {exc}") from None


def speaker_config_from_dict(data: Mapping[str, Any]) -> SpeakerConfig:
    """A ``SpeakerConfig`` from JSON-like data (as the interop runner reads it)."""
    ranges = tuple(ListenRange(prefix=r["prefix"], template=neighbor_from_dict({"address": r["prefix"].split("/")[0],
                                                                               **r.get("template", {})}))
                   for r in data.get("listen_ranges", ()))
    return SpeakerConfig(
        local_as=int(data["local_as"]), router_id=str(data["router_id"]),
        listen=tuple((str(a), int(p)) for a, p in data.get("listen", (("0.0.0.0", 179), ("::", 179)))),
        neighbors=tuple(neighbor_from_dict(n) for n in data.get("neighbors", ())),
        listen_ranges=ranges,
    )
