#!/usr/bin/env bash
# The README's "Analyses of groups" figures and tables, from an empty folder
# (about 6 minutes on 2 CPU cores): simulated data with known answers (make_data.py),
# two runs, five analyses.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python "$here/make_data.py"          # schools.csv, new_schools.csv, cells.h5ad
groupvae train mlvae table --out runs/schools --data path=schools.csv --data group=school \
    --data id=student --data features=maths,reading,science,attendance
groupvae train mlvae anndata --out runs/cells --data path=cells.h5ad --data group=donor
groupvae analyse distances runs/schools --clusters 5 --out distances.csv
groupvae analyse outliers runs/schools --out outliers.csv
groupvae analyse new-groups runs/schools --new new_schools.csv --out new_groups.csv
groupvae analyse covariates runs/schools --out covariates.csv
groupvae analyse differential runs/cells --by condition --a treated --b control \
    --out differential.csv
groupvae encode runs/cells --out codes.h5ad   # codes.h5ad and codes.groups.h5ad
