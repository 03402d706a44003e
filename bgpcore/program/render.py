"""Text tables for ``bgpcore show``, from the control socket's JSON answers."""
from __future__ import annotations

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


def render(what: str, answer: Any) -> str:
    """The text form of the answer to ``show <what>``."""
    if what == "bfd":
        return render_bfd(answer)
    if what == "neighbors":
        return render_neighbors(answer)
    if what == "routes":
        return render_routes(answer)
    return render_fib(answer)
