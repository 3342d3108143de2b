"""Part 2.1 (nmt.ipynb): ScaledDotAttention (Q1, 4 points) and CausalScaledDotAttention (Q2, 4 points).

The grader draws the Q/K/V weights here (fresh, nonzero, per grading), loads them into the student's
module by parameter name and computes the reference from *those* weights, in the trusted process: a
module that zeroes, re-draws or ignores them cannot match (nothing is read back from the sandbox to
build the expectation). Weights must come back as (B, S, k), normalised over the keys; the transpose
(B, k, S) is accepted with a note (spec §6.1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from grader.authoring import (
    Feedback,
    Student,
    StudentCodeError,
    assert_changed,
    check,
    fail,
    load_trusted_weights,
    load_weights,
    raised,
    trusted_weights,
)

from . import reference
from .common import close, cuda_hint, definition, pair, qkv_shapes, randn, run, tensor, worst
from .editions import edition_note, located, source_of
from .static import loop_note

NB = "nmt_nb"
TAGS = ["nmt.ipynb", "part 2.1"]


def _build(student: Student, name: str, hidden: int, seed: int, files: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    """The student's module, in eval mode, holding Q/K/V weights the grader drew (returned for the reference)."""
    student.seed(seed)
    cls = definition(student, NB, name, files)
    module = run(f"{name}({hidden})", cls, hidden)
    run(f"{name}.eval()", module.call_method, "eval")
    return module, load_trusted_weights(module, qkv_shapes(hidden), what=f"{name}({hidden})")


#: How far an output must move to count as changed (attention outputs are of order one).
CHANGED_ATOL = 1e-4


def _reorder_advice(files: Path, name: str) -> str:
    """What to change when the weights hold the right numbers in the wrong places, as the student's code does it."""
    source = source_of(files, NB, name)
    if ".view(" in source or ".reshape(" in source:
        return "use transpose/permute, not view/reshape, to reorder axes"
    return "weights[b, j, i] must be the weight of key j for query i (a softmax over j)"


def _weights_match(
    got: torch.Tensor,
    expected: torch.Tensor,
    what: str,
    feedback: Feedback | None,
    files: Path,
    name: str = "ScaledDotAttention",
) -> None:
    """``got`` equals the (B, S, k) reference, or (with a note) its transpose."""
    if close(got, expected):
        return
    flipped = expected.transpose(1, 2)
    if close(got, flipped):
        if feedback is not None:
            feedback.note(
                f"{what}: returned as (batch, k, seq_len); the handout asks for (batch, seq_len, k). Accepted."
            )
        return
    if got.shape == expected.shape:
        fail(
            f"{what}: the attention weights returned by {name}.forward{located(files, NB, name)} have the right shape "
            f"{tuple(got.shape)} but wrong values, {worst(got, expected)}. Compare with the reference (batch, seq_len, k) "
            f"layout: {_reorder_advice(files, name)}."
        )
    fail(
        f"{what}: the attention weights returned by {name}.forward{located(files, NB, name)} should have shape "
        f"{tuple(expected.shape)} (batch, seq_len, k), got {tuple(got.shape)}"
    )


@check(name="ScaledDotAttention: context for 3-D queries", number="2.1.1.1", points=2, tags=TAGS, timeout=90)
def scaled_context(student: Student, seed: int, files: Path, feedback: Feedback) -> None:
    """Context (B, k, H) equals the reference for k in {1, 4}, S in {5, 7}, H in {8, 32, 64} (scaling 1/sqrt(H))."""
    if note := edition_note(files):  # once per report: this is the suite's first check
        feedback.note(note)
    if note := loop_note(files, "ScaledDotAttention"):
        feedback.note(note)
    for i, (k, s, h) in enumerate([(1, 5, 8), (4, 7, 32), (4, 5, 64)]):
        module, chosen = _build(student, "ScaledDotAttention", h, seed + i, files)
        q, kv = randn(seed + 10 + i, 3, k, h), randn(seed + 20 + i, 3, s, h)
        context, _ = pair(run("ScaledDotAttention.forward", module, q, kv, kv), "ScaledDotAttention.forward")
        context = tensor(context, "context")
        expected, _ = reference.attention(chosen, q, kv, kv)
        what = f"queries (3, {k}, {h}), keys/values (3, {s}, {h})"
        if tuple(context.shape) != tuple(expected.shape):
            fail(
                f"With {what} the context returned by ScaledDotAttention.forward{located(files, NB, 'ScaledDotAttention')} "
                f"should have shape {tuple(expected.shape)} (batch, k, hidden), got {tuple(context.shape)}"
                + (" — summed over the query axis?" if tuple(context.shape) == (3, h) else "")
            )
        if not close(context, expected):
            fail(
                f"With {what} the context returned by ScaledDotAttention.forward{located(files, NB, 'ScaledDotAttention')} "
                f"differs from the reference: {worst(context, expected)}. "
                "Expected softmax(Q(q) K(k)^T / sqrt(hidden)) over the keys, applied to V(v)."
            )


@check(
    name="ScaledDotAttention: weights (batch, seq_len, k), normalised over the keys",
    number="2.1.1.2",
    points=1,
    tags=TAGS,
    timeout=90,
)
def scaled_weights(student: Student, seed: int, feedback: Feedback, files: Path) -> None:
    """Attention weights equal the reference, (B, S, k), and sum to 1 over the key axis."""
    for i, (k, s, h) in enumerate([(4, 7, 32), (3, 5, 8)]):
        module, chosen = _build(student, "ScaledDotAttention", h, seed + i, files)
        q, kv = randn(seed + 30 + i, 3, k, h), randn(seed + 40 + i, 3, s, h)
        _, weights = pair(run("ScaledDotAttention.forward", module, q, kv, kv), "ScaledDotAttention.forward")
        _, expected = reference.attention(chosen, q, kv, kv)
        _weights_match(
            tensor(weights, "attention_weights"),
            expected,
            f"queries (3, {k}, {h}), keys (3, {s}, {h})",
            feedback,
            files,
        )


@check(name="ScaledDotAttention: 2-D queries (batch, hidden)", number="2.1.1.3", points=1, tags=TAGS, timeout=90)
def scaled_2d(student: Student, seed: int, feedback: Feedback, files: Path) -> None:
    """A decoder state (B, H) works and gives the k = 1 result: context (B, 1, H) or (B, H), weights (B, S, 1) or (B, S)."""
    module, chosen = _build(student, "ScaledDotAttention", 16, seed, files)
    q, kv = randn(seed + 1, 3, 16), randn(seed + 2, 3, 6, 16)
    try:
        out = module(q, kv, kv)
    except StudentCodeError as exc:
        advice = (
            cuda_hint(exc)
            or " The decoder passes its state as (batch, hidden): reshape it to (batch, 1, hidden) first."
        )
        fail(
            f"With 2-D queries (batch, hidden) = (3, 16) ScaledDotAttention.forward{located(files, NB, 'ScaledDotAttention')} "
            f"raised {raised(exc)}.{advice}"
        )
    context, weights = pair(out, "ScaledDotAttention.forward")
    expected_c, expected_w = reference.attention(chosen, q, kv, kv)
    context, weights = tensor(context, "context"), tensor(weights, "attention_weights")
    if tuple(context.shape) == (3, 16):
        context = context.unsqueeze(1)
    if tuple(weights.shape) == (3, 6):
        weights = weights.unsqueeze(2)
    if tuple(context.shape) != (3, 1, 16) or not close(context, expected_c):
        fail(
            f"With 2-D queries the context of ScaledDotAttention.forward{located(files, NB, 'ScaledDotAttention')} should equal the k = 1 result, shape (3, 1, 16) or (3, 16); got shape "
            f"{tuple(context.shape)}" + (f", {worst(context, expected_c)}" if context.shape == expected_c.shape else "")
        )
    _weights_match(weights, expected_w, "2-D queries (3, 16)", feedback, files)


CAUSAL = "CausalScaledDotAttention"


def _mask_advice(files: Path) -> str:
    """How to mask, in terms of what the student's forward already does."""
    source = source_of(files, NB, CAUSAL)
    if any(m in source for m in ("neg_inf", "masked_fill", "-inf", "-1e")):
        return (
            "Your forward does add a large negative value somewhere: it must reach exactly the scores of keys "
            "j > i for query i (the (queries, keys) upper triangle, e.g. triu(ones, diagonal=1)), before the softmax."
        )
    return (
        "Add neg_inf to the future scores before the softmax (multiplying scores by a 0/1 mask still leaves "
        "exp(0) = 1 for them)."
    )


def _causal(student: Student, seed: int, files: Path, hidden: int = 16) -> tuple[Any, dict[str, torch.Tensor]]:
    return _build(student, "CausalScaledDotAttention", hidden, seed, files)


def _self_attend(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    context, weights = pair(
        run("CausalScaledDotAttention.forward", module, x, x, x), "CausalScaledDotAttention.forward"
    )
    return tensor(context, "context"), tensor(weights, "attention_weights")


@check(
    name="CausalScaledDotAttention: matches the reference, no weight on future keys",
    number="2.1.2.1",
    points=2,
    tags=TAGS,
    timeout=90,
)
def causal_reference(student: Student, seed: int, feedback: Feedback, files: Path) -> None:
    """Self-attention on (B, T, H), T in {1, 6, 9}: context and weights equal the masked reference; future weights <= 1e-6."""
    if note := loop_note(files, "CausalScaledDotAttention"):
        feedback.note(note)
    for i, t in enumerate([1, 6, 9]):
        module, chosen = _causal(student, seed + i, files)
        x = randn(seed + 50 + i, 3, t, 16)
        context, weights = _self_attend(module, x)
        expected_c, expected_w = reference.attention(chosen, x, x, x, causal=True)
        if context.shape != expected_c.shape:
            fail(
                f"With inputs (3, {t}, 16) the context should have shape {tuple(expected_c.shape)}, got {tuple(context.shape)}"
            )
        if weights.shape == expected_w.shape and t > 1:
            future = torch.ones(t, t, dtype=torch.bool).tril(-1)  # (key j, query i) with j > i
            oriented = (
                weights
                if close(weights, expected_w) or not close(weights, expected_w.transpose(1, 2))
                else weights.transpose(1, 2)
            )
            leak = float(oriented[:, future].abs().max())
            if leak > 1e-6:
                fail(
                    f"With inputs (3, {t}, 16), CausalScaledDotAttention.forward{located(files, NB, CAUSAL)} gives query "
                    f"positions weight up to {leak:.3g} on later (future) keys; it must be at most 1e-6. "
                    f"{_mask_advice(files)}"
                )
        if not close(context, expected_c):
            fail(
                f"With inputs (3, {t}, 16) the context of CausalScaledDotAttention.forward{located(files, NB, CAUSAL)} "
                f"differs from the causal reference: {worst(context, expected_c)}"
            )
        _weights_match(weights, expected_w, f"inputs (3, {t}, 16)", feedback, files, "CausalScaledDotAttention")


@check(name="CausalScaledDotAttention: causal under perturbation", number="2.1.2.2", points=1, tags=TAGS, timeout=90)
def causal_perturbation(student: Student, seed: int, files: Path) -> None:
    """Changing inputs after position t leaves the context at positions <= t unchanged; the context does
    depend on the Q and K weights the grader loads (a constant or weight-blind module is not "causal")."""
    module, weights = _causal(student, seed, files)
    x = randn(seed + 60, 2, 8, 16)
    base, _ = _self_attend(module, x)
    for t in (0, 3, 6):
        y = x.clone()
        y[:, t + 1 :] = randn(seed + 61 + t, 2, 8 - t - 1, 16) * 3
        moved, _ = _self_attend(module, y)
        if moved.shape != base.shape or not close(moved[:, : t + 1], base[:, : t + 1]):
            fail(
                f"Changing the inputs after position {t} changed the context at positions 0..{t}: the attention{located(files, NB, CAUSAL)} "
                "looks at future positions. Mask the scores of keys j > i for query i."
            )
    other = {**weights, **trusted_weights({k: v.shape for k, v in weights.items() if k[0] in "QK"})}
    load_weights(module, other, what="CausalScaledDotAttention(16)")
    again, _ = _self_attend(module, x)
    assert_changed(
        base[:, 1:],
        again[:, 1:],
        "With other Q and K weights loaded (load_state_dict), the context at "
        "positions 1..7 did not change: the attention ignores the weights it holds. Its scores must come "
        "from Q(queries) and K(keys).",
        atol=CHANGED_ATOL,
    )


@check(
    name="CausalScaledDotAttention: all-zero scores give uniform weights over the past",
    number="2.1.2.3",
    points=1,
    tags=TAGS,
    timeout=90,
)
def causal_zero_scores(student: Student, seed: int, files: Path) -> None:
    """With the Q projection zeroed every score is 0: query i must average V(x) uniformly over keys 0..i.

    Only Q is zeroed: K and V hold the grader's nonzero weights, so a zero or input-copying context cannot
    match; then Q's bias alone is made nonzero (every query sees the same, unequal scores) and the context
    must change, so a module that always averages uniformly does not pass either.
    """
    module, chosen = _causal(student, seed, files)
    zeroed = {**chosen, "Q.weight": torch.zeros_like(chosen["Q.weight"]), "Q.bias": torch.zeros_like(chosen["Q.bias"])}
    load_weights(module, zeroed, what="CausalScaledDotAttention(16)")
    x = randn(seed + 70, 2, 5, 16)
    context, _ = _self_attend(module, x)
    expected, _ = reference.attention(zeroed, x, x, x, causal=True)
    if context.shape != expected.shape or not close(context, expected):
        fail(
            "With every score exactly 0 (Q's weight and bias set to zero), query i should average the values of keys "
            f"0..i uniformly, but the context of CausalScaledDotAttention.forward{located(files, NB, CAUSAL)} differs"
            + (f": {worst(context, expected)}" if context.shape == expected.shape else "")
            + ". Is the mask derived from the scores (e.g. masking scores equal to 0) instead of the positions?"
        )
    load_weights(module, {**zeroed, "Q.bias": 4 * chosen["Q.bias"]}, what="CausalScaledDotAttention(16)")
    tilted, _ = _self_attend(module, x)
    assert_changed(
        context[:, 1:],
        tilted[:, 1:],
        "With Q's weight zero but its bias nonzero the scores differ "
        "between keys, yet the context stayed the uniform average: the weights must be the softmax of "
        "Q(queries) K(keys)^T / sqrt(hidden), masked.",
        atol=CHANGED_ATOL,
    )
