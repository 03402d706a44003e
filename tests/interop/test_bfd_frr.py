"""BFD against FRR's bfdd (RFC 5880/5881 single hop): global addresses and an unnumbered link-local peer.

Namespaces ``core`` (bgpcore's ``BfdEndpoint``) and ``peer`` (FRR zebra + bfdd) are joined by a
veth pair. FRR's ``show bfd peers json`` must show the session up with the intervals both sides
agreed; then bgpcore's process is ended and FRR must see the session go down (detection time).

bgpcore runs in its namespace as this very file in runner mode (``python test_bfd_frr.py
STATUS_FILE PEER...``): it writes its ``sessions()`` as JSON to STATUS_FILE every 50 ms and its
events, one JSON line each, to STATUS_FILE + ".events".
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import FRR_DIR, REPO, Daemon, wait_until  # type: ignore[import-not-found]  # noqa: E402

pytestmark = pytest.mark.interop
CORE4, PEER4 = "192.0.2.1", "192.0.2.2"
CORE6, PEER6 = "2001:db8::1", "2001:db8::2"
LL_CORE, LL_PEER = "fe80::c", "fe80::d"
INTERVAL_MS, FRR_INTERVAL_MS, MULT, FRR_MULT = 200, 250, 3, 4


class FrrBfd(Daemon):
    """FRR zebra (for interfaces) and bfdd, each with its sockets in the lab directory."""

    name = "frrbfd"

    def __init__(self, lab: Any, ns: str, bfdd_conf: str) -> None:
        super().__init__(lab, ns)
        d = self.dir
        (d / "bfdd.conf").write_text(bfdd_conf)
        (d / "zebra.conf").write_text("")
        for f in d.iterdir():
            os.chmod(f, 0o666)
        self.zebra = lab.spawn(ns, str(FRR_DIR / "zebra"), "-f", str(d / "zebra.conf"), "-i", str(d / "zebra.pid"),
                               "-z", str(d / "zserv.api"), "-u", "frr", "-g", "frr", "--vty_socket", str(d),
                               "-A", "127.0.0.1", "-P", "0", "--log", f"file:{d}/zebra.log", log=f"{ns}-zebra.out")
        wait_until(lambda: (d / "zserv.api").exists(), 10, 0.05, "zebra socket")
        self.proc = lab.spawn(ns, str(FRR_DIR / "bfdd"), "-f", str(d / "bfdd.conf"), "-i", str(d / "bfdd.pid"),
                              "-z", str(d / "zserv.api"), "-u", "frr", "-g", "frr", "--vty_socket", str(d),
                              "--bfdctl", str(d / "bfdd.sock"), "-A", "127.0.0.1", "-P", "0",
                              "--log", f"file:{d}/bfdd.log", log=f"{ns}-bfdd.out")
        self._started(lambda: self.peers() is not None, "bfdd vty")

    def vtysh(self, *commands: str) -> str:
        args = ["vtysh", "--vty_socket", str(self.dir)]
        for c in commands:
            args += ["-c", c]
        return self._run(*args)

    def peers(self) -> list[dict[str, Any]]:
        out = self.vtysh("show bfd peers json")
        return json.loads(out) if out.strip() else []  # type: ignore[no-any-return]

    def peer(self, address: str) -> dict[str, Any]:
        return next((p for p in self.peers() if p.get("peer") == address), {})


class BgpcoreBfd:
    """This file in runner mode inside ``ns``; stopped by PID like the daemons."""

    def __init__(self, lab: Any, ns: str, peers: list[tuple[str, str]]) -> None:
        self.status_file = Path(lab.dir) / f"{ns}-bfd-status.json"
        self.events_file = Path(str(self.status_file) + ".events")
        args = [f"{addr}%{ifname}" for addr, ifname in peers]
        log = open(Path(lab.dir) / f"{ns}-bgpcore-bfd.log", "wb")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, str(self.status_file), *args],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        lab.procs.append(self.proc)
        self.lab = lab
        self.log = Path(lab.dir) / f"{ns}-bgpcore-bfd.log"

    def sessions(self) -> dict[str, dict[str, Any]]:
        try:
            rows = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        return {r["peer"]: r for r in rows}

    def events(self) -> list[dict[str, Any]]:
        try:
            return [json.loads(line) for line in self.events_file.read_text().splitlines()]
        except OSError:
            return []

    def stop(self) -> None:
        self.lab.stop(self.proc)


def _frr_conf(*peers: tuple[str, str]) -> str:
    lines = ["bfd"]
    for address, ifname in peers:
        lines += [f" peer {address} interface {ifname}", f"  receive-interval {FRR_INTERVAL_MS}",
                  f"  transmit-interval {FRR_INTERVAL_MS}", f"  detect-multiplier {FRR_MULT}", " exit"]
    return "\n".join(lines + ["exit", ""])


def _topology(lab: Any) -> tuple[str, str]:
    core, peer = lab.ns("core"), lab.ns("peer")
    lab.link(core, "vCore", peer, "vPeer")
    for ns, ifname, addrs in ((core, "vCore", (f"{CORE4}/24", f"{CORE6}/64", f"{LL_CORE}/64")),
                              (peer, "vPeer", (f"{PEER4}/24", f"{PEER6}/64", f"{LL_PEER}/64"))):
        lab.exec(ns, "ip", "-6", "addr", "flush", "dev", ifname, "scope", "link")
        for a in addrs:
            lab.addr(ns, ifname, a)
    return core, peer


def _check_agreed(frr: FrrBfd, ours: BgpcoreBfd, frr_address: str, our_key: str) -> None:
    p = wait_until(lambda: (x := frr.peer(frr_address)).get("status") == "up" and x, 20,
                   what=f"FRR sees {frr_address} up")
    wait_until(lambda: ours.sessions().get(our_key, {}).get("state") == "up"
               and not ours.sessions()[our_key]["poll_in_progress"], 10, what=f"bgpcore sees {our_key} up")
    # after both poll sequences FRR reports what we advertised and what it uses
    p = wait_until(lambda: (x := frr.peer(frr_address)).get("remote-transmit-interval") == INTERVAL_MS and x, 10,
                   what="FRR learns our intervals")
    assert p["remote-receive-interval"] == INTERVAL_MS and p["remote-detect-multiplier"] == MULT
    assert p["transmit-interval"] == FRR_INTERVAL_MS and p["receive-interval"] == FRR_INTERVAL_MS
    ours_row = ours.sessions()[our_key]
    assert ours_row["remote_discriminator"] == p["id"] and ours_row["local_discriminator"] == p["remote-id"]
    assert ours_row["tx_interval_us"] == max(INTERVAL_MS, FRR_INTERVAL_MS) * 1000
    assert ours_row["rx_interval_us"] == max(INTERVAL_MS, FRR_INTERVAL_MS) * 1000
    assert ours_row["detection_time_us"] == FRR_MULT * max(INTERVAL_MS, FRR_INTERVAL_MS) * 1000


def _check_frr_goes_down(frr: FrrBfd, ours: BgpcoreBfd, frr_addresses: list[str]) -> None:
    time.sleep(1.5)  # steady state first: several detection times without a flap on either side
    assert all(frr.peer(a)["status"] == "up" and frr.peer(a)["uptime"] >= 1 for a in frr_addresses)
    assert not [e for e in ours.events() if e["old"] == "UP"], ours.events()
    stopped = time.monotonic()
    ours.stop()
    wait_until(lambda: all(frr.peer(a).get("status") == "down" for a in frr_addresses), 10,
               interval_s=0.05, what="FRR sees the session down")
    elapsed = time.monotonic() - stopped
    # FRR's detection time: our multiplier x max(its RX, our TX) = 3 x 250 ms, plus polling slack
    assert elapsed < MULT * max(INTERVAL_MS, FRR_INTERVAL_MS) / 1000 + 1.0
    for a in frr_addresses:
        assert frr.peer(a)["diagnostic"] == "control detection time expired"


def test_frr_bfdd_with_global_ipv4_and_ipv6_peers(lab: Any) -> None:
    core, peer = _topology(lab)
    frr = FrrBfd(lab, peer, _frr_conf((CORE4, "vPeer"), (CORE6, "vPeer")))
    ours = BgpcoreBfd(lab, core, [(PEER4, "vCore"), (PEER6, "vCore")])
    try:
        _check_agreed(frr, ours, CORE4, PEER4)
        _check_agreed(frr, ours, CORE6, PEER6)
        _check_frr_goes_down(frr, ours, [CORE4, CORE6])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{frr.log_tail()}\n{ours.log.read_text()[-3000:]}") from None


def test_frr_bfdd_with_an_unnumbered_link_local_peer(lab: Any) -> None:
    core, peer = _topology(lab)
    frr = FrrBfd(lab, peer, _frr_conf((LL_CORE, "vPeer")))
    ours = BgpcoreBfd(lab, core, [(LL_PEER, "vCore")])
    try:
        _check_agreed(frr, ours, LL_CORE, LL_PEER)
        assert ours.sessions()[LL_PEER]["interface"] == "vCore"
        assert frr.peer(LL_CORE)["interface"] == "vPeer"
        _check_frr_goes_down(frr, ours, [LL_CORE])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{frr.log_tail()}\n{ours.log.read_text()[-3000:]}") from None


# ---------------------------------------------------------------------- runner mode

async def _run(status_file: Path, peers: list[str]) -> None:
    import logging

    from bgpcore.bfd import BfdEndpoint

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(message)s")
    events = open(str(status_file) + ".events", "a")
    async with BfdEndpoint() as bfd:
        bfd.subscribe(lambda e: (events.write(json.dumps({"peer": str(e.peer), "old": e.old.name, "new": e.new.name,
                                                          "diag": int(e.diag)}) + "\n"), events.flush()))
        for spec in peers:
            address, _, ifname = spec.partition("%")
            bfd.add_peer(address, interface=ifname or None, interval_ms=INTERVAL_MS, multiplier=MULT)
        tmp = status_file.with_suffix(".tmp")
        while True:
            tmp.write_text(json.dumps([s.as_dict() for s in bfd.sessions()]))
            tmp.replace(status_file)
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(_run(Path(sys.argv[1]), sys.argv[2:]))
