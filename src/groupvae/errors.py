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


class DiskError(GroupVAEError, OSError):
    """A file could not be written: the disk is full, or the folder is read-only or not
    ours to write. The file it was to replace is left as it was."""


class NonFiniteLossError(GroupVAEError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM; the last epoch checkpoint is kept.

    Attributes:
        epoch: the 1-based epoch that was running.
        epochs: the epochs the run asked for.
        completed: epochs whose checkpoint is kept (the resume point).
        signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
    """

    def __init__(self, epoch: int, epochs: int, completed: int, signal_name: str) -> None:
        self.epoch, self.epochs, self.completed = epoch, epochs, completed
        self.signal_name = signal_name
        super().__init__(
            f"interrupted ({signal_name}) at epoch {epoch} of {epochs}; "
            f"{completed} completed epoch(s) are checkpointed"
        )
