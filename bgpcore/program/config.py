"""The route-reflector program's TOML configuration, checked with errors that name file, line and key.

::

    [speaker]
    asn = 64496
    router_id = "198.51.100.1"
    cluster_id = "198.51.100.1"        # default: router_id
    listen = ["198.51.100.1"]          # default: every address
    port = 179
    shards = 1                         # RIB worker processes (1: in this process)
    control_socket = "/run/bgpcore.sock"

    [[neighbor]]
    address = "198.51.100.2"
    asn = 64496                        # or "internal" / "external"
    rr_client = true
    passive = false
    families = ["ipv4-unicast", "ipv6-unicast"]

tomllib reports syntax errors with line and column; the checks here find the offending key's
line in the text, so ``rr.toml:12: neighbor[2].asn: ...`` points at the line to fix.
"""
from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bgpcore.errors import ConfigError
from bgpcore.rib.manager import RibConfig
from bgpcore.transport.config import NeighborConfig, SpeakerConfig, family_from_name, neighbor_key
from bgpcore.transport.speaker import peer_id_of

DEFAULT_CONTROL_SOCKET: Final = "/run/bgpcore.sock"

_SPEAKER_KEYS: Final = {"asn", "router_id", "cluster_id", "listen", "port", "shards", "control_socket", "hold_time"}
_NEIGHBOR_KEYS: Final = {"address", "asn", "rr_client", "passive", "port", "families", "description",
                         "hold_time", "source_address", "password", "interface", "next_hop_self"}


@dataclass(frozen=True, slots=True)
class ProgramConfig:
    """What ``bgpcore run`` needs: the speaker, the RIB, and which neighbors are RR clients.

    Attributes:
        rr_clients: peer ids (as the speaker names them) of route-reflector clients.
        next_hop_self: peer ids we send ourselves as next hop to.
        control_socket: path of the Unix socket ``bgpcore show`` talks to.
    """

    speaker: SpeakerConfig
    rib: RibConfig
    rr_clients: frozenset[str]
    next_hop_self: frozenset[str]
    control_socket: str
    source: str = "<config>"


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

    def fail(self, table: str, index: int | None, key: str | None, why: str) -> ConfigError:
        line = _line_of(self.lines, table, index, key)
        where = f"{self.source}:{line}" if line else self.source
        name = table if index is None else f"{table}[{index + 1}]"
        return ConfigError(f"{where}: {name}{'.' + key if key else ''}: {why}")

    def build(self, data: dict[str, Any]) -> ProgramConfig:
        unknown = set(data) - {"speaker", "neighbor"}
        if unknown:
            key = sorted(unknown)[0]
            raise self.fail(key, None, None, "unknown table (expected [speaker] and [[neighbor]])")
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
        raw_neighbors = data.get("neighbor", [])
        if not isinstance(raw_neighbors, list):
            raise self.fail("neighbor", None, None, "write neighbors as [[neighbor]] tables")
        neighbors: list[NeighborConfig] = []
        clients: set[str] = set()
        nh_self: set[str] = set()
        seen: dict[tuple[str, str | None], int] = {}
        for i, n in enumerate(raw_neighbors):
            config, rr_client, next_hop_self = self._neighbor(n, i, hold)
            if config.key in seen:
                raise self.fail("neighbor", i, "address", f"{config.address} is already neighbor[{seen[config.key] + 1}]")
            seen[config.key] = i
            neighbors.append(config)
            if rr_client:
                clients.add(peer_id_of(config.key))
            if next_hop_self:
                nh_self.add(peer_id_of(config.key))
        return ProgramConfig(
            speaker=SpeakerConfig(local_as=asn, router_id=router_id, listen=tuple((a, port) for a in listen_raw),
                                  neighbors=tuple(neighbors)),
            rib=RibConfig(local_asn=asn, router_id=router_id, cluster_id=cluster_id, shards=shards,
                          track_changes=False),
            rr_clients=frozenset(clients), next_hop_self=frozenset(nh_self), control_socket=control, source=self.source)

    def _neighbor(self, n: object, i: int, hold: int) -> tuple[NeighborConfig, bool, bool]:
        if not isinstance(n, dict):
            raise self.fail("neighbor", i, None, "a table")
        self._unknown(n, _NEIGHBOR_KEYS, "neighbor", i)
        address = n.get("address")
        if not isinstance(address, str):
            raise self.fail("neighbor", i, "address", "required: the neighbor's IP address")
        self._address(address, "neighbor", i, "address")
        remote = n.get("asn")
        if remote not in ("internal", "external"):
            remote = self._asn(n, "neighbor", i, "asn", required=True)
        families_raw = n.get("families", ["ipv4-unicast", "ipv6-unicast"])
        try:
            families = tuple(family_from_name(f) for f in families_raw)
        except (ConfigError, TypeError) as exc:
            raise self.fail("neighbor", i, "families", str(exc)) from None
        flags = {}
        for key in ("rr_client", "passive", "next_hop_self"):
            value = n.get(key, False)
            if not isinstance(value, bool):
                raise self.fail("neighbor", i, key, f"true or false, not {value!r}")
            flags[key] = value
        strings = {}
        for key in ("description", "source_address", "password", "interface"):
            value = n.get(key)
            if value is not None and not isinstance(value, str):
                raise self.fail("neighbor", i, key, "a string")
            strings[key] = value
        if strings["source_address"]:
            self._address(strings["source_address"], "neighbor", i, "source_address")
        try:
            neighbor_key(address, strings["interface"])
            config = NeighborConfig(
                address=address, remote_as=remote, port=self._int(n, "neighbor", i, "port", 179, 1, 65535),
                hold_time_s=self._int(n, "neighbor", i, "hold_time", hold, 0, 65535), families=families,
                passive=flags["passive"], description=strings["description"] or "",
                source_address=strings["source_address"], password=strings["password"], interface=strings["interface"])
        except ConfigError as exc:
            raise self.fail("neighbor", i, None, str(exc)) from None
        if config.hold_time_s in (1, 2):
            raise self.fail("neighbor", i, "hold_time", "0 or at least 3 seconds")
        return config, flags["rr_client"], flags["next_hop_self"]

    def _unknown(self, table: dict[str, Any], known: set[str], name: str, index: int | None) -> None:
        for key in table:
            if key not in known:
                raise self.fail(name, index, key, f"unknown key (known: {', '.join(sorted(known))})")

    def _int(self, table: dict[str, Any], name: str, index: int | None, key: str, default: int, low: int,
             high: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, index, key, f"an integer from {low} to {high}, not {value!r}")
        return value

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
