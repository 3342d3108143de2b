"""Which minbert handout a submission follows (2021/2022 or Fall 2023), from the spec's signals.

The spec (appendix A) names three signals: the frozen option's name (``pretrain`` in 2021/2022,
``freeze`` in Fall 2023), the output files' format (``.txt`` vs ``.csv``) and the attention-dropout
attribute. The option name decides: it is what the given ``classifier.py`` compares ``config.option``
with, so grading the other edition's name would judge the given code, not the student's. The output
format breaks a tie. Everything is read from the submitted files in the trusted process.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Edition:
    """The handout a submission is graded by, and why (the signal, for messages)."""

    name: str  # "2021/2022" or "Fall 2023"
    frozen_option: str  # the --option value that freezes BERT
    #: Fall 2023's given head reads its dropout probability from ``self.bert.config``.
    head_dropout_from_bert: bool
    signal: str


OLD = ("2021/2022", "pretrain", False)
FALL_2023 = ("Fall 2023", "freeze", True)


def _string_constants(path: Path) -> set[str]:
    """Every string literal of a Python file (comments and docstrings of other words do not count)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set()
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def detect(files: Path) -> Edition:
    """The edition of the submission in ``files`` (2021/2022 when no signal says otherwise)."""
    strings = _string_constants(files / "classifier.py")
    freeze, pretrain = "freeze" in strings, "pretrain" in strings
    if freeze != pretrain:
        edition = FALL_2023 if freeze else OLD
        return Edition(*edition, signal=f"classifier.py's option '{edition[1]}'")
    csv = any(files.glob("*-output.csv"))
    txt = any(files.glob("*-output.txt"))
    if csv != txt:
        edition = FALL_2023 if csv else OLD
        return Edition(*edition, signal=f"the {'.csv' if csv else '.txt'} output files")
    return Edition(*OLD, signal="no edition signal (the 2021/2022 handout is assumed)")
