"""Parse ``q2/result.log`` (the tee of the final SST run) and list what is malformed or inconsistent.

Expected shape: an ``args: {...}`` line, the device line, ``load N data from ...`` lines, per epoch
``step loss : x`` every 50 batches and ``Epoch k: train loss :: a, train acc :: b, dev acc :: c``,
then the test phase's ``dev acc :: x`` and ``test acc :: y``. Extra lines (warnings) are ignored.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

EPOCH = re.compile(
    r"^epoch\s+(\d+)\s*:\s*train loss\s*::\s*(\S+?),\s*train acc\s*::\s*(\S+?),\s*dev acc\s*::\s*(\S+)\s*$", re.I
)
STEP = re.compile(r"^step loss\s*:\s*(\S+)\s*$", re.I)
LOAD = re.compile(r"^load (\d+) data from (\S+)\s*$")
FINAL = re.compile(r"^(dev|test) acc\s*::\s*(\S+)\s*$", re.I)
ARGS = re.compile(r"^args:\s*(\{.*\})\s*$")


@dataclass
class ResultLog:
    """What the log says, and the problems found in it."""

    args: dict[str, object] = field(default_factory=dict)
    epochs: list[tuple[int, float, float, float]] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    train_size: int | None = None
    final: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def best_dev(self) -> float | None:
        return max(e[3] for e in self.epochs) if self.epochs else None


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def parse(text: str) -> ResultLog:
    log = ResultLog()
    for raw in text.splitlines():
        line = raw.strip()
        if m := ARGS.match(line):
            try:
                value = ast.literal_eval(m.group(1))  # a dict repr; literal_eval never runs code
                log.args = value if isinstance(value, dict) else {}
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                log.problems.append("the 'args:' line is not a readable dict")
        elif m := EPOCH.match(line):
            log.epochs.append((int(m.group(1)), _num(m.group(2)), _num(m.group(3)), _num(m.group(4))))
        elif m := STEP.match(line):
            log.steps.append(_num(m.group(1)))
        elif (m := LOAD.match(line)) and log.train_size is None and "train" in m.group(2):
            log.train_size = int(m.group(1))
        elif m := FINAL.match(line):
            log.final[m.group(1).lower()] = _num(m.group(2))
    _consistency(log)
    return log


def _consistency(log: ResultLog) -> None:
    args, problems = log.args, log.problems
    if not args:
        problems.append("no 'args: {...}' line")
    else:
        if args.get("option") != "finetune":
            problems.append(f"the run used option {args.get('option')!r}, the handout asks for 'finetune'")
        for split in ("train", "dev", "test"):
            if not str(args.get(split, "")).endswith(f"sst-{split}.txt"):
                problems.append(f"the {split} file is {args.get(split)!r}, not data/sst-{split}.txt")
        epochs = args.get("epochs")
        if isinstance(epochs, int) and len(log.epochs) != epochs:
            problems.append(f"{len(log.epochs)} 'Epoch' lines for epochs={epochs}")
    if not log.epochs:
        problems.append("no 'Epoch k: train loss :: ..., dev acc :: ...' line")
    elif [e[0] for e in log.epochs] != list(range(log.epochs[0][0], log.epochs[0][0] + len(log.epochs))):
        problems.append("the epoch numbers are not consecutive (several runs in one log?)")
    values = [v for e in log.epochs for v in e[1:]] + log.steps
    if any(not math.isfinite(v) for v in values):
        problems.append("some losses or accuracies are not finite numbers")
    elif log.epochs and all(e[1] == 0 for e in log.epochs):
        problems.append("every epoch's train loss is 0: the loop never adds loss.item() to train_loss")
    if log.steps and all(v == 0 for v in log.steps):
        problems.append("every 'step loss' is 0")
    batch = args.get("batch_size")
    if log.train_size and isinstance(batch, int) and batch > 0 and log.epochs and log.steps:
        per_epoch = math.ceil(math.ceil(log.train_size / batch) / 50)
        if len(log.steps) != per_epoch * len(log.epochs):
            problems.append(f"{len(log.steps)} 'step loss' lines; {per_epoch} per epoch expected at batch size {batch}")
    if "test" not in log.final:
        problems.append("no final 'test acc' line: the log is truncated (did the run finish?)")
    best = log.best_dev
    if "dev" in log.final and best is not None and abs(log.final["dev"] - best) > 0.0015:
        problems.append(f"the final dev acc {log.final['dev']:.3f} is not the best epoch's dev acc {best:.3f}")
