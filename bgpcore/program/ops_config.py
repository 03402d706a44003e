"""The operations tables of ``bgpcore run``: ``[bmp]``, ``[mrt]`` and ``[metrics]``.

Each is optional and off when absent::

    [bmp]
    station = ["192.0.2.9:1790"]     # or one string; [v6]:port for IPv6
    statistics_interval = 60

    [mrt]
    dump_dir = "/var/lib/bgpcore/mrt"
    rib_interval = 7200              # TABLE_DUMP_V2 of the Loc-RIB; 0: none
    updates_interval = 900           # BGP4MP update log, one file per interval; 0: none

    [metrics]
    listen = "127.0.0.1:9179"        # Prometheus text at /metrics
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bgpcore.bmp.exporter import parse_station
from bgpcore.errors import ConfigError

OPS_TABLES: Final = ("bmp", "mrt", "metrics")
BMP_KEYS: Final = {"station", "statistics_interval", "loc_rib", "sys_name"}
MRT_KEYS: Final = {"dump_dir", "rib_interval", "updates_interval", "rib_file", "updates_file"}
METRICS_KEYS: Final = {"listen"}

Fail = Callable[[str, "str | None", str], ConfigError]
"""``fail(table, key, why)``: the error to raise, naming the key's line."""


@dataclass(frozen=True, slots=True)
class BmpConfig:
    """``[bmp]``: collectors to stream to (RFC 7854), Statistics Report period (0: none)."""

    stations: tuple[tuple[str, int], ...]
    statistics_interval_s: float = 60.0
    loc_rib: bool = True
    sys_name: str | None = None


@dataclass(frozen=True, slots=True)
class MrtConfig:
    """``[mrt]``: where and how often to write RIB dumps and update logs (RFC 6396).

    File names are ``time.strftime`` patterns of the dump (or log start) time, UTC.
    """

    dump_dir: str
    rib_interval_s: float = 7200.0
    updates_interval_s: float = 900.0
    rib_file: str = "rib.%Y%m%d.%H%M"
    updates_file: str = "updates.%Y%m%d.%H%M"


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """``[metrics]``: where the Prometheus endpoint listens."""

    listen: tuple[str, int]


@dataclass(frozen=True, slots=True)
class OpsConfig:
    """The operations tables; None where a table is absent."""

    bmp: BmpConfig | None = None
    mrt: MrtConfig | None = None
    metrics: MetricsConfig | None = None


def build_ops(data: dict[str, Any], fail: Fail) -> OpsConfig:
    """The ``[bmp]``, ``[mrt]`` and ``[metrics]`` tables of a parsed TOML document."""
    return OpsConfig(bmp=_bmp(data.get("bmp"), fail), mrt=_mrt(data.get("mrt"), fail),
                     metrics=_metrics(data.get("metrics"), fail))


def _table(value: object, name: str, known: set[str], fail: Fail) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(name, None, f"write it as a [{name}] table")
    for key in value:
        if key not in known:
            raise fail(name, key, f"unknown key (known: {', '.join(sorted(known))})")
    return value


def _number(table: dict[str, Any], name: str, key: str, default: float, low: float, high: float, fail: Fail) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value == 0 or low <= value <= high):
        raise fail(name, key, f"0 or a number of seconds from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _endpoint(text: object, name: str, key: str, fail: Fail) -> tuple[str, int]:
    if not isinstance(text, str):
        raise fail(name, key, f"\"address:port\", not {text!r}")
    try:
        return parse_station(text)
    except ValueError as exc:
        raise fail(name, key, str(exc)) from None


def _bmp(value: object, fail: Fail) -> BmpConfig | None:
    t = _table(value, "bmp", BMP_KEYS, fail)
    if t is None:
        return None
    raw = t.get("station")
    if raw is None:
        raise fail("bmp", "station", "required: \"address:port\" of a collector, or a list of them")
    stations = tuple(_endpoint(s, "bmp", "station", fail) for s in ([raw] if isinstance(raw, str) else
                                                                    raw if isinstance(raw, list) else [raw]))
    if not stations:
        raise fail("bmp", "station", "at least one collector")
    loc_rib = t.get("loc_rib", True)
    if not isinstance(loc_rib, bool):
        raise fail("bmp", "loc_rib", f"true or false, not {loc_rib!r}")
    sys_name = t.get("sys_name")
    if sys_name is not None and not isinstance(sys_name, str):
        raise fail("bmp", "sys_name", "a string")
    return BmpConfig(stations=stations, statistics_interval_s=_number(t, "bmp", "statistics_interval", 60, 1, 86400,
                                                                      fail),
                     loc_rib=loc_rib, sys_name=sys_name)


def _mrt(value: object, fail: Fail) -> MrtConfig | None:
    t = _table(value, "mrt", MRT_KEYS, fail)
    if t is None:
        return None
    directory = t.get("dump_dir")
    if not isinstance(directory, str) or not directory:
        raise fail("mrt", "dump_dir", "required: the directory dumps are written to")
    names = {}
    for key in ("rib_file", "updates_file"):
        if key in t:
            if not isinstance(t[key], str) or not t[key] or "/" in t[key]:
                raise fail("mrt", key, "a file name pattern such as \"rib.%Y%m%d.%H%M\" (no directory)")
            names[key] = t[key]
    return MrtConfig(dump_dir=directory, rib_interval_s=_number(t, "mrt", "rib_interval", 7200, 1, 86400 * 7, fail),
                     updates_interval_s=_number(t, "mrt", "updates_interval", 900, 1, 86400, fail), **names)


def _metrics(value: object, fail: Fail) -> MetricsConfig | None:
    t = _table(value, "metrics", METRICS_KEYS, fail)
    if t is None:
        return None
    return MetricsConfig(listen=_endpoint(t.get("listen", "127.0.0.1:9179"), "metrics", "listen", fail))


__all__ = ["BmpConfig", "MetricsConfig", "MrtConfig", "OPS_TABLES", "OpsConfig", "build_ops"]
