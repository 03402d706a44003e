"""Build bgpcore; add the optional bgpcore_fast extension when Cython and a C compiler are there.

Metadata lives in pyproject.toml. ``BGPCORE_NO_EXTENSIONS=1`` (or a non-CPython interpreter)
skips the extension; a failed compilation leaves a working pure-Python install and a warning.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

WANT_EXTENSIONS = not os.environ.get("BGPCORE_NO_EXTENSIONS") and sys.implementation.name == "cpython"


def _warn(what: str, exc: BaseException | None = None) -> None:
    line = "*" * 75
    detail = f"\n  {type(exc).__name__}: {exc}" if exc is not None else ""
    print(f"{line}\nWARNING: {what}{detail}\n"
          "bgpcore is installed without its C fast path and runs the pure-Python codec.\n"
          "bgpcore.wire.accel.ACCELERATED will be False.\n"
          f"{line}", file=sys.stderr)


def _extensions() -> list[Extension]:
    if not WANT_EXTENSIONS:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        _warn("Cython is not installed, so bgpcore_fast was not built.", exc)
        return []
    try:
        # the .pyx is also listed in depends so that an sdist carries it beside the generated C
        modules = [Extension(f"bgpcore_fast.{name}", [f"bgpcore_fast/{name}.pyx"], depends=[f"bgpcore_fast/{name}.pyx"])
                   for name in ("_update", "_encode", "_rib")]
        return list(cythonize(modules,
                              compiler_directives={"language_level": "3"}, quiet=True))
    except Exception as exc:  # a Cython error must not stop the pure-Python install
        _warn("Cython could not translate bgpcore_fast.", exc)
        return []


class OptionalBuildExt(build_ext):
    """build_ext that turns a compiler failure into a warning (as aiohttp and msgpack do)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            _warn("the C compiler could not be run for bgpcore_fast.", exc)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            _warn(f"compiling {ext.name} failed.", exc)


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
