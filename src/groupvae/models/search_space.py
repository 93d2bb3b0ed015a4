"""Search spaces for tuning: what ``groupvae tune`` searches by default for a model on
data of a given shape, and the ``--space`` entries that change it.

Kept beside the model defaults (:mod:`groupvae.models.defaults`): a search space is the
neighbourhood of those defaults worth searching. It is plain data (:class:`Range`,
:class:`Choice`); the tuning layer turns it into Optuna's suggestions. Keys are fields
of the family's config (``ModelConfig`` for group VAEs, ``CPVAEConfig`` for CPVAE) or of
:class:`~groupvae.config.TrainConfig`, so a tuned value is exactly what ``--set
key=value`` would set.

Default spaces (:func:`default_search_space`), for a model whose settings and training
settings are resolved on the data it will train on:

- ``lr``: log-uniform in ``[1e-4, 1e-2]`` (every family);
- group VAEs: ``group_dim`` (presets with a group latent) and ``instance_dim`` in
  ``[1, 4]`` for up to 4 features per observation, ``[1, min(16, features)]`` up to 16
  (tables), ``[2, 32]`` (log) beyond (counts, images); ``hidden`` in ``[16, 256]``
  (log) for up to 16 features, ``[64, 1024]`` beyond; ``groups_per_batch`` from a
  quarter to 4 times the resolved default, between 2 and half the training groups (from
  2 where a quarter of the default is above that; not for random groups);
  ``kl_warmup_epochs`` from 0 to a twentieth of the budget's epochs (in epochs of the
  default batch size); ``regulariser_weight`` log-uniform in ``[1, 1e4]`` for presets
  with an adversarial regulariser (``gvae-adv``, ``cxvae``);
- CPVAE: ``shared_dim`` in ``[4, 128]``, ``private_dim`` in ``[2, 64]``, ``hidden`` in
  ``[64, 1024]`` (all log) and ``batch_per_population`` in ``[8, 128]`` (log).

``--space key=low:high[:log]`` searches a numeric field over ``[low, high]`` (whole
numbers for an ``int`` field, log-uniform with ``:log``) and ``--space key=a,b,c`` among
values (any field); either replaces the default dimension of ``key``. ``--set
key=value`` fixes a field, which removes it from the default space.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from groupvae.config import TrainConfig, replace
from groupvae.errors import ConfigError, GroupVAEError
from groupvae.models.defaults import DataShape
from groupvae.models.factory import FAMILY_PARTS
from groupvae.models.presets import MODELS

NOT_TUNABLE = (
    "model", "obs_shape", "columns", "n_populations", "seed", "progress", "accelerator",
    "devices", "strategy", "num_nodes", "num_threads",
)  # fmt: skip
"""Fields that describe the data, the preset or the machine, not a model to choose."""


@dataclass(frozen=True)
class Range:
    """A numeric interval to search, ends included.

    Attributes:
        low: the smallest value.
        high: the largest value (``> low``).
        log: sample log-uniformly (``low > 0``).
        integer: whole numbers only (an ``int`` field).
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a number of the range (a whole one if ``integer``)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        whole = not self.integer or float(value).is_integer()
        return whole and self.low <= value <= self.high

    def describe(self) -> str:
        """``low:high`` or ``low:high:log``, as ``--space`` takes it."""
        ends = [f"{self.low:g}", f"{self.high:g}"]
        return ":".join([*ends, "log"] if self.log else ends)


@dataclass(frozen=True)
class Choice:
    """Values to choose among (numbers, text, booleans or ``None``).

    Attributes:
        values: two or more distinct values of the field's type.
    """

    values: tuple[Any, ...]

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices."""
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        """``a,b,c``, as ``--space`` takes it."""
        return ",".join(_text(v) for v in self.values)


def _text(value: Any) -> str:
    """A choice as ``--set`` takes it: ``none``, ``true``/``false``, or the value."""
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


Dimension = Range | Choice
SearchSpace = dict[str, Dimension]
"""Field name -> what to search for it."""


def describe_space(space: SearchSpace) -> dict[str, str]:
    """``{key: "low:high[:log]" or "a,b,c"}``: a space as ``--space`` entries (JSON-ready)."""
    return {key: dim.describe() for key, dim in space.items()}


# ------------------------------------------------------------------ defaults
LR = Range(1e-4, 1e-2, log=True)
"""Adam's learning rate, for every family: the tables' default (3e-3) and the images'
(1e-3) lie inside it."""
SMALL_DATA = 16
"""Observations of at most this many features (tables) get the small code and width
ranges."""


def _int_range(low: float, high: float, *, log: bool = False) -> Range | None:
    """An integer :class:`Range`, or ``None`` if it would be empty."""
    low, high = math.ceil(low), math.floor(high)
    return Range(low, high, log=log, integer=True) if low < high else None


def _budget_epochs(train: TrainConfig, shape: DataShape) -> int:
    """Epochs of the resolved budget (``epochs``, or ``max_steps`` over an epoch's steps)."""
    if train.max_steps is None:
        return int(train.epochs or 1)
    steps_per_epoch = max(1, math.ceil(shape.n_groups / max(1, train.groups_per_batch)))
    epochs = math.ceil(train.max_steps / steps_per_epoch)
    return epochs if train.epochs is None else min(epochs, train.epochs)


def default_search_space(
    family: str, model: Any, train: TrainConfig, shape: DataShape
) -> SearchSpace:
    """The space ``groupvae tune`` searches unless told otherwise (see the module
    docstring for the ranges).

    Args:
        family: the model's family (``"group-vae"`` or ``"cpvae"``).
        model: the model's resolved config (``ModelConfig`` or ``CPVAEConfig``).
        train: its resolved training settings on the data it trains on.
        shape: the shape of that data (the training groups a trial fits).

    Returns:
        Field name -> :class:`Range` or :class:`Choice`, in a fixed order.
    """
    features = math.prod(model.obs_shape)
    small = features <= SMALL_DATA
    space: dict[str, Dimension | None] = {"lr": LR}
    if family == "cpvae":
        space["shared_dim"] = _int_range(4, 128, log=True)
        space["private_dim"] = _int_range(2, 64, log=True)
        space["hidden"] = _int_range(64, 1024, log=True)
        space["batch_per_population"] = _int_range(8, 128, log=True)
        return {k: v for k, v in space.items() if v is not None}
    codes = (
        _int_range(1, 4)
        if features <= 4
        else _int_range(1, min(16, features))
        if small
        else _int_range(2, 32, log=True)
    )
    if model.has_group_latent:
        space["group_dim"] = codes
    space["instance_dim"] = codes
    space["hidden"] = _int_range(16, 256, log=True) if small else _int_range(64, 1024, log=True)
    if train.random_groups is None:
        default = train.groups_per_batch
        high = min(4 * default, max(2, shape.n_groups // 2))
        low = max(2, default // 4)
        space["groups_per_batch"] = _int_range(low if low < high else 2, high, log=True)
    space["kl_warmup_epochs"] = _int_range(0, _budget_epochs(train, shape) // 20)
    if getattr(model, "regulariser", "none") != "none":
        space["regulariser_weight"] = Range(1.0, 1e4, log=True)
    return {k: v for k, v in space.items() if v is not None}


# ------------------------------------------------------------------ --space
def _field_hints(model: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(type(model))
    hints.update(typing.get_type_hints(TrainConfig))
    return hints


def _numeric_kind(hint: Any) -> type | None:
    """``int`` or ``float`` for a numeric field (``None`` allowed beside), else ``None``."""
    options = typing.get_args(hint) or (hint,)
    kinds = [o for o in options if o is not type(None)]
    if len(kinds) == 1 and kinds[0] in (int, float):
        return kinds[0]
    return None


def _check_value(key: str, value: Any, model: Any, train: TrainConfig, entry: str) -> Any:
    """``value`` coerced to ``key``'s type and checked by its config (a ``str`` as
    ``--set`` would take it), and a part's name by its registry; raises a one-line
    :class:`ConfigError` naming ``entry``."""
    config = model if key in {f.name for f in dataclasses.fields(model)} else train
    try:
        checked = getattr(replace(config, **{key: value}), key)
        parts = FAMILY_PARTS[MODELS[model.model].family] if model.model in MODELS else {}
        if key in parts:
            parts[key][checked]  # a part's name: raises UnknownNameError with the known
    except GroupVAEError as err:
        raise ConfigError(f"--space {entry}: {err}") from None
    return checked


def _number(text: str, key: str, entry: str, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--space {entry}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--space {entry}: the ends of a range must be finite, got {text}")
    if integer and not value.is_integer():
        raise ConfigError(f"--space {entry}: {key} takes whole numbers, got {text}")
    return value


def parse_range(key: str, text: str, kind: type, entry: str) -> Range:
    """``low:high`` or ``low:high:log`` as a :class:`Range` of a numeric field.

    Raises:
        ConfigError: for a bad form, a bound that is not a number (or not whole for an
            ``int`` field), an empty or inverted range, or ``:log`` on a range that
            reaches 0 or below.
    """
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip().lower() != "log"):
        raise ConfigError(f"--space {entry}: a range is low:high or low:high:log")
    integer = kind is int
    low, high = (_number(p.strip(), key, entry, integer) for p in parts[:2])
    log = len(parts) == 3
    if not low < high:
        raise ConfigError(
            f"--space {entry}: the range of {key} is empty (low {low:g} is not below high "
            f"{high:g}); fix one value with --set {key}=... instead"
        )
    if log and low <= 0:
        raise ConfigError(
            f"--space {entry}: a log range needs low > 0, got {low:g}; drop ':log' or raise low"
        )
    return Range(low, high, log=log, integer=integer)


def parse_space(pairs: list[str], model: Any, train: TrainConfig) -> SearchSpace:
    """Parse ``--space`` entries (``key=low:high[:log]`` or ``key=a,b,c``) into a space.

    Args:
        pairs: the entries, as written.
        model: the model's resolved config (its fields and their checks).
        train: its resolved training settings.

    Returns:
        Field name -> :class:`Range` or :class:`Choice`.

    Raises:
        ConfigError: in one line, for an entry without ``=``, an unknown key (naming the
            tunable fields), a key given twice, a field that is not tunable, a range of a
            field that is not numeric, a bound or choice its field refuses, an empty or
            inverted range, ``:log`` on a range reaching 0, or fewer than two distinct
            choices.
    """
    hints = _field_hints(model)
    space: SearchSpace = {}
    for entry in pairs:
        key, sep, text = (s.strip() for s in entry.partition("="))
        if not sep or not key or not text:
            raise ConfigError(f"--space needs key=low:high[:log] or key=a,b,c; got {entry!r}")
        if key not in hints:
            tunable = ", ".join(sorted(k for k in hints if k not in NOT_TUNABLE))
            raise ConfigError(f"--space {entry}: unknown field {key!r}; tunable fields: {tunable}")
        if key in NOT_TUNABLE:
            raise ConfigError(
                f"--space {entry}: {key} describes the data, the preset or the machine and "
                "is not tuned; set it with --set"
            )
        if key in space:
            raise ConfigError(f"--space {entry}: {key} is given twice")
        kind = _numeric_kind(hints[key])
        if ":" in text:
            if kind is None:
                raise ConfigError(
                    f"--space {entry}: {key} is not a number; give its choices as a,b,c"
                )
            dim = parse_range(key, text, kind, entry)
            for end in (dim.low, dim.high):
                _check_value(key, int(end) if dim.integer else end, model, train, entry)
            space[key] = dim
            continue
        values = [_check_value(key, v.strip(), model, train, entry) for v in text.split(",")]
        distinct = tuple(dict.fromkeys(values))
        if len(distinct) < 2:
            raise ConfigError(
                f"--space {entry}: give two or more choices (a,b,...) or a range "
                f"(low:high); fix one value with --set {key}=..."
            )
        space[key] = Choice(distinct)
    return space


def values_in(space: SearchSpace, model: Any, train: TrainConfig) -> dict[str, Any]:
    """The values ``model`` and ``train`` give the fields of ``space``, where they lie in
    it (a study's first trial: the default settings)."""
    fields = {f.name for f in dataclasses.fields(model)}
    values = {k: getattr(model if k in fields else train, k) for k in space}
    return {k: v for k, v in values.items() if space[k].contains(v)}


def search_space(
    family: str,
    model: Any,
    train: TrainConfig,
    shape: DataShape,
    *,
    entries: list[str] | None = None,
    fixed: typing.Iterable[str] = (),
    defaults: bool = True,
) -> SearchSpace:
    """The space a study searches: :func:`default_search_space` (unless ``defaults`` is
    false) without the ``fixed`` fields (``--set``), with the parsed ``entries``
    (``--space``) replacing or adding dimensions.

    Raises:
        ConfigError: for a bad entry (see :func:`parse_space`), or a field both fixed
            and searched.
    """
    fixed_keys = set(fixed)
    mine = parse_space(list(entries or []), model, train)
    both = sorted(set(mine) & fixed_keys)
    if both:
        raise ConfigError(
            f"--space and --set both name {', '.join(both)}: search it or fix it, not both"
        )
    default = default_search_space(family, model, train, shape) if defaults else {}
    space = {k: v for k, v in default.items() if k not in fixed_keys}
    space.update(mine)
    return space


__all__ = [
    "LR",
    "NOT_TUNABLE",
    "Choice",
    "Dimension",
    "Range",
    "SearchSpace",
    "default_search_space",
    "describe_space",
    "parse_range",
    "parse_space",
    "search_space",
    "values_in",
]
