"""q1b offline: a tiny random Pix2Struct captioner, synthetic batches and our reference ``Trainer.train``.

The grader chooses every input here (docs/SECURITY.md, "The rule"): the initial weights are drawn in
this process, fresh for each grading (nonzero, fan-in scaled), and so are the batches. The student's
``Trainer`` needs a model object, so the model is built inside the sandbox from plain config data
(``Pix2StructConfig(text_config=..., vision_config=...)``, about 8 K parameters, dropout 0) and our
weights are loaded into it by parameter name (torch's own ``load_state_dict``); the reference loop runs
here on the same architecture from *those* weights. Nothing read back from the sandbox feeds the
expectation: the final weights and the recorded losses read back are the student's output under test.
Batches are sent as plain dicts of tensors, in the handout's format (``flattened_patches`` with the
patch row and column in the first two columns, ``attention_mask``, ``labels``); the loaders are
unshuffled ``DataLoader``s over those batches. The optimizer we hand the student is plain SGD: its
update is linear in the gradient, so a missing ``zero_grad`` (accumulated gradients) or a missing
``step`` shows as a clear difference in the weights, without Adam's normalisation amplifying rounding noise.
"""

from __future__ import annotations

import functools
import math
import secrets
from dataclasses import dataclass
from typing import Any

import torch

from grader.authoring import (
    RemoteObject,
    Student,
    StudentCodeError,
    expect_object,
    fail,
    fail_raised,
    load_weights,
    raised,
    trusted_weights,
)

PATCHES, PATCH_WIDTH, LABEL_LENGTH, BATCH, VOCAB = 16, 12, 20, 2, 40
LR = 0.5
CONFIG: dict[str, Any] = {
    "text_config": {
        "vocab_size": VOCAB,
        "hidden_size": 16,
        "d_kv": 8,
        "d_ff": 32,
        "num_layers": 1,
        "num_heads": 2,
        "dropout_rate": 0.0,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 16,
    },
    "vision_config": {
        "hidden_size": 16,
        "patch_embed_hidden_size": PATCH_WIDTH,
        "d_ff": 32,
        "d_kv": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "dropout_rate": 0.0,
        "attention_dropout": 0.0,
        "seq_len": PATCHES,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 16,
    },
}


def batches(count: int, seed: int | None = None) -> list[dict[str, torch.Tensor]]:
    """``count`` batches of 2 like the given ``my_collate``'s, fresh for each grading unless a seed is given;
    captions fill all 20 positions (no pad id 0), so masking pads to -100 (an accepted improvement) gives
    the same loss."""
    gen = torch.Generator().manual_seed(secrets.randbits(63) if seed is None else seed)
    out = []
    for _ in range(count):
        patches = torch.rand(BATCH, PATCHES, PATCH_WIDTH + 2, generator=gen)
        patches[:, :, 0] = torch.arange(PATCHES) // 4 + 1  # row of each patch (1-based, as the processor writes)
        patches[:, :, 1] = torch.arange(PATCHES) % 4 + 1  # column
        mask = torch.ones(BATCH, PATCHES)
        mask[1, -3:] = 0  # the second image has fewer patches
        patches[1, -3:] = 0
        labels = torch.randint(1, VOCAB, (BATCH, LABEL_LENGTH), generator=gen)
        out.append({"flattened_patches": patches, "attention_mask": mask, "labels": labels})
    return out


def _new_model() -> Any:
    """The tiny model on the trusted side (our own code only)."""
    from transformers import Pix2StructConfig, Pix2StructForConditionalGeneration

    return Pix2StructForConditionalGeneration(Pix2StructConfig(**CONFIG))


@functools.lru_cache(maxsize=1)
def _shapes() -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in _new_model().named_parameters()}


# At suite load, which a worker does once per process before its first job: the first model imports
# transformers' Pix2Struct modules, which no grading should pay. Shapes only, from our own config.
_shapes()


def initial_weights(seed: int | None = None) -> dict[str, torch.Tensor]:
    """Every parameter of the tiny model, drawn here: fresh per grading (unless seeded), nonzero, the
    RMS-norm gains around one, so no zero or default-initialised model can stand in for them."""
    shapes = _shapes()
    gains = [name for name in shapes if name.endswith(("layer_norm.weight", "layernorm.weight"))]
    return trusted_weights(shapes, seed=seed, around_one=gains)


@dataclass
class Run:
    """What one training run recorded (ours, or read back from the student's trainer)."""

    epoch_train_loss: list[float]
    epoch_val_loss: list[float]
    state: dict[str, torch.Tensor]


def reference(
    state: dict[str, torch.Tensor],
    train: list[dict[str, torch.Tensor]],
    valid: list[dict[str, torch.Tensor]],
    epochs: int,
    *,
    zero_grad: bool = True,
    step: bool = True,
) -> Run:
    """The handout's loop, run here from the grader's weights; ``zero_grad``/``step`` False give the known
    bugs, to name them."""
    model = _new_model()
    model.load_state_dict(state)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    train_means, val_means = [], []
    for _ in range(epochs):
        model.train()
        losses = []
        for batch in train:
            loss = model(**batch).loss
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            val = [float(model(**batch).loss) for batch in valid]
        train_means.append(sum(losses) / len(losses) if losses else float("nan"))
        val_means.append(sum(val) / len(val) if val else float("nan"))
    return Run(train_means, val_means, {k: v.detach().clone() for k, v in model.named_parameters()})


def max_difference(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    """The largest difference over ``want``'s parameters (infinite where ``got`` lacks one or its shape differs)."""
    worst = 0.0
    for name, expected in want.items():
        value = got.get(name)
        if not isinstance(value, torch.Tensor) or value.shape != expected.shape:
            return math.inf
        worst = max(worst, float((value.float() - expected.float()).abs().max()))
    return worst


@dataclass
class Setup:
    """The student's trainer on our tiny model, before ``train`` is called."""

    trainer: RemoteObject
    model: RemoteObject


def build(
    student: Student,
    weights: dict[str, torch.Tensor],
    train: list[dict[str, torch.Tensor]],
    valid: list[dict[str, torch.Tensor]],
) -> Setup:
    """``Trainer(model, train_loader, valid_loader, optimizer)`` from the notebook, on the tiny model that holds
    the grader's ``weights`` (loaded before the optimizer and the trainer see it, as pretrained weights are)."""
    try:
        q1b = student.module("q1b")
    except StudentCodeError as exc:
        fail(f"q1/q1b.ipynb could not be imported: {raised(exc)}")
    builtins = student.module("builtins")
    if not builtins.hasattr(q1b, "device"):
        # The handout's model cell computes ``device`` (not run by the grader); a loop may use the global.
        builtins.setattr(q1b, "device", "cpu")
    tf = student.module("transformers")
    model = tf.Pix2StructForConditionalGeneration(tf.Pix2StructConfig(**CONFIG))
    if not isinstance(model, RemoteObject):
        fail("The tiny Pix2StructForConditionalGeneration could not be built (did the notebook replace it?).")
    load_weights(model, weights, what="the tiny Pix2StructForConditionalGeneration")
    optimizer = student.module("torch.optim").SGD(model.call_method("parameters"), lr=LR)
    # DataLoaders over the fixed batches (no shuffling): like the handout's, each epoch yields fresh dicts,
    # so a loop that pops keys out of a batch still sees whole batches in the next epoch.
    loader = student.module("torch.utils.data").DataLoader
    train_loader, valid_loader = loader(train, batch_size=None), loader(valid, batch_size=None)
    try:
        trainer = q1b.Trainer(model, train_loader, valid_loader, optimizer)
    except StudentCodeError as exc:
        fail_raised("Trainer(model, train_loader, valid_loader, optimizer)", exc)
    return Setup(expect_object(trainer, "Trainer(model, train_loader, valid_loader, optimizer)"), model)


def parameters(student: Student, model: RemoteObject) -> dict[str, Any]:
    """The model's parameters by name, read with torch's own ``nn.Module.named_parameters`` (a ``state_dict``
    or ``named_parameters`` override in a class, or a state-dict hook, does not choose what comes back).

    Whatever comes back is only the student's output under test: the expectation is computed here from
    the grader's weights, so a read-back that is forged anyway can only match by being the right answer."""
    builtins = student.module("builtins")
    # getattr in the sandbox: ``.named_parameters`` here would be the proxy's own method, not torch's function.
    named = builtins.getattr(student.module("torch.nn").Module, "named_parameters")
    try:
        values = builtins.dict(named(model))
    except StudentCodeError as exc:
        fail_raised("Reading the model's parameters after train()", exc)
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        fail("The model's named parameters could not be read after train().")
    return {k: v for k, v in values.items() if isinstance(v, torch.Tensor)}


def train(student: Student, setup: Setup, epochs: int, setting: str) -> Run:
    """Call the student's ``train(epochs)`` and read back the epoch losses and the weights."""
    try:
        setup.trainer.call_method("train", epochs)
    except StudentCodeError as exc:
        hint = ""
        if "requires grad" in exc.exc_message:  # np.mean over tensors that still hold the graph
            hint = " Record the Python float of each loss (loss.item()), not the tensor."
        fail_raised(f"trainer.train({epochs}) ({setting})", exc, hint)
    lists = []
    for name in ("epoch_train_loss", "epoch_val_loss"):
        try:
            values = getattr(setup.trainer, name)
        except StudentCodeError:
            fail(f"After train(), self.{name} is not set (the given code appends the epoch means to it).")
        if not isinstance(values, list):
            fail(f"self.{name} should be a list of floats, one per epoch; got {type(values).__name__}.")
        if any(isinstance(v, torch.Tensor) for v in values):
            fail(f"self.{name} holds tensors: record the Python float of each loss (loss.item()), not the tensor.")
        if not all(isinstance(v, (int, float)) for v in values):
            fail(f"self.{name} should hold floats, one per epoch.")
        lists.append([float(v) for v in values])
    return Run(lists[0], lists[1], parameters(student, setup.model))


def grads(student: Student, model: RemoteObject) -> list[Any]:
    """``[p.grad for p in model.parameters()]``, in one round trip."""
    builtins, operator = student.module("builtins"), student.module("operator")
    return list(builtins.list(builtins.map(operator.attrgetter("grad"), model.call_method("parameters"))))


def forward_recorder(student: Student, model: RemoteObject) -> RemoteObject:
    """A forward hook that remembers every call's output (it returns None, so outputs are unchanged)."""
    hook = student.module("unittest.mock").Mock(return_value=None)
    assert isinstance(hook, RemoteObject)
    model.call_method("register_forward_hook", hook)
    return hook


def grad_tracked(student: Student, hook: RemoteObject) -> list[bool]:
    """For each recorded forward, whether its logits were tracked by autograd (False under ``no_grad``)."""
    builtins, operator, itertools = (student.module(m) for m in ("builtins", "operator", "itertools"))
    calls = itertools.chain.from_iterable(builtins.map(operator.attrgetter("call_args_list"), [hook]))
    outputs = builtins.map(operator.itemgetter(2), builtins.map(operator.itemgetter(0), calls))
    return [bool(v) for v in builtins.list(builtins.map(operator.attrgetter("logits.requires_grad"), outputs))]
