"""q2: the minimal BERT (``q2/bert.py``), the training step (``q2/classifier.py``) and ``q2/result.log``."""

from __future__ import annotations

import ast
from pathlib import Path

from grader.authoring import Credit, Feedback, Student, StudentCodeError, check, fail, raised

from . import resultlog, training
from .bertlib import bodies
from .bertlib.probes import patch

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


#: Epochs of the controlled runs: the training step's (one batch each, so one step per epoch) and the
#: re-run that stands for result.log (train then test, three epochs so that a best epoch is chosen).
STEP_EPOCHS, RERUN_EPOCHS = 2, 3


@check(name="q2(e) the training step in classifier.py", number="2.5", points=8, timeout=180, tags=["q2"])
def training_step(student: Student, data: Path) -> None:
    """From weights and labels the grader chose: NLL of the log-probabilities (sum / batch_size or mean), gradients
    zeroed every step, backward, optimizer step, loss.item() summed; the head and the printed losses equal our replay."""
    run, want = training.prepare(student, data / "sst-sample.txt", layers=1, steps=STEP_EPOCHS)
    patch(student, run.classifier, "save_model", None)  # nothing to save to disk in this run
    training.train(student, run, STEP_EPOCHS)
    got = training.head_after(run)
    ran = f"{STEP_EPOCHS} epochs of one batch of {training.BATCH} sentences (weights and labels the grader chose)"
    if not training.same_head(got, want.heads[-1]):
        if training.same_head(got, want.heads[0]):
            fail(
                f"After {ran}, the classifier head's weights are unchanged: call optimizer.step() once per batch, "
                "after loss.backward()."
            )
        accumulated = training.replay(run.head, run.pooled, run.labels, run.lr, STEP_EPOCHS, accumulate=True)
        if training.same_head(got, accumulated.heads[-1]):
            fail(
                f"After {ran}, the head's weights show that the gradients accumulate across steps: zero them every "
                "step (optimizer.zero_grad()) before loss.backward()."
            )
        fail(
            f"After {ran}, the classifier head's weights are not those of AdamW steps on the gradient of the batch's "
            "negative log-likelihood (F.nll_loss(logits, labels), sum / batch_size or mean; one step per batch)."
        )
    printed = training.printed_losses(training.read(student, f"{run.tmp}/result.log"))
    if len(printed) != STEP_EPOCHS:
        fail(f"Expected {STEP_EPOCHS} 'Epoch ...: train loss :: ...' lines in this run, found {len(printed)}.")
    if all(v == 0 for v in printed):
        fail("The printed train loss is 0: add loss.item() to train_loss for every batch.")
    if all(abs(v - training.BATCH * w) <= training.BATCH * 6e-4 for v, w in zip(printed, want.losses, strict=False)):
        fail(
            "The printed losses are the batch's summed NLL: divide by the batch size (use sum / batch_size, or the mean)."
        )
    if not all(abs(v - w) <= 6e-4 for v, w in zip(printed, want.losses, strict=False)):
        fail(
            f"The printed epoch train losses {printed} are not the mean of each epoch's batch losses (the batch's NLL "
            "before its step): add loss.item() for every batch."
        )


def _rerun(student: Student, sample: Path) -> list[str]:
    """The handout's run (train, then test) of the submitted classifier.py, controlled; where its log differs."""
    # A fresh import of classifier.py opens its own result.log (in the run's folder): forget the module q2(e)
    # imported (and patched). Not a new sandbox: that would import torch and the suite's preload again (seconds),
    # and one whose q2(e) failed is already a new sandbox (the runner restarts after a failed check).
    builtins, operator = student.module("builtins"), student.module("operator")
    builtins.list(
        builtins.map(
            operator.methodcaller("pop", "classifier", None),
            builtins.map(operator.attrgetter("modules"), [student.module("sys")]),
        )
    )
    run, want = training.prepare(student, sample, layers=0, steps=RERUN_EPOCHS)
    args = training.train(student, run, RERUN_EPOCHS)
    if not training.same_head(training.head_after(run), want.heads[-1]):
        return ["the trained head is not that of the handout's training step"]
    try:
        run.classifier.test(args)
    except StudentCodeError as exc:
        return [f"classifier.test(args) raised {raised(exc)}"]
    devs = [training.accuracy(run.dev, c) for c in want.classes]
    best = max(range(1, RERUN_EPOCHS + 1), key=lambda k: (devs[k], -k))
    expected = resultlog.ExpectedRun(
        epochs=[
            (want.losses[k - 1], training.accuracy(run.labels, want.classes[k]), devs[k])
            for k in range(1, RERUN_EPOCHS + 1)
        ],
        steps=want.losses[:RERUN_EPOCHS],
        final={"dev": devs[best], "test": training.accuracy(run.test, want.classes[best])},
    )
    return resultlog.mismatches(training.read(student, f"{run.tmp}/result.log"), expected)


@check(name="q2(f) result.log of the SST run", number="2.6", points=8, timeout=180, tags=["q2"])
def result_log(student: Student, files: Path, data: Path, feedback: Feedback) -> Credit | None:
    """The submitted q2/result.log has the handout's form (finetune on SST, an Epoch line per epoch, step-loss lines per
    batch size, final dev = best dev, test acc); its figures cannot be reproduced offline, so the points rest on a
    controlled re-run of the submitted classifier.py whose own result.log must equal the grader's replay."""
    path = files / "q2" / "result.log"
    if not path.is_file():
        fail("q2/result.log is missing: submit the log of your SST run (sbatch run.sh writes it).")
    log = resultlog.parse(path.read_text(encoding="utf-8", errors="replace"))
    if not log.epochs and not log.args:
        fail("q2/result.log does not look like the output of classifier.py (no 'args:' and no 'Epoch' lines).")
    differences = _rerun(student, data / "sst-sample.txt")
    if differences:
        feedback.flag("result.log: the controlled re-run of classifier.py does not reproduce the grader's run")
        fail(
            "Your SST run's figures cannot be reproduced here (no pretrained weights, no GPU), so q2(f) is credited "
            f"when your classifier.py, run by the grader ({RERUN_EPOCHS} epochs of train then test on a few sentences "
            "with weights the grader chose), writes the result.log of that run. It did not: "
            + "; ".join(differences[:3])
            + "."
        )
    best = log.best_dev
    if best is not None:
        feedback.note(
            f"Reported accuracy: best dev {best:.3f}"
            + (f", test {log.final['test']:.3f}" if "test" in log.final else "")
            + " (your run's figures: they cannot be reproduced here; no official threshold; the shared code base's "
            "reference is dev 0.515, test 0.526)."
        )
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
