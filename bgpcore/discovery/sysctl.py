"""Kernel settings unnumbered peering depends on, checked before the first advertisement is sent.

Wrong values do not fail loudly on their own: with IPv6 disabled there is no link-local
address to peer from; a kernel that accepts the peer's Router Advertisements installs a
default route through every neighbor behind BGP's back; and a transit node without IPv4
forwarding drops the very traffic its routes attract. Each problem names the sysctl to change.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Final, Iterable

from bgpcore.errors import ConfigError

PROC_SYS: Final = Path("/proc/sys")

Reader = Callable[[str], str | None]
"""Reads a sysctl by dotted name (``net.ipv6.conf.eth1.forwarding``); None when it does not exist."""


def read_proc_sys(name: str) -> str | None:
    """A sysctl's value from ``/proc/sys`` of the calling thread's network namespace."""
    try:
        return (PROC_SYS / name.replace(".", "/")).read_text().strip()
    except OSError:
        return None


def interface_problems(interface: str, *, transit: bool = False, read: Reader = read_proc_sys) -> list[str]:
    """What is wrong on ``interface`` for unnumbered BGP; empty when nothing is.

    Args:
        interface: the interface name (a dot in it, as in VLAN ``eth1.100``, is written as ``/``
            in ``/proc/sys`` and kept as a dot in the sysctl name shown).
        transit: the node forwards IPv4 between its links (a spine or leaf, not a server).
        read: where values come from (tests pass a dict's ``get``).
    """
    conf = f"net.ipv6.conf.{interface.replace('.', '/')}"
    shown = f"net.ipv6.conf.{interface}"

    def value(key: str) -> int | None:
        raw = read(f"{conf}.{key}")
        try:
            return None if raw is None else int(raw.split()[0])
        except (ValueError, IndexError):
            return None

    disabled = value("disable_ipv6")
    if disabled is None:
        return [f"{interface}: no IPv6 settings in /proc/sys (is the interface there, and IPv6 compiled in?)"]
    problems = []
    if disabled:
        problems.append(f"{interface}: IPv6 is disabled, so there is no link-local address to peer from; "
                        f"set {shown}.disable_ipv6=0")
    if value("addr_gen_mode") == 1:
        problems.append(f"{interface}: no link-local address is generated; set {shown}.addr_gen_mode=0")
    accept_ra, forwarding = value("accept_ra"), value("forwarding")
    if accept_ra == 2 or (accept_ra == 1 and not forwarding):
        problems.append(f"{interface}: the kernel accepts the peer's Router Advertisements "
                        f"({shown}.accept_ra={accept_ra}, {shown}.forwarding={forwarding}) and would install a "
                        f"default route through it; set {shown}.forwarding=1 (a router) or {shown}.accept_ra=0")
    if transit:
        ipv4_forwarding = read("net.ipv4.conf.all.forwarding")
        if ipv4_forwarding is not None and ipv4_forwarding.strip() != "1":
            problems.append("IPv4 forwarding is off, so routes learned over IPv6 next hops attract traffic that is "
                            "dropped; set net.ipv4.conf.all.forwarding=1 (net.ipv4.ip_forward=1)")
    return problems


def check_interfaces(interfaces: Iterable[str], *, transit: bool = False, read: Reader = read_proc_sys) -> None:
    """Raise when any interface is set up wrongly for unnumbered BGP.

    Raises:
        ConfigError: one line per problem, each naming the sysctl and the value to set.
    """
    problems: list[str] = []
    for interface in interfaces:
        for problem in interface_problems(interface, transit=transit, read=read):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise ConfigError("unnumbered BGP cannot run with these kernel settings:\n  " + "\n  ".join(problems))


__all__ = ["check_interfaces", "interface_problems", "read_proc_sys"]
