"""Parts (d), (f), (g): the six predictions files, scored against the dev and the hidden test labels.

Points (33 in all with part e's 10): (d) 1 + 1 for the two no-pretraining files (present and well
formed; no threshold) and 3 for the London baseline (checks_london.py); (f) 5 + 5 for the pretrained
vanilla model's dev ≥ 10 % and test ≥ 9 %; (g) 8 for the Perceiver's test ≥ 5 % (the handout's
autograded 8 points; its dev ≥ 6 % is reported, worth 0). Thresholds come from the manifest.
Everything here runs in the trusted process: no student code, and the test labels never leave it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.authoring import Feedback, check, fail

from . import predictions
from .staging import HIDDEN_LABELS, line_count

#: split -> (gold file, the other split)
SPLITS = {"dev": ("birth_dev.tsv", "test"), "test": (HIDDEN_LABELS, "dev")}


def missing_artifact(name: str, files: Path, how: str) -> str:
    """The message for a required output file the submission lacks, naming the files that could be it."""
    others = predictions.locate(files, name).others
    if len(others) > 1 and all(Path(o).name.lower().startswith(name.lower()) for o in others):
        found = (
            f" Several copies were found ({', '.join(others)}): put the one to grade at the top level "
            f"under the name {name}."
        )
    elif others:
        found = (
            f" Similar files were found ({', '.join(others)}), not graded in its place: if one of them holds "
            f"these outputs, put it at the top level under the name {name}."
        )
    else:  # e.g. the dev predictions saved under the test name
        instead = sorted(p.name for p in files.glob("*.predictions") if p.name != name)
        found = f" Predictions files found instead: {', '.join(instead)}." if instead else ""
    return f"Not graded: needs the file {name}, which your submission lacks ({how}).{found}"


def grade_file(
    name: str,
    split: str,
    threshold_key: str | None,
    files: Path,
    data: Path,
    config: dict[str, Any],
    feedback: Feedback,
) -> None:
    """Parse ``name`` strictly, then compare it with the gold places of ``split`` (threshold from config)."""
    where = predictions.locate(files, name)
    if where.path is None:
        fail(missing_artifact(name, files, "written by `python src/run.py evaluate ... --outputs_path " + name + "`"))
    if where.note:
        feedback.note(where.note)
    path = files / where.path
    gold_file, other = SPLITS[split]
    expected = line_count(data, gold_file)
    other_expected = line_count(data, SPLITS[other][0])
    parsed = predictions.parse(path.read_bytes(), name, expected, split, (other_expected, other))
    for note in parsed.notes:
        feedback.note(note)
    if parsed.lines is None or parsed.problem:
        fail(parsed.problem)
    lines = parsed.lines
    if split == "test":  # all a student sees of it before the due date (the labels decide the rest)
        feedback.well_formed(f"{name}: received, well formed: {len(lines)} predictions, one per test question.")
    result = predictions.score(lines, predictions.gold_places(data / gold_file))
    constant = predictions.constant_note(lines, name)
    if constant:
        feedback.note(constant)
        feedback.warn_staff(f"{name}: constant predictions")
    if threshold_key is None:
        feedback.note(f"{split.capitalize()} accuracy of {name}: {result} (no threshold for this file).")
        return
    pct = float(config[threshold_key])
    if not result.reaches(pct):
        fail(
            f"{split.capitalize()} accuracy of {name}: {result}, below the required {pct:g} %."
            + predictions.free_text_hint(lines)
        )
    feedback.note(f"{split.capitalize()} accuracy of {name}: {result} (required: {pct:g} %).")


def _predictions_check(
    number: str, name: str, split: str, threshold: str | None, points: float, part: str
) -> Callable[..., None]:
    title = f"Predictions {name}: " + (
        f"{split} accuracy above the threshold" if threshold else "present and well formed"
    )

    @check(name=title, number=number, points=points, tags=[f"part {part}"], timeout=30)
    def predictions_file(files: Path, data: Path, config: dict[str, Any], feedback: Feedback) -> None:
        grade_file(name, split, threshold, files, data, config, feedback)

    predictions_file.__doc__ = f"{name}: one prediction per {split} question, UTF-8, no header; " + (
        f"exact-match accuracy ≥ the manifest's {threshold}." if threshold else "accuracy reported, no threshold."
    )
    return predictions_file


nopretrain_dev = _predictions_check("4.1", "vanilla.nopretrain.dev.predictions", "dev", None, 1, "d")
nopretrain_test = _predictions_check("4.2", "vanilla.nopretrain.test.predictions", "test", None, 1, "d")
vanilla_dev = _predictions_check("4.3", "vanilla.pretrain.dev.predictions", "dev", "vanilla_pretrain_dev_pct", 5, "f")
vanilla_test = _predictions_check(
    "4.4", "vanilla.pretrain.test.predictions", "test", "vanilla_pretrain_test_pct", 5, "f"
)
perceiver_dev = _predictions_check(
    "4.5", "perceiver.pretrain.dev.predictions", "dev", "perceiver_pretrain_dev_pct", 0, "g"
)
perceiver_test = _predictions_check(
    "4.6", "perceiver.pretrain.test.predictions", "test", "perceiver_pretrain_test_pct", 8, "g"
)
