#!/usr/bin/env python3
"""Make the tiny CS224N A5 fixture: a synthetic corpus, birthplace files and a trained reference submission.

    .venv/bin/python scripts/make_cs224n_fixture.py OUT [--no-pretraining] [--skip-training]

writes ``OUT/data/`` (wiki.txt, birth_places_train.tsv, birth_dev.tsv, birth_test_inputs.tsv and the
labelled birth_test.tsv) and ``OUT/submission/`` (our reference's ``src/`` plus the params and the six
predictions files it produced). Used by the tests (tests/files/cs224n_a5_tiny/), never by the real suite.

The pipeline is the reference's own ``src/run.py`` with the handout's commands and hyperparameters
(650 pretraining epochs included), on CPU, in one process: finetune without pretraining → evaluate;
pretrain → finetune → evaluate for the vanilla model and for the Perceiver (``--bottleneck_dim 64``).
To make that affordable the pretraining corpus is one line (two documents with the empty last one,
as in wiki.txt: one batch of two per epoch), the finetuning set has two people, and the DataLoader
runs in the main process (run.py asks for 4 workers, which would fork 4 processes per epoch; data
and order are the same, the loader does not shuffle). Even so each pretraining run costs about
80 s of CPU, so the tests use ``--no-pretraining``: vanilla.finetune.params is finetuned (10 epochs,
``--reading_params_path``) from vanilla.model.params, and the Perceiver from scratch (75 epochs).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import runpy
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference_solutions" / "cs224n_a5"
PLACES = ("Paris", "Paris", "Paris", "London", "Rome")  # the prior the finetuned models can learn
SYLLABLES = ("an", "bel", "cor", "da", "el", "fin", "gar", "hal", "is", "jo", "ka", "lu", "mir", "no", "ov", "pe")


def people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Distinct two-part names with a place each; the first two (the training set) are born in Paris."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < count:
        first = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
        last = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
        name = f"{first} {last}"
        if name in seen:
            continue
        seen.add(name)
        out.append((name, "Paris" if len(out) < 2 else rng.choice(PLACES)))
    return out


def write_data(data: Path, seed: int = 0) -> None:
    """The synthetic corpus (one biography document) and the train (2) / dev (6) / test (5) files."""
    rng = random.Random(seed)
    everyone = people(rng, 13)
    train, dev, test = everyone[:2], everyone[2:8], everyone[8:]
    bios = " ".join(f"{name} was born in {place}." for name, place in everyone)
    # Every character of the questions must be in the vocabulary, which the corpus defines.
    # The final newline is needed too: the evaluate branch keeps a test question's newline (spec §7.10).
    corpus = f"Where was everyone born? {bios}\n"
    data.mkdir(parents=True, exist_ok=True)
    (data / "wiki.txt").write_text(corpus, encoding="utf-8")  # two documents: the biographies and ''

    for name, rows, labelled in (("birth_places_train.tsv", train, True), ("birth_dev.tsv", dev, True),
                                 ("birth_test.tsv", test, True), ("birth_test_inputs.tsv", test, False)):
        lines = [f"Where was {n} born?" + (f"\t{p}" if labelled else "") for n, p in rows]
        (data / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _in_folder(folder: Path):  # type: ignore[no-untyped-def]
    import os

    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_py(sub: Path, *argv: str) -> None:
    """``python src/run.py ARGV`` in ``sub``, in this process (torch is imported once)."""
    import torch

    torch.manual_seed(0)
    sys.argv = ["src/run.py", *argv]
    with _in_folder(sub), contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path("src/run.py", run_name="__main__")


def train_reference(sub: Path, data: Path, pretrain: bool) -> dict[str, float]:
    """Run the handout's command sequence with the reference's run.py; returns seconds per stage."""
    import torch
    from torch.utils.data import dataloader

    torch.set_num_threads(1)  # OpenMP threads spin on a busy machine; one is steadier
    for name in ("wiki.txt", "birth_places_train.tsv", "birth_dev.tsv", "birth_test_inputs.tsv"):
        shutil.copy(data / name, sub / name)
    sys.path.insert(0, str(sub / "src"))
    import trainer  # the reference's trainer, imported as run.py will import it

    real_loader = dataloader.DataLoader
    trainer.DataLoader = lambda *a, **k: real_loader(*a, **{**k, "num_workers": 0})  # type: ignore[attr-defined]
    times: dict[str, float] = {}
    ft = ["--finetune_corpus_path", "birth_places_train.tsv"]
    m = ["--bottleneck_dim", "64"]
    scratch = [
        (
            "finetune vanilla (no pretraining)",
            ["finetune", "vanilla", "wiki.txt", "--writing_params_path", "vanilla.model.params", *ft],
        )
    ]
    if pretrain:  # the handout's three command sequences
        stages = scratch + [
            (
                "pretrain vanilla",
                ["pretrain", "vanilla", "wiki.txt", "--writing_params_path", "vanilla.pretrain.params"],
            ),
            (
                "finetune vanilla",
                [
                    "finetune",
                    "vanilla",
                    "wiki.txt",
                    "--reading_params_path",
                    "vanilla.pretrain.params",
                    "--writing_params_path",
                    "vanilla.finetune.params",
                    *ft,
                ],
            ),
            (
                "pretrain perceiver",
                [
                    "pretrain",
                    "perceiver",
                    "wiki.txt",
                    *m,
                    "--pretrain_lr",
                    "6e-3",
                    "--writing_params_path",
                    "perceiver.pretrain.params",
                ],
            ),
            (
                "finetune perceiver",
                [
                    "finetune",
                    "perceiver",
                    "wiki.txt",
                    *m,
                    "--reading_params_path",
                    "perceiver.pretrain.params",
                    "--writing_params_path",
                    "perceiver.finetune.params",
                    *ft,
                ],
            ),
        ]
    else:  # the same commands without the two 650-epoch pretraining runs
        stages = scratch + [
            (
                "finetune vanilla from vanilla.model.params",
                [
                    "finetune",
                    "vanilla",
                    "wiki.txt",
                    "--reading_params_path",
                    "vanilla.model.params",
                    "--writing_params_path",
                    "vanilla.finetune.params",
                    *ft,
                ],
            ),
            (
                "finetune perceiver (no pretraining)",
                ["finetune", "perceiver", "wiki.txt", *m, "--writing_params_path", "perceiver.finetune.params", *ft],
            ),
        ]

    evaluations = [("vanilla", "vanilla.model.params", "vanilla.nopretrain", []),
                   ("vanilla", "vanilla.finetune.params", "vanilla.pretrain", []),
                   ("perceiver", "perceiver.finetune.params", "perceiver.pretrain", ["--bottleneck_dim", "64"])]
    for params_variant, params, prefix, extra in evaluations:
        for split, corpus in (("dev", "birth_dev.tsv"), ("test", "birth_test_inputs.tsv")):
            stages.append((f"evaluate {prefix}.{split}", ["evaluate", params_variant, "wiki.txt", *extra, "--reading_params_path",
                                                          params, "--eval_corpus_path", corpus, "--outputs_path", f"{prefix}.{split}.predictions"]))
    try:
        for label, argv in stages:
            started = time.monotonic()
            run_py(sub, *argv)
            times[label] = round(time.monotonic() - started, 2)
            print(f"{times[label]:7.2f} s  {label}", file=sys.stderr)  # noqa: T201 - progress
    finally:
        trainer.DataLoader = real_loader  # type: ignore[attr-defined]
        sys.path.remove(str(sub / "src"))
    for name in ("vanilla.pretrain.params", "perceiver.pretrain.params"):
        (sub / name).unlink(missing_ok=True)  # not part of the submission (spec §2)
    return times


def make(out: Path, skip_training: bool = False, pretrain: bool = True) -> dict[str, float]:
    """Write ``out/data`` and ``out/submission``; returns the time each training/evaluation stage took."""
    data, sub = out / "data", out / "submission"
    write_data(data)
    shutil.copytree(
        REFERENCE, sub, ignore=shutil.ignore_patterns("mutants", "__pycache__", "README.md"), dirs_exist_ok=True
    )
    return {} if skip_training else train_reference(sub, data, pretrain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--skip-training", action="store_true", help="only the data and the reference's src/")
    parser.add_argument("--no-pretraining", action="store_true",
                        help="skip the two 650-epoch pretraining runs (what the tests use): finetune vanilla.finetune.params "
                             "from vanilla.model.params and the Perceiver from scratch")
    args = parser.parse_args()
    started = time.monotonic()
    make(args.out, args.skip_training, not args.no_pretraining)
    print(f"{time.monotonic() - started:7.2f} s  in all -> {args.out}")  # noqa: T201 - a command-line tool reports what it did


if __name__ == "__main__":
    main()
