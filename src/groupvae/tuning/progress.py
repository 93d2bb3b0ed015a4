"""Progress of a study: one line per finished trial (its number, how it ended, its
settings and the best so far) and a bar over the trials asked for."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

from groupvae.tuning.objective import FAIL_REASON, INTERRUPTED
from groupvae.tuning.workers import counts


def format_value(value: Any) -> str:
    """A setting for a progress line: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_of(trials: list[FrozenTrial]) -> FrozenTrial | None:
    """The completed trial of the highest value (the lowest number among equals)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def trial_line(trial: FrozenTrial, best: FrozenTrial | None) -> str:
    """One finished trial, e.g. ``trial 3 (12.1 s): -2.8412 nats per observation; best
    -2.7001 (trial 1); lr=0.003121 group_dim=2``."""
    seconds = trial.duration.total_seconds() if trial.duration is not None else float("nan")
    head = f"trial {trial.number} ({seconds:.1f} s): "
    if trial.state == TrialState.COMPLETE:
        what = f"{trial.value:.4f} nats per observation"
    elif trial.state == TrialState.PRUNED:
        what = str(trial.user_attrs.get("pruned", "pruned"))
    elif trial.user_attrs.get(INTERRUPTED):
        what = "interrupted (not counted; it runs again when the study continues)"
    else:
        what = f"failed: {trial.user_attrs.get(FAIL_REASON, 'no reason recorded')}"
    best_text = (
        "no trial completed yet"
        if best is None
        else (f"best {best.value:.4f} (trial {best.number})")
    )
    params = " ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
    return f"{head}{what}; {best_text}; {params}".rstrip("; ")


class Reporter:
    """Prints each trial once, when it has finished, in the order of their numbers, and
    moves a bar over the trials asked for.

    Args:
        n_trials: the study's total (the bar's length).
        trials: the study's trials before this command (not printed again).
        echo: prints one line (``tqdm.write``, above the bar, by default).
        bar: show the bar (on standard error, when it is a terminal).
    """

    def __init__(
        self,
        n_trials: int,
        trials: list[FrozenTrial],
        *,
        echo: Callable[[str], None] | None = None,
        bar: bool = True,
    ) -> None:
        self.seen = {t.number for t in trials if t.state.is_finished()}
        done = min(sum(map(counts, trials)), n_trials)
        self.bar = tqdm(
            total=n_trials, initial=done, desc="trials", unit="trial", file=sys.stderr,
            disable=None if bar else True, dynamic_ncols=True,
        )  # fmt: skip
        self.echo = echo or (lambda line: tqdm.write(line, file=sys.stdout))

    def update(self, trials: list[FrozenTrial]) -> None:
        """Print the trials that finished since the last update."""
        new = sorted(
            (t for t in trials if t.state.is_finished() and t.number not in self.seen),
            key=lambda t: t.number,
        )
        for trial in new:
            self.seen.add(trial.number)
            finished_before = [t for t in trials if t.number in self.seen]
            self.echo(trial_line(trial, best_of(finished_before)))
            if counts(trial):
                self.bar.update(1)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


__all__ = ["Reporter", "best_of", "format_value", "trial_line"]
