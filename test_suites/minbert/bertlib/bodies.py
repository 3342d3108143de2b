"""The BERT comparisons both suites grade, each against our reference with weights the grader chose.

Every module under test first gets the handout's parameters drawn here (``probes.trusted``: random,
nonzero, fresh per grading, loaded by name); the reference is computed from those, so a module that
zeroes or re-draws its weights, or reports another state dict, cannot match.

Every body runs in eval mode and, where dropout matters, in train mode under one torch seed shared by
the sandbox and the reference: that is what catches dropout in the wrong place, which the official
eval-mode sanity check cannot see. Bodies fail with a message for the student or return normally.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import torch

from grader.authoring import Feedback, Student, StudentCodeError, assert_shape, fail, fail_raised, max_abs_diff

from . import reference as ref
from .probes import (
    TINY,
    attention_inputs,
    batch,
    build,
    close,
    hidden,
    seeded,
    state_of,
    tensor_result,
    trusted,
)


def fresh(seed: int) -> int:
    """A seed drawn per grading for the inputs and dropout masks (the check's own seed is fixed per suite)."""
    return seed ^ secrets.randbits(30)


def _call_failed(what: str, exc: StudentCodeError) -> None:
    hint = ""
    if "3D tensor" in exc.exc_message or "batch1" in exc.exc_message:
        hint = " (torch.bmm only takes 3-D tensors; use torch.matmul or @ for (bs, heads, seq, d) inputs)"
    fail_raised(what, exc, hint)


def embed(student: Student, seed: int) -> None:
    """``BertModel.embed`` equals word + position + token-type embeddings, LayerNorm, then dropout."""
    seed = fresh(seed)
    bert = build(student, "BertModel")
    state = trusted(bert, "BertModel")
    ids, _ = batch(seed)
    try:
        got = tensor_result(bert.call_method("embed", ids), "BertModel.embed(input_ids)")
        want = ref.embed(state, ids, TINY)
        assert_shape(got, tuple(want.shape), what="embed output")
        if not close(got, want):
            no_pos = ref.embed(
                {**state, "pos_embedding.weight": torch.zeros_like(state["pos_embedding.weight"])}, ids, TINY
            )
            hint = " (the position embeddings are missing)" if close(got, no_pos) else ""
            fail(
                f"BertModel.embed differs from the reference in eval mode by up to {max_abs_diff(got, want):.3g}{hint}"
            )
        bert.call_method("train")
        got = tensor_result(seeded(student, seed, bert.call_method, "embed", ids), "BertModel.embed in train mode")
        torch.manual_seed(seed)
        want = ref.embed(state, ids, TINY, train=True)
    except StudentCodeError as exc:
        _call_failed("BertModel.embed", exc)
    if not close(got, want):
        torch.manual_seed(seed)
        twice = torch.nn.functional.dropout(ref.embed(state, ids, TINY, train=True), TINY.hidden_dropout_prob, True)
        found = " (it matches dropout applied twice)" if close(got, twice) else ""
        fail(
            f"In train mode (eval mode is right) BertModel.embed differs from LayerNorm-then-dropout by up to "
            f"{max_abs_diff(got, want):.3g}{found}: apply embed_dropout once, after embed_layer_norm."
        )


def attention(student: Student, seed: int) -> None:
    """``attention(key, query, value, mask)``: masked scaled dot-product attention, heads concatenated."""
    seed = fresh(seed)
    attn = build(student, "BertSelfAttention")
    key, query, value, mask = attention_inputs(seed)
    try:
        got = tensor_result(attn.call_method("attention", key, query, value, mask), "BertSelfAttention.attention")
    except StudentCodeError as exc:
        _call_failed("BertSelfAttention.attention(key, query, value, attention_mask)", exc)
    want = ref.attention(key, query, value, mask)
    bs, heads, seq, d = key.shape
    if tuple(got.shape) == (bs, heads, seq, d):
        fail(
            f"attention returned shape {tuple(got.shape)}: concatenate the heads back into (bs, seq, heads*head_size) = {(bs, seq, heads * d)}"
        )
    assert_shape(got, tuple(want.shape), what="attention output (bs, seq, heads*head_size)")
    if close(got, want):
        return
    diagnoses = [
        (
            ref.attention(query, key, value, mask),
            "the key and query arguments are used the other way round (the signature is attention(key, query, value, attention_mask))",
        ),
        (
            ref.attention(key, query, value, torch.zeros_like(mask)),
            "the attention mask is not applied: add it to the scores before the softmax",
        ),
        (ref.attention(key * (d**0.5), query, value, mask), "the scores are not divided by sqrt(head_size)"),
    ]
    for alternative, reason in diagnoses:
        if close(got, alternative):
            fail(f"attention differs from the reference: {reason}.")
    fail(f"attention differs from softmax(QK^T/sqrt(d) + mask)V by up to {max_abs_diff(got, want):.3g}")


def _train_variants(
    student: Student, seed: int, run: Callable[[], Any], reference: Callable[[bool], torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The student's train-mode output and the reference's with and without attention-probability dropout."""
    got = tensor_result(seeded(student, seed, run), "the train-mode forward")
    wants = []
    for prob_dropout in (True, False):
        torch.manual_seed(seed)
        wants.append(reference(prob_dropout))
    return got, wants


def self_attention_forward(student: Student, seed: int) -> None:
    """``BertSelfAttention.forward`` projects with key/value/query and attends (eval and seeded train mode)."""
    seed = fresh(seed)
    attn = build(student, "BertSelfAttention")
    state = trusted(attn, "BertSelfAttention")
    x, mask = hidden(seed), attention_inputs(seed)[3]
    try:
        got = tensor_result(attn(x, mask), "BertSelfAttention.forward")
        want = ref.self_attention(state, "", x, mask, TINY)
        assert_shape(got, tuple(want.shape), what="self-attention output (bs, seq, hidden)")
        if not close(got, want):
            swapped = ref.self_attention(
                {
                    **state,
                    "key.weight": state["query.weight"],
                    "key.bias": state["query.bias"],
                    "query.weight": state["key.weight"],
                    "query.bias": state["key.bias"],
                },
                "",
                x,
                mask,
                TINY,
            )
            hint = ": key and query are passed to attention in the wrong order" if close(got, swapped) else ""
            fail(f"BertSelfAttention.forward differs from the reference by up to {max_abs_diff(got, want):.3g}{hint}")
        attn.call_method("train")
        got, wants = _train_variants(
            student,
            seed,
            lambda: attn(x, mask),
            lambda pd: ref.self_attention(state, "", x, mask, TINY, train=True, prob_dropout=pd),
        )
    except StudentCodeError as exc:
        _call_failed("BertSelfAttention.forward", exc)
    if not any(close(got, w) for w in wants):
        fail(
            "In train mode BertSelfAttention.forward matches neither reference (dropout on the attention "
            "probabilities, or none): is dropout applied somewhere else?"
        )


def add_norm(student: Student, seed: int) -> None:
    """``add_norm`` = ln_layer(input + dropout(dense_layer(output))), checked with dropout active."""
    seed = fresh(seed)
    layer = build(student, "BertLayer", train=True)
    state = trusted(layer, "BertLayer")
    x, out = hidden(seed), hidden(seed + 7)
    parts = [layer.attention_dense, layer.attention_dropout, layer.attention_layer_norm]
    try:
        got = tensor_result(seeded(student, seed, layer.call_method, "add_norm", x, out, *parts), "BertLayer.add_norm")
    except StudentCodeError as exc:
        _call_failed("BertLayer.add_norm", exc)
    torch.manual_seed(seed)
    want = ref.add_norm(state, "attention_dense", "attention_layer_norm", x, out, TINY, train=True)
    assert_shape(got, tuple(want.shape), what="add_norm output")
    if close(got, want):
        return
    torch.manual_seed(seed)
    after = torch.nn.functional.dropout(
        ref.add_norm(state, "attention_dense", "attention_layer_norm", x, out, TINY), TINY.hidden_dropout_prob, True
    )
    if close(got, after):
        fail(
            "add_norm applies dropout after the LayerNorm: the reference is ln_layer(input + dropout(dense_layer(output)))."
        )
    if close(got, ref.add_norm(state, "attention_dense", "attention_layer_norm", x, out, TINY)):
        fail("add_norm never applies its dropout argument (it must act on dense_layer(output) in train mode).")
    if close(got, ref._norm(state, "attention_layer_norm", x + ref._linear(state, "attention_dense", out), TINY)):
        fail("add_norm ignores its dropout argument.")
    fail(
        f"add_norm differs from ln_layer(input + dropout(dense_layer(output))) by up to {max_abs_diff(got, want):.3g} (with dropout active)"
    )


def layer_forward(student: Student, seed: int) -> None:
    """``BertLayer.forward``: attention, add-norm, GELU feed-forward, add-norm (eval and seeded train mode)."""
    seed = fresh(seed)
    layer = build(student, "BertLayer")
    state = trusted(layer, "BertLayer")
    x, mask = hidden(seed), attention_inputs(seed)[3]
    try:
        got = tensor_result(layer(x, mask), "BertLayer.forward")
        want = ref.layer(state, "", x, mask, TINY)
        assert_shape(got, tuple(want.shape), what="BertLayer output")
        if not close(got, want):
            fail(f"BertLayer.forward differs from the reference in eval mode by up to {max_abs_diff(got, want):.3g}")
        layer.call_method("train")
        got, wants = _train_variants(
            student,
            seed,
            lambda: layer(x, mask),
            lambda pd: ref.layer(state, "", x, mask, TINY, train=True, prob_dropout=pd),
        )
    except StudentCodeError as exc:
        _call_failed("BertLayer.forward", exc)
    if not any(close(got, w) for w in wants):
        fail(
            f"BertLayer.forward is right in eval mode but not in train mode (max difference {min(max_abs_diff(got, w) for w in wants):.3g}): "
            "dropout is in the wrong place (it belongs on the sublayer output, before the residual sum and the LayerNorm)."
        )


def full_model(student: Student, seed: int, feedback: Feedback) -> None:
    """``BertModel``: the parameter names pretrained loading needs, and both outputs (eval and seeded train)."""
    seed = fresh(seed)
    bert = build(student, "BertModel")
    # The names are what is graded here (pretrained loading depends on them); the values are ours.
    keys, expected = set(state_of(bert)), ref.expected_keys(TINY)
    if not expected <= keys:
        fail(
            f"BertModel's state dict lacks {sorted(expected - keys)[:5]}: parameter names must not change (pretrained weights are loaded by name)."
        )
    if keys - expected:
        feedback.note(f"BertModel has extra parameters or buffers {sorted(keys - expected)[:5]}; they are ignored.")
    state = trusted(bert, "BertModel")
    ids, mask = batch(seed)
    keep = mask.unsqueeze(-1)
    for train in (False, True):
        try:
            if train:
                bert.call_method("train")
            out = seeded(student, seed, bert, ids, mask)
        except StudentCodeError as exc:
            _call_failed("BertModel.forward", exc)
        if not isinstance(out, dict) or not {"last_hidden_state", "pooler_output"} <= set(out):
            fail("BertModel.forward must return a dict with 'last_hidden_state' and 'pooler_output'")
        hidden_state = tensor_result(out["last_hidden_state"], "last_hidden_state") * keep
        pooled = tensor_result(out["pooler_output"], "pooler_output")
        matches = []
        for prob_dropout in (True, False) if train else (True,):
            torch.manual_seed(seed)
            want = ref.model(state, ids, mask, TINY, train=train, prob_dropout=prob_dropout)
            matches.append(
                close(hidden_state, want["last_hidden_state"] * keep) and close(pooled, want["pooler_output"])
            )
        if not any(matches):
            mode = "train mode (same seed; dropout misplaced?)" if train else "eval mode (as the official sanity check)"
            fail(f"BertModel's outputs differ from the reference in {mode}")
