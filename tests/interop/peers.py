"""Real BGP daemons in a lab namespace: config text in, a running daemon and query helpers out.

Each class starts one daemon with ``lab.spawn`` (so ``Lab.close`` stops it by PID), waits until
its control socket answers, and offers the few queries tests need. ``BgpcoreNode`` runs
bgpcore itself from JSON config (``bgpcore_runner.py``) and talks to it over stdin/stdout.

    frr = Frr(lab, ns, FRR_CONFIG)             # bgpd -Z (no zebra); add zebra=True for a FIB
    frr.json("show bgp neighbors json")
    bird = Bird(lab, ns, BIRD_CONFIG); bird.cli("show protocols all")
    gobgp = GoBgp(lab, ns, TOML); gobgp.cli("neighbor")   # JSON
    exa = ExaBgp(lab, ns, EXA_CONFIG); exa.command("announce route ..."); exa.updates()
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

FRR_DIR = Path("/usr/lib/frr")
RUNNER = Path(__file__).with_name("bgpcore_runner.py")
EXA_HELPER = Path(__file__).with_name("exabgp_api.py")
REPO = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.2, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; AssertionError with the last value on timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last error
            last = exc
        else:
            if last:
                return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


class Daemon:
    """Common parts: a working directory in the lab, the process, freeze/thaw by PID."""

    name = "daemon"

    def __init__(self, lab: Any, ns: str) -> None:
        self.lab, self.ns = lab, ns
        self.dir = Path(lab.dir) / f"{ns}-{self.name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o777)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def freeze(self) -> None:
        """SIGSTOP: the daemon stays connected but sends nothing (hold timer test)."""
        os.killpg(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            self.lab.stop(self.proc)

    def _started(self, predicate: Callable[[], Any], what: str, timeout_s: float = 20.0) -> None:
        """Wait for the daemon to answer; on timeout show what it printed (config errors land there)."""
        try:
            wait_until(lambda: (self.proc is not None and self.proc.poll() is not None) or predicate(), timeout_s, 0.2, what)
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} before {what} answered")
        except AssertionError as exc:
            outs = "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-3000:]}"
                             for f in Path(self.lab.dir).glob(f"{self.ns}-*.out"))
            raise AssertionError(f"{exc}\n{outs}\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for f in sorted(self.dir.glob("*.log")):
            out.append(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    def _run(self, *cmd: str, check: bool = True) -> str:
        res = subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True, text=True, timeout=30)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {res.returncode} {res.stderr.strip()} {res.stdout.strip()}")
        return res.stdout


class Frr(Daemon):
    """FRR bgpd (``-Z``: no zebra, no FIB), or zebra + bgpd with ``zebra=True``."""

    name = "frr"

    def __init__(self, lab: Any, ns: str, bgpd_conf: str, *, zebra: bool = False, zebra_conf: str = "") -> None:
        super().__init__(lab, ns)
        d = self.dir
        (d / "bgpd.conf").write_text(bgpd_conf)
        args = [str(FRR_DIR / "bgpd"), "-f", str(d / "bgpd.conf"), "-i", str(d / "bgpd.pid"), "-S",
                "--vty_socket", str(d), "-A", "127.0.0.1", "-P", "0", "--log", f"file:{d}/bgpd.log"]
        if zebra:
            (d / "zebra.conf").write_text(zebra_conf)
            for f in d.iterdir():
                os.chmod(f, 0o666)
            self.zebra = lab.spawn(ns, str(FRR_DIR / "zebra"), "-f", str(d / "zebra.conf"), "-i", str(d / "zebra.pid"),
                                   "-z", str(d / "zserv.api"), "-u", "frr", "-g", "frr", "--vty_socket", str(d),
                                   "-A", "127.0.0.1", "-P", "0", "--log", f"file:{d}/zebra.log", log=f"{ns}-zebra.out")
            wait_until(lambda: (d / "zserv.api").exists(), 10, 0.05, "zebra socket")
            args += ["-z", str(d / "zserv.api")]
        else:
            args.append("-Z")
        self.proc = lab.spawn(ns, *args, log=f"{ns}-bgpd.out")
        self._started(lambda: self.vtysh("show bgp summary json") is not None, "bgpd vty")

    def vtysh(self, *commands: str) -> str:
        args = ["vtysh", "--vty_socket", str(self.dir)]
        for c in commands:
            args += ["-c", c]
        return self._run(*args)

    def json(self, command: str) -> Any:
        return json.loads(self.vtysh(command) or "{}")

    def configure(self, *lines: str) -> None:
        """Run configuration commands (``conf t`` is added)."""
        self.vtysh("configure terminal", *lines)

    def neighbor(self, address: str) -> dict[str, Any]:
        return self.json(f"show bgp neighbors {address} json").get(address, {})  # type: ignore[no-any-return]

    def state(self, address: str) -> str:
        return str(self.neighbor(address).get("bgpState", ""))

    def route(self, prefix: str) -> dict[str, Any]:
        """``show bgp <family> unicast <prefix> json``: its ``paths`` list, or {} when absent."""
        family = "ipv6" if ":" in prefix else "ipv4"
        return self.json(f"show bgp {family} unicast {prefix} json")  # type: ignore[no-any-return]


class Bird(Daemon):
    """BIRD 2 in the foreground with its own control socket."""

    name = "bird"

    def __init__(self, lab: Any, ns: str, config: str) -> None:
        super().__init__(lab, ns)
        (self.dir / "bird.conf").write_text(config)
        self.ctl = self.dir / "bird.ctl"
        self.proc = lab.spawn(ns, "bird", "-f", "-c", str(self.dir / "bird.conf"), "-s", str(self.ctl),
                              "-P", str(self.dir / "bird.pid"), log=f"{ns}-bird.out")
        self._started(lambda: "BIRD" in self.cli("show status"), "bird control socket")

    def cli(self, command: str) -> str:
        return self._run("birdc", "-s", str(self.ctl), command, check=False)

    def protocol(self, name: str) -> str:
        return self.cli(f"show protocols all {name}")

    def state(self, name: str) -> str:
        for line in self.protocol(name).splitlines():
            if line.strip().startswith("BGP state:"):
                return line.split(":", 1)[1].strip()
        return ""

    def routes(self, prefix: str) -> str:
        return self.cli(f"show route {prefix} all")

    def reconfigure(self, config: str) -> None:
        (self.dir / "bird.conf").write_text(config)
        out = self.cli("configure")
        if "Reconfigured" not in out and "Reconfiguration in progress" not in out:
            raise RuntimeError(f"bird configure: {out}")


class GoBgp(Daemon):
    """gobgpd with its gRPC API on the namespace's own loopback."""

    name = "gobgp"

    def __init__(self, lab: Any, ns: str, toml: str, api_port: int = 50051) -> None:
        super().__init__(lab, ns)
        (self.dir / "gobgpd.toml").write_text(toml)
        self.api = ["-u", "127.0.0.1", "-p", str(api_port)]
        self.proc = lab.spawn(ns, "gobgpd", "-f", str(self.dir / "gobgpd.toml"), "-t", "toml", "-p",
                              "--api-hosts", f"127.0.0.1:{api_port}", "--pprof-disable",
                              "--log-plain", log=f"{ns}-gobgpd.log")
        self._started(lambda: self.cli_text("global").strip(), "gobgp api")

    def cli_text(self, *args: str) -> str:
        return self._run("gobgp", *self.api, *args, check=False)

    def cli(self, *args: str) -> Any:
        out = self._run("gobgp", *self.api, *args, "-j")
        return json.loads(out) if out.strip() else None

    def neighbor(self, address: str) -> dict[str, Any]:
        return self.cli("neighbor", address) or {}  # type: ignore[no-any-return]

    def state(self, address: str) -> str:
        return str(self.neighbor(address).get("state", {}).get("session_state", ""))

    def rib(self, family: str = "ipv4") -> dict[str, Any]:
        return self.cli("global", "rib", "-a", family) or {}  # type: ignore[no-any-return]


class ExaBgp(Daemon):
    """ExaBGP with an API process: commands go in through a FIFO, received messages are logged as JSON."""

    name = "exabgp"

    def __init__(self, lab: Any, ns: str, config: str, bind: str) -> None:
        """``config`` may use ``{api}``: it is replaced by the API ``process`` block's name."""
        super().__init__(lab, ns)
        self.fifo = self.dir / "commands"
        self.received = self.dir / "received.jsonl"
        os.mkfifo(self.fifo)
        self.received.touch()
        process = (f'process api {{\n run {sys.executable} {EXA_HELPER} {self.fifo} {self.received};\n encoder json;\n}}\n')
        (self.dir / "exabgp.conf").write_text(process + config.replace("{api}", "api"))
        env = {"exabgp.tcp.bind": bind, "exabgp.tcp.port": "179", "exabgp.daemon.user": "root",
               "exabgp.daemon.daemonize": "false", "exabgp.log.destination": str(self.dir / "exabgp.log"),
               "exabgp.api.cli": "false", "exabgp.log.level": "INFO"}
        self.proc = lab.spawn(ns, "exabgp", str(self.dir / "exabgp.conf"), env=env, log=f"{ns}-exabgp.out")
        self._fifo_fd = os.open(self.fifo, os.O_RDWR)

    def command(self, line: str) -> None:
        """An ExaBGP API command, e.g. ``announce route 198.51.100.0/24 next-hop self``."""
        os.write(self._fifo_fd, (line + "\n").encode())

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for line in self.received.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def state(self) -> str:
        """'up' or 'down' from the last state message ExaBGP reported."""
        states = [m["neighbor"]["state"] for m in self.messages() if m.get("type") == "state"]
        return states[-1] if states else ""

    def stop(self) -> None:
        try:
            os.close(self._fifo_fd)
        except OSError:
            pass
        super().stop()


class BgpcoreNode(Daemon):
    """bgpcore's Speaker in a namespace, driven over stdin/stdout by ``bgpcore_runner.py``."""

    name = "bgpcore"

    def __init__(self, lab: Any, ns: str, config: dict[str, Any]) -> None:
        super().__init__(lab, ns)
        path = self.dir / "config.json"
        path.write_text(json.dumps(config))
        self.events: list[dict[str, Any]] = []
        self._replies: dict[int, Any] = {}
        self._next = 0
        self._cond = threading.Condition()
        log = open(self.dir / "bgpcore.log", "wb")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(RUNNER), str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        lab.procs.append(self.proc)
        threading.Thread(target=self._read, daemon=True).start()
        self.query("ping")

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            with self._cond:
                if "reply" in msg:
                    self._replies[msg["reply"]] = msg
                else:
                    self.events.append(msg)
                self._cond.notify_all()

    def query(self, cmd: str, timeout_s: float = 15.0, **args: Any) -> Any:
        """Send one command; returns its result or raises with the runner's error."""
        assert self.proc is not None and self.proc.stdin is not None
        with self._cond:
            self._next += 1
            qid = self._next
        self.proc.stdin.write((json.dumps({"id": qid, "cmd": cmd, **args}) + "\n").encode())
        self.proc.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: qid in self._replies, timeout_s):
                raise AssertionError(f"bgpcore runner did not answer {cmd}; log:\n{self.log_tail()}")
            reply = self._replies.pop(qid)
        if "error" in reply:
            raise RuntimeError(f"bgpcore runner {cmd}: {reply['error']}")
        return reply.get("result")

    def neighbor(self, peer: str) -> dict[str, Any]:
        return self.query("neighbor", peer=peer)  # type: ignore[no-any-return]

    def state(self, peer: str) -> str:
        return str(self.neighbor(peer)["state"])

    def routes(self, peer: str) -> dict[str, dict[str, Any]]:
        """Routes received from ``peer``: {prefix: {"next_hop": [...], "as_path": [...], ...}}."""
        return self.query("routes", peer=peer)  # type: ignore[no-any-return]

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("event") == kind]


# ---------------------------------------------------------------------- a two-node topology

CORE4, PEER4 = "192.0.2.1", "192.0.2.2"
CORE6, PEER6 = "2001:db8::1", "2001:db8::2"


def two_nodes(lab: Any) -> tuple[str, str]:
    """Namespaces ``core`` and ``peer`` joined by veth vCore/vPeer, with CORE4/CORE6 and PEER4/PEER6."""
    core, peer = lab.ns("core"), lab.ns("peer")
    lab.link(core, "vCore", peer, "vPeer")
    lab.addr(core, "vCore", f"{CORE4}/24")
    lab.addr(core, "vCore", f"{CORE6}/64")
    lab.addr(peer, "vPeer", f"{PEER4}/24")
    lab.addr(peer, "vPeer", f"{PEER6}/64")
    return core, peer


def core_config(peer_address: str, remote_as: object = 65002, *, local_as: int = 65001, hold_time_s: int = 6,
                **neighbor: Any) -> dict[str, Any]:
    """bgpcore runner config: one neighbor, both unicast families, short timers."""
    n = {"address": peer_address, "remote_as": remote_as, "hold_time_s": hold_time_s,
         "families": ["ipv4-unicast", "ipv6-unicast"], "next_hop_ipv4": CORE4, "next_hop_ipv6": CORE6,
         "timers": {"connect_retry_s": 1, "connect_retry_max_s": 4, "idle_hold_s": 0.5, "idle_hold_max_s": 2}}
    n.update(neighbor)
    return {"local_as": local_as, "router_id": CORE4, "listen": [["0.0.0.0", 179], ["::", 179]], "neighbors": [n]}
