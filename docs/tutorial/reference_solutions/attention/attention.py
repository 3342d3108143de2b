"""Tutorial exercise: a numerically stable softmax and single-head self-attention (our reference)."""

import math

import torch
from torch import nn


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, stable for large inputs."""
    shifted = x - x.max(dim=dim, keepdim=True).values  # the largest entry becomes 0: exp cannot overflow
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


class SelfAttention(nn.Module):
    """softmax(Q K^T / sqrt(d)) V, with Q, K, V linear maps of the input (no bias)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, T, d_model); mask: (T, T) booleans, False where a position must not attend."""
        q, k, v = self.query(x), self.key(x), self.value(x)  # (batch, T, d_model) each
        scores = q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1])  # (batch, T, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return softmax(scores, dim=-1) @ v  # (batch, T, d_model)
