"""``bgpcore reload`` and SIGHUP: apply the difference between two configurations.

``plan_reload(old, new)`` compares two checked configurations and says what to do, as data;
``apply_reload(router, plan)`` does it on a running router:

* a neighbor that appears is added and comes up; one that disappears gets Cease/Peer
  De-configured (RFC 4486 subcode 3) and is forgotten;
* a neighbor whose settings changed goes through ``Router.update_neighbor``: a new import
  policy is applied by soft reconfiguration inbound (stored Adj-RIB-In, else ROUTE-REFRESH),
  a new export policy, RR-client flag or next-hop-self by sending its routes again; other
  session settings restart that one neighbor;
* ``[[networks]]`` added, removed or changed are announced or withdrawn;
* everything else (AS, router id, listeners, decision options, FIB, interfaces, listen
  ranges, the control socket...) needs a restart: it is listed in ``not_applied`` and left
  as it runs.

Sessions whose configuration did not change are not touched. A configuration that does not
load is reported and changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields

from bgpcore.program.config import ProgramConfig
from bgpcore.router.config import Network, RouterConfig
from bgpcore.router.core import Router
from bgpcore.transport.config import NeighborConfig, NeighborKey
from bgpcore.transport.neighbor import peer_key_of

log = logging.getLogger("bgpcore.reload")

_APPLIED_ROUTER_FIELDS = frozenset({"neighbors", "networks"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadPlan:
    """What differs between the running configuration and the new one.

    Attributes:
        added / removed / changed: neighbors (``changed`` holds the new configurations).
        announce / withdraw: networks to originate (again) and to stop originating.
        not_applied: settings that changed but need a restart, as ``table.key`` names.
    """

    added: tuple[NeighborConfig, ...] = ()
    removed: tuple[NeighborKey, ...] = ()
    changed: tuple[NeighborConfig, ...] = ()
    announce: tuple[Network, ...] = ()
    withdraw: tuple[str, ...] = ()
    not_applied: tuple[str, ...] = ()


def plan_reload(old: ProgramConfig, new: ProgramConfig) -> ReloadPlan:
    """The difference between ``old`` (running) and ``new``, as a plan."""
    before = {n.key: n for n in old.router.neighbors}
    after = {n.key: n for n in new.router.neighbors}
    nets_before = {n.prefix: n for n in old.router.networks}
    nets_after = {n.prefix: n for n in new.router.networks}
    not_applied = [f"speaker.{f.name}" for f in fields(RouterConfig)
                   if f.name not in _APPLIED_ROUTER_FIELDS and getattr(old.router, f.name) != getattr(new.router, f.name)]
    not_applied += [f.name for f in fields(ProgramConfig)
                    if f.name not in ("router", "source") and getattr(old, f.name) != getattr(new, f.name)]
    return ReloadPlan(
        added=tuple(n for k, n in after.items() if k not in before),
        removed=tuple(k for k in before if k not in after),
        changed=tuple(n for k, n in after.items() if k in before and before[k] != n),
        announce=tuple(n for p, n in nets_after.items() if nets_before.get(p) != n),
        withdraw=tuple(p for p in nets_before if p not in nets_after),
        not_applied=tuple(not_applied),
    )


def apply_reload(router: Router, plan: ReloadPlan) -> dict[str, object]:
    """Do ``plan`` on a running router; returns what was done, for the control socket's answer."""
    removed = []
    for key in plan.removed:
        peer = peer_key_of(key)
        router.remove_neighbor(peer, "removed from the configuration")
        removed.append(peer)
    added = [router.add_neighbor(config) for config in plan.added]
    changed: dict[str, list[str]] = {}
    for config in plan.changed:
        changed[peer_key_of(config.key)] = sorted(router.update_neighbor(config))
    for prefix in plan.withdraw:
        router.withdraw(prefix)
    for network in plan.announce:
        router.announce(network.prefix, next_hop=network.next_hop, attributes=network.attributes)
    for name in plan.not_applied:
        log.warning("reload: %s changed: restart bgpcore to apply it", name)
    result: dict[str, object] = {
        "added": added, "removed": removed, "changed": changed,
        "networks_announced": [n.prefix for n in plan.announce], "networks_withdrawn": list(plan.withdraw),
        "not_applied": list(plan.not_applied),
    }
    log.info("reload: %d neighbor(s) added, %d removed, %d changed, %d network(s) announced, %d withdrawn",
             len(added), len(removed), len(changed), len(plan.announce), len(plan.withdraw))
    return result


__all__ = ["ReloadPlan", "apply_reload", "plan_reload"]
