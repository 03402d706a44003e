"""Route reflection (RFC 4456) and the export rules around it, as pure functions.

These decide, per attribute set and target kind, whether a path may be advertised and with
which attributes and next hop. They run once per (update group, path), never per prefix.

Rules (RFC 4456 §6): a path learned from an eBGP peer or originated locally goes to every
peer; a path from an iBGP client goes to every peer; a path from an iBGP non-client goes to
clients and eBGP peers only. When an iBGP path goes to an iBGP peer (reflection) the
reflector sets ORIGINATOR_ID if absent and prepends its CLUSTER_ID to CLUSTER_LIST, and keeps
the next hop. Well-known communities (RFC 1997) restrict advertisement further.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Final

from bgpcore.constants import WellKnownCommunity
from bgpcore.route import Path, Source, prepend_as
from bgpcore.wire.types import PathAttributes


def may_reflect(source: Source, target_ebgp: bool, target_client: bool) -> bool:
    """RFC 4456 §6: may a path from ``source`` go to a peer of this kind at all."""
    if source.local or source.ebgp or target_ebgp:
        return True
    return source.rr_client or target_client


def may_export_communities(communities: tuple[int, ...], target_ebgp: bool) -> bool:
    """RFC 1997: NO_ADVERTISE stops every advertisement, NO_EXPORT and
    NO_EXPORT_SUBCONFED stop advertisement to eBGP peers (no confederations here)."""
    if not communities:
        return True
    if WellKnownCommunity.NO_ADVERTISE in communities:
        return False
    if target_ebgp and (WellKnownCommunity.NO_EXPORT in communities
                        or WellKnownCommunity.NO_EXPORT_SUBCONFED in communities):
        return False
    return True


def may_advertise(path: Path, target_ebgp: bool, target_client: bool) -> bool:
    """Whether ``path`` may be sent to a peer of this kind (reflection and communities)."""
    return may_reflect(path.source, target_ebgp, target_client) and may_export_communities(
        path.attrs.communities, target_ebgp)


def is_reflected(source: Source, target_ebgp: bool) -> bool:
    """A path goes from one iBGP peer to another: the reflector rules for attributes apply."""
    return not (source.local or source.ebgp or target_ebgp)


def loop_reason(attrs: PathAttributes, source: Source, router_id: str, cluster_id: str, local_asn: int) -> str | None:
    """Why a received attribute set must be dropped as a loop, or None.

    RFC 4456 §8: our router id as ORIGINATOR_ID or our cluster id in CLUSTER_LIST;
    RFC 4271 §9.1.2: our AS in the AS_PATH of a path from an eBGP peer.
    """
    if attrs.originator_id is not None and attrs.originator_id == router_id:
        return f"ORIGINATOR_ID {router_id} is our router id"
    if cluster_id in attrs.cluster_list:
        return f"CLUSTER_LIST {' '.join(attrs.cluster_list)} carries our cluster id {cluster_id}"
    if source.ebgp:
        for _, asns in attrs.as_path:
            if local_asn in asns:
                return f"AS_PATH carries our AS {local_asn}"
    return None


_ORIGINATOR: Final = PathAttributes._fields.index("originator_id")
_CLUSTER_LIST: Final = PathAttributes._fields.index("cluster_list")
_NEXT_HOP: Final = PathAttributes._fields.index("next_hop")
assert _CLUSTER_LIST == _ORIGINATOR + 1


def reflected_attributes(attrs: PathAttributes, source: Source, cluster_id: str) -> PathAttributes:
    """RFC 4456 §8: ORIGINATOR_ID set to the sender's router id if absent, CLUSTER_ID prepended.

    The NEXT_HOP field is cleared: the next hop travels beside the attributes on export.
    (Built by slicing, not ``_replace``: this runs once per reflected attribute set.)
    """
    values = list(attrs)
    values[_NEXT_HOP] = None
    values[_ORIGINATOR] = attrs.originator_id or source.router_id
    values[_CLUSTER_LIST] = (cluster_id, *attrs.cluster_list) if attrs.cluster_list else _cluster_alone(cluster_id)
    return PathAttributes._make(values)


@lru_cache(maxsize=16)
def _cluster_alone(cluster_id: str) -> tuple[str]:
    """The CLUSTER_LIST of a path reflected once: one tuple shared by every such attribute set
    (a full table has hundreds of thousands of them)."""
    return (cluster_id,)


def ebgp_export_attributes(attrs: PathAttributes, local_asn: int, send_med: bool = False) -> PathAttributes:
    """What an eBGP peer receives: our AS prepended, LOCAL_PREF and the reflection
    attributes removed (they are iBGP-only), MED removed unless ``send_med``."""
    return attrs._replace(
        as_path=prepend_as(attrs.as_path, local_asn),
        local_pref=None,
        med=attrs.med if send_med else None,
        originator_id=None,
        cluster_list=(),
    )


def ibgp_export_attributes(attrs: PathAttributes, default_local_pref: int) -> PathAttributes:
    """What an iBGP peer receives of an eBGP-learned or local path: LOCAL_PREF always present."""
    if attrs.local_pref is not None:
        return attrs
    return attrs._replace(local_pref=default_local_pref)


def export_next_hop(path: Path, target_ebgp: bool, self_next_hop: tuple[str, ...],
                    next_hop_self: bool = False, force: bool = False) -> tuple[str, ...]:
    """Next hop towards a target peer.

    eBGP targets and locally originated paths without a next hop get ``self_next_hop``;
    ``next_hop_self`` rewrites paths learned over eBGP; ``force`` also rewrites reflected
    iBGP paths (which otherwise keep their next hop, RFC 4456 §10).
    """
    if target_ebgp or not path.next_hop:
        return self_next_hop
    if force or (next_hop_self and not is_reflected(path.source, target_ebgp)):
        return self_next_hop
    return path.next_hop
