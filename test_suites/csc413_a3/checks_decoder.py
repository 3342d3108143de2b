"""Parts 2.2 and 2.3 (nmt.ipynb): decoder-only training tensors and forward, and the IsoFLOP fits.

The decoder-only model is read as ``DecoderOnlyTransformer`` (2025 name) or the ``TransformerDecoder``
whose ``__init__`` takes ``loss_seq_span`` (2023 name; see the manifest's alias). Its forward is compared
with a reference body computed here from the student's own weights and the student's own attention
layers, so an attention bug costs the attention checks, not this one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from grader.authoring import check, fail
from grader.sandbox.client import RemoteObject, Student

from . import reference
from .common import close, definition, pair, run, tensor, worst

NB = "nmt_nb"
VOCAB, START = 30, 27


@check(
    name="generate_tensors_for_training_decoder_nmt: exact tensors",
    number="2.2.1",
    points=4,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=60,
)
def training_tensors(student: Student, seed: int) -> None:
    """(SOS + src_EOP + tgt without its last token, src_EOP + tgt_EOS), int64 (B, Ls + Lt), on several batches."""
    func = definition(student, NB, "generate_tensors_for_training_decoder_nmt")
    gen = torch.Generator().manual_seed(seed)
    batches = [(torch.tensor([[7, 8, 29], [1, 2, 29]]), torch.tensor([[8, 7, 0, 28], [2, 1, 5, 28]]), START)]
    batches += [(torch.randint(0, 27, (b, ls), generator=gen), torch.randint(0, 27, (b, lt), generator=gen), s)
                for b, ls, lt, s in [(5, 6, 2, START), (1, 1, 1, START), (3, 4, 7, 29)]]  # fmt: skip
    for src, tgt, start in batches:
        got = pair(
            run("generate_tensors_for_training_decoder_nmt", func, src, tgt, start, False),
            "generate_tensors_for_training_decoder_nmt",
        )
        expected = reference.training_tensors(src, tgt, start)
        for value, want, label in zip(got, expected, ("SOS_src_EOP_tgt", "src_EOP_tgt_EOS"), strict=True):
            value = tensor(value, label)
            where = f"for src_EOP of shape {tuple(src.shape)}, tgt_EOS {tuple(tgt.shape)}, start_token {start}"
            if value.dtype != torch.int64:
                fail(f"{label} {where} should be a LongTensor (int64) of token ids, got {value.dtype}")
            if tuple(value.shape) != tuple(want.shape):
                fail(
                    f"{label} {where} should have shape {tuple(want.shape)} (batch, Ls + Lt), got {tuple(value.shape)}"
                )
            if not torch.equal(value, want):
                fail(f"{label} {where} is wrong: expected {want.tolist()}, got {value.tolist()}")


def _model(student: Student, seed: int, hidden: int = 16, layers: int = 2) -> Any:
    student.seed(seed)
    cls = definition(student, NB, "DecoderOnlyTransformer")
    model = run(f"DecoderOnlyTransformer({VOCAB}, {hidden}, {layers}, loss_seq_span=5)", cls, VOCAB, hidden, layers, 5)
    run("model.eval()", model.call_method, "eval")
    return model


def _forward(model: Any, inputs: torch.Tensor) -> tuple[torch.Tensor, Any]:
    output, weights = pair(run("the decoder-only forward", model, inputs), "the decoder-only forward")
    return tensor(output, "output"), weights


def _ids(seed: int, batch: int, length: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


@check(
    name="Decoder-only forward: output and attention-weight shapes",
    number="2.2.2.1",
    points=1,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=90,
)
def decoder_shapes(student: Student, seed: int) -> None:
    """Output (B, L, vocab) for every position; self-attention weights stacked (layers, B, L, L) or a list of (B, L, L)."""
    model = _model(student, seed)
    output, weights = _forward(model, _ids(seed, 2, 7))
    if tuple(output.shape) != (2, 7, VOCAB):
        fail(
            f"For inputs (2, 7) the output should have shape (2, 7, {VOCAB}): scores for every position, got {tuple(output.shape)}"
        )
    layers = (
        list(weights)
        if isinstance(weights, list | tuple)
        else [weights[i] for i in range(2)]
        if isinstance(weights, torch.Tensor) and weights.dim() == 4
        else None
    )
    if (
        layers is None
        or len(layers) != 2
        or not all(isinstance(w, torch.Tensor) and tuple(w.shape) == (2, 7, 7) for w in layers)
    ):
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        fail(f"The self-attention weights of a 2-layer model on inputs (2, 7) should be stacked as (2, 2, 7, 7) "
             f"(layers, batch, seq, seq), got {shape}")  # fmt: skip


@check(
    name="Decoder-only forward: causal under perturbation",
    number="2.2.2.2",
    points=1,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=90,
)
def decoder_causal(student: Student, seed: int) -> None:
    """In eval mode, the output at position t does not depend on the input tokens after t."""
    model = _model(student, seed)
    inputs = _ids(seed + 1, 2, 9)
    base, _ = _forward(model, inputs)
    for t in (0, 4, 7):
        changed = inputs.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1 + _ids(seed + t, 2, 8 - t) % (VOCAB - 1)) % VOCAB
        moved, _ = _forward(model, changed)
        if moved.shape != base.shape or not close(moved[:, : t + 1], base[:, : t + 1]):
            fail(f"Changing the tokens after position {t} changed the output at positions 0..{t}: the model sees the future "
                 "(check the causal attention and that nothing mixes positions outside it).")  # fmt: skip


@check(
    name="Decoder-only forward: equals the reference body with your weights",
    number="2.2.2.3",
    points=2,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=90,
)
def decoder_reference(student: Student, seed: int) -> None:
    """Embed + positional encodings; per layer: your causal self-attention, residual, MLP, residual; then ``out``."""
    model = _model(student, seed)
    state = model.state_dict()
    wanted = ["embedding.weight", "out.weight", "out.bias"] + [
        f"attention_mlps.{i}.0.{p}" for i in range(2) for p in ("weight", "bias")
    ]
    if missing := [k for k in wanted if k not in state]:
        fail(
            f"The model should keep the given layers (embedding, attention_mlps, out); its state_dict lacks {', '.join(missing)}"
        )
    positional = tensor(
        run("model.positional_encodings", getattr, model, "positional_encodings"), "positional_encodings"
    )
    attentions = run("model.self_attentions", getattr, model, "self_attentions")
    if not isinstance(attentions, RemoteObject):
        fail("model.self_attentions should be the given nn.ModuleList of CausalScaledDotAttention layers")
    layer = [attentions[i] for i in range(2)]

    def attend(i: int, x: torch.Tensor) -> torch.Tensor:
        context, _ = pair(run(f"self_attentions[{i}]", layer[i], x, x, x), "CausalScaledDotAttention.forward")
        return tensor(context, "context")

    inputs = _ids(seed + 2, 3, 6)
    output, _ = _forward(model, inputs)
    expected = reference.decoder_forward(state, positional, inputs, attend, 2)
    if output.shape != expected.shape:
        fail(f"For inputs (3, 6) the output should have shape {tuple(expected.shape)}, got {tuple(output.shape)}")
    if not close(output, expected, atol=1e-4):
        fail(f"The output differs from embed + positional encodings, then per layer x = x + attention(x); x = x + mlp(x), "
             f"then out(x): {worst(output, expected)}. Missing a residual or the positional encodings?")  # fmt: skip


def _floats(value: Any, what: str) -> np.ndarray:
    """A returned ndarray (arrives as a tensor), numpy.poly1d (a remote object), list or scalar, as float64."""
    if isinstance(value, RemoteObject):
        value = run(f"{what}.coeffs", getattr, value, "coeffs")
    if isinstance(value, torch.Tensor):
        return value.double().numpy().reshape(-1)
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        fail(f"{what} should be numbers, got {type(value).__name__}")


def _isoflop_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(413)
    x1 = np.array([1e3, 3e3, 1e4, 3e4, 1e5])
    x2 = np.array([2e3, 5e3, 1e4, 4e4, 2e5, 1e6])
    y1 = (np.log10(x1) - 4) ** 2 + 1 + rng.normal(0, 1e-4, x1.size)
    y2 = 0.5 * (np.log10(x2) - 4.3) ** 2 + 2 + rng.normal(0, 1e-4, x2.size)
    return [(x1, y1), (x2, y2)]


def _call_fit(student: Student, name: str, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    func = definition(student, NB, name)
    return pair(run(name, func, x.tolist(), y.tolist()), name)


@check(
    name="find_optimal_params: parabola fitted in log10(parameters)",
    number="2.3.2.1",
    points=2,
    tags=["nmt.ipynb", "part 2.3"],
    timeout=60,
)
def isoflop_parabola(student: Student) -> None:
    """p equals polyfit(log10(x), y, 2) (highest degree first) on synthetic IsoFLOP data."""
    for x, y in _isoflop_cases():
        p, _ = _call_fit(student, "find_optimal_params", x, y)
        got = _floats(p, "p")
        want, _ = reference.parabola(x, y)
        if got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8 * float(np.abs(want).max())):
            continue
        natural, _ = reference.parabola(x, y, np.log)
        if got.shape == natural.shape and np.allclose(got, natural, rtol=1e-6):
            fail("p is a fit against the natural log of the parameter counts; the handout fits against log10 "
                 "(the given plot evaluates polyval(p, log10(params))). Use np.log10.")  # fmt: skip
        fail(f"For parameters {x.tolist()} p should be {np.round(want, 6).tolist()} (a degree-2 fit of the losses "
             f"against log10(parameters), highest degree first), got {np.round(got, 6).tolist()}")  # fmt: skip


@check(
    name="find_optimal_params: the vertex in parameters",
    number="2.3.2.2",
    points=2,
    tags=["nmt.ipynb", "part 2.3"],
    timeout=60,
)
def isoflop_vertex(student: Student) -> None:
    """optimal_params is one number within 0.5% of 10^(-p1 / (2 p0)) of the reference fit (≈ 1e4 and ≈ 2e4)."""
    for x, y in _isoflop_cases():
        _, optimal = _call_fit(student, "find_optimal_params", x, y)
        got = _floats(optimal, "optimal_params")
        _, want = reference.parabola(x, y)
        if got.size != 1:
            fail(f"optimal_params should be a single number, got {got.size} values")
        if not abs(float(got[0]) - want) <= 0.005 * want:
            fail(f"For parameters {x.tolist()} the optimal number of parameters should be about {want:.4g} "
                 f"(the vertex of the parabola, back in parameters), got {float(got[0]):.4g}")  # fmt: skip


@check(
    name="fit_linear_log: a line in log10-log10", number="2.3.3", points=2, tags=["nmt.ipynb", "part 2.3"], timeout=60
)
def loglog_fit(student: Student) -> None:
    """(m, c) of log10(y) = m log10(x) + c: exactly recovered on y = 10^c x^m (two cases)."""
    x = np.array([8e10, 1.6e11, 3.2e11, 6.4e11, 1.28e12])
    for m, c in [(0.5, -1.2), (0.42, 0.7)]:
        y = 10**c * x**m
        got_m, got_c = (
            _floats(v, n)[0] for v, n in zip(_call_fit(student, "fit_linear_log", x, y), ("m", "c"), strict=True)
        )
        if abs(got_m - m) <= 1e-6 and abs(got_c - c) <= 1e-6:
            continue
        if abs(got_m - m) <= 1e-6 and abs(got_c - c * np.log(10)) <= 1e-5:
            fail(f"The intercept is in natural-log units (c = {got_c:.4f} where {c} is expected): fit log10(y) against "
                 "log10(x), so that the 1e15 estimate 10^(15 m + c) is right.")  # fmt: skip
        fail(f"For y = 10^{c} x^{m} the fit should give m = {m}, c = {c}; got m = {got_m:.6g}, c = {got_c:.6g}")
