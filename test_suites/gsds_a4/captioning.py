"""q1b offline: a tiny random Pix2Struct captioner, synthetic batches and our reference ``Trainer.train``.

The student's ``Trainer`` needs a model object, so the model is built inside the sandbox from plain
config data (``Pix2StructConfig(text_config=..., vision_config=...)``, about 8 K parameters, dropout
0) and its initial weights come back here, where the same model is rebuilt to run the reference loop.
Batches are made here and sent as plain dicts of tensors, in the handout's format (``flattened_patches``
with the patch row and column in the first two columns, ``attention_mask``, ``labels``); the loaders
are unshuffled ``DataLoader``s over those batches. The optimizer we hand the student is plain SGD: its update is
linear in the gradient, so a missing ``zero_grad`` (accumulated gradients) or a missing ``step`` shows
as a clear difference in the weights, without Adam's normalisation amplifying rounding noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from grader.authoring import StudentCodeError, fail
from grader.sandbox.client import RemoteObject, Student

PATCHES, PATCH_WIDTH, LABEL_LENGTH, BATCH, VOCAB = 16, 12, 20, 2, 40
LR = 0.5
CONFIG: dict[str, Any] = {
    "text_config": {"vocab_size": VOCAB, "hidden_size": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2,
                    "dropout_rate": 0.0, "relative_attention_num_buckets": 8, "relative_attention_max_distance": 16},
    "vision_config": {"hidden_size": 16, "patch_embed_hidden_size": PATCH_WIDTH, "d_ff": 32, "d_kv": 8,
                      "num_hidden_layers": 1, "num_attention_heads": 2, "dropout_rate": 0.0, "attention_dropout": 0.0,
                      "seq_len": PATCHES, "relative_attention_num_buckets": 8, "relative_attention_max_distance": 16},
}  # fmt: skip


def batches(seed: int, count: int) -> list[dict[str, torch.Tensor]]:
    """``count`` batches of 2 like the given ``my_collate``'s; captions fill all 20 positions (no pad id 0),
    so masking pads to -100 (an accepted improvement) gives the same loss."""
    gen = torch.Generator().manual_seed(seed)
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


@dataclass
class Run:
    """What one training run recorded (ours, or read back from the student's trainer)."""

    epoch_train_loss: list[float]
    epoch_val_loss: list[float]
    state: dict[str, torch.Tensor]
    grads: list[torch.Tensor | None] = field(default_factory=list)


def reference(
    state: dict[str, torch.Tensor],
    train: list[dict[str, torch.Tensor]],
    valid: list[dict[str, torch.Tensor]],
    epochs: int,
    *,
    zero_grad: bool = True,
    step: bool = True,
) -> Run:
    """The handout's loop, run here; ``zero_grad``/``step`` False give the known bugs, to name them."""
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
    grads = [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]
    return Run(train_means, val_means, {k: v.detach().clone() for k, v in model.state_dict().items()}, grads)


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in b)


@dataclass
class Setup:
    """The student's trainer on our tiny model, before ``train`` is called."""

    trainer: RemoteObject
    model: RemoteObject
    initial: dict[str, torch.Tensor]


def build(
    student: Student, seed: int, train: list[dict[str, torch.Tensor]], valid: list[dict[str, torch.Tensor]]
) -> Setup:
    """``Trainer(model, train_loader, valid_loader, optimizer)`` from the notebook, on the tiny model."""
    try:
        q1b = student.module("q1b")
    except StudentCodeError as exc:
        fail(f"q1/q1b.ipynb could not be imported: {exc.exc_type}: {exc.exc_message}")
    builtins = student.module("builtins")
    if not builtins.hasattr(q1b, "device"):
        # The handout's model cell computes ``device`` (not run by the grader); a loop may use the global.
        builtins.setattr(q1b, "device", "cpu")
    tf = student.module("transformers")
    student.seed(seed)
    model = tf.Pix2StructForConditionalGeneration(tf.Pix2StructConfig(**CONFIG))
    if not isinstance(model, RemoteObject):
        raise RuntimeError("the tiny Pix2Struct model did not stay in the sandbox")
    initial = model.state_dict()
    optimizer = student.module("torch.optim").SGD(model.call_method("parameters"), lr=LR)
    # DataLoaders over the fixed batches (no shuffling): like the handout's, each epoch yields fresh dicts,
    # so a loop that pops keys out of a batch still sees whole batches in the next epoch.
    loader = student.module("torch.utils.data").DataLoader
    train_loader, valid_loader = loader(train, batch_size=None), loader(valid, batch_size=None)
    try:
        trainer = q1b.Trainer(model, train_loader, valid_loader, optimizer)
    except StudentCodeError as exc:
        fail(f"Trainer(model, train_loader, valid_loader, optimizer) raised {exc.exc_type}: {exc.exc_message}")
    if not isinstance(trainer, RemoteObject):
        fail("Trainer(model, train_loader, valid_loader, optimizer) did not return an object.")
    return Setup(trainer, model, initial)


def train(setup: Setup, epochs: int, setting: str) -> Run:
    """Call the student's ``train(epochs)`` and read back the epoch losses and the weights."""
    try:
        setup.trainer.call_method("train", epochs)
    except StudentCodeError as exc:
        hint = ""
        if "requires grad" in exc.exc_message:  # np.mean over tensors that still hold the graph
            hint = " Record the Python float of each loss (loss.item()), not the tensor."
        fail(f"trainer.train({epochs}) ({setting}) raised {exc.exc_type}: {exc.exc_message}{hint}")
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
    return Run(lists[0], lists[1], setup.model.state_dict())


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
