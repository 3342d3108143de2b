"""The handout's blocks recomputed in the trusted process: the accepted Perceiver formulations and the
given vanilla GPT, from weights the grader drew and loaded into the student's module.

§7.7 of the spec leaves residuals and the LayerNorm on the key/value side open, so a block is accepted
when it matches any of these variants. The maths and the weights are ours; only the output compared
with them is the student's (never compute these from a state dict read back from the sandbox).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

State = dict[str, torch.Tensor]
NEEDED = (
    "ln1.weight",
    "ln1.bias",
    "ln2.weight",
    "ln2.bias",
    "attn.key.weight",
    "attn.query.weight",
    "attn.value.weight",
    "attn.proj.weight",
    "mlp.0.weight",
    "mlp.2.weight",
)


def has_standard_layout(state: State) -> bool:
    """True when the block uses the natural names (ln1, ln2, attn.{key,query,value,proj}, mlp.0/mlp.2)."""
    return all(k in state for k in NEEDED)


def _linear(state: State, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, state[f"{name}.weight"], state.get(f"{name}.bias"))


def _ln(state: State, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], state[f"{name}.weight"], state[f"{name}.bias"])


def _mlp(state: State, x: torch.Tensor) -> torch.Tensor:
    return _linear(state, "mlp.2", F.gelu(_linear(state, "mlp.0", x)))


def cross_attention(state: State, x_kv: torch.Tensor, x_q: torch.Tensor, n_head: int) -> torch.Tensor:
    """Causal cross-attention as the handout's given ``CausalCrossAttention`` defines it (eval mode)."""
    (bk, tk, d), (bq, tq, _) = x_kv.shape, x_q.shape
    hs = d // n_head
    k = _linear(state, "attn.key", x_kv).view(bk, tk, n_head, hs).transpose(1, 2)
    v = _linear(state, "attn.value", x_kv).view(bk, tk, n_head, hs).transpose(1, 2)
    q = _linear(state, "attn.query", x_q).view(bq, tq, n_head, hs).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
    mask = torch.tril(torch.ones(tq, tk, dtype=torch.bool))
    att = att.masked_fill(~mask, -1e10).softmax(dim=-1)
    y = (att @ v).transpose(1, 2).reshape(max(bk, bq), tq, d)
    return _linear(state, "attn.proj", y)


def _variants(state: State, query: torch.Tensor, kv: torch.Tensor, n_head: int) -> dict[str, torch.Tensor]:
    """Outputs of the accepted variants, keyed by a description a TA can read."""
    out: dict[str, torch.Tensor] = {}
    q_options: dict[str, Callable[[], torch.Tensor]] = {
        "LN(query)": lambda: _ln(state, "ln1", query),
        "raw query": lambda: query,
    }
    kv_options: dict[str, Callable[[], torch.Tensor]] = {"LN(kv)": lambda: _ln(state, "ln1", kv), "raw kv": lambda: kv}
    for (qn, qf), (kn, kf) in itertools.product(q_options.items(), kv_options.items()):
        a = cross_attention(state, kf(), qf(), n_head)
        out[f"{qn}, {kn}, residuals after attention and MLP"] = (query + a) + _mlp(state, _ln(state, "ln2", query + a))
        out[f"{qn}, {kn}, residual after MLP only"] = a + _mlp(state, _ln(state, "ln2", a))
        out[f"{qn}, {kn}, residual of the query added after the MLP"] = query + _mlp(state, _ln(state, "ln2", a))
        out[f"{qn}, {kn}, no residuals"] = _mlp(state, _ln(state, "ln2", a))
    return out


def down_variants(state: State, x: torch.Tensor, n_head: int) -> dict[str, torch.Tensor]:
    """Down block: the basis C is the query, the input sequence gives keys and values."""
    c = state["C"].expand(x.shape[0], -1, -1)
    return _variants(state, c, x, n_head)


def up_variants(state: State, y: torch.Tensor, x: torch.Tensor, n_head: int) -> dict[str, torch.Tensor]:
    """Up block: the original input is the query, the bottleneck gives keys and values."""
    return _variants(state, x, y, n_head)


def closest(variants: dict[str, torch.Tensor], actual: torch.Tensor) -> tuple[str, float]:
    """The variant nearest to ``actual`` and its max abs difference."""
    diffs = {name: float((v - actual).abs().max()) for name, v in variants.items() if v.shape == actual.shape}
    if not diffs:
        return "", math.inf
    name = min(diffs, key=lambda n: diffs[n])
    return name, diffs[name]


#: LayerNorm gains of a block: drawn around one by the grader (``trusted_weights(around_one=...)``).
LN_GAINS = ("ln1.weight", "ln2.weight")


def handout_block_shapes(n_embd: int, bottleneck_dim: int | None = None) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the handout's Block layout (with the basis ``C`` for a down block)."""
    d = n_embd
    shapes: dict[str, tuple[int, ...]] = {"C": (1, bottleneck_dim, d)} if bottleneck_dim else {}
    for ln in ("ln1", "ln2"):
        shapes |= {f"{ln}.weight": (d,), f"{ln}.bias": (d,)}
    for name in ("key", "query", "value", "proj"):
        shapes |= {f"attn.{name}.weight": (d, d), f"attn.{name}.bias": (d,)}
    return shapes | {"mlp.0.weight": (4 * d, d), "mlp.0.bias": (4 * d,), "mlp.2.weight": (d, 4 * d), "mlp.2.bias": (d,)}


def block(state: State, x: torch.Tensor, n_head: int) -> torch.Tensor:
    """The given pre-LayerNorm ``Block``: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))`` (eval mode)."""
    h = _ln(state, "ln1", x)
    x = x + cross_attention(state, h, h, n_head)
    return x + _mlp(state, _ln(state, "ln2", x))


def vanilla_logits(state: State, idx: torch.Tensor, n_head: int) -> torch.Tensor:
    """Logits of the given vanilla ``GPT`` (eval mode) from a state dict with its parameter names."""
    x = state["tok_emb.weight"][idx] + state["pos_emb"][:, : idx.shape[1]]
    n_layer = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    for i in range(n_layer):
        x = block({k.removeprefix(f"blocks.{i}."): v for k, v in state.items()}, x, n_head)
    return F.linear(_ln(state, "ln_f", x), state["head.weight"])
