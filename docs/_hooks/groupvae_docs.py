"""MkDocs hooks of groupvae's site (``mkdocs.yml``: ``hooks``).

* Tables generated from the code at build time, by markers in the pages:
  ``<!-- presets-table -->`` (``groupvae.models.MODELS``), ``<!-- parts-table FAMILY -->``
  (``FAMILY_PARTS``), ``<!-- datasets-table -->`` (``groupvae.data.DATASETS``),
  ``<!-- equations PAPER -->`` (the rows of ``docs/models/equations.md`` for one paper),
  ``<!-- include results/X/table.md -->`` (a committed result file, as it is),
  ``<!-- cli-reference -->`` (the command line, from the Typer app: ``cli_reference.py``).
* The tutorials (``docs/tutorials/*.md``) are executed on every build: their ``bash`` and
  ``python`` blocks run in order in a fresh folder (see ``run_blocks.py``); each block's
  output is shown under it, and ``<!-- figure PATH caption -->`` shows a file the blocks
  wrote, ``<!-- output-file PATH -->`` the contents of a Markdown file the blocks wrote
  (a benchmark's ``table.md``). A block that fails fails the build.
  ``GROUPVAE_DOCS_EXECUTE=0`` skips the execution (a quick preview with ``mkdocs serve``;
  never in CI).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cli_reference  # noqa: E402
import run_blocks  # noqa: E402

DOCS = HERE.parent
_KINDS = "presets-table|parts-table|datasets-table|equations|include|benchmark-record|cli-reference"
_MARKER = re.compile(r"<!--\s*(" + _KINDS + r")\s*([^>]*?)\s*-->")
_FIGURE = re.compile(r"<!--\s*figure\s+(\S+)\s*(.*?)\s*-->")
_OUTPUT_FILE = re.compile(r"<!--\s*output-file\s+(\S+)\s*-->")

_figures: list[tuple[Path, str]] = []  # (file written by a tutorial, its path in the site)
_timings: dict[str, float] = {}


def _first_line(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    line = doc.split("\n\n")[0].replace("\n", " ") if doc else ""
    return line.replace("|", "\\|")


def _value(v: object) -> str:
    return f"`{v}`"


def presets_table() -> str:
    from groupvae.models import MODELS

    rows = [
        "| preset | family | parts (config fields) | training settings the paper prescribes |",
        "|---|---|---|---|",
    ]
    for name, preset in MODELS.items():
        parts = ", ".join(f"`{k}={v}`" for k, v in preset.parts.items()) or "the family's defaults"
        training = ", ".join(f"`{k}={v}`" for k, v in preset.training.items()) or "—"
        rows.append(f"| `{name}` | `{preset.family}` | {parts} | {training} |")
    return "\n".join(rows)


def parts_table(family: str) -> str:
    from groupvae.models import FAMILY_PARTS

    rows = ["| part (`--set KEY=NAME`) | name | what it is |", "|---|---|---|"]
    for kind, registry in FAMILY_PARTS[family].items():
        for name, obj in registry.items():
            what = _first_line(obj) if obj is not None else "none"
            rows.append(f"| `{kind}` | `{name}` | {what} |")
    return "\n".join(rows)


def datasets_table() -> str:
    from groupvae.data import DATASETS

    rows = ["| data set | what it is |", "|---|---|"]
    for name, spec in DATASETS.items():
        what = getattr(spec, "description", "") or _first_line(spec)
        rows.append(f"| `{name}` | {what.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)


def equations(paper: str) -> str:
    text = (DOCS / "models" / "equations.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith("| paper |"))
    rows = text[start : start + 2]
    for line in text[start + 2 :]:
        if not line.startswith("|"):
            break
        if line.split("|")[1].strip().startswith(paper):
            rows.append(line)
    if len(rows) == 2:
        raise ValueError(f"no row of docs/models/equations.md for {paper!r}")
    return "\n".join(rows)


def include(path: str) -> str:
    return (DOCS / path).read_text(encoding="utf-8").strip()


def benchmark_record(arg: str, page_depth: int) -> str:
    """What a committed benchmark run records: ``results.json``'s seeds, wall time and
    machine, with links to its files. ``arg`` is ``results/DIR command words``."""
    import json

    folder, _, command = arg.partition(" ")
    record = json.loads((DOCS / folder / "results.json").read_text(encoding="utf-8"))
    settings = record.get("settings") or {}
    seeds = record.get("seeds") or settings.get("seeds")
    machine = record.get("machine") or {}
    up = "../" * page_depth
    wall = record.get("wall_seconds")
    csv = DOCS / folder / "results.csv"
    lines = [
        f'!!! info "The committed run: `{folder}/`"',
        "",
        f"    - **Command:** `{command.strip()}`" if command.strip() else "",
        f"    - **Seeds:** {', '.join(map(str, seeds))}" if seeds else "",
        f"    - **Wall time:** {float(wall):,.0f} s" if isinstance(wall, (int, float)) else "",
        "    - **Machine:** "
        + ", ".join(
            f"{k} `{machine[k]}`"
            for k in ("cpu_count", "processor", "platform", "torch", "torch_threads")
            if k in machine
        ),
        f"    - **Files:** [`table.md`]({up}{folder}/table.md), "
        f"[`results.json`]({up}{folder}/results.json) (every run, the settings, the machine)"
        + (f", [`results.csv`]({up}{folder}/results.csv)" if csv.is_file() else ""),
    ]
    return "\n".join(line for line in lines if line != "") + "\n"


_depth = 0


def _replace(match: re.Match[str]) -> str:
    kind, arg = match[1], match[2]
    if kind == "presets-table":
        return presets_table()
    if kind == "parts-table":
        return parts_table(arg or "group-vae")
    if kind == "datasets-table":
        return datasets_table()
    if kind == "equations":
        return equations(arg)
    if kind == "cli-reference":
        return cli_reference.reference(depth=2)
    if kind == "benchmark-record":
        return benchmark_record(arg, _depth)
    return include(arg)


def on_page_markdown(markdown: str, page, config, files) -> str:
    global _depth
    src = page.file.src_uri
    _depth = src.count("/")
    markdown = _MARKER.sub(_replace, markdown)
    markdown = _table_pipes(markdown)
    if src.startswith("tutorials/") and src != "tutorials/index.md":
        markdown = _execute(markdown, src, config)
    return markdown


def _table_pipes(markdown: str) -> str:
    """``\\|`` in a table row is a literal ``|`` (GitHub shows it so), but Python-Markdown
    keeps the backslash inside a code span: show it as a bar there (U+2223, DIVIDES)."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("|") and "\\|" in line:
            lines[i] = line.replace("\\|", "\u2223")
    return "\n".join(lines)


def _execute(markdown: str, src: str, config) -> str:
    if os.environ.get("GROUPVAE_DOCS_EXECUTE", "1") == "0":
        markdown = _OUTPUT_FILE.sub(lambda m: f"*(`{m[1]}`: not run in this preview)*", markdown)
        return _FIGURE.sub(lambda m: f"*(figure `{m[1]}`: not executed in this preview)*", markdown)
    name = Path(src).stem
    work = Path(tempfile.mkdtemp(prefix=f"groupvae-docs-{name}-"))
    start = time.perf_counter()
    results = run_blocks.run_markdown(markdown, work, label=src)
    _timings[src] = time.perf_counter() - start
    out = run_blocks.with_outputs(markdown, results)

    def figure(m: re.Match[str]) -> str:
        path = work / m[1]
        if not path.is_file():
            raise FileNotFoundError(f"{src}: the tutorial wrote no {m[1]}")
        site_path = f"tutorials/{name}/{Path(m[1]).name}"
        _figures.append((path, site_path))
        caption = html.escape(m[2] or m[1])
        return (
            f'<figure markdown="0"><img src="{Path(m[1]).name}" alt="{caption}">'
            f"<figcaption>{caption} (<code>{html.escape(m[1])}</code>, written by the "
            "commands above when this page was built)</figcaption></figure>"
        )

    def output_file(m: re.Match[str]) -> str:
        path = work / m[1]
        if not path.is_file():
            raise FileNotFoundError(f"{src}: the tutorial wrote no {m[1]}")
        return path.read_text(encoding="utf-8").strip()

    out = _FIGURE.sub(figure, out)
    return _OUTPUT_FILE.sub(output_file, out)


def on_post_build(config) -> None:
    site = Path(config["site_dir"])
    for path, site_path in _figures:
        # tutorials/NAME.md is built as tutorials/NAME/index.html: the figure sits beside it
        dest = site / site_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    for src, seconds in _timings.items():
        print(f"groupvae docs: executed {src} in {seconds:.1f} s", file=sys.stderr)
