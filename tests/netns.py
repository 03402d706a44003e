"""Network namespaces for interop and kernel tests: made by the test, removed by the test.

Every namespace, link and process created here is recorded and removed in reverse order by
``Lab.close()`` (the ``lab`` fixture calls it), also when the test fails. Processes are
stopped by PID only.
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

import pytest

_counter = itertools.count()


def netns_unavailable_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    name = f"bgpc-probe-{os.getpid()}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"network namespaces unavailable: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def require_netns() -> None:
    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(reason)


def run(cmd: Sequence[str], check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(cmd), capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res  # type: ignore[no-any-return]


class Lab:
    """A set of namespaces joined by veth pairs, plus the processes started in them."""

    def __init__(self) -> None:
        self.tag = f"{os.getpid() % 10000}x{next(_counter)}"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dir = Path(tempfile.mkdtemp(prefix="bgpcore-lab-"))
        os.chmod(self.dir, 0o777)

    def ns(self, short: str) -> str:
        """Create namespace ``short`` (name made unique), loopback up, DAD off, forwarding on."""
        name = f"bc{self.tag}{short}"
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.exec(name, "ip", "link", "set", "lo", "up")
        for key in ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1",
                    "net.ipv6.conf.all.keep_addr_on_down=1"):
            self.exec(name, "sysctl", "-qw", key, check=False)
        return name

    def exec(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", ns, *cmd], check=check)

    def link(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        """A veth pair ``if_a`` in ``ns_a`` to ``if_b`` in ``ns_b``, both up."""
        run(["ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b])
        self.exec(ns_a, "ip", "link", "set", if_a, "up")
        self.exec(ns_b, "ip", "link", "set", if_b, "up")

    def addr(self, ns: str, ifname: str, cidr: str) -> None:
        args = ["ip", "addr", "add", cidr, "dev", ifname]
        if ":" in cidr:
            args.append("nodad")
        self.exec(ns, *args)

    def spawn(self, ns: str, *cmd: str, log: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        out = open(self.dir / log, "wb") if log else subprocess.DEVNULL
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        for name in reversed(self.namespaces):
            # daemons that fork (pidfiles) may still hold the namespace: end them by their pids
            pids = run(["ip", "netns", "pids", name], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
