"""RIB: Adj-RIB-In, decision, route reflection, Loc-RIB, update groups, shards.

``Rib`` (in ``manager``) is the seam the speaker calls; see its module docstring.
"""
from bgpcore.rib.actions import CeasePeer, PeerAction
from bgpcore.rib.adj_out import AddPathSelect, ExportSpec
from bgpcore.rib.decision import DecisionOptions, Reason
from bgpcore.rib.manager import MaxPrefixAction, Rib, RibConfig, RibPeer

__all__ = ["AddPathSelect", "CeasePeer", "DecisionOptions", "ExportSpec", "MaxPrefixAction", "PeerAction", "Reason",
           "Rib", "RibConfig", "RibPeer"]
