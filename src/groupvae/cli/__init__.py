"""The ``groupvae`` command line (Typer): ``list``, ``train``, ``evaluate``, ``encode``,
``translate``, ``plot``, ``demo`` (:mod:`~groupvae.cli.app`) and ``benchmark NAME``."""

from groupvae.cli.app import app, main

__all__ = ["app", "main"]
