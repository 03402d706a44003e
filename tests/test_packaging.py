"""bgpcore installs as a dependency-free package with a working ``bgpcore`` command."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def installed_or_skip(what: str) -> None:
    """Outside CI a source checkout may not be installed; in CI it must be."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed (make test installs it into .venv)")
    pytest.skip(f"{what} is not installed; run `make test`")


def console_script() -> str:
    beside = Path(sys.executable).with_name("bgpcore")
    found = str(beside) if beside.exists() else shutil.which("bgpcore")
    if found is None:
        installed_or_skip("the bgpcore console script")
    assert found is not None
    return found


def test_project_metadata_has_no_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == []
    assert project["requires-python"] == ">=3.11"
    assert project["scripts"] == {"bgpcore": "bgpcore.__main__:main"}
    assert "pytest" in " ".join(project["optional-dependencies"]["test"])


def test_installed_distribution_matches_the_project() -> None:
    try:
        dist = importlib.metadata.distribution("bgpcore")
    except importlib.metadata.PackageNotFoundError:
        installed_or_skip("the bgpcore distribution")
        return
    unconditional = [r for r in dist.requires or [] if "extra ==" not in r]
    assert unconditional == []
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts == {"bgpcore": "bgpcore.__main__:main"}


def test_module_help_lists_the_subcommands() -> None:
    res = run(sys.executable, "-m", "bgpcore", "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: bgpcore" in res.stdout and "demo" in res.stdout


def test_console_script_help_works() -> None:
    res = run(console_script(), "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: bgpcore" in res.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    res = run(sys.executable, "-m", "bgpcore", "no-such-command")
    assert res.returncode == 2
    assert "invalid choice" in res.stderr


def test_demo_decodes_every_generated_prefix() -> None:
    res = run(sys.executable, "-m", "bgpcore", "decode-sample", "--ipv4", "30", "--ipv6", "7", "--seed", "5")
    assert res.returncode == 0, res.stderr
    assert res.stdout.rstrip().endswith("UPDATEs decoded, 37 prefixes")
    assert "IPV6 UNICAST" in res.stdout and "/" in res.stdout
