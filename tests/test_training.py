"""The training loop: KL warm-up, batches, holdout logging and the loss it minimises."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from groupvae.config import TrainConfig
from groupvae.data import make_exam_scores
from groupvae.errors import ConfigError
from groupvae.models import create
from groupvae.objectives import REGULARISERS, group_elbo
from helpers import FAST, GROUP_PRESETS, flat_batch


class Recorder(L.Callback):
    """Records the KL weight and the batch of every training step."""

    def __init__(self) -> None:
        self.kl_weights: list[float] = []
        self.batches: list = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.kl_weights.append(pl_module.weights().get("kl_weight", 1.0))
        self.batches.append(batch)


@pytest.fixture(scope="module")
def small():
    """32 schools: four batches of 8 groups per epoch."""
    return make_exam_scores(32, seed=1)


@pytest.mark.parametrize("regulariser", list(REGULARISERS))
def test_kl_warmup_rises_linearly_per_model_update(regulariser, small):
    """The weight is step / (warm-up epochs x steps per epoch), also with a critic, whose
    optimiser steps must not count."""
    recorder = Recorder()
    model = create("gvae", dataset="exam-scores", hidden=8, regulariser=regulariser)
    options = {**FAST, "epochs": 3, "groups_per_batch": 8, "kl_warmup_epochs": 2}
    model.fit(small, callbacks=[recorder], **options)
    assert recorder.kl_weights == pytest.approx([i / 8 for i in range(8)] + [1.0] * 4)


class LrRecorder(L.Callback):
    """Records every optimiser's learning rate as each optimiser step starts."""

    def __init__(self) -> None:
        self.lrs: dict[int, list[float]] = {}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        index = [o.optimizer if hasattr(o, "optimizer") else o for o in trainer.optimizers]
        key = index.index(getattr(optimizer, "optimizer", optimizer))
        self.lrs.setdefault(key, []).append(optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize("regulariser", ["none", "group-adversarial"])
def test_cosine_lr_schedule_anneals_every_optimiser_per_model_update(regulariser, small):
    """lr_t = lr (1 + cos(pi t / T)) / 2 over the T = 12 model updates, for the model's
    and the critic's optimisers alike (the critic's steps do not advance t)."""
    recorder = LrRecorder()
    model = create("gvae", dataset="exam-scores", hidden=8, regulariser=regulariser)
    options = {**FAST, "epochs": 3, "groups_per_batch": 8, "lr": 1e-3, "critic_lr": 2e-3}
    model.fit(small, callbacks=[recorder], lr_schedule="cosine", **options)
    expected = [0.5 * (1 + math.cos(math.pi * t / 12)) for t in range(12)]
    bases = [1e-3, 2e-3] if regulariser != "none" else [1e-3]
    assert sorted(recorder.lrs) == list(range(len(bases)))
    for key, base in enumerate(bases):
        assert recorder.lrs[key] == pytest.approx([base * f for f in expected], rel=1e-12)


def test_constant_lr_schedule_keeps_the_rate(small):
    recorder = LrRecorder()
    model = create("mlvae", dataset="exam-scores", hidden=8)
    model.fit(small, callbacks=[recorder], **{**FAST, "epochs": 2, "groups_per_batch": 8})
    assert recorder.lrs[0] == [FAST.get("lr", 1e-3)] * 8


def test_an_unknown_lr_schedule_is_refused():
    with pytest.raises(ConfigError, match="lr_schedule must be one of constant, cosine"):
        TrainConfig(lr_schedule="linear")


@pytest.mark.parametrize("regulariser", list(REGULARISERS))
def test_a_last_batch_of_one_group_does_not_break_training(regulariser):
    """17 groups in batches of 8: a regularised model, which needs two groups per batch,
    trains on the lone last group in the batch before it; others in a batch of its own."""
    recorder = Recorder()
    model = create("gvae", dataset="exam-scores", hidden=8, regulariser=regulariser)
    options = {**FAST, "epochs": 2, "groups_per_batch": 8}
    model.fit(make_exam_scores(17, seed=0), callbacks=[recorder], **options)
    regularised = model.module.regulariser is not None
    sizes = [batch.n_groups for batch in recorder.batches]
    assert sizes == ([8, 9] if regularised else [8, 8, 1]) * 2
    assert model.history["epoch"].tolist() == [0, 1]


def test_holdout_is_estimated_each_epoch(tmp_path):
    train, hold = make_exam_scores(40, seed=2).split(0.25, seed=0)
    model = create("cxvae", dataset="exam-scores", hidden=8)
    model.fit(train, holdout=hold, log_dir=tmp_path, **{**FAST, "epochs": 2})
    history = model.history
    assert history["epoch"].tolist() == [0, 1]
    for term in (
        "elbo_per_group",
        "elbo_per_obs",
        "reconstruction_loss_per_obs",
        "kl_instance_per_obs",
        "kl_group_per_group",
    ):
        assert history[f"val_{term}"].notna().all() and history[f"train_{term}"].notna().all()
    val = history.iloc[-1]
    terms = val["val_reconstruction_loss_per_obs"] + val["val_kl_instance_per_obs"]
    by_obs = -terms - val["val_kl_group_per_group"] * hold.n_groups / hold.n_obs
    assert val["val_elbo_per_obs"] == pytest.approx(by_obs)  # the ELBO is its terms' sum
    assert "val_mutual_information" not in history  # no regulariser on held-out groups
    assert "train_mutual_information" in history
    assert (tmp_path / "log" / "version_0" / "metrics.csv").is_file()  # Lightning CSVLogger


def test_max_group_size_subsamples_training_groups(small):
    recorder = Recorder()
    model = create("mlvae", dataset="exam-scores", hidden=8)
    model.fit(small, max_group_size=3, callbacks=[recorder], **FAST)
    for batch in recorder.batches:
        assert torch.bincount(batch.group).tolist() == [3] * batch.n_groups


def test_training_raises_the_elbo(small):
    model = create("gvae", dataset="exam-scores", hidden=16)
    model.fit(small, **{**FAST, "epochs": 5, "groups_per_batch": 8})
    elbo = model.history["train_elbo_per_group"].to_numpy()
    assert elbo[-1] > elbo[0]


@pytest.mark.parametrize("name", GROUP_PRESETS)
def test_module_loss_weights_kl_by_beta_and_warmup(name, small):
    model = create(name, dataset="exam-scores", hidden=8, beta=2.0)
    module = model.module
    x = torch.from_numpy(small.x)
    group = torch.from_numpy(small.group)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        inf = module.inference(flat_batch(x, group, small.n_groups))
    params = module.generative(inf)
    out = module.loss(
        flat_batch(x, group, small.n_groups), inf, params, kl_weight=0.25, with_regulariser=False
    )
    reference = group_elbo(
        -out.reconstruction_loss,
        out.kl_local["kl_instance"],
        out.kl_global["kl_group"],
        group,
        kl_weight=0.5,
    )
    torch.testing.assert_close(out.loss, reference.loss)
    torch.testing.assert_close(out.elbo, reference.elbo)
    assert out.regulariser is None


def test_critic_and_model_parameters_are_disjoint_and_complete():
    module = create("cxvae", dataset="exam-scores", hidden=8).module
    model_params = {id(p) for p in module.model_parameters()}
    critic_params = {id(p) for p in module.regulariser.parameters()}
    assert critic_params and not model_params & critic_params
    assert model_params | critic_params == {id(p) for p in module.parameters()}


def test_loaders_pin_memory_only_for_a_cuda_gpu():
    assert TrainConfig(accelerator="cpu").pins_memory is False
    assert TrainConfig(accelerator="auto").pins_memory is torch.cuda.is_available()
    model = create("mlvae", dataset="exam-scores", hidden=8)
    loader = model.train_loader(make_exam_scores(8, seed=0), TrainConfig())
    assert loader.pin_memory is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_pinned_batch_moves_to_the_gpu_asynchronously():
    batch = flat_batch(torch.randn(6, 1), torch.tensor([0, 0, 1, 1, 2, 2]), 3).pin_memory()
    assert batch.x.is_pinned() and batch.group.is_pinned()
    moved = batch.to("cuda", non_blocking=True)
    torch.testing.assert_close(moved.x.cpu(), batch.x)
