"""The ``--out`` policy of ``groupvae tune``: what its folder holds, and when a command
may use it.

A study folder holds ``tune.json`` (what is tuned, in which study and storage; written
first, atomically), the embedded study ``study.db`` (unless ``--storage`` names another)
and its slot lock, ``trials.csv``, ``history.png``, ``importances.png``, ``best.json`` and
the best trial's run directory ``best/``. The folder must be new, empty, or a study
folder of the same problem (the same command continues the study: ``--trials``,
``--jobs`` and ``--timeout`` may change, nothing else). A folder holding anything else
is refused, naming what is there, and no file that ``groupvae tune`` did not write is
ever removed or replaced; ``best/`` follows ``groupvae train``'s own ``--out`` policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from groupvae.errors import ConfigError
from groupvae.store.atomic import write_json
from groupvae.store.run_directory import HOUSEKEEPING, request_differences

TUNE_FILE = "tune.json"
TRIALS_CSV = "trials.csv"
HISTORY_PNG = "history.png"
IMPORTANCES_PNG = "importances.png"
BEST_JSON = "best.json"
BEST_RUN = "best"
FORMAT = 1


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def folder_state(out: str | Path) -> str:
    """``"new"`` (absent, or empty but for groupvae's lock files) or ``"study"`` (it has
    a ``tune.json``).

    Raises:
        ConfigError: for a file, or a folder of other files (naming them).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder; choose another --out")
    if not out.exists():
        return "new"
    entries = [p.name for p in out.iterdir() if p.name not in HOUSEKEEPING]
    if not entries:
        return "new"
    if (out / TUNE_FILE).is_file():
        return "study"
    raise ConfigError(
        f"--out {out} holds files that are not a groupvae study ({_listing(entries)}); "
        "groupvae will not touch them: choose another --out"
    )


def read_request(out: str | Path) -> dict[str, Any]:
    """The ``tune.json`` of a study folder.

    Raises:
        ConfigError: if it does not read as one.
    """
    path = Path(out) / TUNE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} is unreadable ({err}); choose another --out") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a groupvae study's record; choose another --out")
    return data


def claim_folder(out: str | Path, request: dict[str, Any]) -> bool:
    """Make ``out`` the study folder of ``request`` (``tune.json``), or check that it
    already is; returns whether it continues a study.

    Args:
        out: the folder (the caller holds its lock).
        request: what is tuned, where (JSON-ready): the problem's signature, the study
            name and the storage.

    Raises:
        ConfigError: for a file, a folder of other files, or a study folder of another
            problem, study or storage (naming what differs).
    """
    out = Path(out)
    if folder_state(out) == "new":
        write_json(out / TUNE_FILE, {"format": FORMAT, **request})
        return False
    old = {k: v for k, v in read_request(out).items() if k != "format"}
    changed = request_differences(old, request)
    if changed:
        raise ConfigError(
            f"--out {out} holds a study of other settings ({'; '.join(changed)}); continue it "
            "with the settings it was made with, or choose another --out"
        )
    return True


__all__ = [
    "BEST_JSON",
    "BEST_RUN",
    "HISTORY_PNG",
    "IMPORTANCES_PNG",
    "TRIALS_CSV",
    "TUNE_FILE",
    "claim_folder",
    "folder_state",
    "read_request",
]
