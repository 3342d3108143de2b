"""Part 4: the submitted prediction files (form per edition; accuracies reported for the TAs' grade band)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grader.authoring import Credit, Feedback, check, fail

from .outputs import Parsed, read_outputs

#: Reference accuracies of the handout (10 seeds): what "comparable to the reference" (grade A) means.
REFERENCE = {"sst-dev": (0.391, 0.515), "sst-test": (0.403, 0.526), "cfimdb-dev": (None, 0.966)}
#: SST has 5 classes and its gold labels are public: no BERT-base model comes near this accuracy (the
#: reference is 0.52), a copy of the gold file does. Such a file is not credited (and is flagged).
IMPLAUSIBLE = {"sst-dev": 0.8, "sst-test": 0.8}


@check(name="Prediction files: present, complete and well-formed", number="4.1", points=10, timeout=30)
def prediction_files(files: Path, data: Path, feedback: Feedback) -> Credit | None:
    """SST dev/test and CFIMDB dev/test outputs in one edition's format; accuracies against the gold labels are reported."""
    parsed = [_provenance(p, feedback) for p in read_outputs(files, data)]
    moved = [f"{p.source} as {p.name}" for p in parsed if p.source]
    if moved:
        feedback.note(
            "Note: read " + "; ".join(moved) + ". The handout's submission has these files at the top "
            "level under those names (prepare_submit.py checks it): move or rename them."
        )
        feedback.warn_staff("prediction files read from other places or names: " + "; ".join(moved))
    good = [p for p in parsed if not p.problem]
    editions = {p.edition for p in good}
    if len(editions) > 1:
        feedback.note(f"Note: the output files mix the formats of several editions ({', '.join(sorted(editions))}).")
    scores = []
    for p in good:
        if p.accuracy is None:
            continue
        key = p.name.removesuffix("-output.txt").removesuffix("-output.csv")
        pretrain, finetune = REFERENCE[key]
        scores.append(f"{key} {p.accuracy:.3f}")
        if p.accuracy < finetune - 0.05 and (pretrain is None or p.accuracy < pretrain - 0.05):
            feedback.warn_staff(
                f"{key} accuracy {p.accuracy:.3f} is well below the handout's reference "
                f"(pretrain {pretrain}, finetune {finetune}); grade band A needs comparable accuracy"
            )
    if scores:
        feedback.note(
            "Accuracy against the gold labels: "
            + ", ".join(scores)
            + " (reference finetune: SST dev 0.515, test 0.526, CFIMDB dev 0.966)."
        )
    problems = [p.problem for p in parsed if p.problem]
    if not good:
        fail("No usable prediction file: " + "; ".join(problems))
    if problems:
        return Credit(len(good) / len(parsed), "; ".join(problems))
    return None


def _provenance(p: Parsed, feedback: Feedback) -> Parsed:
    """The files cannot be traced to a model (no weights are submitted): a copy of the public gold labels is
    not credited; one label for every sentence is flagged for the TAs (a collapsed model also does that)."""
    key = p.name.removesuffix("-output.txt").removesuffix("-output.csv")
    if p.accuracy is not None and p.accuracy >= IMPLAUSIBLE.get(key, 2.0):
        feedback.flag(f"{p.name}: accuracy {p.accuracy:.3f} against the public gold labels (a copy of them?)")
        return dataclasses.replace(
            p,
            problem=f"{p.name} agrees with the gold labels far beyond what a model "
            "reaches on this data set: the predictions must be your model's",
        )
    if not p.problem and len(p.labels) == 1:
        feedback.flag(f"{p.name}: every prediction is label {next(iter(p.labels))}")
    return p
