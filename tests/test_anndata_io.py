"""AnnData in and out, the scverse way, with pandas' default (Arrow) strings: readers and
verbs take an ``AnnData`` object, codes go to ``.obsm``, a group-level AnnData comes
back, ``.h5ad`` files are written with any pandas, and count models decode normalised
expression, also under another group's code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from groupvae.data.readers import read_h5ad, write_h5ad
from groupvae.errors import ConfigError, DataError
from groupvae.models import create
from groupvae.runs.anndata_io import add_codes

anndata = pytest.importorskip("anndata")


def make_adata(n_donors: int = 6, per_donor: int = 5, seed: int = 0):
    """Counts of 7 genes in cells of donors, ``.obs`` in pandas' default string dtype
    (no option changed), with a donor-level column (``age``, ``site``) and a cell-level
    one (``cell_type``)."""
    rng = np.random.default_rng(seed)
    n = n_donors * per_donor
    donor = np.repeat([f"donor-{i}" for i in range(n_donors)], per_donor)
    obs = pd.DataFrame(
        {
            "donor": donor,
            "site": np.repeat(rng.choice(["north", "south"], n_donors), per_donor),
            "age": np.repeat(rng.integers(20, 80, n_donors), per_donor),
            "cell_type": pd.Categorical(rng.choice(["T", "B"], n)),
        },
        index=[f"cell-{i}" for i in range(n)],
    )
    adata = anndata.AnnData(X=rng.poisson(4.0, (n, 7)).astype(np.float32), obs=obs)
    adata.var_names = [f"gene-{j}" for j in range(7)]
    return adata


@pytest.fixture(scope="module")
def fitted():
    adata = make_adata()
    data = read_h5ad(adata, group="donor")
    model = create("mlvae", dataset="anndata", obs_shape=data.obs_shape, seed=0, hidden=16)
    model.fit(data, epochs=2, progress=False)
    return model, adata


def test_the_default_strings_of_pandas_are_what_the_tests_write():
    assert not pd.api.types.is_object_dtype(make_adata().obs["donor"].dtype)


def test_read_h5ad_takes_an_anndata_object_or_its_file(tmp_path):
    adata = make_adata()
    write_h5ad(adata, tmp_path / "cells.h5ad")
    from_object = read_h5ad(adata, group="donor")
    from_file = read_h5ad(tmp_path / "cells.h5ad", group="donor")
    np.testing.assert_array_equal(from_object.x, from_file.x)
    np.testing.assert_array_equal(from_object.group, from_file.group)
    assert list(from_object.group_ids) == [f"donor-{i}" for i in range(6)]
    assert from_object.feature_names == tuple(f"gene-{j}" for j in range(7))
    assert from_object.reader == {"name": "anndata", "group": "donor", "layer": None}
    view = read_h5ad(adata[adata.obs["site"] == adata.obs["site"].iloc[0]], group="donor")
    assert view.n_obs == int((adata.obs["site"] == adata.obs["site"].iloc[0]).sum())


def test_write_h5ad_round_trips_pandas_default_strings(tmp_path):
    adata = make_adata()
    adata.obs.loc["cell-3", "site"] = None  # a missing text value
    adata.obs["number_ids"] = np.arange(adata.n_obs)
    path = write_h5ad(adata, tmp_path / "x.h5ad")
    back = anndata.read_h5ad(path)
    assert list(back.obs_names) == list(adata.obs_names)
    assert list(back.var_names) == list(adata.var_names)
    for column in ("donor", "site", "cell_type"):
        written = back.obs[column].astype(object).where(back.obs[column].notna(), None)
        given = adata.obs[column].astype(object).where(adata.obs[column].notna(), None)
        assert list(written) == list(given)
    assert list(back.obs["age"]) == list(adata.obs["age"])
    np.testing.assert_array_equal(back.X, adata.X)
    assert not pd.api.types.is_object_dtype(adata.obs["donor"].dtype)  # left as it was
    with pytest.raises(DataError, match=r"must end in \.h5ad"):
        write_h5ad(adata, tmp_path / "x.csv")


def test_verbs_take_the_anndata_object_with_the_recorded_group_key(fitted):
    model, adata = fitted
    assert model.extra_metadata["reader"] == {"name": "anndata", "group": "donor", "layer": None}
    data = read_h5ad(adata, group="donor")
    groups = model.get_latent_representation(adata)
    np.testing.assert_array_equal(groups.to_numpy(), model.get_latent_representation(data))
    assert list(groups.index) == [f"donor-{i}" for i in range(6)]
    cells = model.get_latent_representation(adata, level="instance", with_std=True)
    assert list(cells.index) == list(adata.obs_names) and list(cells["group"]) == list(
        adata.obs["donor"]
    )
    np.testing.assert_array_equal(model.encode_groups(adata).mean, model.encode_groups(data).mean)
    np.testing.assert_array_equal(model.reconstruct(adata), model.reconstruct(data))
    assert model.get_elbo(adata) == model.get_elbo(data)
    # another .obs column as the groups: each site is one group
    by_site = model.get_latent_representation(adata, group="site")
    assert sorted(by_site.index) == sorted(adata.obs["site"].unique())


def test_a_model_without_a_recorded_group_key_asks_for_it(fitted):
    _, adata = fitted
    other = create("mlvae", dataset="anndata", obs_shape=(7,), seed=0)
    with pytest.raises(DataError, match=r'records no \.obs column of the groups.*group="KEY"'):
        other.get_latent_representation(adata)
    assert len(other.get_latent_representation(adata, group="donor")) == 6
    with pytest.raises(DataError, match="has no 'sample'"):
        other.get_latent_representation(adata, group="sample")


def test_add_codes_writes_obsm_and_returns_a_group_level_anndata(fitted, tmp_path):
    model, adata = fitted
    adata = adata.copy()
    groups = add_codes(model, adata)
    inst = model.encode_instances(adata)
    np.testing.assert_allclose(adata.obsm["X_groupvae"], inst.mean, rtol=1e-6)
    np.testing.assert_allclose(adata.obsm["X_groupvae_std"], np.exp(inst.logvar / 2), rtol=1e-6)
    assert adata.uns["X_groupvae"]["group_key"] == "donor"
    assert list(groups.obs_names) == [f"donor-{i}" for i in range(6)]
    assert list(groups.obs.columns) == ["donor", "site", "age", "group_size"]  # not cell_type
    assert list(groups.obs["group_size"]) == [5] * 6
    np.testing.assert_allclose(
        groups.obsm["X_groupvae"], model.encode_groups(adata).mean, rtol=1e-6
    )
    for obj, name in ((adata, "cells"), (groups, "groups")):
        back = anndata.read_h5ad(write_h5ad(obj, tmp_path / f"{name}.h5ad"))
        np.testing.assert_array_equal(back.obsm["X_groupvae"], obj.obsm["X_groupvae"])
        assert list(back.obs_names) == list(obj.obs_names)


def test_normalized_expression_and_the_counterfactual_under_another_donors_code(fitted):
    model, adata = fitted
    expression = model.get_normalized_expression(adata, library_size=1e4)
    assert expression.shape == (adata.n_obs, 7)
    assert list(expression.columns) == list(adata.var_names)
    assert list(expression.index) == list(adata.obs_names)
    np.testing.assert_allclose(expression.sum(axis=1), 1e4, rtol=1e-5)
    moved = model.get_normalized_expression(adata, target_group="donor-2", library_size=100)
    data = read_h5ad(adata, group="donor")
    u = model.encode_groups(data).mean[[2] * adata.n_obs]
    v = model.encode_instances(data).mean
    np.testing.assert_allclose(moved, model.decode_user_units(u, v, library_size=100), rtol=1e-6)
    own = data.group == 2  # donor-2's own cells are decoded as they are
    np.testing.assert_allclose(moved[own], expression[own] / 100, rtol=1e-5)
    with pytest.raises(DataError, match="'donor-9' is not a group of the data"):
        model.get_normalized_expression(adata, target_group="donor-9")
    table = create("mlvae", obs_shape=(7,), seed=0, likelihood="gaussian", decoder="mlp")
    with pytest.raises(ConfigError, match="is for count models"):
        table.get_normalized_expression(adata, group="donor")
