"""Part (g) Perceiver blocks and the vanilla GPT: diagnostic checks (0 points each).

The handout gives part (g)'s 8 autograded points for test-set accuracy; these checks tell the student
(and the TAs) why a model would not learn: an unregistered basis, no bottleneck, a causality leak.
Numeric checks run in eval mode on CPU, with weights the grader draws for each grading and loads into
the student's modules by parameter name (``load_trusted_weights``): properties are judged on values the
student's code did not choose, and 2.7 and 3.1 compare outputs with our own recomputation from them.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.authoring import (
    Feedback,
    Student,
    StudentCodeError,
    assert_shape,
    check,
    fail,
    fail_raised,
    load_trusted_weights,
    load_weights,
    max_abs_diff,
    trusted_weights,
)

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
        hint = (
            " (a hard-coded .cuda() or device='cuda'? The grader runs on CPU.)"
            if "cuda" in exc.exc_message.lower()
            else ""
        )
        fail_raised(f"Building {what} with bottleneck_dim={m}", exc, hint)
    return obj


def _tokens(seed: int, batch: int, length: int) -> torch.Tensor:
    return torch.randint(2, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def _load_fresh(module: Any, what: str) -> dict[str, torch.Tensor]:
    """Draw grader weights for every parameter the module has and load them (LayerNorm gains around 1)."""
    shapes = {p["name"]: p["shape"] for p in module.named_parameters()}
    gains = [n for n, shape in shapes.items() if len(shape) == 1 and n.endswith("weight")]
    weights = trusted_weights(shapes, around_one=gains)
    load_weights(module, weights, what=what)
    return weights


def _logits(out: Any, batch: int, length: int) -> torch.Tensor:
    logits = out[0] if isinstance(out, tuple | list) else out
    assert_shape(logits, (batch, length, VOCAB), what="GPT logits")
    return logits


@check(
    name="Perceiver: the basis C is a registered, trained Parameter",
    number="2.1",
    points=0,
    tags=["part g"],
    timeout=90,
)
def basis_registered(student: Student, seed: int) -> None:
    """``down_block.C`` is an nn.Parameter of shape (1, m, d) in the state dict, and receives a gradient."""
    gpt = _build(student, "GPT", 32, seed)
    down = gpt.down_block
    info = down.describe("C")
    if not info["is_parameter"] or not info.get("registered_parameter"):
        fail(
            f"DownProjectBlock.C must be an nn.Parameter registered on the block (it is a {info['type']}); a plain tensor is never trained and is not saved in the state dict."
        )
    if info.get("shape") != [1, 32, EMBD]:
        fail(
            f"DownProjectBlock.C should have shape (1, bottleneck_dim, n_embd) = (1, 32, {EMBD}), got {tuple(info.get('shape') or ())}"
        )
    state = gpt.state_dict()
    if "down_block.C" not in state:
        fail("GPT.state_dict() has no 'down_block.C': the basis would not be saved in your params file.")
    c = state["down_block.C"]
    if not torch.isfinite(c).all() or float(c.std()) == 0.0:
        fail("down_block.C should be initialised with random finite values (Xavier-uniform), not a constant.")
    weights = _load_fresh(gpt, "GPT")
    if not torch.equal(gpt.state_dict()["down_block.C"], weights["down_block.C"]):
        fail(
            "After load_state_dict with a new down_block.C, GPT.state_dict()['down_block.C'] does not hold it: the basis saved is not the one loaded."
        )
    x = _tokens(seed, 2, 40)
    before = _logits(gpt(x), 2, 40)
    load_weights(gpt, trusted_weights({"down_block.C": (1, 32, EMBD)}), what="GPT")
    if torch.allclose(before, _logits(gpt(x), 2, 40), atol=1e-6):
        fail(
            "Loading another down_block.C (the grader's values) did not change the GPT's logits: C is not used in the forward pass."
        )
    gpt.call_method("train")
    probe = gpt.grad_probe(x, x, weights=torch.ones(()), output_index=1)
    norm = probe["param_grad_norms"].get("down_block.C")
    if not norm:
        fail(
            "After loss.backward() on a GPT forward pass, down_block.C.grad is empty or zero: C is not used in the forward pass."
        )


@check(
    name="Perceiver: block output shapes for T < m, T = m and T > m",
    number="2.2",
    points=0,
    tags=["part g"],
    timeout=90,
)
def block_shapes(student: Student, seed: int) -> None:
    """Down: (B, T, d) → (B, m, d); Up: (B, m, d) and (B, T, d) → (B, T, d)."""
    m = 32
    down = _build(student, "DownProjectBlock", m, seed)
    up = _build(student, "UpProjectBlock", m, seed)
    _load_fresh(down, "DownProjectBlock")
    _load_fresh(up, "UpProjectBlock")
    gen = torch.Generator().manual_seed(seed)
    for t in (m // 2, m, 2 * m, BLOCK):
        x = torch.randn(2, t, EMBD, generator=gen)
        y = down(x)
        assert_shape(y, (2, m, EMBD), what=f"DownProjectBlock output for input length T={t}")
        assert_shape(up(y, x), (2, t, EMBD), what=f"UpProjectBlock output for T={t}")


@check(
    name="Perceiver: GPT forward gives logits and a finite loss", number="2.3", points=0, tags=["part g"], timeout=90
)
def perceiver_forward(student: Student, seed: int, feedback: Feedback) -> None:
    """Logits (B, T, 256) for T = 7 and T = 128, and a finite loss with targets."""
    gpt = _build(student, "GPT", 32, seed)
    _load_fresh(gpt, "GPT")
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
    """Replace every token after position t: logits at positions ≤ t must not change, and those after t
    must (a model that ignores its input is trivially causal). '' if causal and input-dependent."""
    base = _tokens(seed, 2, length)
    batch = [base]
    for i, t in enumerate(cuts):
        changed = base.clone()
        changed[:, t + 1 :] = _tokens(seed + 1 + i, 2, length - t - 1)
        batch.append(changed)
    logits = _logits(gpt(torch.cat(batch)), 2 * len(batch), length)
    ref = logits[:2]
    moved = 0.0
    for i, t in enumerate(cuts):
        diff = float((logits[2 * (i + 1) : 2 * (i + 2), : t + 1] - ref[:, : t + 1]).abs().max())
        if diff > 1e-5:
            return f"with T={length}, changing the tokens after position {t} changed the logits at positions ≤ {t} by up to {diff:.3g}"
        moved = max(moved, float((logits[2 * (i + 1) : 2 * (i + 2), t + 1 :] - ref[:, t + 1 :]).abs().max()))
    if moved <= 1e-6:
        return (
            f"with T={length}, changing tokens changed no logit at all: the output does not depend on the input tokens"
        )
    return ""


@check(name="Perceiver: GPT is causal end to end", number="2.4", points=0, tags=["part g"], timeout=120)
def perceiver_causal(student: Student, seed: int) -> None:
    """Changing tokens after position t never changes the logits at positions ≤ t (T = 64 and T = 20, m = 32)."""
    gpt = _build(student, "GPT", 32, seed)
    _load_fresh(gpt, "GPT")
    for length in (64, 20):
        cuts = sorted({int(v) for v in torch.linspace(0, length - 2, 10)})
        leak = _causality(gpt, seed, length, cuts)
        if leak:
            fail(
                f"The perceiver GPT (with the grader's random weights) is not causal end to end: {leak}. Check the queries/keys of the cross-attentions."
            )


@check(
    name="Perceiver: the down block really projects onto m positions",
    number="2.5",
    points=0,
    tags=["part g"],
    timeout=60,
)
def bottleneck_used(student: Student, seed: int) -> None:
    """The down block's output has length m (not T) and depends on its input."""
    m = 32
    down = _build(student, "DownProjectBlock", m, seed)
    _load_fresh(down, "DownProjectBlock")
    gen = torch.Generator().manual_seed(seed)
    x1, x2 = torch.randn(1, 64, EMBD, generator=gen), torch.randn(1, 64, EMBD, generator=gen)
    y1, y2 = down(x1), down(x2)
    if not isinstance(y1, torch.Tensor) or y1.dim() != 3 or y1.shape[1] != m:
        fail(
            f"For an input of length 64 the down block must return m={m} positions, got shape {tuple(getattr(y1, 'shape', ()))} (are C and the input swapped in the cross-attention?)"
        )
    if torch.allclose(y1, y2):
        fail(
            "The down block's output does not change when its input changes: the input sequence must provide the keys and values."
        )


@check(name="Perceiver: parameter count", number="2.6", points=0, tags=["part g"], timeout=60)
def perceiver_parameters(student: Student, feedback: Feedback) -> None:
    """3,323,392 + 256·m parameters for the standard config (m = 32 and 64); more is a warning."""
    for m in (32, 64):
        expected = VANILLA_PARAMS + EMBD * m
        count = sum(_numel(p["shape"]) for p in _build(student, "GPT", m).named_parameters())
        if count < expected:
            fail(
                f"A perceiver GPT with bottleneck_dim={m} should have {expected:,} parameters, yours has {count:,} (is C a registered nn.Parameter?)"
            )
        if count > expected:
            feedback.note(
                f"Your perceiver GPT (bottleneck_dim={m}) has {count - expected:,} parameters more than expected ({expected:,}); unused extra modules?"
            )
            feedback.warn_staff(f"perceiver parameter count {count} > {expected} at m={m}")


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


@check(name="Vanilla GPT: parameters, logits and causality", number="3.1", points=0, tags=["part f"], timeout=90)
def vanilla_gpt(student: Student, seed: int) -> None:
    """The given vanilla GPT builds on CPU with 3,323,392 parameters, computes the given model's logits
    from the grader's weights, and is causal."""
    gpt = _build(student, "GPT", None, seed)
    count = sum(_numel(p["shape"]) for p in gpt.named_parameters())
    if count != VANILLA_PARAMS:
        fail(f"The vanilla GPT should have {VANILLA_PARAMS:,} parameters, yours has {count:,}.")
    shapes = {
        "tok_emb.weight": (VOCAB, EMBD),
        "pos_emb": (1, BLOCK, EMBD),
        "ln_f.weight": (EMBD,),
        "ln_f.bias": (EMBD,),
        "head.weight": (VOCAB, EMBD),
    }
    for i in range(4):
        shapes |= {f"blocks.{i}.{k}": v for k, v in formulations.handout_block_shapes(EMBD).items()}
    gains = ["ln_f.weight"] + [f"blocks.{i}.{g}" for i in range(4) for g in formulations.LN_GAINS]
    weights = load_trusted_weights(gpt, shapes, what="the given GPT", around_one=gains)
    x = _tokens(seed, 2, 48)
    diff = max_abs_diff(_logits(gpt(x), 2, 48), formulations.vanilla_logits(weights, x, 8))  # NaN: infinitely off
    if diff > 1e-4:
        fail(
            f"With the grader's weights loaded, the vanilla GPT's logits differ from the given model's by up to {diff:.3g}: model.py's GPT, Block or attention.py must stay as given."
        )
    leak = _causality(gpt, seed, 48, [0, 5, 11, 23, 30, 46])
    if leak:
        fail(f"The vanilla GPT is not causal: {leak}.")


@check(name="Perceiver: blocks compute an accepted formulation", number="2.7", points=0, tags=["part g"], timeout=90)
def accepted_formulation(student: Student, seed: int, feedback: Feedback) -> None:
    """With the grader's weights loaded, each block matches one accepted variant (residuals and LayerNorm
    on keys/values are free), for an input shorter and one longer than m."""
    m, n_head = 32, 8
    down = _build(student, "DownProjectBlock", m, seed)
    up = _build(student, "UpProjectBlock", m, seed)
    down_w = _load_handout(down, "DownProjectBlock", m, feedback)
    up_w = _load_handout(up, "UpProjectBlock", None, feedback)
    gen = torch.Generator().manual_seed(seed)
    for t in (m // 2, 48):
        x = torch.randn(2, t, EMBD, generator=gen)
        y = down(x)
        name, diff = formulations.closest(formulations.down_variants(down_w, x, n_head), y)
        if diff > 1e-4:
            fail(
                f"With the grader's weights loaded, DownProjectBlock's output for an input of length {t} matches "
                "none of the accepted formulations (cross-attention with ln1(C) as the query and the input as "
                "keys/values, then the MLP on ln2 of the attention result). "
                f"Closest: {name or 'none'} (max difference {diff:.3g}). This diagnostic is worth 0 points."
            )
        assert isinstance(y, torch.Tensor)
        name, diff = formulations.closest(formulations.up_variants(up_w, y, x, n_head), up(y, x))
        if diff > 1e-4:
            fail(
                f"With the grader's weights loaded, UpProjectBlock's output for an input of length {t} matches "
                "none of the accepted formulations (cross-attention with the input as the query and ln1(y) as "
                f"keys/values, then the MLP on ln2). Closest: {name or 'none'} (max difference {diff:.3g}). "
                "This diagnostic is worth 0 points."
            )


def _load_handout(block: Any, what: str, m: int | None, feedback: Feedback) -> dict[str, torch.Tensor]:
    """Load grader weights under the handout's Block names; 'Not graded' (never a pass) when it lacks them."""
    shapes = formulations.handout_block_shapes(EMBD, m)
    names = {p["name"] for p in block.named_parameters()}
    lacking = [n for n in shapes if n not in names]
    if lacking == ["C"] and _plain_basis(block, shapes["C"]):
        # C kept as a plain tensor attribute (2.1 fails for it): the block is still compared, with the grader's
        # C set as that attribute, so a second defect (the MLP on ln2(C)...) is named too (issue 21, class 6).
        rest = {n: s for n, s in shapes.items() if n != "C"}
        weights = load_trusted_weights(block, rest, what=what, around_one=formulations.LN_GAINS)
        basis = trusted_weights({"C": shapes["C"]})["C"]
        block.call_method("__setattr__", "C", basis)
        feedback.note(
            f"{what}.C is a plain tensor, not an nn.Parameter (see check 2.1); the grader set its own "
            "values as that attribute to compare the block's computation."
        )
        return {"C": basis, **weights}
    if lacking:
        feedback.warn_staff(
            f"{what} not compared with the accepted formulations: no {', '.join(lacking[:4])}; review by hand"
        )
        fail(
            f"Not graded: {what} has no parameter named {', '.join(lacking[:6])}, so the grader could not load "
            "its weights and compare the block with the accepted formulations. It uses the given Block's layout: "
            "C (an nn.Parameter) for the down block, ln1, ln2, attn (key, query, value, proj) and mlp "
            "(Linear, GELU, Linear, Dropout). This diagnostic is worth 0 points."
        )
    return load_trusted_weights(block, shapes, what=what, around_one=formulations.LN_GAINS)


def _plain_basis(block: Any, shape: tuple[int, ...]) -> bool:
    """Whether the block holds ``C`` as a plain tensor attribute of the handout's shape."""
    try:
        info = block.describe("C")
    except StudentCodeError:
        return False
    return (
        bool(info.get("is_tensor"))
        and not info.get("registered_parameter")
        and list(info.get("shape") or ()) == list(shape)
    )
