"""Our reference computations, run in the trusted process with weights read from the student's modules."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch


def attention(state: dict[str, torch.Tensor], queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
              *, causal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
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


def decoder_forward(state: dict[str, torch.Tensor], positional: torch.Tensor, inputs: torch.Tensor,
                    attend: Callable[[int, torch.Tensor], torch.Tensor], layers: int) -> torch.Tensor:  # fmt: skip
    """The decoder-only forward with the student's weights; ``attend(i, x)`` is layer i's self-attention context."""
    x = state["embedding.weight"][inputs] + positional[: inputs.size(1)].to(torch.float32)
    for i in range(layers):
        residual = x + attend(i, x)
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
