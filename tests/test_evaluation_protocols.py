"""The models satisfy evaluation/protocols.py, and evaluation/ uses nothing else of them."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import numpy as np
import pytest
import torch

import groupvae.evaluation as evaluation
from groupvae.data import group_loader
from groupvae.evaluation.likelihood import activation_width
from groupvae.evaluation.protocols import (
    CPVAEModel,
    DiagonalNormal,
    GroupEncoder,
    GroupEncoderModel,
    LikelihoodModel,
    LikelihoodModule,
)
from groupvae.models import CPVAE, GroupVAE, Posterior, create

EVALUATION = Path(evaluation.__file__).parent
SOURCES = sorted(EVALUATION.glob("*.py"))


def tiny(name: str) -> GroupVAE:
    sizes = {} if name == "vae" else {"group_dim": 2}
    return create(name, obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=8, **sizes)


def tiny_cpvae() -> CPVAE:
    return create("cpvae", obs_shape=(1, 4, 4), n_populations=2, hidden=8)


def _members(protocol: type) -> list[str]:
    return sorted(
        name
        for klass in protocol.__mro__
        if typing.Protocol in klass.__bases__
        for name in vars(klass)
        if not name.startswith("_")
    )


@pytest.mark.parametrize("name", ["vae", "mlvae", "cxvae", "ugvae"])
def test_group_vaes_satisfy_their_protocols(name, images):
    model = tiny(name)
    for protocol in (GroupEncoder, GroupEncoderModel, LikelihoodModel):
        assert isinstance(model, protocol), protocol.__name__
    assert isinstance(model.module, LikelihoodModule)
    assert not isinstance(model, CPVAEModel)
    assert model.has_group_latent == model.module.has_group_latent == (name != "vae")
    assert model.preset == model.config.model == name
    assert isinstance(model.encode_groups(images), DiagonalNormal)


def test_cpvae_satisfies_its_protocol():
    model = tiny_cpvae()
    assert isinstance(model, CPVAEModel)
    assert not isinstance(model, LikelihoodModel)
    assert model.preset == "cpvae"
    x = np.random.default_rng(0).random((6, 1, 4, 4)).astype(np.float32)
    assert isinstance(model.encode_shared(x, np.array([0, 1] * 3)), DiagonalNormal)


@pytest.mark.parametrize(
    ("protocol", "klass"),
    [
        (GroupEncoder, GroupVAE),
        (GroupEncoderModel, GroupVAE),
        (LikelihoodModel, GroupVAE),
        (CPVAEModel, CPVAE),
    ],
)
def test_the_protocols_declare_the_classes_signatures(protocol, klass):
    """A static check runtime_checkable cannot make: every declared method exists on the
    class with the same parameters (names, kinds and defaults) and every declared
    property is a property there."""
    members = _members(protocol)
    assert members
    for name in members:
        declared = inspect.getattr_static(protocol, name)
        actual = inspect.getattr_static(klass, name)
        if isinstance(declared, property):
            assert isinstance(actual, property), name
            continue
        want = inspect.signature(declared).parameters
        got = inspect.signature(actual).parameters
        assert list(want) == list(got), name
        for p in want:
            assert (want[p].kind, want[p].default) == (got[p].kind, got[p].default), (name, p)


def test_group_log_marginal_likelihood_is_the_modules_estimate(images):
    model = tiny("mlvae")
    batch = next(iter(group_loader(images, images.n_groups, shuffle=False)))
    torch.manual_seed(4)
    got = model.group_log_marginal_likelihood(batch, n_samples=5)
    torch.manual_seed(4)
    want = model.module.log_marginal_likelihood(batch, n_samples=5)
    assert got.dtype == np.float64 and got.shape == (images.n_groups,)
    np.testing.assert_array_equal(got, want.double().numpy())


def test_activation_width_of_a_model_is_that_of_its_module(images):
    for hidden in (8, 64):
        model = create("mlvae", obs_shape=(1, 4, 4), likelihood="bernoulli", hidden=hidden)
        assert activation_width(model, images) == activation_width(model.module, images)


def test_group_log_likelihoods_of_a_model_and_of_its_module_agree(images):
    model = tiny("cxvae")
    a = evaluation.group_log_likelihoods(model, images, n_samples=3, seed=2)
    b = evaluation.group_log_likelihoods(model.module, images, n_samples=3, seed=2)
    np.testing.assert_array_equal(a, b)


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_evaluation_reaches_into_no_model_internals(path):
    """No ``<anything>.module`` or ``.config`` attribute, no ``getattr(.., "module")``,
    and no ``groupvae.models`` import outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("module", "config"), f"{path.name}:{node.lineno}"
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("getattr", "hasattr"):
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            assert not {"module", "config"} & set(names), f"{path.name}:{node.lineno}"
    guarded = {id(n) for stmt in tree.body if _is_type_checking(stmt) for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import) and id(node) not in guarded:
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.startswith("groupvae.models") for n in names), (
                f"{path.name}:{node.lineno} imports {names}"
            )


def test_every_model_parameter_of_evaluation_is_annotated_with_a_protocol():
    protocols = {
        "GroupEncoder", "GroupEncoderModel", "LikelihoodModel", "CPVAEModel", "RunModel",
        "CPVAERunModel", "ElboModel",
    }  # fmt: skip
    seen = 0
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.arg == "model":
                    seen += 1
                    assert arg.annotation is not None, f"{path.name}:{node.name}"
                    used = {n.id for n in ast.walk(arg.annotation) if isinstance(n, ast.Name)}
                    assert used & protocols, f"{path.name}:{node.name}: {ast.unparse(arg)}"
    assert seen >= 10


def test_the_models_posterior_is_a_diagonal_normal():
    assert isinstance(Posterior(np.zeros((2, 3)), np.zeros((2, 3))), DiagonalNormal)
