"""What a router is made of: the speaker's settings plus the RIB, the FIB, unnumbered
interfaces and the networks it originates. Checked when built: a bad value raises
``ConfigError`` naming the field.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from bgpcore.discovery.unnumbered import InterfacePeering
from bgpcore.errors import ConfigError
from bgpcore.fib.policy import FibPolicy
from bgpcore.rib.decision import DEFAULT_OPTIONS, DecisionOptions
from bgpcore.transport.config import ListenRange, NeighborConfig, SpeakerConfig
from bgpcore.transport.limits import DEFAULT_LIMITS, SpeakerLimits
from bgpcore.transport.neighbor import family_key
from bgpcore.wire.types import PathAttributes


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """A prefix the router originates (FRR's ``network``).

    Attributes:
        prefix: ``"198.51.100.0/24"``; host bits must be zero.
        next_hop: the next hop to announce; None sends each peer our own address.
        attributes: ORIGIN, communities, MED... (ORIGIN defaults to IGP).
    """

    prefix: str
    next_hop: str | None = None
    attributes: PathAttributes = field(default_factory=PathAttributes)

    def __post_init__(self) -> None:
        try:
            family_key(self.prefix)
        except Exception as exc:  # UsageError: name the field
            raise ConfigError(f"network {self.prefix!r}: {exc}") from None
        if self.next_hop is not None:
            try:
                ipaddress.ip_address(self.next_hop)
            except ValueError:
                raise ConfigError(f"network {self.prefix}: next_hop {self.next_hop!r} is not an IP address") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class FibConfig:
    """Install best paths into the kernel's routing table over netlink.

    Attributes:
        table: routing table id (254 is main).
        metric: route priority of our routes.
        policy: which prefixes are installed (``bgpcore.fib.INSTALL_ALL``, ``PrefixFilter``...).
        keep_on_stop: leave the routes in the kernel when the router stops (graceful restart).
    """

    table: int = 254
    metric: int = 20
    policy: FibPolicy | None = None
    keep_on_stop: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.table < 2**32:
            raise ConfigError(f"fib table {self.table!r} is not a routing table id")
        if not 0 <= self.metric < 2**32:
            raise ConfigError(f"fib metric {self.metric!r} out of range")


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterConfig:
    """One BGP router: a route reflector, a fabric node, or anything between.

    Attributes:
        local_as / router_id: our AS and BGP identifier (an IPv4 address).
        cluster_id: route-reflection cluster id (default: the router id).
        listen: (address, port) pairs to accept connections on; port 0 picks a free port.
        neighbors: configured neighbors (``NeighborConfig`` holds RR client, policies, limits).
        listen_ranges: dynamic neighbors accepted from a prefix.
        interfaces: unnumbered peering: one neighbor per matching interface, found by its
            Router Advertisements (as FRR's ``neighbor swp1 interface``).
        networks: prefixes we originate.
        fib: install best paths into the kernel; None installs nothing (a route reflector).
        decision: best-path options (multipath, MED handling).
        shards: RIB shards; more than one runs the Loc-RIB in worker processes.
        track_changes: compute best-path changes (needed by the FIB and best-path events;
            a pure route reflector turns it off to save time).
        stale_path_time_s: graceful restart: how long a returning peer's stale routes wait for End-of-RIB.
        ra_interval_s: Router Advertisement interval on unnumbered interfaces.
        transit: the node forwards between its links (checked in the kernel's sysctls).
        event_queue_size: events kept for a subscriber that does not keep up.
        limits: what one neighbor may cost the speaker (connections, queued output, accept
            back-off): ``SpeakerLimits``, passed to the speaker.
    """

    local_as: int
    router_id: str
    cluster_id: str | None = None
    listen: tuple[tuple[str, int], ...] = (("0.0.0.0", 179), ("::", 179))
    neighbors: tuple[NeighborConfig, ...] = ()
    listen_ranges: tuple[ListenRange, ...] = ()
    interfaces: tuple[InterfacePeering, ...] = ()
    networks: tuple[Network, ...] = ()
    fib: FibConfig | None = None
    decision: DecisionOptions = DEFAULT_OPTIONS
    shards: int = 1
    track_changes: bool = True
    stale_path_time_s: float = 360.0
    ra_interval_s: float = 10.0
    transit: bool = False
    event_queue_size: int = 10000
    limits: SpeakerLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        self.speaker_config()  # checks AS, router id, listen addresses and neighbors
        if self.cluster_id is not None:
            try:
                ipaddress.IPv4Address(self.cluster_id)
            except ValueError:
                raise ConfigError(f"cluster_id {self.cluster_id!r} is not an IPv4 address") from None
        if isinstance(self.shards, bool) or not isinstance(self.shards, int) or not 1 <= self.shards <= 64:
            raise ConfigError(f"shards must be 1..64, not {self.shards!r}")
        if self.ra_interval_s <= 0:
            raise ConfigError("ra_interval_s must be positive")
        seen: set[str] = set()
        for network in self.networks:
            if network.prefix in seen:
                raise ConfigError(f"network {network.prefix} is listed twice")
            seen.add(network.prefix)

    def speaker_config(self) -> SpeakerConfig:
        """The transport's part of this configuration."""
        return SpeakerConfig(local_as=self.local_as, router_id=self.router_id, listen=self.listen,
                             neighbors=self.neighbors, listen_ranges=self.listen_ranges,
                             event_queue_size=self.event_queue_size, limits=self.limits)
