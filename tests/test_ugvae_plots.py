"""UG-VAE's figures (Fig. 3, 4, 9; Fig. 5a; Fig. 5b, 14), checked against direct decodes.

Tiny untrained models are enough: the grids must decode exactly the codes the paper
describes, whatever the weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from groupvae.errors import ConfigError, DataError
from groupvae.models import create
from groupvae.models.group_vae import GroupVAE
from groupvae.plots import PLOTS
from groupvae.plots.ugvae import (
    domain_interpolation_grid,
    domain_interpolation_mosaic,
    draw_domain_interpolation,
    draw_global_local_grid,
    draw_posterior_tsne,
    global_local_codes,
    global_local_grid,
    global_local_mosaic,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OBS = (1, 8, 8)
TINY = {"obs_shape": OBS, "instance_dim": 2, "hidden": 8, "likelihood": "bernoulli"}
TINY_MIXTURE = {**TINY, "n_components": 3, "decoder": "mlp"}


@pytest.fixture(scope="module")
def ugvae() -> GroupVAE:
    return create("ugvae", group_dim=2, **TINY_MIXTURE, seed=0)


@pytest.fixture(scope="module")
def mlvae() -> GroupVAE:
    return create("mlvae", group_dim=2, **TINY, decoder="mlp", seed=0)


@pytest.fixture(scope="module")
def gmvae() -> GroupVAE:
    return create("gmvae", **TINY_MIXTURE, seed=0)


def _means(model: GroupVAE, beta: np.ndarray | None) -> np.ndarray:
    """``(K, d)`` component means of one global code, straight from the prior."""
    u = None if beta is None else torch.as_tensor(beta[None], dtype=torch.float32)
    with torch.no_grad():
        return model.module.prior.component_means(u, 1)[0].detach().numpy()


def _is_png(path: Path) -> bool:
    return path.stat().st_size > 100 and path.read_bytes()[:8] == PNG_MAGIC


# ------------------------------------------------------------------ Fig. 3, 4, 9
def test_global_local_grid_shapes(ugvae):
    assert global_local_grid(ugvae).shape == (3, 7, 7, *OBS)
    grid = global_local_grid(ugvae, components=(2, 0), n_rows=3, n_cols=4)
    assert grid.shape == (2, 3, 4, *OBS)
    assert grid.min() >= 0.0 and grid.max() <= 1.0  # Bernoulli means


def test_global_local_rows_decode_beta_and_the_component_mean(ugvae):
    components, n_rows, n_cols = (2, 0), 5, 4
    grid = global_local_grid(
        ugvae, components=components, n_rows=n_rows, n_cols=n_cols, beta_range=1.5, z_range=2.0
    )
    s = np.linspace(-2.0, 2.0, n_cols)[:, None]
    for p, d in enumerate(components):
        for r, t in enumerate(np.linspace(-1.5, 1.5, n_rows)):
            beta = np.full(2, t, dtype=np.float32)
            z = (_means(ugvae, beta)[d] + s).astype(np.float32)
            expected = ugvae.decode(np.tile(beta, (n_cols, 1)), z)
            np.testing.assert_allclose(grid[p, r], expected, rtol=1e-5, atol=1e-6)
    # mu_d(beta) depends on both d and beta, so the panels and rows differ
    assert not np.allclose(grid[0], grid[1])
    assert not np.allclose(grid[0, 0], grid[0, -1])


def test_global_local_codes_walk_diagonally(ugvae):
    beta, z = global_local_codes(ugvae, components=(1,), n_rows=3, n_cols=5, z_range=3.0)
    np.testing.assert_allclose(beta, [[-1, -1], [0, 0], [1, 1]])
    step = np.diff(z, axis=2)  # moving right adds (6 / 4) * ones(d)
    np.testing.assert_allclose(step, np.full_like(step, 1.5), atol=1e-5)
    np.testing.assert_allclose(z[0, :, 2], [_means(ugvae, b)[1] for b in beta], atol=1e-6)


def test_normal_prior_gives_one_panel_around_zero(mlvae):
    grid = global_local_grid(mlvae, components=(0, 1, 2), z_range=1.0)
    assert grid.shape == (1, 7, 7, *OBS)
    beta, z = global_local_codes(mlvae, z_range=1.0)
    assert beta.shape == (7, 2)
    s = np.linspace(-1.0, 1.0, 7)[:, None]
    np.testing.assert_allclose(z[0, 3], np.broadcast_to(s, (7, 2)), atol=1e-7)
    # The grid decodes 49 codes at once, this 7: float32 matrix products of other batch
    # sizes may round differently in the last bit (as on AVX-512 CPUs).
    np.testing.assert_allclose(
        grid[0, 6], mlvae.decode(np.ones((7, 2)), s + np.zeros(2)), rtol=1e-6, atol=1e-6
    )


def test_no_group_latent_gives_one_row(gmvae):
    grid = global_local_grid(gmvae, components=(0, 2), n_cols=5)
    assert grid.shape == (2, 1, 5, *OBS)
    z = _means(gmvae, None)[2] + np.linspace(-3.0, 3.0, 5)[:, None]
    np.testing.assert_allclose(grid[1, 0], gmvae.decode(None, z), rtol=1e-5, atol=1e-6)
    vae = create("beta-vae", **TINY, decoder="mlp")  # Fig. 9: Normal prior, no beta
    assert global_local_grid(vae, z_range=1.0).shape == (1, 1, 7, *OBS)


def test_global_local_refuses_a_missing_component(ugvae):
    with pytest.raises(DataError, match=r"components must .* in \[0, 3\)"):
        global_local_grid(ugvae, components=(0, 3))


def test_global_local_panels_sit_side_by_side(ugvae, mlvae, gmvae, tmp_path):
    grid = global_local_grid(ugvae, n_rows=2, n_cols=3)
    mosaic = global_local_mosaic(grid, border=1)
    cell = 8 + 2 + 2  # image, frame, gap
    assert mosaic.shape == (2 * cell, (3 * 3 + 2) * cell, 3)
    assert np.all(mosaic[:, 3 * cell : 4 * cell] == 1.0)  # the white column between panels
    for name, model, z_range in (("u", ugvae, 3.0), ("m", mlvae, 1.0), ("g", gmvae, 3.0)):
        path = draw_global_local_grid(model, tmp_path / f"{name}.png", z_range=z_range, title=name)
        assert path == tmp_path / f"{name}.png" and _is_png(path)


# ------------------------------------------------------------------ Fig. 5a
def test_domain_interpolation_corners_decode_the_endpoints(ugvae):
    rng = np.random.default_rng(0)
    beta_a, beta_b = rng.normal(size=(2, 2)).astype(np.float32)
    z_a, z_b = rng.normal(size=(2, 2)).astype(np.float32)
    grid = domain_interpolation_grid(ugvae, beta_a, beta_b, z_a, z_b, n=5)
    assert grid.shape == (5, 5, *OBS)
    corners = {(0, 0): (beta_a, z_a), (0, 4): (beta_a, z_b), (4, 0): (beta_b, z_a)}
    corners[4, 4] = (beta_b, z_b)
    for (i, j), (beta, z) in corners.items():
        expected = ugvae.decode(beta[None], z[None])[0]
        np.testing.assert_allclose(grid[i, j], expected, rtol=1e-5, atol=1e-6)
    middle = ugvae.decode(((beta_a + beta_b) / 2)[None], ((z_a + z_b) / 2)[None])[0]
    np.testing.assert_allclose(grid[2, 2], middle, rtol=1e-5, atol=1e-6)


def test_domain_interpolation_needs_a_global_latent(gmvae):
    with pytest.raises(ConfigError, match="no group latent"):
        domain_interpolation_grid(gmvae, np.zeros(0), np.zeros(0), np.zeros(2), np.ones(2))


def test_domain_interpolation_png_with_and_without_originals(ugvae, tmp_path):
    ends = np.zeros(2, np.float32), np.ones(2, np.float32)
    originals = np.random.default_rng(1).random((2, *OBS))
    grid = domain_interpolation_grid(ugvae, *ends, *ends, n=3)
    cell = 8 + 2 + 2
    assert domain_interpolation_mosaic(grid, border=1).shape == (3 * cell, 3 * cell, 3)
    framed = domain_interpolation_mosaic(grid, originals=originals, border=1)
    assert framed.shape == (3 * cell, 7 * cell, 3)
    np.testing.assert_allclose(framed[1:9, 1:9, 0], originals[0, 0])  # top-left original
    with pytest.raises(DataError, match="originals must be 2 images"):
        domain_interpolation_mosaic(grid, originals=originals[:1])
    for name, shown in (("plain", None), ("framed", originals)):
        path = draw_domain_interpolation(
            ugvae, *ends, *ends, tmp_path / f"{name}.png", n=3, originals=shown
        )
        assert _is_png(path)


# ------------------------------------------------------------------ Fig. 5b, 14
def test_posterior_tsne_draws_two_dimensional_codes_directly(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(12, 2))
    kinds = np.repeat([0, 1, 2], 4)
    path = draw_posterior_tsne(
        codes,
        kinds,
        tmp_path / "f" / "tsne.png",
        kind_names=["random", "CelebA", "3D faces"],
        title="beta posterior",
        highlight=[4, 8],
    )
    assert _is_png(path)
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["tsne.png"]


def test_posterior_tsne_embeds_wider_codes_and_copes_with_few(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(20, 5)) + np.repeat(np.eye(5)[:4] * 4, 5, axis=0)
    names = ["even", "odd", "fibonacci", "prime"]
    kinds = np.repeat(np.arange(4), 5)
    assert _is_png(
        draw_posterior_tsne(codes, kinds, tmp_path / "t.png", kind_names=names, title="Fig. 14")
    )
    few = draw_posterior_tsne(
        codes[:3], kinds[:3], tmp_path / "few.png", kind_names=names, title="few", highlight=[0]
    )
    assert _is_png(few)


def test_posterior_tsne_checks_its_kinds(tmp_path):
    with pytest.raises(DataError, match="kinds must index kind_names"):
        draw_posterior_tsne(
            np.zeros((3, 2)),
            np.array([0, 1, 2]),
            tmp_path / "x.png",
            kind_names=["a", "b"],
            title="t",
        )
    with pytest.raises(DataError, match="must match"):
        draw_posterior_tsne(
            np.zeros((3, 2)), np.array([0, 1]), tmp_path / "x.png", kind_names=["a", "b"], title="t"
        )
    assert not (tmp_path / "x.png").exists()


# ------------------------------------------------------------------ PLOTS["global-local"]
@pytest.mark.parametrize("name", ["ugvae", "gmvae"])
def test_global_local_plot_of_a_saved_run(name, tmp_path):
    """A saved (untrained) run on UCI digits: mixture priors, with and without beta."""
    group = {"group_dim": 2} if name == "ugvae" else {}
    model = create(name, **{**TINY_MIXTURE, "obs_shape": (1, 28, 28)}, **group)
    record = {"name": "uci-digits", "seed": 0, "options": {"max_size": 6}, "holdout": 0.2}
    model.save(tmp_path / "run", metadata={"data": record})
    path = PLOTS["global-local"](tmp_path / "run", None, seed=1)
    assert path == tmp_path / "run" / "global-local.png" and _is_png(path)
