"""q2: the minimal BERT (``q2/bert.py``), the training step (``q2/classifier.py``) and ``q2/result.log``."""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from grader.authoring import Credit, Feedback, check, fail
from grader.sandbox.client import Student

from . import resultlog, training
from .bertlib import bodies

#: No official accuracy threshold; below this the TAs look at the run (shared code base: dev 0.515 ± 0.004).
REVIEW_DEV_ACC = 0.45


@check(name="q2(a) BertSelfAttention.attention", number="2.1", points=10, timeout=60, tags=["q2"])
def attention(student: Student, seed: int) -> None:
    """Masked scaled dot-product attention, argument order (key, query, value, mask), heads concatenated back."""
    bodies.attention(student, seed)


@check(name="q2(b) BertSelfAttention.forward", number="2.2", points=8, timeout=60, tags=["q2"])
def self_attention_forward(student: Student, seed: int) -> None:
    """Key/value/query through transform, then attention: equal to the reference in eval and seeded train mode."""
    bodies.self_attention_forward(student, seed)


@check(name="q2(c) BertLayer.add_norm", number="2.3", points=8, timeout=60, tags=["q2"])
def add_norm(student: Student, seed: int) -> None:
    """ln_layer(input + dropout(dense_layer(output))), checked with dropout active (its place matters)."""
    bodies.add_norm(student, seed)


@check(name="q2(d) BertLayer.forward and the whole model", number="2.4", points=8, timeout=60, tags=["q2"])
def layer_forward(student: Student, seed: int, feedback: Feedback) -> None:
    """The layer in eval and seeded train mode, then BertModel's outputs (the sanity check on a tiny random model)."""
    bodies.layer_forward(student, seed)
    bodies.full_model(student, seed, feedback)


LEARNING_RATE, LEARNING_EPOCHS = 1e-4, 4


@check(name="q2(e) the training step in classifier.py", number="2.5", points=8, timeout=180, tags=["q2"])
def training_step(student: Student, data: Path) -> None:
    """NLL loss of the log-probabilities, gradients zeroed every step, backward, optimizer step, loss.item() summed."""
    seen = training.run(student, data / "sst-sample.txt")
    if seen.steps[0] != training.EPOCHS:
        fail(
            f"The optimizer took {seen.steps[0]} step(s) for {training.EPOCHS} batches: call optimizer.step() once per batch, after loss.backward()."
        )
    b1 = seen.betas[0]
    g = seen.gradient
    scale = float(g.norm())
    if scale == 0:
        fail("The NLL loss of the sample batch has no gradient on the head; the grader cannot check the step.")

    def near(expected: torch.Tensor) -> bool:
        return float((seen.exp_avg - expected).norm()) <= 1e-3 * float(expected.norm())

    if near((1 - b1) * (b1 + 2) * g):
        fail(
            "The gradients accumulate across steps: zero them every step (optimizer.zero_grad()) before loss.backward()."
        )
    if near((1 - b1) * (b1 + 1) * g * training.BATCH):
        fail(
            "The loss is summed over the batch without dividing by the batch size (use sum / batch_size, or the mean)."
        )
    if not near((1 - b1) * (b1 + 1) * g):
        fail("The gradients the optimizer received are not those of the negative log-likelihood of the batch's "
             "log-probabilities (F.nll_loss(logits, labels), sum / batch_size or mean).")  # fmt: skip
    if len(seen.printed) != training.EPOCHS:
        fail(f"Expected {training.EPOCHS} 'Epoch ...: train loss :: ...' lines in this run, found {len(seen.printed)}.")
    if all(v == 0 for v in seen.printed):
        fail("The printed train loss is 0: add loss.item() to train_loss for every batch.")
    if any(abs(v - seen.loss) > 2e-3 for v in seen.printed):
        fail(
            f"The printed epoch train loss {seen.printed} is not the mean batch loss {seen.loss:.3f}: add loss.item() for every batch."
        )
    # The same run with a real learning rate, in a fresh sandbox (the first one's classifier module
    # holds its own result.log): training on one batch again and again must lower its loss.
    student.restart()
    learning = training.run(student, data / "sst-sample.txt", lr=LEARNING_RATE, epochs=LEARNING_EPOCHS)
    if len(learning.printed) != LEARNING_EPOCHS or not learning.printed[-1] < learning.printed[0]:
        fail(f"With --lr {LEARNING_RATE:g}, {LEARNING_EPOCHS} epochs on one batch of {training.BATCH} sentences printed train "
             f"losses {[round(v, 4) for v in learning.printed]}: the loss should fall. Does the step use the gradient "
             "of this batch's loss, and does the optimizer update the model's parameters?")  # fmt: skip


@check(name="q2(f) result.log of the SST run", number="2.6", points=8, timeout=30, tags=["q2"])
def result_log(files: Path, feedback: Feedback) -> Credit | None:
    """q2/result.log: args of a finetune run on SST, one line per epoch, step-loss lines per batch size, final dev = best dev, test acc present."""
    path = files / "q2" / "result.log"
    if not path.is_file():
        fail("q2/result.log is missing: submit the log of your SST run (sbatch run.sh writes it).")
    log = resultlog.parse(path.read_text(encoding="utf-8", errors="replace"))
    if not log.epochs and not log.args:
        fail("q2/result.log does not look like the output of classifier.py (no 'args:' and no 'Epoch' lines).")
    best = log.best_dev
    if best is not None:
        feedback.note(f"Reported accuracy: best dev {best:.3f}" + (f", test {log.final['test']:.3f}" if "test" in log.final else "") +
                      " (no official threshold; the shared code base's reference is dev 0.515, test 0.526).")  # fmt: skip
        if best < REVIEW_DEV_ACC:
            feedback.warn_staff(f"result.log: dev acc {best:.3f} < {REVIEW_DEV_ACC}: review the run")
    if log.problems:
        feedback.warn_staff("result.log problems: " + "; ".join(log.problems))
        return Credit(max(0.0, 1 - 0.25 * len(log.problems)), "q2/result.log: " + "; ".join(log.problems) + ".")
    return None


@check(name="q2: no transformers import (handout rule)", number="2.7", points=0, timeout=30, tags=["q2"])
def no_transformers(files: Path, feedback: Feedback) -> None:
    """The handout forbids external libraries such as transformers in q2; staff decide any deduction."""
    offenders = []
    for path in sorted((files / "q2").glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            if "transformers" in text:
                offenders.append(path.name)
            continue
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "transformers" or n.startswith("transformers.") for n in names):
                offenders.append(path.name)
    if offenders:
        feedback.warn_staff(f"q2 imports transformers in {sorted(set(offenders))}")
        fail(
            f"q2 must not use the transformers library (handout rule); it is imported in {', '.join(sorted(set(offenders)))}."
        )
