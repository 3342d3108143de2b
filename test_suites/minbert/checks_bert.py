"""Part 1: the BERT components the student writes (``bert.py``), against our reference."""

from __future__ import annotations

from grader.authoring import Feedback, Student, check

from .bertlib import bodies


@check(name="BertModel.embed: embeddings, LayerNorm, dropout", number="1.1", points=10, timeout=60)
def embed(student: Student, seed: int) -> None:
    """Word + position + token-type embeddings → embed_layer_norm → embed_dropout, returned (eval and train mode)."""
    bodies.embed(student, seed)


@check(name="BertSelfAttention.attention", number="1.2", points=15, timeout=60)
def attention(student: Student, seed: int) -> None:
    """Masked scaled dot-product attention with the heads concatenated back: (bs, seq, hidden)."""
    bodies.attention(student, seed)
    bodies.self_attention_forward(student, seed)


@check(name="BertLayer.add_norm: dropout before the residual sum and LayerNorm", number="1.3", points=10, timeout=60)
def add_norm(student: Student, seed: int) -> None:
    """ln_layer(input + dropout(dense_layer(output))), checked with dropout active."""
    bodies.add_norm(student, seed)


@check(name="BertLayer.forward (eval and train mode)", number="1.4", points=10, timeout=60)
def layer_forward(student: Student, seed: int) -> None:
    """Attention → add-norm → GELU feed-forward → add-norm, equal to the reference under the same seed."""
    bodies.layer_forward(student, seed)


@check(
    name="BertModel: parameter names and outputs (the sanity check, on a tiny random model)",
    number="1.5",
    points=5,
    timeout=60,
)
def full_model(student: Student, seed: int, feedback: Feedback) -> None:
    """last_hidden_state (padding masked) and pooler_output equal the reference's, eval and seeded train mode."""
    bodies.full_model(student, seed, feedback)
