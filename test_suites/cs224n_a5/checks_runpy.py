"""Parts (c), (f), (g): ``src/run.py`` wiring, one check per command of the handout (0 points each).

Each check runs the student's run.py in the sandbox, from the assignment root, with the handout's
command line, while ``trainer.Trainer.train`` is replaced by a recorder: run.py builds its real
model, dataset and TrainerConfig, the recorder keeps them and returns, and run.py goes on to save
its (untrained) params. The recorded values are compared here with spec §4. The pretraining corpus
is a prefix of wiki.txt, so ``final_tokens`` must be computed from the dataset it is given. Params
paths carry a ``wiring.`` prefix so the submission's own params files in the work copy stay untouched.
Points: the handout grades parts (c), (f), (g) through the predictions; these checks say why.
"""

from __future__ import annotations

import io
import math
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grader.authoring import Feedback, RemoteObject, Student, StudentCodeError, check, fail

from .staging import BLOCK_SIZE, STUBS, documents, stage, vocab_size, wiring_corpus

FULL_WIKI_FINAL_TOKENS = {
    200 * 2938 * BLOCK_SIZE: "the 2023 wiki.txt",
    200 * 2937 * BLOCK_SIZE: "a 2,937-document wiki.txt",
}
WARMUP_TOKENS = 512 * 20
NUM_WORKERS = 4
#: TrainerConfig fields whose value changes only how fast training runs, never what it learns: another value
#: (num_workers 0 on a laptop, 2 on Colab) is a note, not a failure (issue 21, class 8).
SPEED_ONLY = frozenset({"num_workers"})


@dataclass(frozen=True)
class Command:
    """One run.py command of the handout and what its TrainerConfig must hold."""

    argv: tuple[str, ...]
    epochs: int
    batch_size: int
    lr: float
    dataset: str  # class name of the training dataset
    perceiver_dim: int | None = None  # bottleneck_dim, None for the vanilla model
    reads: str | None = None  # --reading_params_path, written by the check first
    writes: str = ""

    @property
    def shown(self) -> str:
        return "python src/run.py " + " ".join(self.argv)


def _finetune(variant: str, writes: str, reads: str | None, dim: int | None) -> Command:
    argv = ["finetune", variant, "wiki.txt"] + (["--bottleneck_dim", str(dim)] if dim else [])
    argv += ["--reading_params_path", reads] if reads else []
    argv += ["--writing_params_path", writes, "--finetune_corpus_path", "birth_places_train.tsv"]
    return Command(tuple(argv), 10 if reads else 75, 256, 6e-4, "NameDataset", dim, reads, writes)


def _pretrain(variant: str, writes: str, dim: int | None) -> Command:
    argv = ["pretrain", variant, "wiki.txt"] + (["--bottleneck_dim", str(dim), "--pretrain_lr", "6e-3"] if dim else [])
    return Command((*argv, "--writing_params_path", writes), 650, 128, 6e-3, "CharCorruptionDataset", dim, None, writes)


def _gpt_config_kwargs(dim: int | None) -> dict[str, Any]:
    return {"n_layer": 4, "n_head": 8, "n_embd": 256, **({"perceiver": True, "bottleneck_dim": dim} if dim else {})}


def _planted_params(student: Student, corpus: str, dim: int | None, seed: int) -> dict[str, torch.Tensor]:
    """A params file for ``--reading_params_path``: the student's own GPT layout with values no
    initialisation produces, so the recorded model shows whether run.py loaded it."""
    model = student.module("model")
    gpt = model.GPT(model.GPTConfig(vocab_size(corpus), BLOCK_SIZE, **_gpt_config_kwargs(dim)))
    state = gpt.state_dict()
    gen = torch.Generator().manual_seed(secrets.randbits(63) ^ seed)  # fresh per grading
    return {
        k: (torch.randn(v.shape, generator=gen) * 0.02 + 0.5).to(v.dtype) if v.is_floating_point() else v
        for k, v in state.items()
    }


def _value(config: RemoteObject, name: str) -> Any:
    try:
        return getattr(config, name)
    except StudentCodeError:
        return "<not set>"


def _config_problems(
    cmd: Command, config: RemoteObject, expected_final: int, finetune_docs: int | None
) -> tuple[list[str], list[str]]:
    """The differences from the handout's TrainerConfig: (those that change training, the speed-only ones)."""
    problems, harmless = [], []
    want: dict[str, Any] = {
        "max_epochs": cmd.epochs,
        "batch_size": cmd.batch_size,
        "learning_rate": cmd.lr,
        "lr_decay": True,
        "warmup_tokens": WARMUP_TOKENS,
        "final_tokens": expected_final,
        "num_workers": NUM_WORKERS,
    }
    for name, expected in want.items():
        got = _value(config, name)
        same = isinstance(got, int | float) and not isinstance(got, bool) and math.isclose(got, expected, rel_tol=1e-9)
        if isinstance(expected, bool):
            same = got is expected
        if same:
            continue
        hint = ""
        if name == "final_tokens" and got in FULL_WIKI_FINAL_TOKENS:
            hint = f" (the value for {FULL_WIKI_FINAL_TOKENS[got]}: hard-coded? It must be computed from the dataset)"
        elif name == "final_tokens" and finetune_docs is not None and got == 200 * finetune_docs * BLOCK_SIZE:
            hint = " (computed from the finetuning dataset; the handout uses len(pretrain_dataset))"
        if name in SPEED_ONLY and isinstance(got, int) and not isinstance(got, bool) and got >= 0:
            harmless.append(f"{name}={got!r} (the handout has {expected!r}; it changes only the data loading speed)")
            continue
        problems.append(f"{name}={got!r} (expected {expected!r}{hint})")
    return problems, harmless


def _model_problems(cmd: Command, gpt: RemoteObject) -> list[str]:
    params = {p["name"]: p["shape"] for p in gpt.named_parameters()}
    basis = params.get("down_block.C")
    if cmd.perceiver_dim is None:
        return (
            ["the model is a perceiver (it has down_block.C); this command asks for the vanilla GPT"] if basis else []
        )
    if basis is None:
        return [
            "the model has no registered down_block.C: build the GPT with mconf.perceiver = True (and C as an nn.Parameter)"
        ]
    if list(basis) != [1, cmd.perceiver_dim, 256]:
        return [
            f"down_block.C has shape {tuple(basis)}, expected (1, {cmd.perceiver_dim}, 256): is --bottleneck_dim passed to the config?"
        ]
    return []


def run_command(
    student: Student, data: Path, config: dict[str, Any], seed: int, cmd: Command, feedback: Feedback
) -> None:
    """Run one command with the recorder and fail with every difference from the handout's settings."""
    corpus = wiring_corpus(data, config, random.SystemRandom())  # drawn per grading
    stage(student, data, ("wiki.txt", "birth_places_train.tsv"), {"wiki.txt": corpus.encode("utf-8")})
    planted = _planted_params(student, corpus, cmd.perceiver_dim, seed) if cmd.reads else None
    if planted is not None and cmd.reads:
        buffer = io.BytesIO()
        torch.save(planted, buffer)
        student.write_file(cmd.reads, buffer.getvalue())
    run = student.run_script(
        "src/run.py",
        list(cmd.argv),
        intercept="trainer.Trainer.train",
        stop=False,
        stub_modules=STUBS,
        cpu_torch_load=True,
    )
    if run.failed:
        fail(f"`{cmd.shown}` failed before or after training: {run.describe_failure()}")
    if not run.calls:
        fail(f"`{cmd.shown}` never called Trainer(...).train(): the {cmd.argv[0]} branch must train the model.")
    if len(run.calls) > 1:
        fail(f"`{cmd.shown}` called Trainer.train() {len(run.calls)} times; the handout trains once per command.")
    trainer = run.calls[0].args[0] if run.calls[0].args else None
    if not isinstance(trainer, RemoteObject):
        fail(f"`{cmd.shown}`: Trainer.train() was not called on a Trainer object.")
    problems = []
    dataset_type = trainer.train_dataset.type_name if isinstance(trainer.train_dataset, RemoteObject) else "?"
    if not dataset_type.endswith("." + cmd.dataset):
        problems.append(f"it trains on a {dataset_type.rpartition('.')[2]}, expected a {cmd.dataset}")
    finetune_docs = None
    if cmd.dataset == "NameDataset":
        finetune_docs = len((data / "birth_places_train.tsv").read_text(encoding="utf-8").split("\n"))
    config_problems, harmless = _config_problems(
        cmd, trainer.config, 200 * documents(corpus) * BLOCK_SIZE, finetune_docs
    )
    problems += config_problems
    if harmless:
        feedback.note(f"`{cmd.shown}`: " + "; ".join(harmless) + ".")
    gpt = trainer.model
    if "DataParallel" in gpt.type_name:  # a GPU worker: Trainer wraps the model
        gpt = gpt.module
    problems += _model_problems(cmd, gpt)
    if planted is not None and not problems:
        state = gpt.state_dict()
        same = state.keys() == planted.keys() and all(torch.equal(state[k].cpu(), planted[k]) for k in planted)
        if not same:
            problems.append(
                f"the model it trains does not hold the parameters of --reading_params_path {cmd.reads}: load them with model.load_state_dict(torch.load(...)) before training"
            )
    if student.read_file(cmd.writes, max_bytes=0) is None:
        problems.append(f"it did not save the model to --writing_params_path ({cmd.writes})")
    if problems:
        fail(f"`{cmd.shown}`: " + "; ".join(problems) + ".")


def _wiring_check(number: str, title: str, cmd: Command, part: str) -> Any:
    @check(name=f"run.py wiring: {title}", number=number, points=0, tags=[f"part {part}"], timeout=120)
    def wiring(student: Student, data: Path, config: dict[str, Any], seed: int, feedback: Feedback) -> None:
        run_command(student, data, config, seed, cmd, feedback)

    wiring.__doc__ = f"`{cmd.shown}` builds the right model and dataset and trains with the handout's TrainerConfig."
    return wiring


finetune_scratch = _wiring_check(
    "6.1", "finetune vanilla without pretraining", _finetune("vanilla", "wiring.vanilla.model.params", None, None), "c"
)
pretrain_vanilla = _wiring_check(
    "6.2", "pretrain vanilla", _pretrain("vanilla", "wiring.vanilla.pretrain.params", None), "f"
)
finetune_vanilla = _wiring_check(
    "6.3",
    "finetune vanilla from the pretrained params",
    _finetune("vanilla", "wiring.vanilla.finetune.params", "wiring.vanilla.pretrain.params", None),
    "f",
)
pretrain_perceiver = _wiring_check(
    "6.4",
    "pretrain the perceiver (bottleneck_dim 64)",
    _pretrain("perceiver", "wiring.perceiver.pretrain.params", 64),
    "g",
)
finetune_perceiver = _wiring_check(
    "6.5",
    "finetune the perceiver from the pretrained params",
    _finetune("perceiver", "wiring.perceiver.finetune.params", "wiring.perceiver.pretrain.params", 64),
    "g",
)
