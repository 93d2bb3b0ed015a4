"""What makes a training run resumable and safe to stop: epoch checkpoints written
atomically, noise seeded by position (so a resumed run draws what the uninterrupted one
drew), the history kept in the checkpoint, non-finite guards, and SIGINT / SIGTERM.

All of it is Lightning machinery: a :class:`~lightning.pytorch.callbacks.Checkpoint`
callback that calls ``trainer.save_checkpoint`` through a :class:`AtomicCheckpointIO`
plugin, and ``trainer.fit(ckpt_path=...)`` to resume.
"""

from __future__ import annotations

import math
import pickle
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from groupvae.errors import CheckpointError, NonFiniteLossError
from groupvae.store.atomic import write_with
from groupvae.training.plan import NAN_HINT

LAST = "last.ckpt"
"""File name of the latest epoch checkpoint in a checkpoint folder."""


def tensor_bytes(obj: Any) -> int:
    """Bytes of the tensors in a (nested) checkpoint: about what ``torch.save`` writes."""
    if isinstance(obj, torch.Tensor):
        return obj.nelement() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(tensor_bytes(v) for v in obj)
    return 0


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoints, written to a temporary file and renamed,
    and read back with ``weights_only=True`` (tensors and plain containers only).

    A failed write (full disk, read-only folder) raises
    :class:`~groupvae.errors.DiskError` and leaves the previous checkpoint as it was.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        size = tensor_bytes(checkpoint)
        write_with(path, lambda tmp: torch.save(checkpoint, tmp), size=size)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        try:
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"the training checkpoint {path} is corrupt: {first}") from None


def position_seed(seed: int, *position: int) -> int:
    """A 63-bit seed that is a function of ``(seed, *position)`` alone (NumPy's
    ``SeedSequence``), e.g. ``(seed, stage, epoch, batch, rank)``."""
    return int(np.random.SeedSequence([seed, *position]).generate_state(2, np.uint64)[0] >> 1)


def seed_generators(seed: int, device: torch.device) -> None:
    """Seed torch's CPU generator and, on a CUDA device, that device's generator.

    What :func:`torch.manual_seed` does for the generators a step uses, without its
    per-call cost where CUDA is not initialised: it then queues a seeding of every CUDA
    device with a formatted stack trace, about 1 ms per call, once per training batch.
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)


class _Stop(BaseException):
    """Raised inside Lightning's loop to unwind it (Lightning turns a
    ``KeyboardInterrupt`` into ``SystemExit(1)``; any other exception passes through)."""


class RunCheckpoint(Checkpoint):
    """Seeds, records, guards and checkpoints a training run.

    - Before each training batch, torch's global generator is seeded with
      :func:`position_seed` of ``(seed, stage, epoch, batch index, rank)``, so sampling
      noise depends only on the position in the run.
    - After each epoch, the parameters and the epoch's ``train_*`` terms (and the
      ``val_*`` terms of ``validation``'s check, on the epochs it checked) must be finite
      (else :class:`NonFiniteLossError`); they are appended to :attr:`history` with
      ``epoch`` (0-based) and ``step`` (model optimiser steps so far); and, with a
      ``directory``, the checkpoint ``directory/last.ckpt`` is written (weights, both
      optimisers, loop progress, this callback's state: the history and the model step
      count).
    - A pending signal (see :func:`interrupts`) stops the run at the next batch (under
      DDP at the end of the epoch, on every rank at once, after the checkpoint).

    Being a ``Checkpoint`` callback, Lightning runs its epoch-end hook after the
    module's own, so it sees (and saves) everything the module logged.

    Args:
        seed: the run's seed.
        directory: folder of ``last.ckpt``; ``None`` keeps nothing on disk.
        validation: the run's :class:`~groupvae.training.validation.HoldoutValidation`,
            if any (its epoch-end check runs before this callback's).
    """

    def __init__(
        self, seed: int, directory: str | Path | None = None, validation: Any = None
    ) -> None:
        self.seed = seed
        self.validation = validation
        self.directory = None if directory is None else Path(directory)
        self.history: list[dict[str, float]] = []
        self.signal: str | None = None
        self._restored_steps: int | None = None
        self._plan: Any = None

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        steps = int(getattr(self._plan, "model_steps", 0))
        return {"history": self.history, "model_steps": steps, "seed": self.seed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("seed") != self.seed:
            raise CheckpointError(
                f"the training checkpoint was made with seed {state_dict.get('seed')}, "
                f"not {self.seed}; resume with the seed the run started with"
            )
        self.history = [dict(row) for row in state_dict["history"]]
        self._restored_steps = int(state_dict["model_steps"])

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._plan = pl_module

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._restored_steps is not None and hasattr(pl_module, "model_steps"):
            pl_module.model_steps = self._restored_steps

    # ------------------------------------------------------------- seeding
    def _seed(self, trainer: L.Trainer, stage: int, batch_idx: int) -> None:
        if self.signal is not None and trainer.world_size == 1:
            raise _Stop
        position = (stage, trainer.current_epoch, batch_idx, trainer.global_rank)
        seed_generators(position_seed(self.seed, *position), trainer.strategy.root_device)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._seed(trainer, 0, batch_idx)

    # ------------------------------------------------------------- epoch end
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        check_parameters(pl_module, f"after epoch {epoch}")
        row = epoch_terms(trainer.callback_metrics)
        row.update(self.validation.pop_row() if self.validation is not None else {})
        bad = sorted(k for k, v in row.items() if not math.isfinite(v))
        if bad:
            raise NonFiniteLossError(
                f"{', '.join(bad)} became non-finite in epoch {epoch}. {NAN_HINT}"
            )
        steps = float(getattr(pl_module, "model_steps", trainer.global_step))
        self.history.append({"epoch": float(trainer.current_epoch), "step": steps, **row})
        if self.directory is not None:
            trainer.save_checkpoint(self.directory / LAST)
        if trainer.world_size > 1 and self._any_rank_signalled(trainer):
            raise _Stop  # every rank together, after the checkpoint: no rank left waiting

    def _any_rank_signalled(self, trainer: L.Trainer) -> bool:
        """Under DDP a signal stops the run at the end of the epoch, once all ranks agree
        (one reduction per epoch); a rank stopping alone would hang the others."""
        flag = torch.tensor(float(self.signal is not None), device=trainer.strategy.root_device)
        agreed = trainer.strategy.reduce(flag, reduce_op="sum")
        if float(agreed) > 0 and self.signal is None:
            self.signal = "SIGTERM"
        return float(agreed) > 0


def epoch_terms(metrics: dict[str, Any]) -> dict[str, float]:
    """The ``train_*`` terms of Lightning's ``callback_metrics``, as floats (the
    ``val_*`` ones come from :class:`~groupvae.training.validation.HoldoutValidation`,
    on the epochs it checked)."""
    return {k: float(v) for k, v in sorted(metrics.items()) if k.startswith("train_")}


def check_parameters(module: torch.nn.Module, when: str) -> None:
    """Raise :class:`NonFiniteLossError` naming the first parameter with a NaN or an
    infinite value (one host synchronisation for all of them)."""
    params = [(name, p) for name, p in module.named_parameters()]
    if not params:
        return
    finite = torch.stack([torch.isfinite(p).all() for _, p in params])
    if bool(finite.all()):
        return
    name = params[int((~finite).nonzero()[0])][0]
    raise NonFiniteLossError(f"parameter {name} became non-finite {when}. {NAN_HINT}")


@contextmanager
def interrupts(callback: RunCheckpoint) -> Iterator[None]:
    """While training, turn the first SIGINT or SIGTERM into a stop at the next batch
    (see :class:`RunCheckpoint`); a second SIGINT interrupts at once. Outside the main
    thread (where Python allows no handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if callback.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        callback.signal = signal.Signals(signum).name

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
