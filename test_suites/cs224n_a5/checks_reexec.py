"""Parts (f), (g): re-run the submitted finetuned params and compare with the submitted test predictions.

The student's own ``evaluate`` command of ``src/run.py`` runs in the sandbox with their params file,
on the public, label-free test questions (``birth_test_inputs.tsv``), so their decoding quirks are
reproduced exactly (spec §7.10); ``torch.load`` is mapped to the CPU where there is no GPU, and the
perceiver's bottleneck comes from ``down_block.C``'s shape. The labels never enter the sandbox: the
comparison is between two predictions files. To keep grading cheap on CPU only a fixed sample of
``reexec_max_inputs`` questions is decoded (the same sample for every submission, in file order).
A low agreement (below ``reexec_agreement_pct``) means the predictions were not produced by the
submitted params: the check fails (0 points) and the submission is flagged for the TAs.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import torch

from grader.authoring import Feedback, StudentCodeError, check, fail
from grader.sandbox.client import Student

from . import predictions
from .checks_outputs import missing_artifact
from .staging import STUBS, line_count, stage

INPUTS = "grader.test_inputs.tsv"
OUTPUTS = "grader.reexec.predictions"
SAMPLE_SEED = 20230224  # fixed: the same questions for every submission


def sample_indices(total: int, cap: int) -> list[int]:
    """A deterministic sample of ``min(total, cap)`` question indices, in file order."""
    if cap <= 0 or cap >= total:
        return list(range(total))
    return sorted(random.Random(SAMPLE_SEED).sample(range(total), cap))


def _load_params(student: Student, path: str, name: str) -> dict[str, torch.Tensor]:
    """Load the params file inside the sandbox (never unpickled here) and return its tensors."""
    try:
        state = student.module("torch").load(path, map_location="cpu")
    except StudentCodeError as exc:
        fail(f"{name} cannot be loaded with torch.load: {exc.exc_type}: {exc.exc_message[:300]}")
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        fail(f"{name} is not a state dict (a mapping of parameter names to tensors): save model.state_dict().")
    return state


def _prepare_params(
    student: Student, files: Path, name: str, perceiver: bool, feedback: Feedback
) -> tuple[str, int | None]:
    """Copy the submitted params into the work copy under the grader's name; normalise a DataParallel
    prefix; return the path and the perceiver's bottleneck (m of down_block.C)."""
    path = f"grader.{name}"
    student.write_file(path, (files / name).read_bytes())
    state = _load_params(student, path, name)
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        student.write_file(path, buffer.getvalue())
        feedback.note(
            f"{name} was saved from the DataParallel wrapper (keys start with 'module.'); the grader removed the prefix to re-run it. Save model.state_dict() of the unwrapped model."
        )
        feedback.warn_staff(f"{name}: 'module.' key prefix normalised")
    if not perceiver:
        return path, None
    basis = state.get("down_block.C")
    if basis is None:
        fail(f"{name} has no down_block.C: the perceiver's basis C was not a registered nn.Parameter when you trained "
             "(so it was neither trained nor saved), and the submitted model cannot be re-run.")  # fmt: skip
    if basis.dim() != 3:
        fail(f"{name}: down_block.C has shape {tuple(basis.shape)}, expected (1, bottleneck_dim, n_embd).")
    return path, int(basis.shape[1])


def reexecute(variant: str, params: str, preds_name: str, check_no: str, student: Student, files: Path, data: Path,
              config: dict[str, Any], feedback: Feedback) -> None:  # fmt: skip
    """Decode the sampled test questions with the submitted params and compare with the submitted file."""
    for name in (params, preds_name):
        if not (files / name).is_file():
            fail(missing_artifact(name, files, "the re-execution needs the submitted params and test predictions"))
    questions = predictions.question_lines(data / "birth_test_inputs.tsv")
    expected = line_count(data, "birth_test_inputs.tsv")
    parsed = predictions.parse(
        (files / preds_name).read_bytes(), preds_name, expected, "test", (line_count(data, "birth_dev.tsv"), "dev")
    )
    if parsed.lines is None or parsed.problem:
        fail(
            f"Cannot compare the re-run with {preds_name}, which is not well formed (see check {check_no}): {parsed.problem}"
        )
    submitted = parsed.lines
    chosen = sample_indices(len(questions), int(config.get("reexec_max_inputs", 0)))
    path, dim = _prepare_params(student, files, params, variant == "perceiver", feedback)
    stage(student, data, ("wiki.txt",))
    student.write_file(INPUTS, "".join(questions[i] for i in chosen))
    argv = ["evaluate", variant, "wiki.txt"] + (["--bottleneck_dim", str(dim)] if dim else [])
    argv += ["--reading_params_path", path, "--eval_corpus_path", INPUTS, "--outputs_path", OUTPUTS]
    shown = "python src/run.py " + " ".join(argv)
    run = student.run_script("src/run.py", argv, stub_modules=STUBS, cpu_torch_load=True)
    if run.failed:
        fail(f"Re-running your {params} with `{shown}` failed: {run.describe_failure()}")
    raw = student.read_file(OUTPUTS)
    if raw is None:
        fail(f"`{shown}` wrote no predictions file (--outputs_path {OUTPUTS}).")
    rerun = predictions.parse(raw, OUTPUTS, len(chosen), "sampled test")
    if rerun.lines is None or rerun.problem:
        fail(f"The re-run of {params} did not produce one prediction per question: {rerun.problem}")
    agree = sum(rerun.lines[j].strip() == submitted[i].strip() for j, i in enumerate(chosen))
    sample = f"{len(chosen)} of the {len(questions)} test questions" + (
        " (a fixed sample, to keep grading cheap on CPU)" if len(chosen) < len(questions) else ""
    )
    pct = float(config.get("reexec_agreement_pct", 95))
    summary = (
        f"Re-running your {params} on {sample} reproduced {agree}/{len(chosen)} of the predictions in {preds_name}"
    )
    if not predictions.Score(agree, len(chosen)).reaches(pct):
        feedback.warn_staff(
            f"{preds_name}: only {agree}/{len(chosen)} predictions reproduced by {params}; flagged for review"
        )
        fail(f"{summary}, below the {pct:g} % expected: the submitted predictions do not come from the submitted params. "
             "This submission is flagged for the TAs.")  # fmt: skip
    feedback.note(summary + ".")


@check(name="Re-execution: vanilla.finetune.params reproduces vanilla.pretrain.test.predictions", number="7.1", points=0,
       tags=["part f"], timeout=600)  # fmt: skip
def reexec_vanilla(student: Student, files: Path, data: Path, config: dict[str, Any], feedback: Feedback) -> None:
    """The submitted vanilla params, decoded by the submitted run.py, agree with the submitted test predictions."""
    reexecute(
        "vanilla",
        "vanilla.finetune.params",
        "vanilla.pretrain.test.predictions",
        "4.4",
        student,
        files,
        data,
        config,
        feedback,
    )


@check(name="Re-execution: perceiver.finetune.params reproduces perceiver.pretrain.test.predictions", number="7.2",
       points=0, tags=["part g"], timeout=600)  # fmt: skip
def reexec_perceiver(student: Student, files: Path, data: Path, config: dict[str, Any], feedback: Feedback) -> None:
    """The submitted perceiver params, decoded by the submitted run.py, agree with the submitted test predictions."""
    reexecute(
        "perceiver",
        "perceiver.finetune.params",
        "perceiver.pretrain.test.predictions",
        "4.6",
        student,
        files,
        data,
        config,
        feedback,
    )
