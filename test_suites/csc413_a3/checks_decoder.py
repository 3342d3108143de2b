"""Parts 2.2 and 2.3 (nmt.ipynb): decoder-only training tensors and forward, and the IsoFLOP fits.

The decoder-only model is read as ``DecoderOnlyTransformer`` (2025 name) or the ``TransformerDecoder``
whose ``__init__`` takes ``loss_seq_span`` (2023 name; see the manifest's alias). Every weight of it is
drawn here and loaded into the student's model; the expected forward is computed here from those
weights and the handout's positional encodings (nothing read back from the sandbox). The IsoFLOP data
are drawn per grading, and no failure message shows an expected fit.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader.authoring import (
    Feedback,
    RemoteObject,
    Student,
    assert_changed,
    assert_shape,
    check,
    fail,
    load_trusted_weights,
    load_weights,
    trusted_weights,
)

from . import reference
from .common import close, definition, pair, qkv_shapes, run, tensor, worst
from .editions import located

NB = "nmt_nb"
VOCAB, START = 30, 27
GEN, MODEL = "generate_tensors_for_training_decoder_nmt", "DecoderOnlyTransformer"


@check(
    name="generate_tensors_for_training_decoder_nmt: exact tensors",
    number="2.2.1",
    points=4,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=60,
)
def training_tensors(student: Student, seed: int, files: Path) -> None:
    """(SOS + src_EOP + tgt without its last token, src_EOP + tgt_EOS), int64 (B, Ls + Lt), on several batches."""
    func = definition(student, NB, "generate_tensors_for_training_decoder_nmt", files)
    gen = torch.Generator().manual_seed(seed)
    batches = [(torch.tensor([[7, 8, 29], [1, 2, 29]]), torch.tensor([[8, 7, 0, 28], [2, 1, 5, 28]]), START)]
    batches += [
        (torch.randint(0, 27, (b, ls), generator=gen), torch.randint(0, 27, (b, lt), generator=gen), s)
        for b, ls, lt, s in [(5, 6, 2, START), (1, 1, 1, START), (3, 4, 7, 29)]
    ]
    for src, tgt, start in batches:
        got = pair(
            run("generate_tensors_for_training_decoder_nmt", func, src, tgt, start, False),
            "generate_tensors_for_training_decoder_nmt",
        )
        expected = reference.training_tensors(src, tgt, start)
        for value, want, label in zip(got, expected, ("SOS_src_EOP_tgt", "src_EOP_tgt_EOS"), strict=True):
            value = tensor(value, label)
            where = (
                f"returned by generate_tensors_for_training_decoder_nmt{located(files, NB, GEN)} for src_EOP of "
                f"shape {tuple(src.shape)}, tgt_EOS {tuple(tgt.shape)}, start_token {start}"
            )
            if value.dtype != torch.int64:
                fail(f"{label} {where} should be a LongTensor (int64) of token ids, got {value.dtype}")
            if tuple(value.shape) != tuple(want.shape):
                fail(
                    f"{label} {where} should have shape {tuple(want.shape)} (batch, Ls + Lt), got {tuple(value.shape)}"
                )
            if not torch.equal(value, want):
                fail(f"{label} {where} is wrong: expected {want.tolist()}, got {value.tolist()}")


def _model(
    student: Student, seed: int, files: Path, hidden: int = 16, layers: int = 2
) -> tuple[Any, dict[str, torch.Tensor]]:
    """The student's decoder-only model in eval mode, holding every weight of the handout's layers drawn here."""
    student.seed(seed)
    cls = definition(student, NB, "DecoderOnlyTransformer", files)
    model = run(f"DecoderOnlyTransformer({VOCAB}, {hidden}, {layers}, loss_seq_span=5)", cls, VOCAB, hidden, layers, 5)
    run("model.eval()", model.call_method, "eval")
    return model, load_trusted_weights(model, _shapes(hidden, layers), what="the decoder-only model")


def _shapes(hidden: int, layers: int) -> dict[str, tuple[int, ...]]:
    """The given constructor's parameters (spec 5.4), by name."""
    shapes: dict[str, tuple[int, ...]] = {
        "embedding.weight": (VOCAB, hidden),
        "out.weight": (VOCAB, hidden),
        "out.bias": (VOCAB,),
    }
    for i in range(layers):
        shapes |= qkv_shapes(hidden, f"self_attentions.{i}.")
        shapes |= {f"attention_mlps.{i}.0.weight": (hidden, hidden), f"attention_mlps.{i}.0.bias": (hidden,)}
    return shapes


def _forward(model: Any, inputs: torch.Tensor) -> tuple[torch.Tensor, Any]:
    output, weights = pair(run("the decoder-only forward", model, inputs), "the decoder-only forward")
    return tensor(output, "output"), weights


def _ids(seed: int, batch: int, length: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


#: How far an output must move to count as changed (the decoder's outputs are of order one).
CHANGED_ATOL = 1e-4


@check(
    name="Decoder-only forward: output and attention-weight shapes",
    number="2.2.2.1",
    points=1,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=90,
)
def decoder_shapes(student: Student, seed: int, files: Path) -> None:
    """Output (B, L, vocab) for every position; self-attention weights stacked (layers, B, L, L) or a list of
    (B, L, L); the output is computed with the weights the grader loaded (other weights, other output)."""
    model, chosen = _model(student, seed, files)
    inputs = _ids(seed, 2, 7)
    output, weights = _forward(model, inputs)
    if tuple(output.shape) != (2, 7, VOCAB):
        fail(
            f"For inputs (2, 7) the output of the decoder-only forward{located(files, NB, MODEL)} should have shape "
            f"(2, 7, {VOCAB}): scores for every position, got {tuple(output.shape)}"
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
        fail(
            f"The self-attention weights of a 2-layer model on inputs (2, 7) should be stacked as (2, 2, 7, 7) "
            f"(layers, batch, seq, seq), got {shape}"
        )
    load_weights(model, trusted_weights({k: v.shape for k, v in chosen.items()}), what="the decoder-only model")
    again, _ = _forward(model, inputs)
    assert_changed(
        output,
        again,
        "With other weights loaded into the model (load_state_dict), its output did not "
        "change: the forward must compute with the model's own layers (embedding, self_attentions, "
        "attention_mlps, out).",
        atol=CHANGED_ATOL,
    )


@check(
    name="Decoder-only forward: causal under perturbation",
    number="2.2.2.2",
    points=1,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=90,
)
def decoder_causal(student: Student, seed: int, files: Path) -> None:
    """In eval mode, the output at position t does not depend on the input tokens after t, and does depend on
    the tokens before it (a model that sees no other position is trivially, not really, causal)."""
    model, _ = _model(student, seed, files)
    inputs = _ids(seed + 1, 2, 9)
    base, _ = _forward(model, inputs)
    for t in (0, 4, 7):
        changed = inputs.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1 + _ids(seed + t, 2, 8 - t) % (VOCAB - 1)) % VOCAB
        moved, _ = _forward(model, changed)
        if moved.shape != base.shape or not close(moved[:, : t + 1], base[:, : t + 1]):
            fail(
                f"Changing the tokens after position {t} changed the output at positions 0..{t}: the model{located(files, NB, MODEL)} sees the future "
                "(check the causal attention and that nothing mixes positions outside it)."
            )
    first = inputs.clone()
    first[:, 0] = (first[:, 0] + 1 + _ids(seed + 9, 2, 1)[:, 0] % (VOCAB - 1)) % VOCAB
    moved, _ = _forward(model, first)
    assert_changed(
        base[:, 8],
        moved[:, 8],
        "Changing the token at position 0 left the output at position 8 "
        "unchanged: with the grader's weights loaded, each position must attend to the earlier ones "
        "(causal self-attention in every layer).",
        atol=CHANGED_ATOL,
    )


INJECTED = Path(__file__).with_name("injected_attention.py")


def _with_grader_attention(student: Student, model: Any, chosen: dict[str, torch.Tensor], layers: int) -> None:
    """Replace the model's self_attentions by the grader's causal attention, holding the same chosen weights."""
    student.write_file("_grader_causal_attention.py", INJECTED.read_text(encoding="utf-8"))
    layer_cls = student.module("_grader_causal_attention").GraderCausalAttention
    attentions = run("model.self_attentions", getattr, model, "self_attentions")
    if not isinstance(attentions, RemoteObject):
        fail("model.self_attentions should be the given nn.ModuleList of CausalScaledDotAttention layers")
    hidden = chosen["embedding.weight"].size(1)
    for i in range(layers):
        run(f"self_attentions[{i}] = ...", attentions.call_method, "__setitem__", i, layer_cls(hidden))
    load_weights(model, chosen, what="the decoder-only model")


@check(
    name="Decoder-only forward: equals the reference body with the grader's weights",
    number="2.2.2.3",
    points=2,
    tags=["nmt.ipynb", "part 2.2"],
    timeout=90,
)
def decoder_reference(student: Student, seed: int, feedback: Feedback, files: Path) -> None:
    """Embed + positional encodings; per layer: causal self-attention, residual, MLP, residual; then ``out``.

    Every weight is drawn and loaded by the grader, and the expectation is computed here from them. When
    the output differs, the model's attention layers are replaced by the grader's (same weights) and the
    forward is compared again: an attention bug costs the attention checks, not this one (spec §7.9).
    """
    model, chosen = _model(student, seed, files)
    inputs = _ids(seed + 2, 3, 6)
    expected = reference.decoder_forward(chosen, inputs, 2)
    output, _ = _forward(model, inputs)
    assert_shape(output, tuple(expected.shape), what="For inputs (3, 6) the output of the decoder-only forward")
    if close(output, expected, atol=1e-4):
        return
    _with_grader_attention(student, model, chosen, 2)
    replaced, _ = _forward(model, inputs)
    if replaced.shape == expected.shape and close(replaced, expected, atol=1e-4):
        feedback.note(
            "With your CausalScaledDotAttention layers the output differs from the reference (see 2.1.2); with "
            "the grader's attention in their place your forward is right, so this check passes."
        )
        return
    fail(
        f"The output of the decoder-only forward{located(files, NB, MODEL)} differs from embed + positional encodings, then per layer x = x + attention(x); x = x + mlp(x), "
        f"then out(x), with the grader's weights loaded (also with the grader's attention layers in place of yours): "
        f"{worst(output, expected)}. Missing a residual or the positional encodings?"
    )


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
    """Two IsoFLOP profiles drawn per grading: a parabola in log10(params) with a random vertex and curvature,
    on a random uneven grid around it, plus tiny noise (no table of answers can be carried in a notebook)."""
    rng = np.random.default_rng(secrets.randbits(64))
    cases = []
    for size in (5, 6):
        vertex = rng.uniform(3.5, 5.0)
        x = np.sort(10 ** (vertex + rng.uniform(-1.5, 1.5, size)))
        y = rng.uniform(0.3, 1.5) * (np.log10(x) - vertex) ** 2 + rng.uniform(1.0, 3.0) + rng.normal(0, 1e-4, size)
        cases.append((x, y))
    return cases


def _call_fit(student: Student, files: Path, name: str, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    func = definition(student, NB, name, files)
    return pair(run(name, func, x.tolist(), y.tolist()), name)


@check(
    name="find_optimal_params: parabola fitted in log10(parameters)",
    number="2.3.2.1",
    points=2,
    tags=["nmt.ipynb", "part 2.3"],
    timeout=60,
)
def isoflop_parabola(student: Student, files: Path) -> None:
    """p equals polyfit(log10(x), y, 2) (highest degree first) on synthetic IsoFLOP data drawn per grading."""
    for x, y in _isoflop_cases():
        p, _ = _call_fit(student, files, "find_optimal_params", x, y)
        got = _floats(p, "p")
        want, _ = reference.parabola(x, y)
        if got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8 * float(np.abs(want).max())):
            continue
        natural, _ = reference.parabola(x, y, np.log)
        if got.shape == natural.shape and np.allclose(got, natural, rtol=1e-6):
            fail(
                f"p returned by find_optimal_params{located(files, NB, 'find_optimal_params')} is a fit against the "
                "natural log of the parameter counts; the handout fits against log10 "
                "(the given plot evaluates polyval(p, log10(params))). Use np.log10."
            )
        fail(
            f"On {x.size} synthetic (parameters, loss) points p from find_optimal_params{located(files, NB, 'find_optimal_params')} should be the 3 coefficients of a degree-2 least-squares "
            f"fit of the losses against log10(parameters), highest degree first; got {np.round(got, 6).tolist()}, "
            "which is not that fit."
        )


@check(
    name="find_optimal_params: the vertex in parameters",
    number="2.3.2.2",
    points=2,
    tags=["nmt.ipynb", "part 2.3"],
    timeout=60,
)
def isoflop_vertex(student: Student, files: Path) -> None:
    """optimal_params is one number within 0.5% of 10^(-p1 / (2 p0)) of the reference fit, on data drawn per grading."""
    for x, y in _isoflop_cases():
        _, optimal = _call_fit(student, files, "find_optimal_params", x, y)
        got = _floats(optimal, "optimal_params")
        _, want = reference.parabola(x, y)
        if got.size != 1:
            fail(f"optimal_params should be a single number, got {got.size} values")
        if not abs(float(got[0]) - want) <= 0.005 * want:
            fail(
                f"On {x.size} synthetic (parameters, loss) points optimal_params from find_optimal_params"
                f"{located(files, NB, 'find_optimal_params')} should be the vertex of the fitted "
                f"parabola, back in parameters (10 ** (-p[1] / (2 p[0]))), within 0.5%; got {float(got[0]):.4g}, "
                "which is not."
            )


@check(
    name="fit_linear_log: a line in log10-log10", number="2.3.3", points=2, tags=["nmt.ipynb", "part 2.3"], timeout=60
)
def loglog_fit(student: Student, files: Path) -> None:
    """(m, c) of log10(y) = m log10(x) + c: recovered on y = 10^c x^m for two (m, c) drawn per grading."""
    x = np.array([8e10, 1.6e11, 3.2e11, 6.4e11, 1.28e12])
    rng = np.random.default_rng(secrets.randbits(64))
    for m, c in [(rng.uniform(0.3, 0.7), rng.uniform(-2.0, -0.5)), (rng.uniform(0.3, 0.7), rng.uniform(0.5, 1.5))]:
        y = 10**c * x**m
        got_m, got_c = (
            _floats(v, n)[0] for v, n in zip(_call_fit(student, files, "fit_linear_log", x, y), ("m", "c"), strict=True)
        )
        if abs(got_m - m) <= 1e-6 and abs(got_c - c) <= 1e-6:
            continue
        if abs(got_m - m) <= 1e-6 and abs(got_c - c * np.log(10)) <= 1e-5:
            fail(
                f"The intercept returned by fit_linear_log{located(files, NB, 'fit_linear_log')} is in natural-log units (c is ln(10) times the expected one): fit log10(y) against "
                "log10(x), so that the 1e15 estimate 10^(15 m + c) is right."
            )
        fail(
            f"For points on an exact power law y = 10^c x^m, fit_linear_log{located(files, NB, 'fit_linear_log')} should recover m and c (log10(y) = m log10(x) + c); "
            f"got m = {got_m:.6g}, c = {got_c:.6g}, which is not that line."
        )
