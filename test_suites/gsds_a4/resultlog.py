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


@dataclass(frozen=True)
class ExpectedRun:
    """What the grader's replay of a controlled run says its log must show (never shown to the student)."""

    epochs: list[tuple[float, float, float]]  # per epoch: train loss, train acc, dev acc
    steps: list[float]  # the 'step loss' lines (one batch per epoch: the epoch's loss)
    final: dict[str, float]  # the test phase's dev and test accuracy


def _near(found: float, expected: float, places: int) -> bool:
    """Equal once rounded to the ``places`` decimals the given code prints (plus float32 noise)."""
    return math.isfinite(found) and abs(found - expected) <= 0.5 * 10.0**-places + 1e-5


def mismatches(text: str, want: ExpectedRun) -> list[str]:
    """Where a re-run's log differs from the replay, in words that do not reveal the expected figures."""
    log = parse(text)
    found: list[str] = []
    if len(log.epochs) != len(want.epochs):
        return [f"{len(log.epochs)} 'Epoch' lines for {len(want.epochs)} epochs"]
    for (k, loss, train_acc, dev_acc), (w_loss, w_train, w_dev) in zip(log.epochs, want.epochs, strict=True):
        if not _near(loss, w_loss, 3):
            found.append(f"epoch {k}'s train loss ({loss:g}) is not the mean of that epoch's batch losses")
        if not (_near(train_acc, w_train, 3) and _near(dev_acc, w_dev, 3)):
            found.append(
                f"epoch {k}'s train/dev accuracy ({train_acc:g}, {dev_acc:g}) is not that of the trained model"
            )
    if len(log.steps) != len(want.steps):
        found.append(f"{len(log.steps)} 'step loss' lines for {len(want.steps)} batches")
    elif not all(_near(s, w, 5) for s, w in zip(log.steps, want.steps, strict=True)):
        found.append("the 'step loss' lines are not the batch's NLL loss")
    for split in ("dev", "test"):
        if split not in log.final:
            found.append(f"no final '{split} acc' line (the test phase)")
        elif not _near(log.final[split], want.final[split], 3):
            found.append(f"the final {split} acc ({log.final[split]:g}) is not that of the best epoch's model")
    return found
