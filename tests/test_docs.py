"""The user documentation runs as written.

* every ```python block of docs/*.md runs as a program of its own (from the repository root,
  ``bgpcore`` importable) and exits 0; the blocks assert what they demonstrate. When the
  prose right after a block says "It prints:" followed by a ```text block, the program's
  output must be exactly that text.
* a ```python no-run block (root, namespaces or a kernel FIB needed) is only compiled; only
  the fabric page may have them.
* every ```toml block is a whole ``bgpcore run`` configuration: ``bgpcore.parse_config``
  accepts it. A ```toml fragment block need only be valid TOML.
* docs/api.md is what ``docs/gen_api.py`` generates from the current docstrings.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from bgpcore import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NO_RUN_ALLOWED = {"fabric.md"}
# Pages whose python blocks are API sketches rather than programs (not maintained with these
# tests); their blocks still run, as expected failures, until they are made runnable.
SKETCH_PAGES: dict[str, str] = {}
"""Pages whose python blocks are sketches, not programs (expected to fail), with why."""
USER_PAGES = ("quickstart.md", "fabric.md", "decoding.md", "configuration.md", "api.md")
_FENCE = re.compile(r"^```(\S*)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    flags: str
    text: str
    expected_output: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    """Fenced blocks of one page, with a python block's expected output when the page gives it."""
    raw: list[tuple[int, str, str, str, str]] = []  # line, lang, flags, text, prose before it
    lines = path.read_text().splitlines()
    prose: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            prose.append(lines[i])
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code block")
        raw.append((start + 1, m.group(1), m.group(2), "\n".join(body) + "\n", "\n".join(prose)))
        prose = []
        i += 1
    blocks = []
    for n, (line, lang, flags, text, _) in enumerate(raw):
        expected = None
        if lang == "python" and n + 1 < len(raw):
            _, next_lang, _, next_text, between = raw[n + 1]
            if next_lang == "text" and between.strip().endswith("It prints:"):
                expected = next_text
        blocks.append(Block(path.name, line, lang, flags, text, expected))
    return blocks


def _all_blocks() -> list[Block]:
    return [b for page in sorted(DOCS.glob("*.md")) for b in _blocks(page)]


BLOCKS = _all_blocks()
RUN = [b for b in BLOCKS if b.lang == "python" and b.flags == ""]
NO_RUN = [b for b in BLOCKS if b.lang == "python" and b.flags == "no-run"]
TOML = [b for b in BLOCKS if b.lang == "toml"]


def test_the_user_pages_exist_and_have_examples() -> None:
    for page in USER_PAGES:
        assert (DOCS / page).is_file(), page
    for page in ("quickstart.md", "fabric.md", "decoding.md"):
        assert any(b.page == page for b in RUN), f"{page} has no runnable python block"
    assert any(b.page == "configuration.md" for b in TOML)


def test_block_flags_are_known() -> None:
    for b in BLOCKS:
        if b.lang == "python":
            assert b.flags in ("", "no-run"), f"{b.id}: unknown python block flag {b.flags!r}"
        if b.lang == "toml":
            assert b.flags in ("", "fragment"), f"{b.id}: unknown toml block flag {b.flags!r}"
        assert b.lang != "py", f"{b.id}: write ```python so the block is tested"


def test_no_run_blocks_only_where_root_is_needed() -> None:
    for b in NO_RUN:
        assert b.page in NO_RUN_ALLOWED, f"{b.id}: ```python no-run outside {sorted(NO_RUN_ALLOWED)}"


@pytest.mark.parametrize("block", NO_RUN, ids=lambda b: b.id)
def test_no_run_block_compiles(block: Block) -> None:
    compile(block.text, block.id, "exec")


def _runnable(b: Block) -> object:
    if b.page in SKETCH_PAGES:
        return pytest.param(b, marks=pytest.mark.xfail(reason=f"{b.page}: {SKETCH_PAGES[b.page]}"), id=b.id)
    return pytest.param(b, id=b.id)


@pytest.mark.parametrize("block", [_runnable(b) for b in RUN])
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    script = tmp_path / f"{block.page.removesuffix('.md')}_{block.line}.py"
    script.write_text(block.text)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, f"{block.id} failed:\n{proc.stdout}\n{proc.stderr}"
    if block.expected_output is not None:
        assert proc.stdout == block.expected_output, f"{block.id}: output differs from the page"


@pytest.mark.parametrize("block", TOML, ids=lambda b: b.id)
def test_toml_block_is_a_valid_configuration(block: Block) -> None:
    if block.flags == "fragment":
        tomllib.loads(block.text)
        return
    try:
        config = parse_config(block.text, block.id)
    except ConfigError as exc:
        pytest.fail(f"{block.id}: bgpcore run rejects it: {exc}")
    assert config.router.local_as > 0


def test_harness_finds_blocks_and_expected_output(tmp_path: Path) -> None:
    """The extraction itself: a page with each kind of block."""
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nprint(1)\n```\n\nIt prints:\n\n```text\n1\n```\n"
                             "```toml fragment\na = 1\n```\n```python no-run\nx\n```\n")
    blocks = _blocks(page)
    assert [(b.lang, b.flags, b.line) for b in blocks] == [
        ("python", "", 2), ("text", "", 8), ("toml", "fragment", 11), ("python", "no-run", 14)]
    assert blocks[0].expected_output == "1\n" and blocks[3].expected_output is None


def test_quickstart_runs_the_reflector_it_shows() -> None:
    """The 20-line reflector is the start of the program that is run with clients."""
    shown, run = [b.text for b in BLOCKS if b.page == "quickstart.md" and b.lang == "python"][:2]
    assert run.startswith(shown)
    assert len(shown.strip().splitlines()) <= 30


def test_api_reference_is_up_to_date() -> None:
    proc = subprocess.run([sys.executable, str(DOCS / "gen_api.py"), "--stdout"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (DOCS / "api.md").read_text() == proc.stdout, "docs/api.md is out of date: run python docs/gen_api.py"


def test_api_reference_names_every_public_name() -> None:
    import bgpcore

    text = (DOCS / "api.md").read_text()
    headings = set(re.findall(r"^### `([A-Za-z_0-9]+)", text, re.MULTILINE))
    assert headings == set(bgpcore.__all__)


def test_configuration_reference_names_every_key() -> None:
    """Each key ``bgpcore run`` accepts has a row in docs/configuration.md (keys read from the checker)."""
    from bgpcore.program import config, policy_config

    text = (DOCS / "configuration.md").read_text()
    rows = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", text, re.MULTILINE))
    tables = set(re.findall(r"^##+ `\[\[?([a-z_.]+)\]\]?`", text, re.MULTILINE))
    assert set(config._TABLES) <= tables, set(config._TABLES) - tables
    keys = (config._SPEAKER_KEYS | config._DECISION_KEYS | config._FIB_KEYS | config._NETWORK_KEYS
            | config._NEIGHBOR_KEYS | config._GROUP_KEYS | config._INTERFACE_KEYS | config._RANGE_KEYS
            | policy_config.TERM_KEYS | policy_config.POLICY_KEYS)
    assert keys <= rows, f"keys without a row: {sorted(keys - rows)}"
    for key in getattr(config, "_BFD_KEYS", ()):
        assert f"`{key}`" in text, key
