"""Small helpers shared by the model files (given starter file)."""

import torch


def get_extended_attention_mask(attention_mask, dtype):
    """[bs, seq] of 1 (token) / 0 (padding) -> additive [bs, 1, 1, seq]: 0 for tokens, -10000 for padding."""
    extended = attention_mask[:, None, None, :].to(dtype=dtype)
    return (1.0 - extended) * -10000.0
