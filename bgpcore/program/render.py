"""Text tables for ``bgpcore show``, from the control socket's JSON answers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render_neighbors(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'Neighbor':<28} {'AS':>10} {'State':<12} {'Up/Down':>9} {'PfxRcd':>9} {'MsgRcvd':>9} {'MsgSent':>9}  Client"]
    for r in rows:
        received = "" if r["prefixes_received"] is None else str(r["prefixes_received"])
        lines.append(f"{r['peer']:<28} {str(r['remote_as']):>10} {r['state']:<12} {_uptime(r['uptime_s']):>9} "
                     f"{received:>9} {sum(r['messages_in'].values()):>9} {sum(r['messages_out'].values()):>9}  "
                     f"{'yes' if r['rr_client'] else 'no'}")
    return "\n".join(lines)


def render_routes(answer: dict[str, Any]) -> str:
    lines = []
    for route in answer["routes"]:
        for i, p in enumerate(route["paths"]):
            mark = "*>" if i == 0 else "* "
            extra = ""
            if p["originator_id"]:
                extra += f" originator {p['originator_id']}"
            if p["cluster_list"]:
                extra += f" cluster-list {' '.join(p['cluster_list'])}"
            lines.append(f"{mark} {route['prefix'] if i == 0 else '':<20} via {','.join(p['next_hop']):<24} "
                         f"from {p['from']:<16} lp {p['local_pref']} path {p['as_path'] or '-'}{extra}")
    shown = len(answer["routes"])
    lines.append(f"{answer['total']} prefix{'' if answer['total'] == 1 else 'es'}"
                 + (f", first {shown} shown" if shown < answer["total"] else ""))
    return "\n".join(lines)


def render_fib(answer: dict[str, Any]) -> str:
    lines = [f"{r['prefix']:<22} via {', '.join(r['next_hop'])}" for r in answer["routes"]]
    lines.append(f"{answer['total']} routes" + ("" if answer["installed"] else " (not installed: no FIB configured)"))
    return "\n".join(lines)


def _ms(us: int | None) -> str:
    return "-" if not us else f"{us / 1000:g}"


def render_bfd(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'Peer':<28} {'Interface':<10} {'State':<10} {'LocalDisc':>10} {'RemoteDisc':>10} {'TX ms':>6} "
             f"{'RX ms':>6} {'Detect':>7} {'Up':>9} {'PktIn':>8} {'PktOut':>8} {'Down':>5}  Diag"]
    for r in rows:
        lines.append(f"{r['peer']:<28} {r['interface'] or '-':<10} {r['state']:<10} {r['local_discriminator']:>10} "
                     f"{r['remote_discriminator']:>10} {_ms(r['tx_interval_us']):>6} {_ms(r['rx_interval_us']):>6} "
                     f"{_ms(r['detection_time_us']):>7} "
                     f"{_uptime(r['uptime_s']) if r['uptime_s'] is not None else 'down':>9} {r['packets_in']:>8} "
                     f"{r['packets_out']:>8} {r['down_count']:>5}  {r['local_diag']}")
    lines.append(f"{len(rows)} BFD session{'' if len(rows) == 1 else 's'}")
    return "\n".join(lines)


def _notification(note: dict[str, Any] | None) -> str:
    return "none" if note is None else f"{note['name']} at {note['at']}: {note['text']}"


def _capabilities(caps: list[dict[str, Any]]) -> str:
    out = []
    for c in caps:
        extra = ",".join(f"{k}={v}" for k, v in c.items() if k != "name")
        out.append(f"{c['name']}({extra})" if extra else c["name"])
    return " ".join(out) or "-"


def render_neighbor(n: dict[str, Any]) -> str:
    """``show neighbor``: the detail of one neighbor, as ``show bgp neighbors`` lays it out."""
    t = n["timers"]
    caps = n["capabilities"]
    lines = [
        f"BGP neighbor {n['peer']}" + (f" on {n['interface']}" if n["interface"] else "")
        + f", remote AS {n['peer_as'] or n['remote_as']}, router id {n['router_id'] or '-'}"
        + (f" ({n['description']})" if n["description"] else ""),
        f"  state {n['state']}, up {_uptime(n['uptime_s'])}, established {n['established_count']} time(s)",
        f"  local {n['local_address'] or '-'}, remote {n['remote_address'] or '-'}"
        f"{', rr-client' if n['rr_client'] else ''}{', next-hop-self' if n['next_hop_self'] else ''}"
        f"{', soft-reconfiguration' if n['soft_reconfiguration'] else ''}",
        f"  hold time {t['hold_time_s'] if t['hold_time_s'] is not None else '-'} s (configured "
        f"{t['hold_time_configured_s']}, peer {t['peer_hold_time_s'] if t['peer_hold_time_s'] is not None else '-'}),"
        f" keepalive {t['keepalive_s'] if t['keepalive_s'] is not None else '-'} s,"
        f" connect retry {t['connect_retry_s']:g} s",
        f"  capabilities sent: {_capabilities(caps['sent'])}",
        f"  capabilities received: {_capabilities(caps['received'])}",
    ]
    neg = caps["negotiated"]
    if neg is not None:
        lines.append(f"  negotiated: {' '.join(neg['families'])}; route-refresh {'yes' if neg['route_refresh'] else 'no'}"
                     f"; 4-octet AS {'yes' if neg['four_octet_as'] else 'no'}"
                     f"; add-path rx {','.join(neg['add_path_receive']) or '-'} tx {','.join(neg['add_path_send']) or '-'}"
                     f"; graceful restart {'yes' if neg['graceful_restart'] else 'no'}")
    msgs = n["messages"]
    lines.append("  messages in: " + (" ".join(f"{k}={v}" for k, v in sorted(msgs["in"].items())) or "0")
                 + "; out: " + (" ".join(f"{k}={v}" for k, v in sorted(msgs["out"].items())) or "0"))
    pfx = n["prefixes"]

    def count(v: int | None) -> str:
        return "-" if v is None else str(v)

    lines.append(f"  prefixes accepted {count(pfx['accepted'])}, received {count(pfx['received'])}, "
                 f"advertised {count(pfx['advertised'])}, limit {count(pfx['max_prefix'])}")
    lines.append(f"  last error: {n['last_error'] or 'none'}")
    lines.append(f"  last notification sent: {_notification(n['last_notification_sent'])}")
    lines.append(f"  last notification received: {_notification(n['last_notification_received'])}")
    return "\n".join(lines)


def render_explain(answer: dict[str, Any]) -> str:
    """``show route PREFIX explain``: the paths best first, each loser with where it lost."""
    if not answer["paths"]:
        return f"{answer['prefix']}: no paths"
    lines = [f"{answer['prefix']}: {len(answer['paths'])} path{'' if len(answer['paths']) == 1 else 's'}"]
    for p in answer["paths"]:
        head = (f"  #{p['rank']} {'best' if p['best'] else '    '} from {p['from']:<16} via {','.join(p['next_hop'])}"
                f" lp {p['local_pref']} med {p['med']} path {p['as_path'] or '-'}")
        if p["best"]:
            lines.append(f"{head}: best (deciding step {p['step']})")
        else:
            lines.append(f"{head}: lost to #{p['lost_to']} on {p['step']}")
    return "\n".join(lines)


def render_adj_rib(answer: dict[str, Any]) -> str:
    """``show adj-rib-in`` / ``show adj-rib-out``."""
    lines = []
    for r in answer["routes"]:
        extra = f" lp {r['local_pref']} path {r['as_path'] or '-'}" if "as_path" in r else ""
        lines.append(f"{r['prefix']:<22} via {','.join(r['next_hop'])}{extra}")
    shown = len(answer["routes"])
    lines.append(f"{answer['total']} prefix{'' if answer['total'] == 1 else 'es'} ({answer['peer']})"
                 + (f", first {shown} shown" if shown < answer["total"] else ""))
    return "\n".join(lines)


def render_reload(answer: dict[str, Any]) -> str:
    """``reload``: what changed."""
    lines = [f"neighbors added: {' '.join(answer['added']) or '-'}",
             f"neighbors removed: {' '.join(answer['removed']) or '-'}"]
    for peer, done in answer["changed"].items():
        lines.append(f"neighbor {peer}: {', '.join(done) or 'no change'}")
    lines.append(f"networks announced: {' '.join(answer['networks_announced']) or '-'}; "
                 f"withdrawn: {' '.join(answer['networks_withdrawn']) or '-'}")
    if answer["not_applied"]:
        lines.append(f"not applied (restart needed): {', '.join(answer['not_applied'])}")
    return "\n".join(lines)


def render(what: str, answer: Any) -> str:
    """The text form of the answer to ``show <what>`` (or to another control command)."""
    renderers: dict[str, Callable[[Any], str]] = {"bfd": render_bfd, "neighbors": render_neighbors, "routes": render_routes, "fib": render_fib,
                 "neighbor": render_neighbor, "explain": render_explain, "adj-rib-in": render_adj_rib,
                 "adj-rib-out": render_adj_rib, "reload": render_reload}
    renderer = renderers.get(what)
    if renderer is not None:
        return renderer(answer)
    if isinstance(answer, dict):
        return " ".join(f"{k} {v}" for k, v in answer.items())
    return str(answer)
