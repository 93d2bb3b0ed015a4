"""Every ``bash`` and ``python`` block of the README and of the docs pages runs.

The blocks of a page run in order in a fresh folder (``docs/_hooks/run_blocks.py``: bash
blocks with ``bash -euo pipefail``, python blocks in one namespace per page). A hidden
``<!-- setup-python ... -->`` comment of a page runs first (it writes the files the page
assumes, e.g. ``scores.csv``). A block after ``<!-- not-run: REASON -->`` is not run here
(the reason names what runs it instead: CI itself, a tutorial, a test). A block after
``<!-- slow: REASON -->`` runs only with the slow command of the Contributing page,
``GROUPVAE_DOCS_SLOW=1 python -m pytest tests/test_docs.py -k slow``, from the repository
root. ``text`` blocks (synopses,
outputs) are not code. The tutorials (``docs/tutorials/``) are run by ``mkdocs build``
instead, and checked here only for their structure.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_hooks"))

import run_blocks  # noqa: E402

PAGES = sorted(
    [ROOT / "README.md"]
    + [
        p
        for p in (ROOT / "docs").rglob("*.md")
        if "results" not in p.parts and "_hooks" not in p.parts and "tutorials" not in p.parts
    ]
)
_SETUP = re.compile(r"<!--\s*setup-python\s*\n(?P<code>.*?)-->", re.S)
_SLOW = re.compile(r"<!--\s*slow:[^>]*-->\s*\n(?=[ ]*```)")
SLOW = os.environ.get("GROUPVAE_DOCS_SLOW") == "1"


def _runnable(text: str) -> str:
    """The page's text with its slow blocks marked not-run (``test_slow_blocks`` runs them)."""
    return _SLOW.sub("<!-- not-run: slow -->\n", text)


def _slow_blocks(text: str) -> list[run_blocks.Block]:
    """The blocks right after a ``<!-- slow: ... -->`` marker."""
    starts = {m.end() for m in _SLOW.finditer(text)}
    return [b for b in run_blocks.blocks(text) if b.start in starts]


def _has_code(path: Path) -> bool:
    return any(
        b.lang in run_blocks.RUN and not b.skipped
        for b in run_blocks.blocks(_runnable(path.read_text(encoding="utf-8")))
    ) or bool(_SETUP.search(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _has_code(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    text = page.read_text(encoding="utf-8")
    setup = "".join(f"```python\n{m['code']}```\n" for m in _SETUP.finditer(text))
    run_blocks.run_markdown(setup + _runnable(text), tmp_path, label=str(page.relative_to(ROOT)))


@pytest.mark.skipif(not SLOW, reason="the slow command: GROUPVAE_DOCS_SLOW=1")
@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if _slow_blocks(p.read_text(encoding="utf-8"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_slow_blocks(page: Path) -> None:
    """The slow blocks (measurements of minutes), each run from the repository root."""
    for block in _slow_blocks(page.read_text(encoding="utf-8")):
        fence = f"```{block.lang}\n{block.code}\n```\n"
        run_blocks.run_markdown(fence, ROOT, label=str(page.relative_to(ROOT)))


def test_every_block_is_code_text_or_says_why_not() -> None:
    """A fenced block is bash, python (run) or text; a skipped one says what runs it."""
    for page in PAGES + sorted((ROOT / "docs" / "tutorials").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for block in run_blocks.blocks(text):
            assert block.lang in (*run_blocks.RUN, "text"), (
                f"{page.name}: a ```{block.lang or '(no language)'} block; use bash, python or text"
            )
        for reason in re.findall(r"^<!--\s*(?:not-run|slow):([^>]*)-->", text, re.M):
            assert len(reason.strip()) > 10, f"{page.name}: say why a block is not run"


def test_quickstart_block_is_ci_command() -> None:
    """.ci/run reads the second line of the first block under "## Quickstart"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    block = section.split("```", 2)[1].splitlines()
    assert block[0] == "bash"
    assert block[2].endswith('-e ".[test]" && .venv/bin/python -m pytest')
