"""``FAMILIES``: family name -> its user-model class (each a :class:`BaseModel`).

A checkpoint records its family, so :func:`groupvae.load`, ``groupvae evaluate`` and
``groupvae plot`` dispatch through this map with no branch on a model's name.
"""

from __future__ import annotations

from groupvae.models.base import BaseModel
from groupvae.models.cpvae.model import CPVAE
from groupvae.models.model import GroupVAE
from groupvae.registry import Registry

FAMILIES: Registry[type[BaseModel]] = Registry("model family")
FAMILIES.add(GroupVAE.family, GroupVAE)
FAMILIES.add(CPVAE.family, CPVAE)

__all__ = ["FAMILIES"]
