"""Exam-Scores metrics on holdout groups (CxVAE section 5 and Table 1).

All four errors are mean squared errors multiplied by 100, the scale of the CxVAE
paper's Table 1 (the true factors have unit variance, so 100 is the error of always
predicting the mean).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from groupvae.data.exam_scores import exam_scores_mean
from groupvae.data.grouped import GroupedDataset
from groupvae.errors import DataError
from groupvae.evaluation.bayes_oracle import exam_scores_posterior, oracle_decode
from groupvae.evaluation.protocols import GroupEncoderModel

SCALE = 100.0


def regression_error(
    features: np.ndarray,
    targets: np.ndarray,
    train: np.ndarray,
    *,
    seed: int = 0,
    max_train: int = 20_000,
) -> float:
    """Holdout MSE of a small MLP regressor from inferred codes to true factors.

    CxVAE section 5: the MSE of a regression network predicting the true latent from
    the inferred one is a monotone function of their mutual information.

    Args:
        features: ``(n, d_code)`` posterior means.
        targets: ``(n, d_true)`` true factors.
        train: ``(n,)`` bool, rows to fit on; the others are scored.
        seed: seed of the regressor and of the subsample of at most ``max_train`` rows.

    Returns:
        MSE averaged over the target dimensions, on the rows not in ``train``.
    """
    rng = np.random.default_rng(seed)
    fit_rows = np.flatnonzero(train)
    if len(fit_rows) > max_train:
        fit_rows = rng.choice(fit_rows, max_train, replace=False)
    regressor = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(32, 32),
            early_stopping=len(fit_rows) >= 100,  # needs a validation set of some size
            max_iter=200,
            random_state=seed,
        ),
    )
    y = targets[:, 0] if targets.shape[1] == 1 else targets
    with warnings.catch_warnings():  # early stopping decides; 200 epochs is only a cap
        warnings.simplefilter("ignore", ConvergenceWarning)
        regressor.fit(features[fit_rows], y[fit_rows])
    test = ~train
    pred = regressor.predict(features[test]).reshape(targets[test].shape)
    return float(np.mean((pred - targets[test]) ** 2))


def random_targets(n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """A random target group ``j != i`` for every group ``i``: ``(n_groups,) int64``."""
    return (np.arange(n_groups) + rng.integers(1, n_groups, size=n_groups)) % n_groups


Decode = Callable[[np.ndarray | None, np.ndarray], np.ndarray]
"""``decode(group codes (n, d_u) or None, instance codes (n, d_v)) -> scores (n, 1)``."""


def _check_holdout(holdout: GroupedDataset) -> None:
    if holdout.u is None or holdout.v is None or "eps" not in holdout.aux:
        raise DataError("Exam-Scores metrics need the true u, v and aux['eps'] of the holdout")
    if holdout.n_groups < 4:
        raise DataError(
            f"Exam-Scores metrics need at least 4 holdout groups, got {holdout.n_groups}"
        )


def score_codes(
    u_code: np.ndarray,
    v_code: np.ndarray,
    decode: Decode,
    holdout: GroupedDataset,
    *,
    translates: bool = True,
    seed: int = 0,
    max_train: int = 20_000,
) -> dict[str, float]:
    """The four Exam-Scores errors (x 100) of any codes and decoder: a model's posterior
    means, or the exact posterior's (:mod:`groupvae.evaluation.bayes_oracle`).

    - ``reconstruction_error``: ``decode(u_code[g], v_code)`` against ``x``.
    - ``translation_error``: every observation of a source group decoded with the group
      code of a random target group ``j`` (its own instance code kept), against the truth
      ``2 mu_j + (sigma_j^2 + 1) v_ik + eps_ik`` (CxVAE section 5.1); ``nan`` unless
      ``translates``.
    - ``u_prediction_error`` / ``v_prediction_error``: a regressor from ``u_code``
      (``v_code``) to the true ``u`` (``v``), fitted on half of the holdout groups and
      scored on the other half.

    Args:
        u_code: ``(n_groups, d_u)`` group codes.
        v_code: ``(n_obs, d_v)`` instance codes.
        decode: codes to scores (``None`` group codes where ``translates`` is false).
        holdout: Exam-Scores groups with ``u``, ``v`` and ``aux["eps"]``.
        translates: whether group codes can be swapped (a group latent exists).
        seed: seed of the target choice, the group halves and the regressors; the same
            seed gives every scorer the same targets and halves.
        max_train: most rows each regressor is fitted on.

    Raises:
        DataError: if ``holdout`` lacks the true factors or has under 4 groups.
    """
    _check_holdout(holdout)
    rng = np.random.default_rng(seed)
    g = holdout.group
    x_hat = decode(u_code[g] if translates else None, v_code)
    metrics = {"reconstruction_error": SCALE * float(np.mean((x_hat - holdout.x) ** 2))}
    translation = float("nan")
    if translates:
        target = random_targets(holdout.n_groups, rng)[g]
        x_trans = decode(u_code[target], v_code)
        truth = exam_scores_mean(holdout.u[target], holdout.v) + holdout.aux["eps"]
        translation = SCALE * float(np.mean((x_trans - truth) ** 2))
    metrics["translation_error"] = translation
    train_groups = rng.permutation(holdout.n_groups) < holdout.n_groups // 2
    metrics["u_prediction_error"] = SCALE * regression_error(
        u_code, holdout.u, train_groups, seed=seed, max_train=max_train
    )
    metrics["v_prediction_error"] = SCALE * regression_error(
        v_code, holdout.v, train_groups[g], seed=seed, max_train=max_train
    )
    return metrics


def exam_scores_metrics(
    model: GroupEncoderModel,
    holdout: GroupedDataset,
    *,
    seed: int = 0,
    max_train: int = 20_000,
) -> dict[str, float]:
    """Reconstruction, translation, u-prediction and v-prediction errors (x 100) of a
    model's posterior means (:func:`score_codes`).

    Args:
        model: a fitted :class:`~groupvae.models.GroupVAE` (a
            :class:`~groupvae.evaluation.protocols.GroupEncoderModel`).
        holdout: Exam-Scores groups with ``u``, ``v`` and ``aux["eps"]``.
        seed: seed of the target choice, the group halves and the regressors.
        max_train: most rows each regressor is fitted on.

    Raises:
        DataError: if ``holdout`` lacks the true factors.
    """
    _check_holdout(holdout)
    u_code = model.encode_groups(holdout).mean
    v_code = model.encode_instances(holdout).mean
    return score_codes(
        u_code, v_code, model.decode, holdout,
        translates=model.has_group_latent, seed=seed, max_train=max_train,
    )  # fmt: skip


def bayes_optimal_metrics(
    holdout: GroupedDataset, *, noise_std: float, seed: int = 0
) -> dict[str, float]:
    """The four errors of the exact posterior means, scored as the models are.

    The group code is ``(E[mu], E[sigma^2 + 1])`` and the instance code ``(E[v], E[eps])``
    (:mod:`groupvae.evaluation.bayes_oracle`), decoded by
    :func:`~groupvae.evaluation.bayes_oracle.oracle_decode`. Also returns the errors of
    the posterior means themselves, without a regressor (``*_direct``): the limits the
    regressors approach.

    Raises:
        DataError: if ``holdout`` lacks the true factors.
    """

    _check_holdout(holdout)
    post = exam_scores_posterior(
        holdout.x, holdout.group, noise_std=noise_std, n_groups=holdout.n_groups
    )
    metrics = score_codes(post.group_code, post.instance_code, oracle_decode, holdout, seed=seed)
    u_mean = np.stack([post.mu, post.sigma], axis=1)
    metrics["u_prediction_error_direct"] = SCALE * float(np.mean((u_mean - holdout.u) ** 2))
    metrics["v_prediction_error_direct"] = SCALE * float(np.mean((post.v - holdout.v[:, 0]) ** 2))
    return metrics
