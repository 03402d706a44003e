"""Kernel FIB over rtnetlink: routes, nexthop objects, links, addresses and neighbours.

``install.Fib`` keeps the kernel's proto-bgp routes equal to the best paths; ``kernel`` has the
socket and the link/address/neighbour calls that unnumbered discovery uses; ``netlink`` is bytes
only; ``policy`` chooses which prefixes reach the kernel.
"""
from bgpcore.fib.install import Fib
from bgpcore.fib.routes import ApplyResult, FibRoute, NextHop, format_fib, show_fib
from bgpcore.fib.kernel import LinkMonitor, NetlinkSocket, addresses, list_links, list_neighbours
from bgpcore.fib.policy import INSTALL_ALL, INSTALL_NONE, PrefixFilter

__all__ = [
    "ApplyResult", "Fib", "FibRoute", "NextHop", "format_fib", "show_fib",
    "LinkMonitor", "NetlinkSocket", "addresses", "list_links", "list_neighbours",
    "INSTALL_ALL", "INSTALL_NONE", "PrefixFilter",
]
