"""The router: one composition root for sessions, RIB, FIB, unnumbered discovery and events."""
from bgpcore.router.config import FibConfig, Network, RouterConfig
from bgpcore.router.core import Router
from bgpcore.router.events import (
    BestPathChanged,
    BestPathWithdrawn,
    PeerDown,
    PeerUp,
    RouteReceived,
    RouterEvent,
    RouterEvents,
)

__all__ = ["BestPathChanged", "BestPathWithdrawn", "FibConfig", "Network", "PeerDown", "PeerUp", "RouteReceived",
           "Router", "RouterConfig", "RouterEvent", "RouterEvents"]
