"""q1b: the dataset split and ``Trainer.train`` in ``q1/q1b.ipynb`` (imported as module ``q1b``), offline.

(d) the loss plot and (e) the written answer are in the PDF and graded by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from grader.authoring import Credit, Student, check, fail

from . import captioning as cap
from . import splitcell

EPOCHS = 2
#: Recorded losses and weights against ours: the same ops on the same CPU build, up to summation order.
LOSS_RTOL, WEIGHT_ATOL = 1e-4, 1e-4


@check(
    name="q1b(a) load the dataset and split it 90/10 into train_set and valid_set",
    number="1.6",
    points=4,
    timeout=120,
    tags=["q1b"],
)
def dataset_split(student: Student, files: Path) -> None:
    """The dataset cell run on a 100-row stand-in for load_dataset (captions drawn per grading): train_set 90 of its
    rows, valid_set the other 10."""
    rows = splitcell.fresh_captions()
    train_set, valid_set = splitcell.run(student, files, rows)
    train, valid = (
        splitcell.captions(student, train_set, "train_set"),
        splitcell.captions(student, valid_set, "valid_set"),
    )
    if len(valid) > len(train):
        fail(
            f"valid_set has {len(valid)} rows and train_set {len(train)}: are they swapped? train_set is the 90% part."
        )
    if len(set(train) | set(valid)) != len(train) + len(valid):
        fail("train_set and valid_set share rows (or repeat rows): split the dataset into disjoint parts.")
    if not set(train) | set(valid) <= set(rows):
        fail(
            f"train_set and valid_set hold rows that are not rows of the dataset load_dataset({splitcell.DATA_PATH!r}) "
            "returned: split the loaded dataset (e.g. train_test_split(test_size=0.1)), do not build rows."
        )
    if len(train) + len(valid) != len(rows) or abs(len(valid) - len(rows) // 10) > 1:
        fail(
            f"Of a {len(rows)}-row dataset, train_set has {len(train)} rows and valid_set {len(valid)}: "
            "keep 10% for validation (e.g. train_test_split(test_size=0.1)) and the other 90% for training."
        )


def _finite(values: list[float], name: str) -> None:
    if len(values) != EPOCHS:
        per_batch = " (one per batch? record the epoch mean)" if len(values) > EPOCHS else ""
        fail(f"After train({EPOCHS}), self.{name} has {len(values)} values{per_batch}; it should have one per epoch.")
    if not all(math.isfinite(v) for v in values):
        fail(f"self.{name} holds values that are not finite: {values}.")


def _shown(values: list[float]) -> str:
    """The student's own values, briefly (never ours: they would show what to print)."""
    return ", ".join(f"{v:.4g}" for v in values)


def _close(got: list[float], want: list[float]) -> bool:
    return all(math.isclose(g, w, rel_tol=LOSS_RTOL, abs_tol=1e-6) for g, w in zip(got, want, strict=True))


@check(
    name="q1b(b) Trainer.train: forward, zero_grad, backward, step; loss per batch",
    number="1.7",
    points=10,
    timeout=180,
    tags=["q1b"],
)
def training_part(student: Student) -> None:
    """train(2) on 2 batches (empty validation loader), from weights and batches the grader drew: the final weights
    equal our loop's from the same weights; epoch train losses are the means of each batch's loss before its update."""
    weights, train = cap.initial_weights(), cap.batches(2)
    setup = cap.build(student, weights, train, [])
    got = cap.train(student, setup, EPOCHS, "2 training batches, an empty validation loader")
    _finite(got.epoch_train_loss, "epoch_train_loss")
    want = cap.reference(weights, train, [], EPOCHS)
    if cap.max_difference(got.state, want.state) > WEIGHT_ATOL:
        if cap.max_difference(got.state, weights) == 0:
            fail(
                "The weights did not change during training: call self.optimizer.step() after loss.backward() for every batch."
            )
        accumulated = cap.reference(weights, train, [], EPOCHS, zero_grad=False)
        if cap.max_difference(got.state, accumulated.state) <= WEIGHT_ATOL:
            fail(
                "The gradients accumulate across batches: call self.optimizer.zero_grad() (or model.zero_grad()) every step."
            )
        fail(
            f"After train({EPOCHS}) on two batches, starting from weights the grader loaded into the model, the weights "
            "differ from one optimizer step per batch on that batch's loss (outputs.loss of the model called with "
            "flattened_patches, attention_mask and labels)."
        )
    if not _close(got.epoch_train_loss, want.epoch_train_loss):
        fail(
            f"The epoch train losses recorded ({_shown(got.epoch_train_loss)}) are not the means of the batch losses "
            "of this run: set train_loss to loss.item() of each batch (computed before the optimizer step)."
        )


@check(
    name="q1b(c) Trainer.train: validation loss per batch, no update, no gradients",
    number="1.8",
    points=6,
    timeout=180,
    tags=["q1b"],
)
def validation_part(student: Student) -> Credit | None:
    """train(2) on 2 validation batches (empty training loader, so q1b(b) cannot interfere), from weights and batches
    the grader drew: epoch val losses are the means of the eval losses; validation changes no weight and leaves no
    gradient; (soft) it runs under torch.no_grad()."""
    weights, valid = cap.initial_weights(), cap.batches(2)
    setup = cap.build(student, weights, [], valid)
    hook = cap.forward_recorder(student, setup.model)
    got = cap.train(student, setup, EPOCHS, "an empty training loader, 2 validation batches")
    _finite(got.epoch_val_loss, "epoch_val_loss")
    want = cap.reference(weights, [], valid, EPOCHS)
    if cap.max_difference(got.state, weights) > 0:
        fail("Validation changed the weights: no backward and no optimizer step on validation batches.")
    if any(isinstance(g, torch.Tensor) and bool(g.any()) for g in cap.grads(student, setup.model)):
        fail(
            "Validation left gradients on the weights (loss.backward() on a validation batch): validation only computes the loss."
        )
    if not _close(got.epoch_val_loss, want.epoch_val_loss):
        fail(
            f"The epoch validation losses recorded ({_shown(got.epoch_val_loss)}) are not the means of the model's "
            "losses on the validation batches: set val_loss to the float loss (loss.item()) of the model on each "
            "validation batch."
        )
    tracked = cap.grad_tracked(student, hook)
    if len(tracked) == EPOCHS * len(valid) and any(tracked):  # other forwards cannot be told apart: no deduction
        return Credit(
            5 / 6,
            "Validation builds the autograd graph: wrap the validation forward in `with torch.no_grad():` (small deduction).",
        )
    return None
