"""Translation with the paper's decoder x = 2 u0 + (u1^2 + 1) v fed point codes built from
the exact posterior: u = (E[mu], sqrt(E[sigma^2])), v = E[v] + lam E[eps]; best lam."""
import numpy as np
from groupvae.benchmarks.exam_scores import ExamScoresBenchmark
from groupvae.data.exam_scores import exam_scores_mean
from groupvae.evaluation.bayes_oracle import exam_scores_posterior, oracle_decode
from groupvae.evaluation.exam_scores import random_targets
from groupvae.models import create
from groupvae.runs import build_data
for seed in (0, 1, 2):
    probe = create("mlvae", dataset="exam-scores", seed=seed)
    _, h = build_data(probe, "exam-scores", seed=seed, holdout=0.2, options={"n_groups": 32768})
    p = exam_scores_posterior(h.x, h.group, noise_std=1.0, n_groups=h.n_groups)
    rng = np.random.default_rng(seed)
    tgt = random_targets(h.n_groups, rng)[h.group]
    truth = exam_scores_mean(h.u[tgt], h.v)[:, 0] + h.aux["eps"][:, 0]
    best = oracle_decode(p.group_code[tgt], p.instance_code)[:, 0]
    res = {"bayes": 100 * np.mean((best - truth) ** 2)}
    for lam in (0.0, 0.25, 0.5, 1.0):
        pred = 2 * p.mu[tgt] + (p.sigma_sq[tgt] + 1) * (p.v + lam * p.eps)
        res[f"lam={lam}"] = 100 * np.mean((pred - truth) ** 2)
    print(seed, {k: round(float(v), 1) for k, v in res.items()}, flush=True)
