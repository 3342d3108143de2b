"""The trusted-weights helper: nonzero, well-scaled draws, fresh per grading, loaded by parameter name."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grader.authoring import load_trusted_weights, load_weights, trusted_weights
from grader.errors import StudentCodeError

SHAPES = {"Q.weight": (16, 16), "Q.bias": (16,), "ln.weight": (16,)}


class LocalModule:
    """The RPC's view of a module (``load_state_dict`` answering missing/unexpected), run in-process."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> dict[str, list[str]]:
        try:
            result = torch.nn.Module.load_state_dict(self.module, state, strict=strict)
        except RuntimeError as exc:
            raise StudentCodeError("RuntimeError", str(exc)) from None
        return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)}


class Attention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.Q = torch.nn.Linear(16, 16)
        self.ln = torch.nn.LayerNorm(16)


def test_values_are_nonzero_and_scaled_by_fan_in() -> None:
    weights = trusted_weights({"w": (64, 256), "b": (64,)}, seed=1)
    for tensor in weights.values():
        assert tensor.dtype == torch.float32
        assert float(tensor.abs().min()) >= 0.05
    assert 0.04 < float(weights["w"].std()) < 0.1  # about 1/sqrt(256)
    assert 0.3 < float(weights["b"].std()) < 0.7


def test_gains_are_drawn_around_one() -> None:
    gain = trusted_weights(SHAPES, seed=2, around_one=["ln.weight"])["ln.weight"]
    assert 0.6 < float(gain.mean()) < 1.4 and float(gain.std()) > 0.05


def test_a_seed_reproduces_and_no_seed_draws_afresh() -> None:
    assert torch.equal(trusted_weights(SHAPES, seed=3)["Q.weight"], trusted_weights(SHAPES, seed=3)["Q.weight"])
    assert not torch.equal(trusted_weights(SHAPES)["Q.weight"], trusted_weights(SHAPES)["Q.weight"])


def test_an_unknown_gain_name_is_a_suite_bug() -> None:
    with pytest.raises(ValueError, match="around_one"):
        trusted_weights(SHAPES, around_one=["nope"])


def test_loaded_weights_are_the_modules_weights() -> None:
    module = Attention()
    weights = load_trusted_weights(LocalModule(module), SHAPES, what="Attention", around_one=["ln.weight"])
    assert torch.equal(module.Q.weight.detach(), weights["Q.weight"])
    assert torch.equal(module.ln.weight.detach(), weights["ln.weight"])


def test_a_missing_parameter_fails_with_the_handouts_name() -> None:
    with pytest.raises(AssertionError, match=r"Attention has no parameter named K\.weight"):
        load_weights(LocalModule(Attention()), trusted_weights({"K.weight": (16, 16)}, seed=4), what="Attention")


def test_a_parameter_of_another_shape_fails_with_the_handouts_shape() -> None:
    with pytest.raises(AssertionError, match=r"Q\.weight \(16, 8\)"):
        load_weights(LocalModule(Attention()), trusted_weights({"Q.weight": (16, 8)}, seed=5), what="Attention")
