"""Weights the grader chooses: draw them here, load them into the student's module, compute from them.

The rule of every check that grades a module's forward pass (docs/SECURITY.md, "The rule"): the
expectation is computed in the trusted process from inputs the grader chose. Reading a module's
``state_dict()`` back from the sandbox and computing the reference from it lets the student choose both
sides of the comparison (zero every layer, return zeros). Instead::

    module = student.module("model").Attention(config)
    weights = load_trusted_weights(module, {"Q.weight": (16, 16), "Q.bias": (16,)}, what="Attention")
    expected = my_reference(weights, x)          # from *these* weights
    got = module(x)                              # the student's forward, with them loaded

A module that ignores the loaded weights (re-initialises them, overrides ``load_state_dict``, keeps
its own copy) computes with other numbers and fails the comparison.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from grader.authoring.asserts import fail
from grader.errors import StudentCodeError

if TYPE_CHECKING:
    import torch

#: The smallest magnitude a drawn value may have: no parameter is zero, so none can be "matched" by an
#: all-zero module, and no product of them degenerates.
_FLOOR = 0.05


def trusted_weights(
    shapes: Mapping[str, Sequence[int]],
    *,
    seed: int | None = None,
    around_one: Iterable[str] = (),
) -> dict[str, torch.Tensor]:
    """Random, nonzero float32 tensors by parameter name, drawn in the trusted process.

    Matrices are drawn with a standard deviation of ``1/sqrt(fan_in)`` (the last dimension), so
    activations keep their scale through a few layers; vectors (biases) with 0.5. Names in
    ``around_one`` (LayerNorm gains) are drawn as ``1 + 0.2 N(0, 1)``. Every value is at least 0.05 in
    magnitude. ``seed=None`` (the default) draws fresh values for each grading, so no forgery can
    carry a table of expected outputs; a seed makes them reproducible (tests of a suite).
    """
    import torch

    generator = torch.Generator().manual_seed(secrets.randbits(63) if seed is None else seed)
    gains = set(around_one)
    unknown = gains - set(shapes)
    if unknown:
        raise ValueError(f"around_one names parameters not in shapes: {sorted(unknown)}")
    weights: dict[str, torch.Tensor] = {}
    for name, shape in shapes.items():
        size = tuple(int(n) for n in shape)
        # float32, the parameters' own dtype: drawing float64 first took 5x as long (a GPT's millions of values)
        draw = torch.randn(size, generator=generator, dtype=torch.float32)
        if name in gains:
            draw = 1.0 + 0.2 * draw
        else:
            draw = draw * (1.0 / math.sqrt(size[-1]) if len(size) >= 2 else 0.5)
        # Push values away from zero, keeping their sign.
        draw = torch.where(draw.abs() < _FLOOR, torch.where(draw < 0, -_FLOOR, _FLOOR), draw)
        weights[name] = draw
    return weights


def load_weights(module: Any, weights: Mapping[str, torch.Tensor], *, what: str) -> None:
    """Load the grader's ``weights`` into the student's module by parameter name.

    The module may hold more parameters than ``weights`` names (they keep the student's values); a
    name it lacks, or a parameter of another shape, fails the check with the handout's name and shape.
    """
    try:
        result = module.load_state_dict(dict(weights), strict=False)
    except StudentCodeError as exc:
        shapes = ", ".join(f"{name} {tuple(t.shape)}" for name, t in weights.items())
        fail(
            f"Loading the grader's weights into {what} (load_state_dict by parameter name) raised "
            f"{exc.exc_type}: {exc.exc_message}. The handout's parameters are: {shapes}."
        )
    lacking = sorted(set(result["unexpected"]) & set(weights))
    if lacking:
        fail(
            f"{what} has no parameter named {', '.join(lacking)}: keep the layers the handout defines, "
            "under the handout's names, so that its weights can be loaded."
        )


def load_trusted_weights(
    module: Any,
    shapes: Mapping[str, Sequence[int]],
    *,
    what: str,
    seed: int | None = None,
    around_one: Iterable[str] = (),
) -> dict[str, torch.Tensor]:
    """Draw :func:`trusted_weights`, load them into ``module`` and return them for the reference."""
    weights = trusted_weights(shapes, seed=seed, around_one=around_one)
    load_weights(module, weights, what=what)
    return weights
