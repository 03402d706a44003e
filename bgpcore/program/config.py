"""The ``bgpcore run`` TOML configuration, checked with errors that name file, line and key.

Every key is described in docs/configuration.md. In short::

    [speaker]                           # asn, router_id, cluster_id, listen, port, shards, ...
    [decision]                          # maximum_paths, multipath_relax, MED options
    [fib]                               # install best paths in the kernel (table, metric, install)
    [[networks]]                        # prefixes to originate
    [[policy]] / [[policy.term]]        # named route policies (bgpcore.program.policy_config)
    [[peer_group]]                      # neighbor settings shared by name
    [[neighbor]]                        # a neighbor by address
    [[interfaces]]                      # unnumbered peering on interfaces by name or pattern
    [[listen_range]]                    # dynamic neighbors from a prefix
    [limits]                            # what one neighbor may cost (connections, queued output)

tomllib reports syntax errors with line and column; the checks here find the offending key's
line in the text, so ``rr.toml:12: neighbor[2].asn: ...`` points at the line to fix.
"""
from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from bgpcore.constants import Afi, Origin, Safi
from bgpcore.discovery.unnumbered import InterfacePeering
from bgpcore.errors import ConfigError
from bgpcore.fib.policy import INSTALL_ALL, PrefixFilter
from bgpcore.policy.builtins import Policy, parse_community
from bgpcore.program.ops_config import OPS_TABLES, OpsConfig, build_ops
from bgpcore.program.policy_config import Fail, build_policy
from bgpcore.rib.decision import DecisionOptions
from bgpcore.rib.manager import MaxPrefixAction
from bgpcore.router.config import FibConfig, Network, RouterConfig
from bgpcore.session.timers import TimerSettings
from bgpcore.transport.config import BfdSettings, ListenRange, NeighborConfig, family_from_name, neighbor_key
from bgpcore.transport.limits import SpeakerLimits
from bgpcore.wire.types import PathAttributes

DEFAULT_CONTROL_SOCKET: Final = "/run/bgpcore.sock"

_TABLES: Final = ("speaker", "decision", "fib", "networks", "policy", "peer_group", "neighbor", "interfaces",
                  "listen_range", "limits", *OPS_TABLES)
_SPEAKER_KEYS: Final = {"asn", "router_id", "cluster_id", "listen", "port", "shards", "control_socket", "hold_time",
                        "track_changes", "ra_interval", "transit", "stale_path_time"}
_DECISION_KEYS: Final = {"maximum_paths", "multipath_relax", "always_compare_med", "deterministic_med",
                         "med_missing_as_worst", "default_local_pref"}
_FIB_KEYS: Final = {"enabled", "table", "metric", "install", "keep_on_stop"}
_NETWORK_KEYS: Final = {"prefix", "next_hop", "origin", "communities", "med", "local_pref"}
_SESSION_KEYS: Final = {"asn", "description", "passive", "port", "families", "hold_time", "connect_retry",
                        "source_address", "password", "rr_client", "next_hop_self", "import_policy", "export_policy",
                        "max_prefix", "max_prefix_action", "max_prefix_restart", "graceful_restart", "addpath",
                        "extended_nexthop", "soft_reconfiguration", "ttl_security_hops", "hostname", "next_hop_ipv4",
                        "next_hop_ipv6", "local_as", "peer_group", "bfd", "unnegotiated_family"}
_NEIGHBOR_KEYS: Final = _SESSION_KEYS | {"address", "interface"}
_GROUP_KEYS: Final = (_SESSION_KEYS - {"peer_group"}) | {"name"}
_INTERFACE_KEYS: Final = (_SESSION_KEYS - {"port", "source_address", "password"}) | {"names"}
_RANGE_KEYS: Final = _SESSION_KEYS | {"prefix"}
_ORIGINS: Final = {"igp": Origin.IGP, "egp": Origin.EGP, "incomplete": Origin.INCOMPLETE}
_MAX_PREFIX_ACTIONS: Final = {"shutdown": MaxPrefixAction.SHUTDOWN, "restart": MaxPrefixAction.RESTART,
                              "warning-only": MaxPrefixAction.WARNING_ONLY}
_ADDPATH_MODES: Final = {"receive": 1, "send": 2, "both": 3}
_BFD_KEYS: Final = {"interval_ms", "multiplier", "strict"}
# [limits]: SpeakerLimits fields (durations without their _s suffix, as elsewhere in the file)
_LIMITS_KEYS: Final = {"connections_per_neighbor": (1, 64), "max_queued_bytes": (65536, 2**40),
                       "slow_peer_restart": (0.1, 86400), "close_timeout": (0.1, 3600), "accept_backoff": (0.01, 3600),
                       "log_interval": (0.1, 86400)}


@dataclass(frozen=True, slots=True)
class ProgramConfig:
    """What ``bgpcore run`` needs: the router and where its control socket is.

    Attributes:
        router: the router (route reflector, fabric node...).
        control_socket: path of the Unix socket ``bgpcore show`` talks to.
        source: the file it was read from, for messages.
    """

    router: RouterConfig
    control_socket: str
    source: str = "<config>"
    ops: OpsConfig = OpsConfig()


def load_config(path: str | Path) -> ProgramConfig:
    """Read and check a TOML configuration file.

    Raises:
        ConfigError: unreadable file, TOML syntax, or a bad value; the message starts with
            ``file:line:`` and names the key.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<config>") -> ProgramConfig:
    """Check configuration ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return _Checker(text, source).build(data)


class _Checker:
    """Turns the TOML tree into values, raising ``ConfigError`` at the key's line."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.policies: dict[str, Policy] = {}
        self.groups: dict[str, dict[str, Any]] = {}

    def fail(self, table: str, index: int | None, key: str | None, why: str) -> ConfigError:
        line = _line_of(self.lines, table, index, key)
        where = f"{self.source}:{line}" if line else self.source
        name = table if index is None else f"{table}[{index + 1}]"
        return ConfigError(f"{where}: {name}{'.' + key if key else ''}: {why}")

    def failer(self, table: str, index: int | None) -> Fail:
        return lambda key, why: self.fail(table, index, key, why)

    def build(self, data: dict[str, Any]) -> ProgramConfig:
        for key in data:
            if key not in _TABLES:
                raise self.fail(key, None, None, f"unknown table (known: {', '.join(_TABLES)})")
        speaker = data.get("speaker")
        if not isinstance(speaker, dict):
            raise self.fail("speaker", None, None, "missing [speaker] table")
        self._unknown(speaker, _SPEAKER_KEYS, "speaker", None)
        asn = self._asn(speaker, "speaker", None, "asn", required=True)
        router_id = self._ipv4(speaker, "speaker", "router_id", required=True)
        cluster_id = self._ipv4(speaker, "speaker", "cluster_id") or router_id
        port = self._int(speaker, "speaker", None, "port", 179, 0, 65535)
        listen_raw = speaker.get("listen", ["0.0.0.0", "::"])
        if not isinstance(listen_raw, list) or not all(isinstance(a, str) for a in listen_raw):
            raise self.fail("speaker", None, "listen", "a list of addresses")
        for address in listen_raw:
            self._address(address, "speaker", None, "listen")
        shards = self._int(speaker, "speaker", None, "shards", 1, 1, 64)
        hold = self._int(speaker, "speaker", None, "hold_time", 90, 0, 65535)
        control = speaker.get("control_socket", DEFAULT_CONTROL_SOCKET)
        if not isinstance(control, str) or not control:
            raise self.fail("speaker", None, "control_socket", "a path")
        for i, table in enumerate(self._tables(data, "policy")):
            policy_name, policy = build_policy(table, asn, self.failer("policy", i),
                                               lambda t: self.failer("policy.term", None))
            if policy_name in self.policies:
                raise self.fail("policy", i, "name", f"policy {policy_name!r} is defined twice")
            self.policies[policy_name] = policy
        for i, table in enumerate(self._tables(data, "peer_group")):
            self._unknown(table, _GROUP_KEYS, "peer_group", i)
            group = table.get("name")
            if not isinstance(group, str) or not group:
                raise self.fail("peer_group", i, "name", "required: the name neighbors refer to")
            self.groups[group] = {k: v for k, v in table.items() if k != "name"}
        fib = self._fib(data.get("fib"))
        defaults = {"hold_time": hold}
        neighbors: list[NeighborConfig] = []
        seen: dict[tuple[str, str | None], int] = {}
        for i, n in enumerate(self._tables(data, "neighbor")):
            self._unknown(n, _NEIGHBOR_KEYS, "neighbor", i)
            address = n.get("address")
            if not isinstance(address, str):
                raise self.fail("neighbor", i, "address", "required: the neighbor's IP address")
            self._address(address, "neighbor", i, "address")
            interface = self._str(n, "neighbor", i, "interface")
            identity = neighbor_key(address, interface)
            if identity in seen:
                raise self.fail("neighbor", i, "address", f"{address} is already neighbor[{seen[identity] + 1}]")
            seen[identity] = i
            options = self._session(n, "neighbor", i, defaults, asn)
            neighbors.append(self._neighbor_config("neighbor", i, address=address, interface=interface, **options))
        interfaces: list[InterfacePeering] = []
        for i, t in enumerate(self._tables(data, "interfaces")):
            self._unknown(t, _INTERFACE_KEYS, "interfaces", i)
            names = t.get("names")
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not names or not all(isinstance(x, str) and x for x in names):
                raise self.fail("interfaces", i, "names", "required: interface names or patterns, e.g. [\"swp*\"]")
            options = self._session(t, "interfaces", i, {**defaults, "hold_time": 9} if "hold_time" not in speaker
                                    else defaults, asn)
            remote = options.pop("remote_as", "external")
            self._neighbor_config("interfaces", i, address="fe80::1", interface="lo", remote_as=remote, **options)
            interfaces.append(InterfacePeering(interfaces=tuple(names), remote_as=remote, options=options))
        ranges: list[ListenRange] = []
        for i, r in enumerate(self._tables(data, "listen_range")):
            self._unknown(r, _RANGE_KEYS, "listen_range", i)
            prefix = r.get("prefix")
            try:
                net = ipaddress.ip_network(prefix if isinstance(prefix, str) else "")
            except ValueError:
                raise self.fail("listen_range", i, "prefix", f"a prefix such as 192.0.2.0/24, not {prefix!r}") from None
            options = self._session(r, "listen_range", i, defaults, asn)
            template = self._neighbor_config("listen_range", i, address=str(net.network_address),
                                             **{"passive": True, **options})
            ranges.append(ListenRange(prefix=str(net), template=template))
        networks = tuple(self._network(t, i) for i, t in enumerate(self._tables(data, "networks")))
        track = speaker.get("track_changes", fib is not None)
        if not isinstance(track, bool):
            raise self.fail("speaker", None, "track_changes", "true or false")
        transit = speaker.get("transit", False)
        if not isinstance(transit, bool):
            raise self.fail("speaker", None, "transit", "true or false")
        ra = self._number(speaker, "speaker", None, "ra_interval", 10.0, 0.05, 1800)
        stale = self._number(speaker, "speaker", None, "stale_path_time", 360.0, 1, 3600)
        limits = self._limits(data.get("limits"))
        try:
            router = RouterConfig(
                local_as=asn, router_id=router_id, cluster_id=cluster_id,
                listen=tuple((a, port) for a in listen_raw), neighbors=tuple(neighbors), listen_ranges=tuple(ranges),
                interfaces=tuple(interfaces), networks=networks, fib=fib, decision=self._decision(data.get("decision")),
                shards=shards, track_changes=track, stale_path_time_s=stale, ra_interval_s=ra, transit=transit,
                limits=limits)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {exc}") from None
        ops = build_ops(data, lambda table, key, why: self.fail(table, None, key, why))
        return ProgramConfig(router=router, control_socket=control, source=self.source, ops=ops)

    # -- tables ---------------------------------------------------------------------------------

    def _tables(self, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
        tables = data.get(name, [])
        if not isinstance(tables, list):
            raise self.fail(name, None, None, f"write it as [[{name}]] tables")
        for i, t in enumerate(tables):
            if not isinstance(t, dict):
                raise self.fail(name, i, None, "a table")
        return tables

    def _session(self, table: dict[str, Any], name: str, i: int, defaults: dict[str, Any],
                 local_as: int) -> dict[str, Any]:
        """Neighbor settings of a neighbor, interface or listen range (its peer group's first)."""
        merged = dict(defaults)
        group = table.get("peer_group")
        if group is not None:
            if group not in self.groups:
                raise self.fail(name, i, "peer_group", f"no [[peer_group]] named {group!r}")
            merged.update(self.groups[group])
        merged.update({k: v for k, v in table.items() if k in _SESSION_KEYS and k != "peer_group"})
        out: dict[str, Any] = {}
        if "asn" in merged:
            remote = merged["asn"]
            if remote not in ("internal", "external"):
                remote = self._asn(merged, name, i, "asn")
            out["remote_as"] = remote
        elif name == "neighbor" or name == "listen_range":
            raise self.fail(name, i, None, "missing asn (an AS number, \"internal\" or \"external\")")
        for key in ("rr_client", "passive", "next_hop_self", "soft_reconfiguration"):
            if key in merged:
                out[key] = self._bool(merged, name, i, key)
        for key, field in (("description", "description"), ("source_address", "source_address"),
                           ("password", "password"), ("hostname", "hostname"), ("next_hop_ipv4", "next_hop_ipv4"),
                           ("next_hop_ipv6", "next_hop_ipv6")):
            value = self._str(merged, name, i, key)
            if value is not None:
                out[field] = value
        if "port" in merged:
            out["port"] = self._int(merged, name, i, "port", 179, 1, 65535)
        out["hold_time_s"] = self._int(merged, name, i, "hold_time", 90, 0, 65535)
        if out["hold_time_s"] in (1, 2):
            raise self.fail(name, i, "hold_time", "0 or at least 3 seconds")
        if "connect_retry" in merged:
            out["timers"] = TimerSettings(connect_retry_s=self._number(merged, name, i, "connect_retry", 5.0, 0.1, 3600))
        if "local_as" in merged:
            out["local_as"] = self._asn(merged, name, i, "local_as")
        if "families" in merged:
            out["families"] = self._families(merged, name, i, "families")
        if "extended_nexthop" in merged:
            value = merged["extended_nexthop"]
            if isinstance(value, bool):
                out["extended_nexthop"] = ((Afi.IPV4, Safi.UNICAST),) if value else ()
            else:
                out["extended_nexthop"] = self._families(merged, name, i, "extended_nexthop")
        if "addpath" in merged:
            mode = merged["addpath"]
            if mode not in _ADDPATH_MODES:
                raise self.fail(name, i, "addpath", f"one of {', '.join(_ADDPATH_MODES)}, not {mode!r}")
            fams = out.get("families", ((Afi.IPV4, Safi.UNICAST), (Afi.IPV6, Safi.UNICAST)))
            out["addpath"] = tuple((a, s, _ADDPATH_MODES[mode]) for a, s in fams)
        if "graceful_restart" in merged:
            out["graceful_restart_time_s"] = self._int(merged, name, i, "graceful_restart", 120, 1, 4095)
        if "ttl_security_hops" in merged:
            out["ttl_security_hops"] = self._int(merged, name, i, "ttl_security_hops", 1, 1, 254)
        if "max_prefix" in merged:
            out["max_prefix"] = self._int(merged, name, i, "max_prefix", 1, 1, 2**32 - 1)
        if "max_prefix_action" in merged:
            action = merged["max_prefix_action"]
            if action not in _MAX_PREFIX_ACTIONS:
                raise self.fail(name, i, "max_prefix_action",
                                f"one of {', '.join(_MAX_PREFIX_ACTIONS)}, not {action!r}")
            out["max_prefix_action"] = _MAX_PREFIX_ACTIONS[action]
        if "max_prefix_restart" in merged:
            out["max_prefix_restart_s"] = float(self._int(merged, name, i, "max_prefix_restart", 60, 1, 86400))
        if "unnegotiated_family" in merged:
            choice = merged["unnegotiated_family"]
            if choice not in ("ignore", "reset"):
                raise self.fail(name, i, "unnegotiated_family", f'"ignore" or "reset", not {choice!r}')
            out["unnegotiated_family"] = choice
        if "bfd" in merged:
            bfd = self._bfd(merged["bfd"], name, i)
            if bfd is not None:
                out["bfd"] = bfd
        for key in ("import_policy", "export_policy"):
            if key in merged:
                ref = merged[key]
                if ref not in self.policies:
                    raise self.fail(name, i, key, f"no [[policy]] named {ref!r}")
                out[key] = self.policies[ref]
        return out

    def _bfd(self, value: object, name: str, i: int) -> BfdSettings | None:
        """``bfd = true`` (defaults), ``false``, or ``{ interval_ms = 300, multiplier = 3, strict = false }``."""
        if isinstance(value, bool):
            return BfdSettings() if value else None
        if not isinstance(value, dict):
            raise self.fail(name, i, "bfd", "true, false or a table { interval_ms = 300, multiplier = 3, strict = false }")
        for key in value:
            if key not in _BFD_KEYS:
                raise self.fail(name, i, "bfd", f"unknown key {key!r} (known: {', '.join(sorted(_BFD_KEYS))})")
        interval, multiplier, strict = (value.get("interval_ms", 300), value.get("multiplier", 3),
                                        value.get("strict", False))
        for key, got, low, high in (("interval_ms", interval, 10, 60000), ("multiplier", multiplier, 1, 255)):
            if isinstance(got, bool) or not isinstance(got, int) or not low <= got <= high:
                raise self.fail(name, i, "bfd", f"{key}: an integer from {low} to {high}, not {got!r}")
        if not isinstance(strict, bool):
            raise self.fail(name, i, "bfd", f"strict: true or false, not {strict!r}")
        return BfdSettings(interval_ms=interval, multiplier=multiplier, strict=strict)

    def _neighbor_config(self, name: str, i: int, **values: Any) -> NeighborConfig:
        try:
            return NeighborConfig(**values)
        except ConfigError as exc:
            raise self.fail(name, i, None, str(exc)) from None

    def _fib(self, table: object) -> FibConfig | None:
        if table is None:
            return None
        if not isinstance(table, dict):
            raise self.fail("fib", None, None, "a table")
        self._unknown(table, _FIB_KEYS, "fib", None)
        if not self._bool(table, "fib", None, "enabled", True):
            return None
        install = table.get("install", "all")
        policy = INSTALL_ALL
        if install != "all":
            if not isinstance(install, list) or not all(isinstance(r, str) for r in install):
                raise self.fail("fib", None, "install", "\"all\" or a list of prefix rules (\"0.0.0.0/0 le 24\")")
            try:
                policy = PrefixFilter(install)
            except (ConfigError, ValueError) as exc:
                raise self.fail("fib", None, "install", str(exc)) from None
        return FibConfig(table=self._int(table, "fib", None, "table", 254, 1, 2**32 - 1),
                         metric=self._int(table, "fib", None, "metric", 20, 0, 2**32 - 1), policy=policy,
                         keep_on_stop=self._bool(table, "fib", None, "keep_on_stop", False))

    def _limits(self, table: object) -> SpeakerLimits:
        """``[limits]``: what one neighbor may cost the speaker (``SpeakerLimits``)."""
        if table is None:
            return SpeakerLimits()
        if not isinstance(table, dict):
            raise self.fail("limits", None, None, "a table")
        self._unknown(table, set(_LIMITS_KEYS), "limits", None)
        values: dict[str, Any] = {}
        for key, (low, high) in _LIMITS_KEYS.items():
            if key in table:
                if isinstance(low, int) and isinstance(high, int):
                    values[key] = self._int(table, "limits", None, key, low, low, high)
                else:
                    values[key + "_s"] = self._number(table, "limits", None, key, low, low, high)
        return SpeakerLimits(**values)

    def _decision(self, table: object) -> DecisionOptions:
        if table is None:
            return DecisionOptions()
        if not isinstance(table, dict):
            raise self.fail("decision", None, None, "a table")
        self._unknown(table, _DECISION_KEYS, "decision", None)
        return DecisionOptions(
            always_compare_med=self._bool(table, "decision", None, "always_compare_med", False),
            deterministic_med=self._bool(table, "decision", None, "deterministic_med", True),
            med_missing_as_worst=self._bool(table, "decision", None, "med_missing_as_worst", False),
            maximum_paths=self._int(table, "decision", None, "maximum_paths", 1, 1, 256),
            multipath_relax=self._bool(table, "decision", None, "multipath_relax", False),
            default_local_pref=self._int(table, "decision", None, "default_local_pref", 100, 0, 2**32 - 1))

    def _network(self, t: dict[str, Any], i: int) -> Network:
        self._unknown(t, _NETWORK_KEYS, "networks", i)
        prefix = t.get("prefix")
        if not isinstance(prefix, str):
            raise self.fail("networks", i, "prefix", "required: a prefix such as 198.51.100.0/24")
        origin = t.get("origin", "igp")
        if origin not in _ORIGINS:
            raise self.fail("networks", i, "origin", f"one of {', '.join(_ORIGINS)}, not {origin!r}")
        communities = t.get("communities", [])
        if not isinstance(communities, list) or not all(isinstance(c, str) for c in communities):
            raise self.fail("networks", i, "communities", "a list such as [\"65000:1\"]")
        try:
            values = tuple(parse_community(c) for c in communities)
        except (ConfigError, ValueError) as exc:
            raise self.fail("networks", i, "communities", str(exc)) from None
        attrs = PathAttributes(origin=_ORIGINS[origin], communities=values,
                               med=self._int(t, "networks", i, "med", 0, 0, 2**32 - 1) if "med" in t else None,
                               local_pref=self._int(t, "networks", i, "local_pref", 100, 0, 2**32 - 1)
                               if "local_pref" in t else None)
        try:
            return Network(prefix=prefix, next_hop=self._str(t, "networks", i, "next_hop"), attributes=attrs)
        except ConfigError as exc:
            raise self.fail("networks", i, None, str(exc)) from None

    # -- values ---------------------------------------------------------------------------------

    def _unknown(self, table: dict[str, Any], known: set[str], name: str, index: int | None) -> None:
        for key in table:
            if key not in known:
                raise self.fail(name, index, key, f"unknown key (known: {', '.join(sorted(known))})")

    def _families(self, table: dict[str, Any], name: str, index: int | None, key: str) -> tuple[tuple[int, int], ...]:
        raw = table[key]
        if not isinstance(raw, list):
            raise self.fail(name, index, key, "a list such as [\"ipv4-unicast\", \"ipv6-unicast\"]")
        try:
            return tuple(family_from_name(f) for f in raw)
        except (ConfigError, TypeError) as exc:
            raise self.fail(name, index, key, str(exc)) from None

    def _bool(self, table: dict[str, Any], name: str, index: int | None, key: str, default: bool = False) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(name, index, key, f"true or false, not {value!r}")
        return value

    def _str(self, table: dict[str, Any], name: str, index: int | None, key: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(name, index, key, "a string")
        return value

    def _int(self, table: dict[str, Any], name: str, index: int | None, key: str, default: int, low: int,
             high: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, index, key, f"an integer from {low} to {high}, not {value!r}")
        return value

    def _number(self, table: dict[str, Any], name: str, index: int | None, key: str, default: float, low: float,
                high: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(name, index, key, f"a number from {low:g} to {high:g}, not {value!r}")
        return float(value)

    def _asn(self, table: dict[str, Any], name: str, index: int | None, key: str, required: bool = False) -> int:
        if key not in table and required:
            raise self.fail(name, index, None, f"missing {key}")
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**32:
            raise self.fail(name, index, key, f"an AS number from 1 to 4294967295, not {value!r}")
        return value

    def _ipv4(self, table: dict[str, Any], name: str, key: str, required: bool = False) -> str:
        value = table.get(key)
        if value is None and not required:
            return ""
        try:
            return str(ipaddress.IPv4Address(value))
        except (ValueError, TypeError):
            raise self.fail(name, None, key, f"an IPv4 address (dotted quad), not {value!r}") from None

    def _address(self, value: str, name: str, index: int | None, key: str) -> None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise self.fail(name, index, key, f"{value!r} is not an IP address") from None


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _line_of(lines: list[str], table: str, index: int | None, key: str | None) -> int | None:
    """1-based line of ``key`` in the ``index``-th ``[[table]]`` (or in ``[table]``); the
    table's header line when the key is absent; None when the table is not in the text."""
    occurrence = -1
    header: int | None = None
    inside = False
    for number, line in enumerate(lines, 1):
        m = _HEADER.match(line)
        if m:
            inside = m.group(1) == table and (index is None or occurrence + 1 == index)
            if m.group(1) == table:
                occurrence += 1
            if inside:
                header = number
            continue
        if inside and key is not None:
            k = _KEY.match(line)
            if k and k.group(1) == key:
                return number
        if index is None and header is None and key is not None and table not in ("speaker", "neighbor"):
            k = _KEY.match(line)
            if k and k.group(1) == table:
                return number
    return header
