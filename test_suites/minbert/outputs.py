"""The prediction files of the minbert editions: find, parse and score them against the gold files.

* 2021: ``{ds}-{split}-output.txt`` lines ``sentence ||| gold ||| pred``, order free (matched by text);
* 2022: the same names, lines ``pred ||| sentence`` in file order;
* Fall 2023: ``{ds}-{split}-output.csv`` with header ``ID,label``, ID the 0-based row of the input file.
CFIMDB test labels do not exist (every gold label is 0), so that file is checked for form only.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

OUTPUTS = [("sst", "dev"), ("sst", "test"), ("cfimdb", "dev"), ("cfimdb", "test")]
SCORED = {("sst", "dev"), ("sst", "test"), ("cfimdb", "dev")}
SEP = " ||| "


@dataclass(frozen=True)
class Gold:
    sentences: list[str]
    labels: list[int]


@dataclass(frozen=True)
class Parsed:
    """One output file read against its gold file: the edition it looks like and the accuracy, or the problem."""

    name: str
    edition: str = ""
    accuracy: float | None = None
    problem: str = ""
    labels: frozenset[int] = frozenset()  # the distinct predicted labels
    source: str = ""  # the file read, when it is not the handout's name at the top level


def load_gold(path: Path) -> Gold:
    sentences, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, sentence = line.split(SEP, 1)
        sentences.append(_norm(sentence))
        labels.append(int(label))
    return Gold(sentences, labels)


def _norm(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def _label(text: str) -> int | None:
    try:
        return int(float(text.strip()))
    except ValueError:
        return None


def _accuracy(preds: list[int], gold: list[int]) -> float:
    return sum(p == g for p, g in zip(preds, gold, strict=True)) / len(gold)


def parse_txt(name: str, text: str, gold: Gold) -> Parsed:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != len(gold.labels):
        return Parsed(name, problem=f"{name} has {len(lines)} lines, expected {len(gold.labels)} (one per example)")
    fields = [line.split(SEP) for line in lines]
    if all(len(f) == 2 for f in fields):  # 2022: pred ||| sentence, in file order
        preds = [_label(f[0]) for f in fields]
        if any(p is None for p in preds):
            return Parsed(name, problem=f"{name}: the first field of every line must be the predicted label")
        mismatched = sum(_norm(f[1]) != s for f, s in zip(fields, gold.sentences, strict=True))
        if mismatched > len(lines) // 100:
            return Parsed(name, problem=f"{name}: {mismatched} lines are not in the order of the input file")
        ints = [int(p) for p in preds if p is not None]
        return Parsed(name, "2022", _accuracy(ints, gold.labels), labels=frozenset(ints))
    if all(len(f) == 3 for f in fields):  # 2021: sentence ||| gold ||| pred, any order
        by_text: dict[str, list[int]] = collections.defaultdict(list)
        for sentence, label in zip(gold.sentences, gold.labels, strict=True):
            by_text[sentence].append(label)
        correct, predicted = 0, set()
        for f in fields:
            pred, labels = _label(f[2]), by_text.get(_norm(f[0]))
            if pred is None or not labels:
                return Parsed(
                    name, problem=f"{name}: a line does not match an input sentence with a label: {f[0][:60]!r}"
                )
            correct += pred == labels.pop()
            predicted.add(pred)
        return Parsed(name, "2021", correct / len(gold.labels), labels=frozenset(predicted))
    return Parsed(
        name, problem=f"{name}: lines must be 'pred ||| sentence' (2022) or 'sentence ||| gold ||| pred' (2021)"
    )


def parse_csv(name: str, text: str, gold: Gold) -> Parsed:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip() for c in rows[0]] != ["ID", "label"]:
        return Parsed(name, problem=f"{name} must start with the header 'ID,label'")
    body = [r for r in rows[1:] if r]
    if len(body) != len(gold.labels):
        return Parsed(name, problem=f"{name} has {len(body)} rows, expected {len(gold.labels)}")
    preds: dict[int, int] = {}
    for row in body:
        ident, pred = (_label(row[0]), _label(row[1])) if len(row) == 2 else (None, None)
        if ident is None or pred is None or not 0 <= ident < len(gold.labels):
            return Parsed(name, problem=f"{name}: bad row {','.join(row)[:60]!r} (expected ID,label)")
        preds[ident] = pred
    if len(preds) != len(gold.labels):
        return Parsed(name, problem=f"{name}: some IDs are repeated or missing")
    return Parsed(
        name,
        "2023",
        _accuracy([preds[i] for i in range(len(gold.labels))], gold.labels),
        labels=frozenset(preds.values()),
    )


#: Words that mark a file as holding predictions (``-output.txt``, ``-out.txt``, ``pred...``).
_OUTPUT_WORDS = ("out", "pred")


def candidates(files: Path, ds: str, split: str) -> list[str]:
    """Files elsewhere in the submission that look like the ``ds``/``split`` predictions (relative paths).

    Students keep them under ``results/`` or ``my_output/``, or name them ``finetune-sst-dev-out.txt``
    or ``sst-dev-output_finetune.txt``; the data folder and hidden files are not looked at.
    """
    other = {"sst": "cfimdb", "cfimdb": "sst"}[ds]
    other_split = {"dev": "test", "test": "dev"}[split]
    found = []
    for path in sorted(files.rglob("*")):
        rel = path.relative_to(files)
        if not path.is_file() or path.suffix not in (".txt", ".csv") or rel.parts[0] in ("data", "__MACOSX"):
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        name = path.name.lower()
        if (
            ds in name
            and split in name
            and other not in name
            and other_split not in name
            and any(w in name for w in _OUTPUT_WORDS)
        ):
            found.append(rel.as_posix())
    return found


def _choose(found: list[str]) -> tuple[str | None, str]:
    """The one candidate to grade (or None) and what the message says about the choice."""
    if len(found) == 1:
        return found[0], ""
    finetuned = [f for f in found if "finetune" in f.lower()]
    if len(finetuned) == 1:  # the handout's reference accuracies (grade band A) are the fine-tuned model's
        return finetuned[0], f" (the finetune run's, of {', '.join(found)})"
    return None, ""


def _parse(files: Path, rel: str, gold: Gold) -> Parsed:
    path = files / rel
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_csv(path.name, text, gold) if path.suffix == ".csv" else parse_txt(path.name, text, gold)


def read_outputs(files: Path, data: Path) -> list[Parsed]:
    """Every expected output file, parsed; a file elsewhere or under another name is read when it is the only
    candidate (its ``source`` says which), several candidates or none are a problem naming them."""
    found = []
    for ds, split in OUTPUTS:
        gold = load_gold(data / f"{ds}-{split}.txt")
        txt, csv_path = f"{ds}-{split}-output.txt", f"{ds}-{split}-output.csv"
        if (files / txt).is_file():
            found.append(_parse(files, txt, gold))
        elif (files / csv_path).is_file():
            found.append(_parse(files, csv_path, gold))
        else:
            others = candidates(files, ds, split)
            chosen, why = _choose(others)
            if chosen is not None:
                parsed = _parse(files, chosen, gold)
                name = f"{ds}-{split}-output{Path(chosen).suffix}"
                found.append(
                    dataclasses.replace(
                        parsed, name=name, source=chosen + why, problem=parsed.problem.replace(parsed.name, chosen, 1)
                    )
                )
            elif others:
                found.append(
                    Parsed(
                        f"{ds}-{split}-output",
                        problem=f"{txt} (or {csv_path}) is missing at the top level "
                        f"and several files could be it ({', '.join(others)}): put the one to grade there "
                        "under that name",
                    )
                )
            else:
                found.append(Parsed(f"{ds}-{split}-output", problem=f"{txt} (or {csv_path}) is missing"))
        if (ds, split) not in SCORED:
            found[-1] = dataclasses.replace(found[-1], accuracy=None)
    return found
