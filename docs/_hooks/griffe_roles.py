"""A griffe extension for the API reference: the docstrings' reST roles as code.

groupvae's docstrings are Google style with Sphinx cross-reference roles
(``:class:`~groupvae.models.base.BaseModel```, ``:func:`create```); Markdown would show
the role's markup. Each becomes a code span of its target (its last name with ``~``).
Loaded by mkdocstrings (``mkdocs.yml``: ``extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|mod|attr|exc|obj|const|ref):`(~?)([^`]+)`")


def _plain(match: re.Match[str]) -> str:
    target = match[2].strip()
    if match[1]:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_plain, obj.docstring.value)
