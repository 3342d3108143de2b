"""Our reference computations, run in the trusted process from weights and inputs the grader chose.

Nothing here reads a value back from the sandbox: the weights are those ``load_trusted_weights`` drew and
loaded into the student's module, so a module that zeroes or ignores them cannot match.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch


def attention(
    state: dict[str, torch.Tensor],
    queries: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    *,
    causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(context (B, k, H), weights (B, S, k)) of scaled dot-product attention with the given Q/K/V weights."""
    if queries.dim() == 2:
        queries = queries.unsqueeze(1)
    q = queries.double() @ state["Q.weight"].double().T + state["Q.bias"].double()
    k = keys.double() @ state["K.weight"].double().T + state["K.bias"].double()
    v = values.double() @ state["V.weight"].double().T + state["V.bias"].double()
    scores = q @ k.transpose(1, 2) / math.sqrt(q.size(-1))
    if causal:
        future = torch.ones(q.size(1), k.size(1), dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights.transpose(1, 2)


def positional_encodings(hidden: int, length: int) -> torch.Tensor:
    """The handout's sinusoidal encodings (given code of both editions), first ``length`` positions."""
    positions = torch.arange(length, dtype=torch.float64)[:, None]
    exponents = (2 * torch.arange(hidden // 2, dtype=torch.float64))[None, :] / hidden
    args = positions / (10000**exponents)
    encodings = torch.zeros(length, hidden, dtype=torch.float64)
    encodings[:, 0::2], encodings[:, 1::2] = torch.sin(args), torch.cos(args)
    return encodings


def layer_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` under ``prefix`` (e.g. ``self_attentions.0.``), without it."""
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def decoder_forward(state: dict[str, torch.Tensor], inputs: torch.Tensor, layers: int) -> torch.Tensor:
    """The decoder-only forward (spec 5.4) with the grader's weights: embed + positions, causal attention,
    residual, MLP, residual per layer, then ``out``."""
    state = {k: v.double() for k, v in state.items()}
    hidden = state["embedding.weight"].size(1)
    x = state["embedding.weight"][inputs] + positional_encodings(hidden, inputs.size(1))
    for i in range(layers):
        context, _ = attention(layer_state(state, f"self_attentions.{i}."), x, x, x, causal=True)
        residual = x + context
        mlp = torch.relu(residual @ state[f"attention_mlps.{i}.0.weight"].T + state[f"attention_mlps.{i}.0.bias"])
        x = residual + mlp
    return x @ state["out.weight"].T + state["out.bias"]


def training_tensors(src_eop: torch.Tensor, tgt_eos: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(SOS + src + EOP + tgt, src + EOP + tgt + EOS) for the decoder-only model."""
    targets = torch.cat([src_eop, tgt_eos], dim=1)
    sos = torch.full((src_eop.size(0), 1), start, dtype=torch.long)
    return torch.cat([sos, targets[:, :-1]], dim=1), targets


def parabola(
    x: np.ndarray, y: np.ndarray, log: Callable[[np.ndarray], np.ndarray] = np.log10
) -> tuple[np.ndarray, float]:
    """The handout's IsoFLOP fit: loss against log10(params), and the vertex back in parameters."""
    p = np.polyfit(log(x), y, 2)
    return p, float(10 ** (-p[1] / (2 * p[0])))


def loglog_line(
    x: np.ndarray, y: np.ndarray, log: Callable[[np.ndarray], np.ndarray] = np.log10
) -> tuple[float, float]:
    m, c = np.polyfit(log(x), log(y), 1)
    return float(m), float(c)
