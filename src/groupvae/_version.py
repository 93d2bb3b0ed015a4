"""The version of groupvae (read by the checkpoint metadata without importing the package)."""

__version__ = "0.1.0"
