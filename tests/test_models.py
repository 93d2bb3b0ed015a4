"""The contract every model in ``MODELS`` keeps, and the invariances of its parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import groupvae
from groupvae.config import ModelConfig
from groupvae.errors import CheckpointError, ConfigError, DataError
from groupvae.models import (
    GROUP_ENCODERS,
    INSTANCE_ENCODERS,
    MODELS,
    GroupVAE,
    build_config,
    create,
)
from groupvae.modules.group_vae.module import GroupVAEModule
from helpers import FAST, GROUP_PRESETS, flat_batch, random_groups, upsample

# Every model on Exam-Scores (its known decoder; an MLP for the VAE) and on tiny binary
# images with an MLP decoder and a Bernoulli likelihood.
# Two presets also run with the convolutional backbone and decoder on 16x16 images.
CASES = (
    [(name, "exam") for name in GROUP_PRESETS]
    + [(name, "images") for name in GROUP_PRESETS]
    + [(name, "conv") for name in ("mlvae", "cxvae")]
)
IMAGE_OPTIONS = {"obs_shape": (1, 4, 4), "likelihood": "bernoulli", "decoder": "mlp", "hidden": 16}
CONV_OPTIONS = {
    "obs_shape": (1, 16, 16),
    "likelihood": "bernoulli",
    "backbone": "conv",
    "decoder": "conv",
    "channels": 4,
    "hidden": 16,
}


NO_GROUP_LATENT = {name for name in MODELS if not build_config(name).has_group_latent}


def build(name: str, kind: str, seed: int = 0) -> GroupVAE:
    if kind == "exam":
        return create(name, dataset="exam-scores", seed=seed, hidden=16)
    if kind == "conv":
        return create(name, seed=seed, instance_dim=2, **CONV_OPTIONS)
    return create(name, seed=seed, instance_dim=2, **IMAGE_OPTIONS)


@pytest.fixture(params=CASES, ids=[f"{n}-{k}" for n, k in CASES], scope="module")
def case(request):
    return request.param


@pytest.fixture(scope="module")
def data(case, exam, images):
    """The case's data: Exam-Scores (64 schools), or 24 groups of 4x4 (or 16x16) images."""
    if case[1] == "conv":
        return upsample(images, 4)
    return exam if case[1] == "exam" else images


@pytest.fixture(scope="module")
def trained(case, data):
    """The case's model after one epoch, seed 0."""
    return build(*case).fit(data, **FAST)


def state(model: GroupVAE) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.module.state_dict().items()}


def outputs(model: GroupVAE, data) -> dict[str, np.ndarray]:
    """Everything inference gives, as arrays."""
    out = {
        "group_mean": model.encode_groups(data).mean,
        "group_logvar": model.encode_groups(data).logvar,
        "instance_mean": model.encode_instances(data).mean,
        "instance_logvar": model.encode_instances(data).logvar,
        "reconstruction": model.reconstruct(data),
    }
    if model.module.has_group_latent:
        u = out["group_mean"][data.group]
        out["translation"] = model.translate(data, np.roll(u, 5, axis=0))
    return out


# ------------------------------------------------------------------ contract
def test_output_shapes(case, data, trained):
    name, _ = case
    config = trained.config
    n, g = data.n_obs, data.n_groups
    group_dim = config.instance_dim if name in NO_GROUP_LATENT else config.group_dim
    out = outputs(trained, data)
    assert out["group_mean"].shape == out["group_logvar"].shape == (g, group_dim)
    assert out["instance_mean"].shape == out["instance_logvar"].shape == (n, config.instance_dim)
    assert out["reconstruction"].shape == (n, *data.obs_shape)
    assert all(np.isfinite(a).all() and a.dtype == np.float32 for a in out.values())
    if config.likelihood == "bernoulli":  # pixel probabilities
        assert out["reconstruction"].min() >= 0 and out["reconstruction"].max() <= 1
    if name in NO_GROUP_LATENT:
        with pytest.raises(ConfigError, match="no group latent"):
            trained.translate(data, np.zeros((n, 1)))
    else:
        assert out["translation"].shape == (n, *data.obs_shape)
        assert not np.allclose(out["translation"], out["reconstruction"])


def test_translating_to_the_own_group_code_reconstructs(case, data, trained):
    if case[0] in NO_GROUP_LATENT:
        pytest.skip("no group latent")
    own = trained.encode_groups(data).mean[data.group]
    np.testing.assert_array_equal(trained.translate(data, own), trained.reconstruct(data))


def test_arrays_and_batching_give_the_same_codes(case, data, trained):
    """A GroupedDataset, raw arrays with arbitrary ids, and small batches agree."""
    ids = 1000 - 7 * data.group  # decreasing ids: groups come back in sorted-id order
    by_array = trained.encode_groups(data.x, ids)
    by_data = trained.encode_groups(data, batch_groups=5)
    np.testing.assert_allclose(by_array.mean[::-1], by_data.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_array.logvar[::-1], by_data.logvar, rtol=1e-5, atol=1e-6)
    instances = trained.encode_instances(data, batch_groups=5).mean
    np.testing.assert_allclose(trained.encode_instances(data.x, ids).mean, instances, atol=1e-6)


def test_save_load_round_trip(case, data, trained, tmp_path):
    before = outputs(trained, data)
    path = trained.save(tmp_path / "run", metadata={"note": "round trip"})
    assert {p.name for p in path.iterdir()} - {".groupvae.lock"} == {
        "config.json",
        "weights.safetensors",
        "metadata.json",
        "history.csv",
        ".groupvae-manifest.json",  # what groupvae wrote there, with SHA-256
    }
    loaded = groupvae.load(path)
    assert loaded.config == trained.config and loaded.seed == trained.seed
    assert loaded.train_config == trained.train_config
    assert loaded.extra_metadata == {"note": "round trip"}
    pd.testing.assert_frame_equal(loaded.history, trained.history)
    for key, value in outputs(loaded, data).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    # Saving again over the directory replaces it only when asked.
    with pytest.raises(CheckpointError, match="pass overwrite=True"):
        trained.save(path)
    trained.save(path, overwrite=True)
    assert groupvae.load(path).extra_metadata == {}


def test_training_changes_every_parameter_and_inference_changes_none(case, data, trained):
    initial = build(*case)  # the same init seed: the weights before training
    before = dict(initial.module.named_parameters())
    after = dict(trained.module.named_parameters())
    assert before.keys() == after.keys() and before
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, f"not trained: {unchanged}"
    for key, buffer in initial.module.named_buffers():  # e.g. a fixed log_std
        assert torch.equal(buffer, dict(trained.module.named_buffers())[key])
    snapshot = state(trained)
    first = outputs(trained, data)
    second = outputs(trained, data)
    for key in snapshot:
        assert torch.equal(snapshot[key], trained.module.state_dict()[key]), key
    for key in first:  # inference is deterministic
        np.testing.assert_array_equal(first[key], second[key])


def test_same_seed_gives_the_same_weights(case, data, trained):
    again = build(*case).fit(data, **FAST)
    for key, value in state(trained).items():
        assert torch.equal(value, again.module.state_dict()[key]), key
    other = build(*case).fit(data, **{**FAST, "seed": 1})
    assert any(not torch.equal(v, other.module.state_dict()[k]) for k, v in state(trained).items())
    assert any(
        not torch.equal(v, build(*case, seed=1).module.state_dict()[k])
        for k, v in build(*case).module.state_dict().items()
    )


def test_history_has_one_finite_row_per_epoch(case, trained):
    history = trained.history
    assert history["epoch"].tolist() == [0]
    terms = [
        "train_elbo_per_group",
        "train_elbo_per_obs",
        "train_loss",
        "train_kl_group_per_group",
        "train_kl_instance_per_obs",
    ]
    assert np.isfinite(history[terms].to_numpy()).all()
    has_regulariser = trained.module.regulariser is not None
    assert ("train_mutual_information" in history) == has_regulariser
    assert trained.train_config.epochs == FAST["epochs"]


def test_decode_checks_code_shapes(case, trained):
    config = trained.config
    v = np.zeros((3, config.instance_dim))
    u = None if case[0] in NO_GROUP_LATENT else np.zeros((3, config.group_dim))
    assert trained.decode(u, v).shape == (3, *config.obs_shape)
    bad = [(u, np.zeros((3, config.instance_dim + 1))), (np.zeros((3, 5)), v)]
    if case[0] not in NO_GROUP_LATENT:
        bad += [(None, v), (np.zeros(3), v), (np.zeros((2, config.group_dim)), v)]
    for bad_u, bad_v in bad:
        with pytest.raises(DataError, match=r"must have shape|pass u"):
            trained.decode(bad_u, bad_v)


# ------------------------------------------------------------- invariances
N_OBS, N_GROUPS = 24, 5


def module_for(group_encoder: str, instance_encoder: str = "independent") -> GroupVAEModule:
    group_dim = 0 if group_encoder == "none" else 2
    config = ModelConfig(
        obs_shape=(3,),
        group_dim=group_dim,
        instance_dim=2,
        hidden=8,
        group_encoder=group_encoder,
        instance_encoder=instance_encoder,
        # UG-VAE's encoder reads q(d | v), which the mixture prior gives.
        prior="mixture" if group_encoder == "poe-clusters" else "normal",
        n_components=3,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return GroupVAEModule(config).double().eval()


@pytest.mark.parametrize("encoder", list(GROUP_ENCODERS))
def test_group_posterior_is_permutation_invariant(encoder, gen):
    """Shuffling rows within and between groups, or relabelling groups, only reorders."""
    module = module_for(encoder)
    x = torch.randn(N_OBS, 3, generator=gen, dtype=torch.float64)
    group = random_groups(N_OBS, N_GROUPS, gen)
    with torch.no_grad():
        mean, logvar = module.group_posterior(flat_batch(x, group, N_GROUPS))
        perm = torch.randperm(N_OBS, generator=gen)
        relabel = torch.randperm(N_GROUPS, generator=gen)
        mean2, logvar2 = module.group_posterior(flat_batch(x[perm], relabel[group[perm]], N_GROUPS))
    torch.testing.assert_close(mean2[relabel], mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logvar2[relabel], logvar, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("encoder", list(GROUP_ENCODERS))
def test_group_posterior_depends_on_its_own_members_only(encoder, gen):
    module = module_for(encoder)
    x = torch.randn(N_OBS, 3, generator=gen, dtype=torch.float64)
    group = random_groups(N_OBS, N_GROUPS, gen)
    changed = x.clone()
    changed[group == 2] += 1.0
    with torch.no_grad():
        mean, _ = module.group_posterior(flat_batch(x, group, N_GROUPS))
        mean2, _ = module.group_posterior(flat_batch(changed, group, N_GROUPS))
    others = torch.arange(N_GROUPS) != 2
    torch.testing.assert_close(mean2[others], mean[others], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(mean2[2], mean[2])


@pytest.mark.parametrize("encoder", list(INSTANCE_ENCODERS))
def test_only_the_conditional_instance_encoder_depends_on_the_group(encoder, gen):
    """The same observation, among different group-mates, gets a different q(v) only
    when the instance encoder is conditioned on the group code."""
    module = module_for("deepsets", encoder)
    x = torch.randn(N_OBS, 3, generator=gen, dtype=torch.float64)
    group = random_groups(N_OBS, N_GROUPS, gen)
    changed = x.clone()
    changed[1:] += 1.0  # every row but the first; so row 0's group-mates change
    with torch.no_grad():
        v = module.inference(flat_batch(x, group, N_GROUPS), sample=False).v_mean[0]
        v2 = module.inference(flat_batch(changed, group, N_GROUPS), sample=False).v_mean[0]
    assert torch.allclose(v, v2) == (encoder == "independent")
