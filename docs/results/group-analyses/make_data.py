"""The data of the README's "Analyses of groups" figures, with known answers.

``schools.csv``: 60 schools (5 to 40 students each) in three regions whose schools differ
in maths and reading (north: maths +1.5 sd, south: reading +1.5 sd, west: neither), with
a numeric school-level column that follows each school's own level (``funding``) and one
that is noise (``founded``); two schools (``school-07``, ``school-31``) are planted
outliers, their students' maths and reading pulled 4 sd apart in opposite directions.
``new_schools.csv``: 4 schools training never sees, one per region plus one more north.
``cells.h5ad``: counts of 60 genes in the cells of 24 donors, half treated; in treated
donors genes 0-2 are up 3-fold and genes 3-4 down 3-fold, nothing else differs.

Run: ``python make_data.py`` (writes the three files in the current folder).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REGIONS = {"north": (1.5, 0.0), "south": (0.0, 1.5), "west": (0.0, 0.0)}
SCALE = {"maths": (60, 8), "reading": (55, 8), "science": (58, 7), "attendance": (92, 3)}


def schools(
    n: int, rng: np.random.Generator, first: int = 0, spread=(), shifted=()
) -> pd.DataFrame:
    region = np.array(list(REGIONS))[np.arange(n) % 3]
    level = np.array([REGIONS[r] for r in region]) + rng.normal(0, 0.35, (n, 2))
    level[list(shifted)] += [4.0, -4.0]  # the whole school moved: an unusual school
    sizes = rng.integers(5, 41, n)
    rows = np.repeat(np.arange(n), sizes)
    z = rng.normal(0, 1, (len(rows), 4))
    for i in spread:  # students three times as spread out: unusual students
        z[rows == i] *= 3.0
    z[:, 0] += level[rows, 0]
    z[:, 1] += level[rows, 1]
    frame = pd.DataFrame({
        "student": [f"st-{first + i:05d}" for i in range(len(rows))],
        "school": np.array([f"school-{first + i:02d}" for i in range(n)])[rows],
        "region": region[rows],
        "funding": np.round(100 + 20 * level[:, 0] - 10 * level[:, 1]
                            + rng.normal(0, 3, n), 1)[rows],
        "founded": rng.integers(1900, 2000, n)[rows],
    })
    for j, (name, (mean, sd)) in enumerate(SCALE.items()):
        frame[name] = np.round(mean + sd * z[:, j], 1)
    return frame


def cells(rng: np.random.Generator):
    import anndata

    from groupvae.data.readers import write_h5ad

    n_donors, n_genes = 24, 60
    treated = np.arange(n_donors) % 2 == 0
    base = rng.gamma(2.0, 1.0, n_genes)
    fold = np.ones((n_donors, n_genes))
    fold[np.ix_(treated, [0, 1, 2])] = 3.0
    fold[np.ix_(treated, [3, 4])] = 1 / 3
    donor_level = base * fold * rng.lognormal(0, 0.15, (n_donors, n_genes))
    sizes = rng.integers(20, 80, n_donors)
    donor = np.repeat(np.arange(n_donors), sizes)
    rate = donor_level[donor] / donor_level[donor].sum(1, keepdims=True)
    library = rng.lognormal(np.log(800), 0.3, len(donor))[:, None]
    counts = rng.negative_binomial(5, 5 / (5 + library * rate)).astype(np.float32)
    obs = pd.DataFrame(
        {
            "donor": [f"donor-{d:02d}" for d in donor],
            "condition": np.where(treated, "treated", "control")[donor],
            "age": rng.integers(25, 80, n_donors)[donor],
        },
        index=[f"cell-{i:05d}" for i in range(len(donor))],
    )
    adata = anndata.AnnData(X=counts, obs=obs)
    adata.var_names = [f"gene-{j:02d}" for j in range(n_genes)]
    write_h5ad(adata, "cells.h5ad")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    schools(60, rng, spread=(7,), shifted=(32,)).to_csv("schools.csv", index=False)
    schools(4, rng, first=60).to_csv("new_schools.csv", index=False)
    cells(rng)
