"""Part 1: softmax; part 2: SelfAttention. Every input is drawn here, every expectation computed here."""

import json
import random
from pathlib import Path

import torch

from grader.authoring import (
    Credit,
    Feedback,
    Student,
    assert_close,
    assert_shape,
    check,
    expect_tensor,
    fail,
    load_trusted_weights,
)

from .reference import attention

D_MODEL, T = 16, 5
SHAPES = {f"{name}.weight": (D_MODEL, D_MODEL) for name in ("query", "key", "value")}


def _inputs(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@check(name="softmax along any dimension", number="1.1", points=2)
def softmax_dims(student: Student, seed: int, config: dict[str, float]) -> Credit | None:
    """softmax(x, dim) equals torch.softmax on random logits, along the last dimension and along dim=0."""
    softmax = student.module("attention").softmax
    x = 3 * _inputs(seed, 4, 6)
    assert_close(softmax(x, dim=-1), torch.softmax(x, dim=-1), atol=config["atol"], what="softmax(x, dim=-1)")
    got = softmax(x, dim=0)
    if not torch.allclose(got, torch.softmax(x, dim=0), atol=config["atol"]):
        return Credit(0.5, "softmax(x, dim=0) does not normalise the columns: use the `dim` argument.")
    return None


@check(name="softmax on large logits", number="1.2", points=1, hidden_inputs=True)
def softmax_stable(student: Student, data: Path, feedback: Feedback) -> None:
    """softmax stays finite and exact on hidden logits in the thousands (subtract the maximum first)."""
    x = torch.tensor(json.loads((data / "large_logits.json").read_text()), dtype=torch.float32)
    got = expect_tensor(student.module("attention").softmax(x, dim=-1), "softmax(x, dim=-1)")
    assert_shape(got, tuple(x.shape), what="softmax(x, dim=-1)")
    if not torch.isfinite(got).all():
        fail(
            "softmax(x, dim=-1) returned NaN or inf on logits in the thousands: exp overflows. "
            "Subtract each row's maximum before exp (softmax does not change)."
        )
    # hidden=True: the message says that the values differ, never what they should be.
    assert_close(got, torch.softmax(x, dim=-1), what="softmax(x, dim=-1) on large logits", hidden=True)
    feedback.note(f"Checked on {x.shape[0]} rows of large logits.")


@check(name="SelfAttention with the grader's weights", number="2.1", points=3, timeout=30)
def self_attention(student: Student, seed: int, config: dict[str, float]) -> None:
    """With the grader's Q, K, V weights loaded, forward(x) is softmax(QK^T/sqrt(d))V."""
    module = student.module("attention").SelfAttention(D_MODEL)
    weights = load_trusted_weights(module, SHAPES, what="SelfAttention")
    x = _inputs(seed, 2, T, D_MODEL)
    got = module(x)
    assert_shape(got, (2, T, D_MODEL), what="SelfAttention(x)")
    assert_close(got, attention(weights, x), atol=config["atol"], what="SelfAttention(x)")


@check(name="SelfAttention with a mask", number="2.2", points=2, timeout=30)
def masked_attention(student: Student, seed: int, rng: random.Random, config: dict[str, float]) -> None:
    """Positions whose mask entry is False get no attention at all (scores -inf before the softmax)."""
    module = student.module("attention").SelfAttention(D_MODEL)
    weights = load_trusted_weights(module, SHAPES, what="SelfAttention")
    x = _inputs(seed, 2, T, D_MODEL)
    # A causal mask with a few more entries dropped; the diagonal stays, so every row attends somewhere.
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    below = [(row, col) for row in range(T) for col in range(row)]
    for row, col in rng.sample(below, 3):
        mask[row, col] = False
    got = module(x, mask)
    assert_close(got, attention(weights, x, mask), atol=config["atol"], what="SelfAttention(x, mask)")
