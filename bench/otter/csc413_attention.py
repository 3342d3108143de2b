"""The CSC413 A3 part 2.1 attention checks of ``test_suites/csc413_a3/checks_attention.py``, for Otter.

Otter runs its tests in the notebook's own namespace, so each function takes the student's class and
returns True, or a message saying what differs. Same shapes, same reference, same tolerances as ours.
Benchmark material only (``bench/otter_compare.py``).
"""

import math

import torch


def _randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _close(actual, expected, atol=1e-5, rtol=1e-4):
    return actual.shape == expected.shape and bool(
        torch.allclose(actual.double(), expected.double(), atol=atol, rtol=rtol)
    )


def _reference(state, queries, keys, values, causal=False):
    if queries.dim() == 2:
        queries = queries.unsqueeze(1)
    q = queries.double() @ state["Q.weight"].double().T + state["Q.bias"].double()
    k = keys.double() @ state["K.weight"].double().T + state["K.bias"].double()
    v = values.double() @ state["V.weight"].double().T + state["V.bias"].double()
    scores = q @ k.transpose(1, 2) / math.sqrt(q.size(-1))
    if causal:
        scores = scores.masked_fill(torch.ones(q.size(1), k.size(1), dtype=torch.bool).triu(1), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights.transpose(1, 2)


def _build(cls, hidden, seed):
    torch.manual_seed(seed)
    module = cls(hidden)
    module.eval()
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    return module, state


def _weights_ok(got, expected):
    return _close(got, expected) or _close(got, expected.transpose(1, 2))


@torch.no_grad()  # our checks receive plain tensors over the RPC
def scaled_context(cls, seed=1):
    for i, (k, s, h) in enumerate([(1, 5, 8), (4, 7, 32), (4, 5, 64)]):
        module, state = _build(cls, h, seed + i)
        q, kv = _randn(seed + 10 + i, 3, k, h), _randn(seed + 20 + i, 3, s, h)
        context, _ = module(q, kv, kv)
        expected, _ = _reference(state, q, kv, kv)
        if not _close(context, expected):
            return f"context differs for queries (3, {k}, {h}), keys (3, {s}, {h})"
    return True


@torch.no_grad()  # our checks receive plain tensors over the RPC
def scaled_weights(cls, seed=2):
    for i, (k, s, h) in enumerate([(4, 7, 32), (3, 5, 8)]):
        module, state = _build(cls, h, seed + i)
        q, kv = _randn(seed + 30 + i, 3, k, h), _randn(seed + 40 + i, 3, s, h)
        _, weights = module(q, kv, kv)
        _, expected = _reference(state, q, kv, kv)
        if not _weights_ok(weights, expected):
            return f"attention weights differ for queries (3, {k}, {h})"
    return True


@torch.no_grad()  # our checks receive plain tensors over the RPC
def scaled_2d(cls, seed=3):
    module, state = _build(cls, 16, seed)
    q, kv = _randn(seed + 1, 3, 16), _randn(seed + 2, 3, 6, 16)
    context, weights = module(q, kv, kv)
    expected_c, expected_w = _reference(state, q, kv, kv)
    if tuple(context.shape) == (3, 16):
        context = context.unsqueeze(1)
    if tuple(weights.shape) == (3, 6):
        weights = weights.unsqueeze(2)
    if not _close(context, expected_c) or not _weights_ok(weights, expected_w):
        return "2-D queries: context or weights differ from the k = 1 result"
    return True


@torch.no_grad()  # our checks receive plain tensors over the RPC
def causal_reference(cls, seed=4):
    for i, t in enumerate([1, 6, 9]):
        module, state = _build(cls, 16, seed + i)
        x = _randn(seed + 50 + i, 3, t, 16)
        context, weights = module(x, x, x)
        expected_c, expected_w = _reference(state, x, x, x, causal=True)
        if not _close(context, expected_c) or not _weights_ok(weights, expected_w):
            return f"causal context or weights differ for inputs (3, {t}, 16)"
        if t > 1:
            oriented = weights if _close(weights, expected_w) else weights.transpose(1, 2)
            if float(oriented[:, torch.ones(t, t, dtype=torch.bool).tril(-1)].abs().max()) > 1e-6:
                return "weight on future keys"
    return True


@torch.no_grad()  # our checks receive plain tensors over the RPC
def causal_perturbation(cls, seed=5):
    module, _ = _build(cls, 16, seed)
    x = _randn(seed + 60, 2, 8, 16)
    base, _ = module(x, x, x)
    for t in (0, 3, 6):
        y = x.clone()
        y[:, t + 1 :] = _randn(seed + 61 + t, 2, 8 - t - 1, 16) * 3
        moved, _ = module(y, y, y)
        if not _close(moved[:, : t + 1], base[:, : t + 1]):
            return f"changing inputs after position {t} changed the context before it"
    return True


@torch.no_grad()  # our checks receive plain tensors over the RPC
def causal_zero_scores(cls, seed=6):
    module, state = _build(cls, 16, seed)
    zeroed = {**state, "Q.weight": torch.zeros_like(state["Q.weight"]), "Q.bias": torch.zeros_like(state["Q.bias"])}
    module.load_state_dict(zeroed)
    x = _randn(seed + 70, 2, 5, 16)
    context, _ = module(x, x, x)
    expected, _ = _reference(zeroed, x, x, x, causal=True)
    return True if _close(context, expected) else "all-zero scores should give uniform weights over the past"
