"""Option values that several commands parse the same way."""

from __future__ import annotations

from groupvae.errors import ConfigError


def parse_labels(text: str | None) -> list[int] | None:
    """``--holdout-labels 8,9`` as ``[8, 9]`` (``None`` when not given).

    Raises:
        ConfigError: for a value that is not a comma-separated list of integers.
    """
    if not text:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--holdout-labels needs integers such as 8,9; got {text!r}") from None


__all__ = ["parse_labels"]
