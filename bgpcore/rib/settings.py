"""Settings of the RIB and of each peer as the RIB sees it: plain frozen values."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from bgpcore.policy.hooks import RoutePolicy
from bgpcore.rib.adj_out import AddPathSelect
from bgpcore.rib.decision import DEFAULT_OPTIONS, DecisionOptions
from bgpcore.wire.context import DEFAULT_CONTEXT, IPV4_UNICAST, CodecContext, Family


class MaxPrefixAction(IntEnum):
    """What exceeding a neighbor's maximum-prefix limit does.

    WARNING_ONLY: log one warning line, keep the session and its routes.
    RESTART: close the session with Cease/1 (RFC 4486); the speaker opens it again after
        ``max_prefix_restart_s``.
    SHUTDOWN: close the session with Cease/1; it stays down until an operator clears it.
    """

    WARNING_ONLY = 0
    RESTART = 1
    SHUTDOWN = 2


@dataclass(frozen=True, slots=True)
class RibConfig:
    """Speaker-wide RIB settings.

    Attributes:
        shards: RIB shards (worker processes when > 1); None means one per CPU.
        track_changes: build ``BestChange`` lists (a FIB needs them; a pure route
            reflector can turn them off).
        stale_path_time_s: how long a restarted peer's routes stay stale waiting for
            End-of-RIB once the session is back (RFC 4724 §4.2).
        lag_limit_bytes: unread shared output after which a slow member catches up alone.
        start_method: multiprocessing start method of shard workers, or ``"inline"`` to
            run every shard in this process (same results, no parallelism: for tests).
        rounds_in_background: with shard workers, update-group rounds are planned while the
            caller goes on: ``next_messages`` returns what is ready, ``pending`` stays true
            while a round is out, and the caller calls ``Rib.poll`` when one of
            ``Rib.shard_fds`` is readable (the router does). Off: each round is waited for.
    """

    local_asn: int
    router_id: str
    cluster_id: str | None = None
    decision: DecisionOptions = DEFAULT_OPTIONS
    shards: int | None = None
    track_changes: bool = True
    stale_path_time_s: float = 360.0
    lag_limit_bytes: int = 16 << 20
    start_method: str = "spawn"
    rounds_in_background: bool = False


@dataclass(frozen=True, slots=True)
class RibPeer:
    """One established session as the RIB needs it.

    Attributes:
        asn, router_id, address: the neighbor's AS, BGP identifier and address.
        local_address: our address on the session (next hop when we set it);
            ``local_address6`` our IPv6 next hop for IPv6 families over an IPv4 session;
            ``local_next_hop`` our next hop for every family when set (unnumbered sessions:
            link-local, or global + link-local; IPv4 routes then need RFC 8950).
        rr_client: the neighbor is a route-reflector client.
        send_ctx / recv_ctx: the codec contexts negotiated per direction.
        families: the (AFI, SAFI) pairs negotiated.
        addpath_select: which paths go to the neighbor where ADD-PATH send was negotiated.
        import_policy / export_policy: see ``bgpcore.policy.hooks.RoutePolicy``.
        soft_reconfiguration: keep received routes before import policy.
        max_prefix / max_prefix_action: the limit on accepted prefixes and what it does.
        max_prefix_restart_s: with ``MaxPrefixAction.RESTART``, how long the session stays
            down before the speaker re-establishes it.
        restart_time_s: the neighbor's graceful-restart time (None: no graceful restart).
    """

    asn: int
    router_id: str
    address: str
    local_address: str
    local_address6: str | None = None
    local_next_hop: tuple[str, ...] = ()
    rr_client: bool = False
    send_ctx: CodecContext = DEFAULT_CONTEXT
    recv_ctx: CodecContext = DEFAULT_CONTEXT
    families: frozenset[Family] = field(default_factory=lambda: frozenset({IPV4_UNICAST}))
    addpath_select: AddPathSelect = AddPathSelect.MULTIPATH
    import_policy: RoutePolicy | None = None
    export_policy: RoutePolicy | None = None
    next_hop_self: bool = False
    next_hop_self_force: bool = False
    send_med: bool = False
    soft_reconfiguration: bool = False
    max_prefix: int | None = None
    max_prefix_action: MaxPrefixAction = MaxPrefixAction.WARNING_ONLY
    max_prefix_restart_s: float = 60.0
    restart_time_s: float | None = None
