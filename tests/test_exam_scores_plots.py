"""Fig. 5's bands: min / median / max over runs at each epoch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groupvae.plots.exam_scores import PANELS, draw_error_curves, error_bands


def _run(offset: float) -> pd.DataFrame:
    epochs = np.arange(1, 5)
    frame = pd.DataFrame({"epoch": epochs})
    for metric in PANELS:
        frame[metric] = 100.0 / epochs + offset
    return frame


def test_bands_are_the_min_median_and_max_over_runs():
    band = error_bands([_run(0.0), _run(2.0), _run(10.0)], "v_prediction_error")
    np.testing.assert_allclose(band["min"], 100.0 / np.arange(1, 5))
    np.testing.assert_allclose(band["median"], 100.0 / np.arange(1, 5) + 2.0)
    np.testing.assert_allclose(band["max"], 100.0 / np.arange(1, 5) + 10.0)
    assert (band["runs"] == 3).all()


def test_the_figure_is_written_with_a_model_lacking_translation(tmp_path):
    vae = _run(1.0).assign(translation_error=np.nan)
    path = draw_error_curves(
        {"cxvae": [_run(0.0), _run(1.0)], "vae": [vae]},
        tmp_path / "curves.png",
        limits={"v_prediction_error": 33.0},
    )
    assert path.stat().st_size > 0
