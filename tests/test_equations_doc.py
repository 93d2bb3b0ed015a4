"""``docs/models/equations.md`` stays true to the code.

* Every ``file:function`` of its table names a file under ``src/groupvae`` that defines
  that function, class, or (dotted) method.
* Every "<PAPER> eq. N" that ``src/groupvae`` cites has a row of the table.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "models" / "equations.md"
PACKAGE = ROOT / "src" / "groupvae"
COLUMNS = ["paper", "equation", "what it is", "where (file:function)"]
PAPERS = ("CPVAE", "ML-VAE", "UG-VAE", "CxVAE")

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE_SPAN = re.compile(r"`([^`]*)`")
_LOCATION = re.compile(r"^(?P<file>[\w/]+\.py):(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
_DOC_EQUATION = re.compile(r"^eqs?\. (\d+)(?:-(\d+))?$")
_CODE_CITATION = re.compile(
    r"\b(" + "|".join(map(re.escape, PAPERS)) + r") eqs?\. (\d+(?:\s*(?:-|/|,)\s*\d+)*)"
)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in _CELL_SPLIT.split(line.strip().strip("|"))]


def table_rows(text: str) -> list[list[str]]:
    """The data rows of the one table in ``text``, each as its list of cells.

    Raises:
        AssertionError: unless there is exactly one table, with the expected columns.
    """
    lines = text.splitlines()
    starts = [
        i
        for i, line in enumerate(lines)
        if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|"))
    ]
    assert len(starts) == 1, f"expected one table, found {len(starts)}"
    i = starts[0]
    assert _cells(lines[i]) == COLUMNS, f"unexpected header {_cells(lines[i])}"
    assert set(lines[i + 1].replace("|", "").replace(" ", "")) <= {"-", ":"}
    rows = []
    for line in lines[i + 2 :]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(COLUMNS), f"row with {len(cells)} cells: {line}"
        rows.append(cells)
    return rows


def locations(where: str) -> list[tuple[str, str]]:
    """``(file, dotted name)`` of each code span of a ``where`` cell."""
    spans = _CODE_SPAN.findall(where)
    assert spans, f"no `file:function` in {where!r}"
    out = []
    for span in spans:
        m = _LOCATION.match(span)
        assert m, f"{span!r} is not `path/to/file.py:name`"
        out.append((m["file"], m["name"]))
    return out


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def defines(tree: ast.Module, dotted: str) -> bool:
    """Whether ``tree`` defines ``dotted``: a top-level function or class, or a
    function or class in the body of a class (``Class.method``, nested as deep as asked)."""
    body: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        found = next(
            (
                node
                for node in body
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name == part
            ),
            None,
        )
        if found is None:
            return False
        body = found.body
    return True


def equation_numbers(cell: str) -> set[int]:
    """``{3, 4, 5}`` for "eq. 3-5"; empty for "Algorithm 1", "section 2 (unnumbered)"."""
    m = _DOC_EQUATION.match(cell)
    if m is None:
        return set()
    first = int(m[1])
    return set(range(first, int(m[2] or first) + 1))


def cited_numbers(text: str) -> set[tuple[str, int]]:
    """``(paper, N)`` of each "<PAPER> eq. N" in ``text``, ranges and lists expanded:
    "CPVAE eq. 4 / 10" -> 4 and 10, "ML-VAE eq. 3-5" -> 3, 4 and 5."""
    out = set()
    for paper, numbers in _CODE_CITATION.findall(text):
        for part in re.split(r"\s*[/,]\s*", numbers):
            bounds = [int(b) for b in part.split("-")]
            out.update((paper, n) for n in range(bounds[0], bounds[-1] + 1))
    return out


ROWS = table_rows(DOC.read_text(encoding="utf-8"))
LOCATIONS = sorted({loc for row in ROWS for loc in locations(row[3])})


def test_every_row_is_filled() -> None:
    assert len(ROWS) >= 30
    for row in ROWS:
        assert all(row), f"empty cell in {row}"


@pytest.mark.parametrize(("file", "name"), LOCATIONS, ids=[f"{f}:{n}" for f, n in LOCATIONS])
def test_location_exists(file: str, name: str) -> None:
    path = PACKAGE / file
    assert path.is_file(), f"{file} is not a file under src/groupvae"
    assert defines(_tree(path), name), f"{file} does not define {name}"


def test_every_cited_equation_has_a_row() -> None:
    rows = {(row[0], n) for row in ROWS for n in equation_numbers(row[1])}
    cited: dict[tuple[str, int], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for key in cited_numbers(path.read_text(encoding="utf-8")):
            cited.setdefault(key, []).append(str(path.relative_to(PACKAGE)))
    missing = {
        f"{paper} eq. {n}": files for (paper, n), files in cited.items() if (paper, n) not in rows
    }
    assert not missing, f"cited in the code but not in docs/models/equations.md: {missing}"


def test_parsers() -> None:
    assert equation_numbers("eq. 3-5") == {3, 4, 5}
    assert equation_numbers("eq. 10") == {10}
    assert equation_numbers("Algorithm 1") == set()
    assert equation_numbers("unnumbered, after eq. 5") == set()
    assert cited_numbers("(CPVAE eq. 4 / 10), ML-VAE eq. 3-5; UG-VAE eq. 7, see") == {
        ("CPVAE", 4),
        ("CPVAE", 10),
        ("ML-VAE", 3),
        ("ML-VAE", 4),
        ("ML-VAE", 5),
        ("UG-VAE", 7),
    }
    tree = ast.parse("class A:\n    def f(self): ...\n\ndef g(): ...\n")
    assert defines(tree, "A") and defines(tree, "A.f") and defines(tree, "g")
    assert not defines(tree, "f") and not defines(tree, "A.g") and not defines(tree, "B")
    assert _cells("| a \\| b | c |") == ["a \\| b", "c"]
