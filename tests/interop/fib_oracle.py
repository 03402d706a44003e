"""What `ip -j route` / `ip -j nexthop` say about proto-bgp routes: the independent FIB oracle."""
from __future__ import annotations

import ipaddress
import json
from typing import Any

from netns import Lab

Hops = frozenset[tuple[str, str, int]]


def _prefix(dst: str, version: int) -> str:
    if dst == "default":
        return "0.0.0.0/0" if version == 4 else "::/0"
    return str(ipaddress.ip_network(dst))


def _gateway(entry: dict[str, Any]) -> str:
    if "gateway" in entry:
        return str(entry["gateway"])
    if "via" in entry:
        return str(entry["via"]["host"])
    return "direct"


def kernel_routes(lab: Lab, ns: str, table: int | str = "main") -> dict[str, dict[str, Any]]:
    """prefix -> {"hops": {(gateway, dev, weight)}, "metric", "nhid", "onlink"} for proto bgp."""
    out: dict[str, dict[str, Any]] = {}
    for version in (4, 6):
        res = lab.exec(ns, "ip", f"-{version}", "-j", "route", "show", "proto", "bgp", "table", str(table), check=False)
        if res.returncode != 0:
            assert "table does not exist" in res.stderr, res.stderr
            continue
        for row in json.loads(res.stdout or "[]"):
            if "nexthops" in row:
                hops = frozenset((_gateway(h), h["dev"], int(h.get("weight", 1))) for h in row["nexthops"])
                onlink = all("onlink" in h.get("flags", []) for h in row["nexthops"])
            else:
                hops = frozenset({(_gateway(row), row["dev"], 1)})
                onlink = "onlink" in row.get("flags", [])
            out[_prefix(row["dst"], version)] = {"hops": hops, "metric": row.get("metric", 0),
                                                 "nhid": row.get("nhid"), "onlink": onlink}
    return out


def hops_of(lab: Lab, ns: str, table: int | str = "main") -> dict[str, Hops]:
    return {prefix: info["hops"] for prefix, info in kernel_routes(lab, ns, table).items()}


def kernel_nexthops(lab: Lab, ns: str) -> dict[int, dict[str, Any]]:
    text = lab.exec(ns, "ip", "-j", "nexthop", "show").stdout
    return {int(row["id"]): row for row in json.loads(text or "[]")}


def count_routes(lab: Lab, ns: str, version: int = 4, table: int | str = "main") -> int:
    text = lab.exec(ns, "ip", f"-{version}", "route", "show", "proto", "bgp", "table", str(table), check=False).stdout
    return sum(1 for line in text.splitlines() if line and not line[0].isspace())
