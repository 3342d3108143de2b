"""Causal attention layers (given code, CS224N 2022-23 assignment 5, used by parts c-g).

CausalCrossAttention is the general layer: queries come from one sequence,
keys and values from another, and query i may look at key j only if j <= i.
CausalSelfAttention is the special case where both sequences are the same.
The Perceiver blocks of part (g) use the cross version to move between the
input length T and the bottleneck length m.
"""
import math

import torch
import torch.nn as nn
from torch.nn import functional as F


class CausalCrossAttention(nn.Module):
    """Multi-head attention with a causal mask; keys/values and queries may differ."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.n_head = config.n_head
        # one linear map each for keys, queries, values (all heads at once)
        self.key = nn.Linear(config.n_embd, config.n_embd)
        self.query = nn.Linear(config.n_embd, config.n_embd)
        self.value = nn.Linear(config.n_embd, config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)  # mixes the heads back together
        self.attn_drop = nn.Dropout(config.attn_pdrop)
        self.resid_drop = nn.Dropout(config.resid_pdrop)
        # lower-triangular mask: entry [i, j] is 1 when query i may see key j
        mask = torch.tril(torch.ones(config.block_size, config.block_size))
        self.register_buffer("mask", mask.view(1, 1, config.block_size, config.block_size))

    def forward(self, x_kv, x_q):
        """x_kv: (Bk, Tk, d) gives keys and values; x_q: (Bq, Tq, d) gives queries.

        A batch of 1 on either side broadcasts against the other. Returns (B, Tq, d).
        """
        Bk, Tk, d = x_kv.size()
        Bq, Tq, _ = x_q.size()
        hs = d // self.n_head  # head size
        k = self.key(x_kv).view(Bk, Tk, self.n_head, hs).transpose(1, 2)   # (Bk, nh, Tk, hs)
        v = self.value(x_kv).view(Bk, Tk, self.n_head, hs).transpose(1, 2)  # (Bk, nh, Tk, hs)
        q = self.query(x_q).view(Bq, Tq, self.n_head, hs).transpose(1, 2)   # (Bq, nh, Tq, hs)

        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)                     # (B, nh, Tq, Tk)
        att = att.masked_fill(self.mask[:, :, :Tq, :Tk] == 0, -1e10)        # hide the future
        att = F.softmax(att, dim=-1)
        att = self.attn_drop(att)
        y = att @ v                                                         # (B, nh, Tq, hs)
        y = y.transpose(1, 2).contiguous().view(max(Bk, Bq), Tq, d)         # (B, Tq, d)
        return self.resid_drop(self.proj(y))                                # (B, Tq, d)


class CausalSelfAttention(CausalCrossAttention):
    """Masked self-attention: the sequence attends to its own past."""

    def forward(self, x):
        return super().forward(x, x)  # (B, T, d)
