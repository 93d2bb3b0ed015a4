"""The Psi sweep of the README (CPVAE section): one CPVAE on Grassy-MNIST with the
benchmark's split and batches (``M = 64``).

Usage: ``PYTHONPATH=src python psi_sweep.py EPOCHS OBS_STD|learned alpha1|elbo SEED``.
Prints one JSON line: active units (``ddof=0`` variance of the means > 0.01) and KL (nats
per image) of the shared and private latents, the ARI (one k-means seed), the denoising
correlations and the holdout ELBO. The lines of the README are in ``psi_sweep.jsonl``.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from groupvae.benchmarks.cpvae import CPVAEBenchmark, _split
from groupvae.evaluation.cpvae import denoising_errors, population_ari
from groupvae.models import create
from groupvae.runs import holdout_elbo


def activity(post) -> tuple[int, float]:
    active = int((np.var(post.mean, axis=0) > 0.01).sum())
    kl = 0.5 * (post.mean**2 + np.exp(post.logvar) - 1 - post.logvar).mean(0)
    return active, float(kl.sum())


def main(epochs: int, obs: str, objective: str, seed: int) -> dict:
    train, hold = _split(CPVAEBenchmark(), "grassy-mnist", seed)
    kw = {"objective": "mi", "alpha": 1.0} if objective == "alpha1" else {"objective": "elbo"}
    if obs != "learned":
        kw.update(obs_std=float(obs), learn_obs_std=False)
    else:
        kw.update(obs_std=0.1, learn_obs_std=True)  # the CPVAEConfig defaults
    model = create("cpvae", seed=seed, dataset="grassy-mnist", n_populations=2, **kw)
    start = time.perf_counter()
    model.fit(
        train, epochs=epochs, batch_per_population=64, seed=seed, progress=False, num_threads=1
    )
    shared, private = model.encode_shared(hold), model.encode_private(hold)
    pop = hold.aux["population"]
    d = denoising_errors(
        hold.x,
        model.reconstruct(hold, part="private"),
        model.reconstruct(hold, part="shared"),
        hold.aux["clean"],
        hold.aux["background"],
    )
    return {
        "epochs": epochs, "obs": obs, "objective": objective, "seed": seed,
        "fit_s": time.perf_counter() - start,
        "shared_au_kl": activity(shared), "private_au_kl": activity(private),
        "shared_ari": population_ari(shared.mean, hold.labels, pop)["mean"],
        "private_ari": population_ari(private.mean, hold.labels, pop)["mean"],
        "private_vs_clean_corr": d["private_vs_clean_corr"],
        "shared_vs_background_corr": d["shared_vs_background_corr"],
        **holdout_elbo(model, hold),
    }  # fmt: skip


if __name__ == "__main__":
    epochs, obs, objective, seed = sys.argv[1:5]
    print(json.dumps(main(int(epochs), obs, objective, int(seed))), flush=True)
