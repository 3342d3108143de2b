"""Our own attention, computed in the trusted process from the grader's weights and inputs."""

import math

import torch


def attention(weights: dict[str, torch.Tensor], x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) V with Q = x W_q^T, K = x W_k^T, V = x W_v^T; masked scores are -inf."""
    q, k, v = (x @ weights[f"{name}.weight"].T for name in ("query", "key", "value"))
    scores = q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
