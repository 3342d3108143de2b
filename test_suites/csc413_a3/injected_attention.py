"""The grader's causal self-attention, written into the sandbox to stand in for a student's layer.

Check 2.2.2.3 (spec §7.9) grades the decoder-only body apart from the attention: when the student's
model does not match the reference, this layer replaces each of its ``self_attentions`` (with the same
grader-chosen weights) and the forward is compared again. It runs inside the sandbox, so it is a
component of the student's side only: the expectation is always computed in the trusted process.
"""

import torch
from torch import nn


class GraderCausalAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.Q = nn.Linear(hidden_size, hidden_size)
        self.K = nn.Linear(hidden_size, hidden_size)
        self.V = nn.Linear(hidden_size, hidden_size)

    def forward(self, queries, keys, values):
        if queries.dim() == 2:
            queries = queries.unsqueeze(1)
        q, k, v = self.Q(queries), self.K(keys), self.V(values)
        scores = q @ k.transpose(1, 2) / q.size(-1) ** 0.5
        future = torch.ones(q.size(1), k.size(1), dtype=torch.bool, device=q.device).triu(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        return weights @ v, weights.transpose(1, 2)
