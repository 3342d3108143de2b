"""Greedy decoding of the handout's GPT in the trusted process, from the tensors of a submitted params file.

The given ``evaluate`` branch of run.py decodes each question ``prompt = question + MASK`` with
``utils.sample(gpt, x, 32, sample=False)`` (argmax, the whole prefix re-run for every character) and
keeps the text between the first and second MASK. This module computes the same predictions with the
grader's own implementation of the given GPT (pre-LayerNorm blocks, causal attention, n_head = 8) and,
for the Perceiver, with one of the accepted formulations of the student-written blocks (formulations.py,
spec §7.7). All questions advance together, one position per step, with cached keys and values, so the
437 test questions cost one batched pass of about 100 positions instead of 437 × 32 full forwards.

Incremental decoding is exact for the Perceiver too: slot i of the down block reads inputs <= i, so it
is computed once, when input i arrives; position t of the up block reads slots <= min(t, m - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAD, MASK = "\u25a1", "\u2047"
N_HEAD = 8  # fixed by the starter's GPTConfig; params files do not record it
N_LAYER = 4  # likewise: vanilla has 4 blocks, the Perceiver down + 2 + up
STEPS = 32  # characters the evaluate branch generates per question
CHUNK = 256  # questions decoded together: bounds the key/value caches to a few hundred MB

State = dict[str, torch.Tensor]
#: where a block adds its residuals, in formulations.py's words (its variants are named ``str(Formulation)``)
BOTH, MLP_ONLY, QUERY_AFTER_MLP, NONE = (
    "residuals after attention and MLP",
    "residual after MLP only",
    "residual of the query added after the MLP",
    "no residuals",
)


class ParamsMismatch(ValueError):
    """The params file does not fit the handout's architecture; the message is for the student."""

    def __init__(self, message: str, names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.names = names  # the parameters that are missing or of another shape


@dataclass(frozen=True)
class Formulation:
    """One accepted variant of a Perceiver block (formulations.py names the same sixteen)."""

    ln_query: bool = True
    ln_kv: bool = False
    residual: str = BOTH

    def __str__(self) -> str:
        q = "LN(query)" if self.ln_query else "raw query"
        kv = "LN(kv)" if self.ln_kv else "raw kv"
        return f"{q}, {kv}, {self.residual}"


ALL_FORMULATIONS = tuple(
    Formulation(q, kv, r)
    for r in (BOTH, MLP_ONLY, QUERY_AFTER_MLP, NONE)
    for q in (True, False)
    for kv in (False, True)
)
BY_NAME = {str(f): f for f in ALL_FORMULATIONS}


@dataclass(frozen=True)
class Architecture:
    vocab: int
    block_size: int
    n_embd: int
    n_blocks: int  # the ordinary blocks (all of them for vanilla, the middle ones for the Perceiver)
    bottleneck: int | None  # m, for the Perceiver


def vocabulary(corpus: str) -> tuple[dict[str, int], list[str]]:
    """The pretraining dataset's ``stoi``/``itos``: PAD 0, MASK 1, then the sorted corpus characters."""
    itos = [PAD, MASK, *sorted(set(corpus))]
    return {c: i for i, c in enumerate(itos)}, itos


def _block_shapes(prefix: str, d: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for ln in ("ln1", "ln2"):
        shapes[f"{prefix}{ln}.weight"] = shapes[f"{prefix}{ln}.bias"] = (d,)
    for proj in ("key", "query", "value", "proj"):
        shapes[f"{prefix}attn.{proj}.weight"], shapes[f"{prefix}attn.{proj}.bias"] = (d, d), (d,)
    shapes.update(
        {
            f"{prefix}mlp.0.weight": (4 * d, d),
            f"{prefix}mlp.0.bias": (4 * d,),
            f"{prefix}mlp.2.weight": (d, 4 * d),
            f"{prefix}mlp.2.bias": (d,),
        }
    )
    return shapes


def expected_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every parameter the handout's GPT (and, for the Perceiver, its natural blocks) has, with its shape."""
    d = arch.n_embd
    shapes = {
        "tok_emb.weight": (arch.vocab, d),
        "pos_emb": (1, arch.block_size, d),
        "ln_f.weight": (d,),
        "ln_f.bias": (d,),
        "head.weight": (arch.vocab, d),
    }
    for i in range(arch.n_blocks):
        shapes.update(_block_shapes(f"blocks.{i}.", d))
    if arch.bottleneck is not None:
        shapes.update(_block_shapes("down_block.", d) | _block_shapes("up_block.", d))
        shapes["down_block.C"] = (1, arch.bottleneck, d)
    return shapes


def architecture(state: State, vocab: int, perceiver: bool) -> Architecture:
    """Read the architecture from the tensors and check it is the handout's; ParamsMismatch otherwise."""
    emb = state.get("tok_emb.weight")
    if emb is None or emb.dim() != 2:
        raise ParamsMismatch("it has no tok_emb.weight matrix: is it the state_dict of the handout's GPT?")
    d = int(emb.shape[1])
    pos = state.get("pos_emb")
    block_size = int(pos.shape[1]) if pos is not None and pos.dim() == 3 else 0
    n_blocks = N_LAYER - 2 if perceiver else N_LAYER
    bottleneck = None
    if perceiver:
        basis = state.get("down_block.C")
        if basis is None:
            raise ParamsMismatch(
                "it has no down_block.C: the Perceiver's basis C was not a registered nn.Parameter "
                "when the model was trained (so it was neither trained nor saved)."
            )
        if basis.dim() != 3:
            raise ParamsMismatch(f"down_block.C has shape {tuple(basis.shape)}, expected (1, bottleneck_dim, n_embd).")
        bottleneck = int(basis.shape[1])
    arch = Architecture(vocab, block_size, d, n_blocks, bottleneck)
    misfits = tuple(
        name for name, shape in expected_shapes(arch).items() if name not in state or tuple(state[name].shape) != shape
    )
    wrong = [
        f"{name} (expected {expected_shapes(arch)[name]}, found "
        f"{'nothing' if name not in state else tuple(state[name].shape)})"
        for name in misfits
    ]
    if wrong:
        raise ParamsMismatch(
            f"it does not fit the handout's {'Perceiver' if perceiver else 'GPT'} with the "
            f"vocabulary of wiki.txt ({vocab} characters): {'; '.join(wrong[:4])}"
            + (f" and {len(wrong) - 4} more" if len(wrong) > 4 else ""),
            misfits,
        )
    if not all(torch.isfinite(state[name]).all() for name in expected_shapes(arch)):
        raise ParamsMismatch("some of its parameters are not finite (NaN or infinity).")
    return arch


class _Attention:
    """Causal multi-head attention over a growing cache of keys and values (one query per step)."""

    def __init__(self, w: State, prefix: str, batch: int, length: int, d: int) -> None:
        self.w, self.prefix, self.hs = w, prefix, d // N_HEAD
        self.keys = torch.empty(batch, N_HEAD, length, self.hs)
        self.values = torch.empty(batch, N_HEAD, length, self.hs)

    def _linear(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.w[f"{self.prefix}{name}.weight"], self.w[f"{self.prefix}{name}.bias"])

    def store(self, index: int, kv: torch.Tensor) -> None:
        """Cache the key and value of position ``index`` computed from ``kv`` (B, d)."""
        b = kv.shape[0]
        self.keys[:, :, index] = self._linear("key", kv).view(b, N_HEAD, self.hs)
        self.values[:, :, index] = self._linear("value", kv).view(b, N_HEAD, self.hs)

    def read(self, query: torch.Tensor, upto: int) -> torch.Tensor:
        """The projected attention output (B, d) of ``query`` (B, d) over cached positions < ``upto``."""
        b = query.shape[0]
        q = self._linear("query", query).view(b, N_HEAD, 1, self.hs)
        scores = q @ self.keys[:, :, :upto].transpose(-2, -1) / math.sqrt(self.hs)
        y = scores.softmax(dim=-1) @ self.values[:, :, :upto]
        return self._linear("proj", y.reshape(b, N_HEAD * self.hs))


class _Blocks:
    """Shared pieces: LayerNorm, MLP, and one pre-LayerNorm block stepped one position at a time."""

    def __init__(self, w: State, arch: Architecture, batch: int, length: int) -> None:
        self.w, self.arch = w, arch
        self.attention = [_Attention(w, f"blocks.{i}.attn.", batch, length, arch.n_embd) for i in range(arch.n_blocks)]

    def ln(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def mlp(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        w = self.w
        hidden = F.gelu(F.linear(x, w[f"{prefix}mlp.0.weight"], w[f"{prefix}mlp.0.bias"]))
        return F.linear(hidden, w[f"{prefix}mlp.2.weight"], w[f"{prefix}mlp.2.bias"])

    def blocks(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Position ``index`` (B, d) through every ordinary block."""
        for i, attention in enumerate(self.attention):
            h = self.ln(f"blocks.{i}.ln1", x)
            attention.store(index, h)
            x = x + attention.read(h, index + 1)
            x = x + self.mlp(f"blocks.{i}.", self.ln(f"blocks.{i}.ln2", x))
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.ln("ln_f", x), self.w["head.weight"])

    def embed(self, tokens: torch.Tensor, index: int) -> torch.Tensor:
        return self.w["tok_emb.weight"][tokens] + self.w["pos_emb"][0, index]


class _Vanilla(_Blocks):
    def step(self, tokens: torch.Tensor, index: int) -> torch.Tensor:
        return self.logits(self.blocks(self.embed(tokens, index), index))


class _Perceiver(_Blocks):
    def __init__(
        self, w: State, arch: Architecture, batch: int, length: int, down: Formulation, up: Formulation
    ) -> None:
        assert arch.bottleneck is not None
        super().__init__(w, arch, batch, arch.bottleneck)
        self.down, self.up = down, up
        self.inputs = _Attention(w, "down_block.attn.", batch, length, arch.n_embd)
        self.slots = _Attention(w, "up_block.attn.", batch, arch.bottleneck, arch.n_embd)

    def _combine(self, form: Formulation, prefix: str, query: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        if form.residual == BOTH:
            return (query + a) + self.mlp(prefix, self.ln(f"{prefix}ln2", query + a))
        mlp = self.mlp(prefix, self.ln(f"{prefix}ln2", a))
        return {MLP_ONLY: a + mlp, QUERY_AFTER_MLP: query + mlp, NONE: mlp}[form.residual]

    def _cross(
        self, form: Formulation, prefix: str, attention: _Attention, query: torch.Tensor, upto: int
    ) -> torch.Tensor:
        q = self.ln(f"{prefix}ln1", query) if form.ln_query else query
        return self._combine(form, prefix, query, attention.read(q, upto))

    def step(self, tokens: torch.Tensor, index: int) -> torch.Tensor:
        assert self.arch.bottleneck is not None
        x = self.embed(tokens, index)
        self.inputs.store(index, self.ln("down_block.ln1", x) if self.down.ln_kv else x)
        if index < self.arch.bottleneck:  # slot `index` reads inputs 0..index, all known now
            basis = self.w["down_block.C"][0, index].expand_as(x)
            slot = self.blocks(self._cross(self.down, "down_block.", self.inputs, basis, index + 1), index)
            self.slots.store(index, self.ln("up_block.ln1", slot) if self.up.ln_kv else slot)
        upto = min(index, self.arch.bottleneck - 1) + 1
        return self.logits(self._cross(self.up, "up_block.", self.slots, x, upto))


def _model(
    state: State, arch: Architecture, batch: int, length: int, formulations: tuple[Formulation, Formulation] | None
) -> _Vanilla | _Perceiver:
    if formulations is None:
        return _Vanilla(state, arch, batch, length)
    return _Perceiver(state, arch, batch, length, *formulations)


@torch.no_grad()
def logits(
    state: State, arch: Architecture, ids: torch.Tensor, formulations: tuple[Formulation, Formulation] | None = None
) -> torch.Tensor:
    """Logits (B, T, vocab) of token ids (B, T), computed one position at a time as decoding does."""
    model = _model(state, arch, ids.shape[0], ids.shape[1], formulations)
    return torch.stack([model.step(ids[:, index], index) for index in range(ids.shape[1])], dim=1)


def encode(prompts: list[str], stoi: dict[str, int]) -> list[list[int]]:
    """Token ids of each prompt (the questions are the grader's own data, so every character is known)."""
    return [[stoi[c] for c in prompt] for prompt in prompts]


@torch.no_grad()
def greedy(
    state: State,
    arch: Architecture,
    prompts: list[list[int]],
    mask_id: int,
    formulations: tuple[Formulation, Formulation] | None = None,
) -> list[list[int]]:
    """The STEPS greedy continuations of every prompt, as ``utils.sample(..., sample=False)`` makes them."""
    longest = max(len(p) for p in prompts) + STEPS
    if longest > arch.block_size:
        raise ValueError(f"a prompt of {longest - STEPS} ids leaves no room for {STEPS} steps in the block")
    out: list[list[int]] = []
    for start in range(0, len(prompts), CHUNK):
        chunk = prompts[start : start + CHUNK]
        lengths = torch.tensor([len(p) for p in chunk])
        padded = torch.full((len(chunk), longest), mask_id, dtype=torch.long)
        for row, prompt in enumerate(chunk):
            padded[row, : len(prompt)] = torch.tensor(prompt)
        model = _model(state, arch, len(chunk), longest, formulations)
        made = torch.zeros(len(chunk), STEPS, dtype=torch.long)
        tokens = padded[:, 0]
        for index in range(int(lengths.max()) + STEPS - 1):
            chosen = model.step(tokens, index).argmax(dim=-1)
            produced = index + 1 - lengths  # which generated character this step makes, per question
            rows = ((produced >= 0) & (produced < STEPS)).nonzero().flatten()
            made[rows, produced[rows]] = chosen[rows]
            tokens = torch.where(index + 1 < lengths, padded[:, min(index + 1, longest - 1)], chosen)
        out.extend(made.tolist())
    return out


def prediction(generated: list[int], itos: list[str]) -> str:
    """The text between the prompt's MASK and the next one (or all of it when no MASK follows)."""
    return "".join(itos[i] for i in generated).split(MASK)[0]


def predict(
    state: State,
    arch: Architecture,
    prompts: list[str],
    stoi: dict[str, int],
    itos: list[str],
    formulations: tuple[Formulation, Formulation] | None = None,
) -> list[str]:
    """The predictions the given evaluate branch writes for ``prompts`` (question + MASK each)."""
    made = greedy(state, arch, encode(prompts, stoi), stoi[MASK], formulations)
    return [prediction(g, itos) for g in made]
