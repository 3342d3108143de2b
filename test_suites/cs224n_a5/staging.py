"""What the checks that run the student's scripts put into the sandbox: public, label-free data only.

The spec (§2) says the grader ignores the data copies in a submission and uses its own pristine files.
These checks write them into the sandbox's work copy, over the student's copies. Only the files in
``PUBLIC`` ever go in; the held-out test labels (``birth_test.tsv``) stay in this trusted process.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from grader.authoring import Student

#: The handout's public data files, as the student has them; nothing else of data/ enters a sandbox.
PUBLIC = ("wiki.txt", "birth_places_train.tsv", "birth_dev.tsv", "birth_test_inputs.tsv")
HIDDEN_LABELS = "birth_test.tsv"
#: run.py imports a TensorBoard SummaryWriter; without the package a no-op stand-in is used.
STUBS = ["torch.utils.tensorboard"]
BLOCK_SIZE = 128


def public_bytes(data: Path, name: str) -> bytes:
    """A public data file's bytes; refuses anything outside ``PUBLIC`` (the labels above all)."""
    if name not in PUBLIC:
        raise ValueError(f"{name} is not a public file and must never be given to a sandbox")
    return (data / name).read_bytes()


def stage(
    student: Student, data: Path, names: tuple[str, ...] = PUBLIC, overrides: dict[str, bytes] | None = None
) -> None:
    """Write the pristine public files ``names`` into the work copy; ``overrides`` replaces contents by
    file name (a shadow dev file, a smaller corpus), still under a public name."""
    overrides = overrides or {}
    for name in names:
        student.write_file(name, overrides[name] if name in overrides else public_bytes(data, name))


def line_count(data: Path, name: str) -> int:
    """Number of lines of a data file (dev: 500, test: 437 in the real suite)."""
    return len((data / name).read_text(encoding="utf-8").splitlines())


def wiring_corpus(data: Path, config: dict[str, Any], rng: random.Random | None = None) -> str:
    """The pretraining corpus given to run.py for the wiring checks: the first ``wiring_corpus_lines``
    lines of wiki.txt (all of it when unset), so that a hard-coded ``final_tokens`` for the full wiki
    cannot match ``200 · len(pretrain_dataset) · 128``. With ``rng``, up to a tenth fewer lines, drawn
    per grading, so that no hard-coded value for this corpus can match either."""
    text = (data / "wiki.txt").read_text(encoding="utf-8")
    keep = int(config.get("wiring_corpus_lines", 0))
    lines = text.split("\n")
    if 0 < keep < len(lines) - 1:
        if rng is not None:
            keep -= rng.randint(0, keep // 10)
        return "\n".join(lines[:keep]) + "\n"
    return text


def documents(corpus: str) -> int:
    """``len(CharCorruptionDataset(corpus, ...))`` of the given constructor: the number of '\\n'-split parts."""
    return len(corpus.split("\n"))


def vocab_size(corpus: str) -> int:
    """PAD and MASK, then the corpus's distinct characters (spec §4)."""
    return len(set(corpus)) + 2
