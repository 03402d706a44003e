#!/usr/bin/env python3
"""Write docs/api.md: every name of ``bgpcore.__all__`` with its signature and docstring.

    python docs/gen_api.py            # rewrite docs/api.md
    python docs/gen_api.py --check    # exit 1 when docs/api.md differs from the docstrings
    python docs/gen_api.py --stdout   # print the page

Names are grouped by the module that defines them. Classes list their public methods and
properties (those defined in the class itself, with a docstring). The pure-Python codec is
documented (``BGPCORE_NO_EXTENSIONS`` is set before bgpcore is imported), so the page does
not depend on whether the Cython extension was built.
"""
from __future__ import annotations

import os

os.environ["BGPCORE_NO_EXTENSIONS"] = "1"

import argparse  # noqa: E402
import enum  # noqa: E402
import inspect  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bgpcore  # noqa: E402

API_MD = ROOT / "docs" / "api.md"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

HEADER = """# API reference

Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand
(`tests/test_docs.py` checks that this page matches the code).

Every name below is importable from the package itself (`from bgpcore import Router`);
the module in each heading is where it is defined. Signatures show the annotations as written
in the source.
"""


def _clean(text: str) -> str:
    return _ADDRESS.sub("", text)


class _Annotation:
    """An annotation kept as the source text (``from __future__ import annotations``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _unquote(annotation: Any) -> Any:
    return _Annotation(annotation) if isinstance(annotation, str) else annotation


def _signature(obj: Any) -> str | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p.replace(annotation=_unquote(p.annotation)) for p in sig.parameters.values()]
    returns = inspect.Signature.empty if isinstance(obj, type) else _unquote(sig.return_annotation)
    return _clean(str(sig.replace(parameters=params, return_annotation=returns)))


def _doc(obj: Any) -> str:
    doc = obj.__doc__ if isinstance(obj, type) or callable(obj) else None
    if isinstance(obj, type) and doc is not None and obj.__doc__ is getattr(obj.__mro__[1], "__doc__", None):
        doc = None  # inherited, e.g. from tuple or int
    return inspect.cleandoc(doc) if doc else ""


def _module_of(name: str, obj: Any) -> str:
    exports: dict[str, str] = getattr(bgpcore, "_EXPORTS", {})
    if name in exports:
        return exports[name]
    module = getattr(obj, "__module__", None)
    return module if isinstance(module, str) else "bgpcore"


def _kind(obj: Any) -> str:
    if isinstance(obj, type):
        if issubclass(obj, enum.Enum):
            return "enum"
        if issubclass(obj, BaseException):
            return "exception"
        return "class"
    if inspect.isroutine(obj):
        return "function"
    return "value"


def _members(cls: type) -> list[str]:
    """Public methods and properties defined in ``cls`` itself, with a docstring."""
    out: list[str] = []
    for name, member in sorted(cls.__dict__.items()):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            doc = inspect.cleandoc(member.__doc__) if member.__doc__ else ""
            if doc:
                out.append(f"#### `{cls.__name__}.{name}` (property)\n\n{doc}\n")
            continue
        func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
        if not inspect.isfunction(func) or not func.__doc__:
            continue
        sig = _signature(getattr(cls, name)) or "(...)"
        out.append(f"#### `{cls.__name__}.{name}{sig}`\n\n{inspect.cleandoc(func.__doc__)}\n")
    return out


def _entry(name: str, obj: Any) -> str:
    kind = _kind(obj)
    lines: list[str] = []
    if kind in ("class", "exception", "function"):
        sig = _signature(obj) or ""
        if kind == "exception":
            sig = ""
        lines.append(f"### `{name}{sig}`\n")
        lines.append(f"*{kind}*" + (f" — bases: {', '.join(f'`{b.__name__}`' for b in obj.__bases__)}"
                                    if kind == "exception" else "") + "\n")
    elif kind == "enum":
        lines.append(f"### `{name}`\n")
        members = ", ".join(f"`{m.name}` = {m.value!r}" for m in obj)
        lines.append(f"*enum* — {members}\n")
    else:
        lines.append(f"### `{name}`\n")
        lines.append(f"*value* — `{_clean(repr(obj))}`\n")
    doc = _doc(obj)
    if doc:
        lines.append(doc + "\n")
    if kind == "class":
        lines.extend(_members(obj))
    return "\n".join(lines)


def render() -> str:
    """The whole page."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for name in sorted(bgpcore.__all__, key=str.lower):
        obj = getattr(bgpcore, name)
        groups.setdefault(_module_of(name, obj), []).append((name, obj))
    parts = [HEADER, "## Contents\n"]
    for module in sorted(groups):
        names = ", ".join(f"`{n}`" for n, _ in groups[module])
        parts.append(f"- [`{module}`](#{module.replace('.', '')}): {names}")
    parts.append("")
    for module in sorted(groups):
        parts.append(f"## {module}\n")
        mod_doc = inspect.getdoc(sys.modules[module]) if module in sys.modules else None
        if mod_doc:
            parts.append(mod_doc.split("\n\n", 1)[0] + "\n")
        for name, obj in groups[module]:
            parts.append(_entry(name, obj))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when docs/api.md is out of date")
    mode.add_argument("--stdout", action="store_true", help="print the page instead of writing it")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = API_MD.read_text() if API_MD.exists() else ""
        if current != text:
            print(f"{API_MD} is out of date: run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    API_MD.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
