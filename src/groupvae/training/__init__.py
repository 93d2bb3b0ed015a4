"""Training: what a fit consumes (:mod:`~groupvae.training.fit_plan`), the fit loop
(:mod:`~groupvae.training.fit`), the one Lightning training plan
(:mod:`~groupvae.training.plan`), epoch checkpoints and interrupts, early stopping and
callbacks. It sees modules (:mod:`groupvae.modules`), never the user-facing models.

Nothing is imported here, so that ``groupvae.training.fit_plan`` loads without Lightning.
"""
