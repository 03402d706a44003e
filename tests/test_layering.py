"""Imports point one way, down the layers of docs/architecture.md (STYLE.md §1).

Every module of bgpcore (and the .py/.pyx files of bgpcore_fast) is parsed, every import it
makes of bgpcore is resolved to a layer, and an import of a higher layer fails the test.
Imports under ``if TYPE_CHECKING:`` and inside functions count too: they are the same
coupling, only deferred.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module's layer is the longest prefix of its dotted name listed here.
LAYERS: list[tuple[str, ...]] = [
    ("bgpcore.constants", "bgpcore.errors"),
    ("bgpcore.wire", "bgpcore.mrt", "bgpcore_fast"),
    ("bgpcore.route",),
    ("bgpcore.session",),
    ("bgpcore.bfd",),
    ("bgpcore.policy",),
    ("bgpcore.rib",),
    ("bgpcore.fib",),
    ("bgpcore.discovery",),
    ("bgpcore.transport",),
    ("bgpcore.bmp", "bgpcore.mrt_write"),
    ("bgpcore.router",),
]
TOP = len(LAYERS)
"""Layer of the program on top: ``bgpcore/__init__.py``, ``__main__``, cli/config modules."""


def layer_of(module: str) -> int:
    best, best_len = TOP, 0
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    if module == "bgpcore":  # the package itself: its __init__ re-exports the public API
        return TOP
    return best


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    files = sorted((ROOT / "bgpcore").rglob("*.py"))
    fast = ROOT / "bgpcore_fast"
    if fast.is_dir():
        files += sorted(fast.rglob("*.py")) + sorted(fast.rglob("*.pyx")) + sorted(fast.rglob("*.pxd"))
    return files


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted name) of every bgpcore/bgpcore_fast import in one file."""
    module = module_name(path, root)
    is_package = path.stem == "__init__"
    text = path.read_text()
    found: list[tuple[int, str]] = []
    if path.suffix in (".pyx", ".pxd"):  # Cython syntax: read import lines only
        for lineno, line in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*(?:from\s+(\S+)\s+c?import|c?import\s+([\w.]+))", line)
            if m:
                found.append((lineno, m.group(1) or m.group(2)))
    else:
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = _resolve_relative(module, is_package, node.level, node.module)
                # `from bgpcore.wire import update` names a submodule: judge the full name
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in ("bgpcore", "bgpcore_fast")]


def upward_imports(files: list[Path], root: Path = ROOT) -> list[str]:
    problems = []
    for path in files:
        module = module_name(path, root)
        own = layer_of(module)
        for line, target in imported_modules(path, root):
            if layer_of(target) > own:
                problems.append(f"{path.relative_to(root)}:{line}: {module} (layer {own}) imports {target} (layer {layer_of(target)})")
    return problems


def test_package_has_modules_to_check() -> None:
    names = {module_name(p) for p in source_files()}
    assert {"bgpcore", "bgpcore.constants", "bgpcore.errors", "bgpcore.wire.nlri"} <= names


def test_no_module_imports_a_higher_layer() -> None:
    problems = upward_imports(source_files())
    assert not problems, "upward imports (see docs/architecture.md):\n" + "\n".join(problems)


def test_only_accel_imports_the_extension() -> None:
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in (ROOT / "bgpcore").rglob("*.py")
                 for line, name in imported_modules(p)
                 if name.split(".")[0] == "bgpcore_fast" and module_name(p) != "bgpcore.wire.accel"]
    assert not offenders, "only bgpcore/wire/accel.py may import bgpcore_fast: " + ", ".join(offenders)


@pytest.mark.parametrize(("module", "target", "upward"), [
    ("bgpcore.wire.update", "bgpcore.errors", False),
    ("bgpcore.wire.update", "bgpcore.session.fsm", True),
    ("bgpcore.route", "bgpcore.wire.types", False),
    ("bgpcore.rib.loc", "bgpcore.policy.hooks", False),
    ("bgpcore.policy.hooks", "bgpcore.rib.loc", True),
    ("bgpcore.mrt", "bgpcore.wire.update", False),
    ("bgpcore.fib.kernel", "bgpcore.transport.speaker", True),
    ("bgpcore.transport.speaker", "bgpcore.fib.kernel", False),
    ("bgpcore.__main__", "bgpcore.transport.speaker", False),
    ("bgpcore.session.fsm", "bgpcore", True),
])
def test_layer_order_matches_the_architecture(module: str, target: str, upward: bool) -> None:
    assert (layer_of(target) > layer_of(module)) is upward


def test_checker_finds_an_upward_import(tmp_path: Path) -> None:
    """The walk itself works: a planted upward import, relative and lazy, is reported."""
    pkg = tmp_path / "bgpcore" / "wire"
    pkg.mkdir(parents=True)
    (tmp_path / "bgpcore" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "framing.py").write_text("from . import types\n")
    (pkg / "update.py").write_text("def f():\n    from ..rib import loc\n    return loc\n")
    problems = upward_imports(sorted(tmp_path.rglob("*.py")), tmp_path)
    assert len(problems) == 1 and "update.py:2" in problems[0] and "bgpcore.rib.loc" in problems[0]


CORE_PACKAGES = ("router", "rib", "transport", "session")
"""The router core and what it composes: one concept per module, no string dispatch."""


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_core_modules_stay_under_600_lines(package: str) -> None:
    long = {p.name: n for p in sorted((ROOT / "bgpcore" / package).glob("*.py"))
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, f"split these modules: {long}"


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_core_calls_no_method_looked_up_by_name(package: str) -> None:
    """``getattr(obj, name)`` with a computed name hides calls from readers and mypy."""
    found = []
    for path in sorted((ROOT / "bgpcore" / package).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                target = node.args[0] if node.args else None
                optional_extension = isinstance(target, ast.Name) and target.id.startswith("_wire_accel")
                if not optional_extension:
                    found.append(f"{path.name}:{node.lineno}")
    assert not found, f"getattr calls: {found}"
