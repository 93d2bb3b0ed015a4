"""Exceptions raised by groupvae.

Every error a user can cause derives from :class:`GroupVAEError`, so a caller can catch
them all, and the CLI prints their message instead of a traceback.
"""

from __future__ import annotations


class GroupVAEError(Exception):
    """Base class of every error caused by bad input to groupvae."""


class DataError(GroupVAEError, ValueError):
    """Input data has the wrong shape, dtype, non-finite values or invalid groups."""


class UnknownNameError(GroupVAEError, KeyError):
    """A model, part or data set name is not in its registry."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0])


class ConfigError(GroupVAEError, ValueError):
    """A configuration field is unknown, has the wrong type or an invalid value."""


class CheckpointError(GroupVAEError, OSError):
    """A checkpoint directory is missing, corrupt, or does not match its config."""


class NonFiniteLossError(GroupVAEError, FloatingPointError):
    """Training produced a NaN or infinite loss."""
