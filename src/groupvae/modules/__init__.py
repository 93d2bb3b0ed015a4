"""The mathematics of every model family and its parts (scvi-tools' ``module`` layer).

* :mod:`~groupvae.modules.base`: :class:`BaseModule`, ``inference`` / ``generative`` /
  ``loss``, which the training plan sees;
* :mod:`~groupvae.modules.group_vae`: the group-VAE module and its parts (group and
  instance encoders, priors, decoders);
* :mod:`~groupvae.modules.cpvae`: CPVAE's module and config;
* parts shared by both families: :mod:`~groupvae.modules.likelihoods`,
  :mod:`~groupvae.modules.backbones`.
"""
