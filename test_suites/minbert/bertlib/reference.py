"""Our reference BERT, written functionally over a state dict with the starter's parameter names.

Dropout is applied with ``torch.nn.functional.dropout`` in the same order as the architecture fixes
it (embedding, attention probabilities, attention output, layer output), so under the same torch seed
a correct student model in train mode draws the same masks and matches one of the two references
(with or without attention-probability dropout, both accepted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TinyConfig:
    """The dimensions of a tiny random BERT (also passed to the student's ``config.BertConfig``)."""

    vocab_size: int = 200
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 128
    max_position_embeddings: int = 32
    hidden_dropout_prob: float = 0.3
    attention_probs_dropout_prob: float = 0.3
    layer_norm_eps: float = 1e-12

    def kwargs(self) -> dict[str, float | int]:
        return dict(self.__dict__)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


def extended_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """[bs, seq] 1/0 -> additive [bs, 1, 1, seq] with 0 for tokens and -10000 for padding."""
    return (1.0 - attention_mask[:, None, None, :].float()) * -10000.0


def attention(
    key: torch.Tensor,
    query: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor,
    *,
    p: float = 0.0,
    train: bool = False,
    prob_dropout: bool = True,
) -> torch.Tensor:
    """Scaled dot-product attention over (bs, heads, seq, d) with heads concatenated: (bs, seq, heads*d)."""
    scores = query @ key.transpose(-1, -2) / math.sqrt(key.shape[-1]) + mask
    probs = F.softmax(scores, dim=-1)
    if prob_dropout:
        probs = F.dropout(probs, p, train)
    out = probs @ value
    bs, heads, seq, d = out.shape
    return out.transpose(1, 2).reshape(bs, seq, heads * d)


def _linear(state: State, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, state[f"{name}.weight"], state[f"{name}.bias"])


def _norm(state: State, name: str, x: torch.Tensor, cfg: TinyConfig) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), state[f"{name}.weight"], state[f"{name}.bias"], cfg.layer_norm_eps)


def _heads(x: torch.Tensor, cfg: TinyConfig) -> torch.Tensor:
    bs, seq, _ = x.shape
    return x.view(bs, seq, cfg.num_attention_heads, cfg.head_size).transpose(1, 2)


def self_attention(
    state: State,
    prefix: str,
    x: torch.Tensor,
    mask: torch.Tensor,
    cfg: TinyConfig,
    *,
    train: bool = False,
    prob_dropout: bool = True,
) -> torch.Tensor:
    """``BertSelfAttention.forward``; ``prefix`` ends with a dot (``"bert_layers.0.self_attention."``) or is empty."""
    key = _heads(_linear(state, prefix + "key", x), cfg)
    value = _heads(_linear(state, prefix + "value", x), cfg)
    query = _heads(_linear(state, prefix + "query", x), cfg)
    return attention(
        key, query, value, mask, p=cfg.attention_probs_dropout_prob, train=train, prob_dropout=prob_dropout
    )


def add_norm(
    state: State, dense: str, norm: str, inp: torch.Tensor, out: torch.Tensor, cfg: TinyConfig, *, train: bool = False
) -> torch.Tensor:
    """ln(input + dropout(dense(output)))."""
    return _norm(state, norm, inp + F.dropout(_linear(state, dense, out), cfg.hidden_dropout_prob, train), cfg)


def layer(
    state: State,
    prefix: str,
    x: torch.Tensor,
    mask: torch.Tensor,
    cfg: TinyConfig,
    *,
    train: bool = False,
    prob_dropout: bool = True,
) -> torch.Tensor:
    """``BertLayer.forward``: attention, add-norm, feed-forward (GELU), add-norm."""
    attn = self_attention(state, prefix + "self_attention.", x, mask, cfg, train=train, prob_dropout=prob_dropout)
    h = add_norm(state, prefix + "attention_dense", prefix + "attention_layer_norm", x, attn, cfg, train=train)
    interm = F.gelu(_linear(state, prefix + "interm_dense", h))
    return add_norm(state, prefix + "out_dense", prefix + "out_layer_norm", h, interm, cfg, train=train)


def embed(state: State, input_ids: torch.Tensor, cfg: TinyConfig, *, train: bool = False) -> torch.Tensor:
    """Word + position + token-type-0 embeddings, LayerNorm, dropout."""
    seq = input_ids.shape[1]
    words = F.embedding(input_ids, state["word_embedding.weight"])
    positions = state["pos_embedding.weight"][:seq].unsqueeze(0)
    types = state["tk_type_embedding.weight"][0]
    return F.dropout(_norm(state, "embed_layer_norm", words + types + positions, cfg), cfg.hidden_dropout_prob, train)


def model(
    state: State,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    cfg: TinyConfig,
    *,
    train: bool = False,
    prob_dropout: bool = True,
) -> dict[str, torch.Tensor]:
    """``BertModel.forward``: ``last_hidden_state`` and ``pooler_output``."""
    h = embed(state, input_ids, cfg, train=train)
    mask = extended_mask(attention_mask)
    for i in range(cfg.num_hidden_layers):
        h = layer(state, f"bert_layers.{i}.", h, mask, cfg, train=train, prob_dropout=prob_dropout)
    pooled = torch.tanh(_linear(state, "pooler_dense", h[:, 0]))
    return {"last_hidden_state": h, "pooler_output": pooled}


def expected_keys(cfg: TinyConfig) -> set[str]:
    """The state-dict keys of the starter's ``BertModel`` (pretrained loading depends on them)."""
    keys = {
        "position_ids",
        "word_embedding.weight",
        "pos_embedding.weight",
        "tk_type_embedding.weight",
        "embed_layer_norm.weight",
        "embed_layer_norm.bias",
        "pooler_dense.weight",
        "pooler_dense.bias",
    }
    per_layer = [
        "self_attention.query",
        "self_attention.key",
        "self_attention.value",
        "attention_dense",
        "attention_layer_norm",
        "interm_dense",
        "out_dense",
        "out_layer_norm",
    ]
    for i in range(cfg.num_hidden_layers):
        keys |= {f"bert_layers.{i}.{name}.{p}" for name in per_layer for p in ("weight", "bias")}
    return keys
