"""Part (g) Perceiver blocks and the vanilla GPT: diagnostic checks (0 points each).

The handout gives part (g)'s 8 autograded points for test-set accuracy; these checks tell the student
(and the TAs) why a model would not learn: an unregistered basis, no bottleneck, a causality leak.
Numeric checks run in eval mode on CPU.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.authoring import Feedback, StudentCodeError, assert_shape, check, fail
from grader.sandbox.client import Student

from . import formulations

VOCAB, BLOCK, EMBD = 256, 128, 256
VANILLA_PARAMS = 3_323_392


def _config(student: Student, model: Any, m: int | None = None) -> Any:
    extra = {"perceiver": True, "bottleneck_dim": m} if m else {}
    return model.GPTConfig(VOCAB, BLOCK, n_layer=4, n_head=8, n_embd=EMBD, **extra)


def _build(student: Student, what: str, m: int | None = 32, seed: int = 0) -> Any:
    """Construct ``model.<what>`` in eval mode, with a message that names .cuda() when that is the cause."""
    student.seed(seed)
    model = student.module("model")
    try:
        obj = getattr(model, what)(_config(student, model, m))
        obj.call_method("eval")
    except StudentCodeError as exc:
        hint = " (a hard-coded .cuda() or device='cuda'? The grader runs on CPU.)" if "cuda" in exc.exc_message.lower() else ""
        fail(f"Building {what} with bottleneck_dim={m} raised {exc.exc_type}: {exc.exc_message}{hint}")
    return obj


def _tokens(seed: int, batch: int, length: int) -> torch.Tensor:
    return torch.randint(2, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def _logits(out: Any, batch: int, length: int) -> torch.Tensor:
    logits = out[0] if isinstance(out, tuple | list) else out
    assert_shape(logits, (batch, length, VOCAB), what="GPT logits")
    return logits


@check(name="Perceiver: the basis C is a registered, trained Parameter", number="2.1", points=0, tags=["part g"], timeout=90)
def basis_registered(student: Student, seed: int) -> None:
    """``down_block.C`` is an nn.Parameter of shape (1, m, d) in the state dict, and receives a gradient."""
    gpt = _build(student, "GPT", 32, seed)
    down = gpt.down_block
    info = down.describe("C")
    if not info["is_parameter"] or not info.get("registered_parameter"):
        fail(f"DownProjectBlock.C must be an nn.Parameter registered on the block (it is a {info['type']}); a plain tensor is never trained and is not saved in the state dict.")
    if info.get("shape") != [1, 32, EMBD]:
        fail(f"DownProjectBlock.C should have shape (1, bottleneck_dim, n_embd) = (1, 32, {EMBD}), got {tuple(info.get('shape') or ())}")
    state = gpt.state_dict()
    if "down_block.C" not in state:
        fail("GPT.state_dict() has no 'down_block.C': the basis would not be saved in your params file.")
    c = state["down_block.C"]
    if not torch.isfinite(c).all() or float(c.std()) == 0.0:
        fail("down_block.C should be initialised with random finite values (Xavier-uniform), not a constant.")
    x = _tokens(seed, 2, 40)
    gpt.call_method("train")
    probe = gpt.grad_probe(x, x, weights=torch.ones(()), output_index=1)
    norm = probe["param_grad_norms"].get("down_block.C")
    if not norm:
        fail("After loss.backward() on a GPT forward pass, down_block.C.grad is empty or zero: C is not used in the forward pass.")


@check(name="Perceiver: block output shapes for T < m, T = m and T > m", number="2.2", points=0, tags=["part g"], timeout=90)
def block_shapes(student: Student, seed: int) -> None:
    """Down: (B, T, d) → (B, m, d); Up: (B, m, d) and (B, T, d) → (B, T, d)."""
    m = 32
    down = _build(student, "DownProjectBlock", m, seed)
    up = _build(student, "UpProjectBlock", m, seed)
    gen = torch.Generator().manual_seed(seed)
    for t in (m // 2, m, 2 * m, BLOCK):
        x = torch.randn(2, t, EMBD, generator=gen)
        y = down(x)
        assert_shape(y, (2, m, EMBD), what=f"DownProjectBlock output for input length T={t}")
        assert_shape(up(y, x), (2, t, EMBD), what=f"UpProjectBlock output for T={t}")


@check(name="Perceiver: GPT forward gives logits and a finite loss", number="2.3", points=0, tags=["part g"], timeout=90)
def perceiver_forward(student: Student, seed: int, feedback: Feedback) -> None:
    """Logits (B, T, 256) for T = 7 and T = 128, and a finite loss with targets."""
    gpt = _build(student, "GPT", 32, seed)
    before = student.output_size()
    for t in (7, BLOCK):
        x = _tokens(seed + t, 2, t)
        out = gpt(x, x)
        _logits(out, 2, t)
        loss = out[1] if isinstance(out, tuple | list) and len(out) > 1 else None
        if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and torch.isfinite(loss).all()):
            fail(f"With targets, GPT(...) should return (logits, loss) with a finite scalar loss; got {loss!r:.80}")
    if student.output_size() > before:
        feedback.note("Note: your forward pass prints output. Remove debug prints: they slow training and flood logs.")
        feedback.warn_staff("perceiver forward prints to stdout")


def _causality(gpt: Any, seed: int, length: int, cuts: list[int]) -> str:
    """Replace every token after position t; logits at positions ≤ t must not change. '' if causal."""
    base = _tokens(seed, 2, length)
    batch = [base]
    for i, t in enumerate(cuts):
        changed = base.clone()
        changed[:, t + 1 :] = _tokens(seed + 1 + i, 2, length - t - 1)
        batch.append(changed)
    logits = _logits(gpt(torch.cat(batch)), 2 * len(batch), length)
    ref = logits[:2]
    for i, t in enumerate(cuts):
        diff = float((logits[2 * (i + 1) : 2 * (i + 2), : t + 1] - ref[:, : t + 1]).abs().max())
        if diff > 1e-5:
            return f"with T={length}, changing the tokens after position {t} changed the logits at positions ≤ {t} by up to {diff:.3g}"
    return ""


@check(name="Perceiver: GPT is causal end to end", number="2.4", points=0, tags=["part g"], timeout=120)
def perceiver_causal(student: Student, seed: int) -> None:
    """Changing tokens after position t never changes the logits at positions ≤ t (T = 64 and T = 20, m = 32)."""
    gpt = _build(student, "GPT", 32, seed)
    for length in (64, 20):
        cuts = sorted({int(v) for v in torch.linspace(0, length - 2, 10)})
        leak = _causality(gpt, seed, length, cuts)
        if leak:
            fail(f"The perceiver GPT sees the future: {leak}. Check the queries/keys of the cross-attentions.")


@check(name="Perceiver: the down block really projects onto m positions", number="2.5", points=0, tags=["part g"], timeout=60)
def bottleneck_used(student: Student, seed: int) -> None:
    """The down block's output has length m (not T) and depends on its input."""
    m = 32
    down = _build(student, "DownProjectBlock", m, seed)
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = torch.randn(1, 64, EMBD, generator=gen), torch.randn(1, 64, EMBD, generator=gen)
    y1, y2 = down(x1), down(x2)
    if not isinstance(y1, torch.Tensor) or y1.dim() != 3 or y1.shape[1] != m:
        fail(f"For an input of length 64 the down block must return m={m} positions, got shape {tuple(getattr(y1, 'shape', ()))} (are C and the input swapped in the cross-attention?)")
    if torch.allclose(y1, y2):
        fail("The down block's output does not change when its input changes: the input sequence must provide the keys and values.")


@check(name="Perceiver: parameter count", number="2.6", points=0, tags=["part g"], timeout=60)
def perceiver_parameters(student: Student, feedback: Feedback) -> None:
    """3,323,392 + 256·m parameters for the standard config (m = 32 and 64); more is a warning."""
    for m in (32, 64):
        expected = VANILLA_PARAMS + EMBD * m
        count = sum(_numel(p["shape"]) for p in _build(student, "GPT", m).named_parameters())
        if count < expected:
            fail(f"A perceiver GPT with bottleneck_dim={m} should have {expected:,} parameters, yours has {count:,} (is C a registered nn.Parameter?)")
        if count > expected:
            feedback.note(f"Your perceiver GPT (bottleneck_dim={m}) has {count - expected:,} parameters more than expected ({expected:,}); unused extra modules?")
            feedback.warn_staff(f"perceiver parameter count {count} > {expected} at m={m}")


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


@check(name="Vanilla GPT: parameters, logits and causality", number="3.1", points=0, tags=["part f"], timeout=90)
def vanilla_gpt(student: Student, seed: int) -> None:
    """The given vanilla GPT builds on CPU with 3,323,392 parameters, returns (B, T, 256) logits and is causal."""
    gpt = _build(student, "GPT", None, seed)
    count = sum(_numel(p["shape"]) for p in gpt.named_parameters())
    if count != VANILLA_PARAMS:
        fail(f"The vanilla GPT should have {VANILLA_PARAMS:,} parameters, yours has {count:,}.")
    leak = _causality(gpt, seed, 48, [0, 5, 11, 23, 30, 46])
    if leak:
        fail(f"The vanilla GPT sees the future: {leak}.")


@check(name="Perceiver: blocks compute an accepted formulation", number="2.7", points=0, tags=["part g"], timeout=90)
def accepted_formulation(student: Student, seed: int, feedback: Feedback) -> None:
    """With your own weights, each block matches one accepted variant (residuals and LayerNorm on keys/values are free)."""
    m, n_head = 32, 8
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 48, EMBD, generator=gen)
    down = _build(student, "DownProjectBlock", m, seed)
    up = _build(student, "UpProjectBlock", m, seed)
    down_state, up_state = down.state_dict(), up.state_dict()
    if not (formulations.has_standard_layout(down_state) and formulations.has_standard_layout(up_state) and "C" in down_state):
        feedback.note("Your blocks use non-standard submodule names, so they were not compared with the accepted formulations.")
        feedback.warn_staff("perceiver blocks not compared: non-standard submodule names; review by hand")
        return
    y = down(x)
    name, diff = formulations.closest(formulations.down_variants(down_state, x, n_head), y)
    if diff > 1e-4:
        fail(
            "DownProjectBlock's output matches none of the accepted formulations (cross-attention with ln1(C) as the "
            "query and the input as keys/values, then the MLP on ln2 of the attention result). "
            f"Closest: {name or 'none'} (max difference {diff:.3g}). This diagnostic is worth 0 points."
        )
    assert isinstance(y, torch.Tensor)
    name, diff = formulations.closest(formulations.up_variants(up_state, y, x, n_head), up(y, x))
    if diff > 1e-4:
        fail(
            "UpProjectBlock's output matches none of the accepted formulations (cross-attention with the input "
            "as the query and ln1(y) as keys/values, then the MLP on ln2). "
            f"Closest: {name or 'none'} (max difference {diff:.3g}). This diagnostic is worth 0 points."
        )
