"""A small supervised CNN: the reference classifier of the CPVAE paper's Table 2.

The paper used a ResNet-50; ours is a small CNN trained on the same images. Its sizes
follow the images it is given (channels, height, width), so it fits any image data set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from groupvae.errors import DataError


class SmallCNN(nn.Module):
    """3x3 convolutions (``channels``, each followed by ReLU and 2x2 max-pooling), then two
    linear layers: ``(n, C, H, W) -> (n, n_classes)`` logits.

    Args:
        obs_shape: ``(C, H, W)`` of the images.
        n_classes: number of classes ``K``.
        channels: output channels of the convolutions (default ``(32, 64)``).
        hidden: width of the hidden linear layer.

    Raises:
        DataError: for a shape that is not ``(C, H, W)`` or too small for the poolings.
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_classes: int,
        *,
        channels: Sequence[int] = (32, 64),
        hidden: int = 128,
    ) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise DataError(f"SmallCNN needs images of shape (C, H, W), got {tuple(obs_shape)}")
        c, h, w = (int(s) for s in obs_shape)
        shrink = 2 ** len(channels)
        if h < shrink or w < shrink:
            raise DataError(f"images {h}x{w} are too small for {len(channels)} poolings")
        layers: list[nn.Module] = []
        for c_in, c_out in zip((c, *channels[:-1]), channels, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        flat = channels[-1] * (h // shrink) * (w // shrink)
        layers += [nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, C, H, W)`` images -> ``(n, K)`` logits."""
        return self.net(x)


def train_cnn_classifier(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, float]:
    """Train :class:`SmallCNN` by maximising ``log p(k | x)`` and test it.

    Args:
        x_train, x_test: ``(n, C, H, W)`` images (the network is sized from ``x_train``).
        y_train, y_test: ``(n,)`` int classes ``0..K-1``.
        epochs: passes over the training images (Adam, ``lr``).
        batch_size: images per step.
        seed: seeds the weights and the batch order.

    Returns:
        ``{"accuracy": test accuracy, "train_accuracy": ...}``.
    """
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallCNN(x_train.shape[1:], n_classes)
        xt, yt = torch.from_numpy(np.asarray(x_train, np.float32)), torch.from_numpy(y_train)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(yt), generator=gen)
            for s in range(0, len(yt), batch_size):
                idx = order[s : s + batch_size]
                loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()

    @torch.no_grad()
    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        net.eval()
        logits = torch.cat(
            [
                net(torch.from_numpy(np.asarray(x[s : s + 512], np.float32)))
                for s in range(0, len(y), 512)
            ]
        )
        return float((logits.argmax(1).numpy() == y).mean())

    return {"accuracy": accuracy(x_test, y_test), "train_accuracy": accuracy(x_train, y_train)}


__all__ = ["SmallCNN", "train_cnn_classifier"]
