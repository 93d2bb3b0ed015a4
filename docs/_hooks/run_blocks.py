"""Run the code blocks of a Markdown page, in order, in one folder.

``bash`` blocks run with ``bash -euo pipefail`` in the folder (the ``groupvae`` command of
the running interpreter's environment first on ``PATH``); ``python`` blocks run in one
namespace per page, so a later block sees an earlier block's names, with the folder as the
working directory. Blocks of another language (``text``: synopses, outputs) are not run.
A block right after ``<!-- not-run: REASON -->`` is not run (the reason says why and what
runs it instead). Used by the docs build (``groupvae_docs.py``) for the tutorials and by
``tests/test_docs.py`` for the README and the guide.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(
    r"(?P<skip><!--\s*not-run:[^>]*-->\s*\n)?^(?P<indent>[ ]*)```(?P<lang>[\w-]*)[^\n]*\n"
    r"(?P<code>.*?)^(?P=indent)```[ ]*$",
    re.M | re.S,
)
RUN = ("bash", "python")


@dataclass
class Block:
    lang: str
    code: str
    start: int  # offsets of the whole fence in the page
    end: int
    skipped: bool


@dataclass
class Result:
    block: Block
    output: str
    seconds: float


def blocks(markdown: str) -> list[Block]:
    out = []
    for m in _FENCE.finditer(markdown):
        indent = len(m["indent"])
        code = "\n".join(line[indent:] for line in m["code"].splitlines())
        out.append(Block(m["lang"], code, m.start(), m.end(), m["skip"] is not None))
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class BlockError(RuntimeError):
    pass


def run_markdown(markdown: str, folder: Path, label: str) -> list[Result]:
    """Run every runnable block of ``markdown`` in ``folder``; raise on the first failure."""
    import time

    folder.mkdir(parents=True, exist_ok=True)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    results = []
    env = _env()
    for i, block in enumerate(blocks(markdown)):
        if block.lang not in RUN or block.skipped:
            continue
        start = time.perf_counter()
        if block.lang == "bash":
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.code],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
            )
            output = proc.stdout + proc.stderr
            if proc.returncode != 0:
                raise BlockError(
                    f"{label}: block {i + 1} (bash) exited {proc.returncode}:\n{block.code}\n"
                    f"--- output ---\n{output[-4000:]}"
                )
        else:
            buffer = io.StringIO()
            old = Path.cwd()
            os.chdir(folder)
            try:
                with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                    exec(compile(block.code, f"{label}:block{i + 1}", "exec"), namespace)
            except Exception as e:
                raise BlockError(
                    f"{label}: block {i + 1} (python) raised {type(e).__name__}: {e}\n"
                    f"{block.code}\n--- output ---\n{buffer.getvalue()[-4000:]}"
                ) from e
            finally:
                os.chdir(old)
            output = buffer.getvalue()
        results.append(Result(block, output, time.perf_counter() - start))
    return results


def _clean(output: str, limit: int = 40) -> str:
    lines = [line.rstrip() for line in output.replace("\r", "\n").splitlines()]
    # progress bars and Lightning's banners say nothing to a reader
    keep = [
        line
        for line in lines
        if line.strip()
        and "it/s]" not in line
        and "s/it]" not in line
        and not line.startswith(("GPU available", "TPU available", "HPU available", "💡"))
    ]
    if len(keep) > limit:
        left_out = f"... ({len(keep) - limit} lines left out)"
        keep = [*keep[: limit // 2], left_out, *keep[-limit // 2 :]]
    return "\n".join(keep)


def with_outputs(markdown: str, results: list[Result]) -> str:
    """``markdown`` with each block's output (if any) below it, as a collapsed note."""
    out, pos = [], 0
    for r in results:
        out.append(markdown[pos : r.block.end])
        pos = r.block.end
        text = _clean(r.output)
        # short outputs (a file's first lines, a table) open; training logs collapsed
        fold = "???+" if len(text.splitlines()) <= 15 else "???"
        head = f'{fold} note "Output ({r.seconds:.1f} s when this page was built)"'
        if text:
            body = "\n".join("    " + line for line in ["```text", *text.splitlines(), "```"])
            out.append(f"\n\n{head}\n\n{body}\n")
    out.append(markdown[pos:])
    return "".join(out)
