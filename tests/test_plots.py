"""The figures of ML-VAE (Fig. 4-6) and Exam-Scores translation, drawn from saved runs.

Pure grid functions are checked against the model's own encoders and decoder; every
``PLOTS`` entry writes a PNG from a tiny saved run and refuses the wrong kind of run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groupvae.data import GroupedDataset
from groupvae.errors import ConfigError, DataError, GroupVAEError
from groupvae.models import create
from groupvae.plots import PLOTS
from groupvae.plots.evidence import evidence_grid, evidence_mosaic, pick_evidence_group
from groupvae.plots.generation import (
    generation_grid,
    generation_mosaic,
    pick_generation_groups,
    sample_styles,
)
from groupvae.plots.interpolation import (
    interpolation_codes,
    interpolation_grid,
    interpolation_mosaic,
    lerp,
    pick_interpolation_endpoints,
)
from groupvae.plots.tiles import Cells, as_rgb, channel_last, tile_cells
from groupvae.runs import load_run, train_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE_KINDS = ("swap", "interpolation", "generation", "evidence")
TINY = {"hidden": 8, "groups_per_batch": 32}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny saved runs: RGB shapes, grey UCI digits and Exam-Scores (one epoch each)."""
    root = tmp_path_factory.mktemp("runs")
    options = {
        "shapes": {"n_groups": 30},
        "uci-digits": {"max_size": 6},
        "exam-scores": {"n_groups": 30},
    }
    for name, data_options in options.items():
        train_run(
            "mlvae",
            name,
            root / name,
            epochs=1,
            overrides=TINY,
            data_options=data_options,
            progress=False,
        )
    return {name: root / name for name in options}


@pytest.fixture(scope="module", params=["shapes", "uci-digits"])
def image_run(request: pytest.FixtureRequest, runs: dict[str, Path]):
    """``(model, holdout)`` of an RGB and of a grey image run."""
    model, _, holdout = load_run(runs[request.param])
    return model, holdout


def image_shape(data: GroupedDataset) -> tuple[int, ...]:
    """Channel-last shape of one observation: ``(H, W)`` or ``(H, W, 3)``."""
    c, h, w = data.obs_shape
    return (h, w) if c == 1 else (h, w, 3)


# ------------------------------------------------------------------------------ tiles
def test_lerp_includes_both_endpoints_exactly_and_steps_evenly():
    a, b = np.array([0.1, -2.0], np.float32), np.array([0.7, 3.0], np.float32)
    path = lerp(a, b, 5)
    assert path.shape == (5, 2)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((b - a) / 4, (4, 1)), rtol=1e-5)
    with pytest.raises(DataError, match="n_steps"):
        lerp(a, b, 1)


def test_as_rgb_repeats_grey_and_clips():
    grey = np.array([[[-0.5, 0.5], [1.5, 1.0]]])
    rgb = as_rgb(grey, rgb=False)
    assert rgb.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    assert rgb.min() == 0.0 and rgb.max() == 1.0
    assert as_rgb(np.zeros((4, 2, 2, 3)), rgb=True).shape == (4, 2, 2, 3)


def test_tile_cells_frames_filled_cells_and_leaves_empty_ones_white():
    cells = np.zeros((2, 3, 4, 5, 3))
    filled = np.ones((2, 3), bool)
    filled[1, 2] = False
    mosaic = tile_cells(cells, (1.0, 0.0, 0.0), filled=filled, border=1, gap=2)
    ch, cw = 4 + 2 + 2, 5 + 2 + 2
    assert mosaic.shape == (2 * ch, 3 * cw, 3)
    np.testing.assert_array_equal(mosaic[0, 0], [1.0, 0.0, 0.0])  # frame
    np.testing.assert_array_equal(mosaic[1, 1], [0.0, 0.0, 0.0])  # image
    np.testing.assert_array_equal(mosaic[ch:, 2 * cw :], 1.0)  # empty cell
    assert Cells(2, 3, 4, 5).tile().shape == mosaic.shape  # default: border 1, gap 2


# ---------------------------------------------------------------------- interpolation
def test_interpolation_endpoints_decode_the_endpoint_codes(image_run):
    model, holdout = image_run
    groups, images = pick_interpolation_endpoints(holdout, rng=np.random.default_rng(0))
    grid = interpolation_grid(model, holdout, groups, images, n_steps=5)
    assert grid.decoded.shape == (5, 5, *image_shape(holdout))
    assert grid.content_images.shape == grid.style_images.shape == (2, *image_shape(holdout))
    assert grid.decoded.min() >= 0.0 and grid.decoded.max() <= 1.0
    u = model.encode_groups(holdout).mean[groups]  # each group's accumulated content
    v = model.encode_instances(holdout).mean[images]
    np.testing.assert_array_equal(grid.u[[0, -1]], u)
    np.testing.assert_array_equal(grid.v[[0, -1]], v)
    # cell (i, j) decodes (u[j], v[i]): the four corners are the endpoint pairs
    corners = channel_last(model.decode(u[[0, 1, 0, 1]], v[[0, 0, 1, 1]])).reshape(4, -1)
    got = grid.decoded[[0, 0, -1, -1], [0, -1, 0, -1]].reshape(4, -1)
    np.testing.assert_allclose(got, corners, atol=1e-6)
    mosaic = interpolation_mosaic(grid)
    assert mosaic.ndim == 3 and mosaic.shape[2] == 3
    assert mosaic.min() >= 0.0 and mosaic.max() <= 1.0


def test_interpolation_endpoints_are_different_groups_with_different_labels(image_run):
    _, holdout = image_run
    groups, images = pick_interpolation_endpoints(holdout, rng=np.random.default_rng(3))
    first = np.unique(holdout.group, return_index=True)[1]
    assert groups[0] != groups[1]
    assert holdout.labels[first[groups[0]]] != holdout.labels[first[groups[1]]]
    assert not np.isin(holdout.group[images], groups).any()  # styles from other groups
    again = pick_interpolation_endpoints(holdout, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(again[0], groups)
    np.testing.assert_array_equal(again[1], images)
    one_group = holdout.subset_groups(np.array([0]))
    with pytest.raises(DataError, match="at least 2"):
        pick_interpolation_endpoints(one_group, rng=np.random.default_rng(0))


# ------------------------------------------------------------------------- generation
def test_generation_rows_share_their_groups_content(image_run):
    model, holdout = image_run
    rng = np.random.default_rng(0)
    groups = pick_generation_groups(holdout, n_rows=3, rng=rng)
    styles = sample_styles(rng, 3, 4, model.config.instance_dim)
    grid = generation_grid(model, holdout, groups, styles, max_members=5)
    assert grid.generated.shape == (3, 4, *image_shape(holdout))
    assert grid.generated.min() >= 0.0 and grid.generated.max() <= 1.0
    np.testing.assert_array_equal(grid.u, model.encode_groups(holdout).mean[groups])
    for i in range(3):  # one content per row, one prior style per cell
        row = channel_last(model.decode(np.repeat(grid.u[i][None], 4, axis=0), styles[i]))
        np.testing.assert_allclose(grid.generated[i].reshape(4, -1), row.reshape(4, -1), atol=1e-6)
    np.testing.assert_array_equal(grid.n_members, np.minimum(holdout.group_sizes[groups], 5))
    assert grid.members.shape[:2] == (3, grid.n_members.max())
    mosaic = generation_mosaic(grid)
    assert mosaic.shape[2] == 3 and mosaic.min() >= 0.0 and mosaic.max() <= 1.0


def test_generation_styles_come_from_the_seeded_prior():
    shared = sample_styles(np.random.default_rng(1), 3, 200, 2)
    assert shared.shape == (3, 200, 2) and shared.dtype == np.float32
    np.testing.assert_array_equal(shared[0], shared[2])
    assert abs(shared.mean()) < 0.2 and abs(shared.std() - 1) < 0.2
    fresh = sample_styles(np.random.default_rng(1), 3, 200, 2, shared=False)
    assert not np.allclose(fresh[0], fresh[1])
    np.testing.assert_array_equal(
        fresh, sample_styles(np.random.default_rng(1), 3, 200, 2, shared=False)
    )


def test_generation_groups_have_distinct_labels_first(image_run):
    _, holdout = image_run
    groups = pick_generation_groups(holdout, n_rows=3, rng=np.random.default_rng(0))
    first = np.unique(holdout.group, return_index=True)[1]
    assert len(set(holdout.labels[first[groups]])) == 3


# --------------------------------------------------------------------------- evidence
def test_evidence_accumulated_row_uses_the_group_code(image_run):
    model, holdout = image_run
    g = pick_evidence_group(holdout, rng=np.random.default_rng(0))
    assert holdout.group_sizes[g] >= 4
    x = holdout.x[holdout.group == g]
    grid = evidence_grid(model, holdout, g)
    n = len(x)
    assert grid.originals.shape == grid.single.shape == grid.accumulated.shape
    assert grid.originals.shape == (n, *image_shape(holdout))
    np.testing.assert_array_equal(grid.originals, channel_last(x))
    # (b): the content code of the whole group, as the group encoder gives it ...
    np.testing.assert_allclose(grid.u_group, model.encode_groups(holdout).mean[g], atol=1e-6)
    expected = channel_last(model.decode(np.repeat(grid.u_group[None], n, axis=0), grid.v_group))
    np.testing.assert_allclose(grid.accumulated.reshape(n, -1), expected.reshape(n, -1), atol=1e-6)
    # ... (a): each image's own content, which differs from the group's.
    for k in range(n):
        np.testing.assert_allclose(
            grid.u_single[k], model.encode_groups(x[k : k + 1]).mean[0], atol=1e-6
        )
    assert not np.allclose(grid.u_single, grid.u_group[None])
    assert not np.allclose(grid.single, grid.accumulated)
    mosaic = evidence_mosaic(grid)
    assert mosaic.shape[2] == 3 and mosaic.min() >= 0.0 and mosaic.max() <= 1.0


def test_figures_need_a_group_latent(images):
    vae = create("vae", obs_shape=(1, 4, 4), hidden=8)
    with pytest.raises(ConfigError, match="no group latent"):
        interpolation_codes(vae, images, np.array([0, 1]), np.array([0, 5]))
    with pytest.raises(ConfigError, match="no group latent"):
        generation_grid(vae, images, np.array([0]), np.zeros((1, 2, vae.config.instance_dim)))
    with pytest.raises(ConfigError, match="no group latent"):
        evidence_grid(vae, images, 0)


# ------------------------------------------------------------------ PLOTS from runs
def test_plots_registry_names_every_figure():
    assert set(PLOTS) == {
        *IMAGE_KINDS,
        "translation",
        "global-local",
        "denoising",
        "cross-population",
        "curves",
        "codes",
        "reconstruction",
    }


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_image_plots_write_a_png_to_the_run_by_default(runs, kind):
    path = PLOTS[kind](runs["shapes"], None, seed=0)
    assert path == runs["shapes"] / f"{kind}.png"
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_image_plots_draw_grey_runs_to_a_given_path(runs, tmp_path):
    for kind in IMAGE_KINDS:
        out = tmp_path / "figures" / f"{kind}-grey.png"
        assert PLOTS[kind](runs["uci-digits"], out, seed=1) == out
        assert out.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        f"{kind}-grey.png" for kind in IMAGE_KINDS
    )  # no temporary files left behind


def test_translation_plot_writes_a_png(runs, tmp_path):
    path = PLOTS["translation"](runs["exam-scores"], tmp_path / "t.png", seed=0)
    assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_image_plots_refuse_an_exam_scores_run(runs, kind, tmp_path):
    hint = r"needs a run on images.*Plot one of translation, curves, codes instead\.$"
    with pytest.raises(ConfigError, match=hint):
        PLOTS[kind](runs["exam-scores"], tmp_path / "x.png", seed=0)
    assert not (tmp_path / "x.png").exists()


def test_translation_plot_refuses_an_image_run(runs, tmp_path):
    hint = r"for exam-scores and table runs.*on shapes\. Plot one of swap, .*, codes instead"
    with pytest.raises(GroupVAEError, match=hint):
        PLOTS["translation"](runs["shapes"], tmp_path / "x.png", seed=0)


def test_unknown_plot_lists_the_known_ones():
    with pytest.raises(GroupVAEError, match=r"unknown plot 'nope'.*evidence, generation"):
        PLOTS["nope"]
