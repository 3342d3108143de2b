"""Observe the student's training step (q2 e) exactly, by running the given ``train(args)`` offline.

The run is built so that the result is predictable on the trusted side: a small random BERT of the
student's own code (``from_pretrained`` replaced), a vocabulary built from the sample, 8 SST lines in
one batch of 8 (so the shuffle cannot change a batch), dropout 0 and **learning rate 0** for 2 epochs.
Then both steps see the same gradient g of the batch's NLL loss, and after them AdamW's first moment
is (1-β1)(β1+1)·g when the gradients are zeroed every step, (1-β1)(β1+2)·g when they accumulate.
``save_model`` is replaced by a recording stand-in, which hands us the live model and optimizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from grader.authoring import StudentCodeError, fail
from grader.sandbox.client import RemoteObject, Student

from .bertlib import reference as ref
from .bertlib.head import NUM_LABELS
from .bertlib.probes import build, patch, state_of

SPECIALS = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
EPOCHS, BATCH = 2, 8


@dataclass
class Observed:
    """What one offline ``train(args)`` run showed."""

    steps: list[int]  # AdamW's step count of the head's weight (one entry; a list for the message)
    exp_avg: torch.Tensor  # the head weight's first moment after the run
    betas: tuple[float, float]
    gradient: torch.Tensor  # our gradient of the batch NLL w.r.t. the head weight
    loss: float  # our batch NLL (mean over the batch)
    printed: list[float]  # the epoch train losses the run printed


def vocabulary(sentences: list[str]) -> list[str]:
    """Standard BERT special-token ids (the given code relies on them) plus the sample's lower-cased words."""
    words = sorted({w for s in sentences for w in re.findall(r"\w+|[^\w\s]", s.lower())})
    return [SPECIALS.get(i, f"[unused{i}]") for i in range(104)] + words


def _write(student: Student, path: str, text: str) -> None:
    handle = student.module("builtins").open(path, "w", encoding="utf-8")
    handle.call_method("write", text)
    handle.call_method("close")


def _read(student: Student, path: str) -> str:
    handle = student.module("builtins").open(path, encoding="utf-8")
    text = handle.call_method("read")
    handle.call_method("close")
    return str(text)


def run(student: Student, sample: Path, lr: float = 0.0, epochs: int = EPOCHS) -> Observed:
    """Run the student's ``classifier.train`` on the sample and compute what it should have done
    (exact at learning rate 0, the default; with ``lr > 0`` only the printed losses are meaningful)."""
    lines = sample.read_text(encoding="utf-8").splitlines()
    labels = torch.tensor([int(line.split(" ||| ")[0]) for line in lines])
    sentences = [line.split(" ||| ", 1)[1].lower().strip() for line in lines]
    vocab = vocabulary(sentences)
    cfg = ref.TinyConfig(vocab_size=len(vocab), hidden_size=768, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    tmp = str(student.module("tempfile").mkdtemp())
    _write(student, f"{tmp}/vocab.txt", "\n".join(vocab) + "\n")
    _write(student, f"{tmp}/train.txt", "\n".join(lines) + "\n")
    # Dev: one sentence with every label, so accuracy is 1/5 whatever the model predicts and the
    # given loop saves the model (the moment we observe) after the first epoch.
    _write(student, f"{tmp}/dev.txt", "".join(f"{k} ||| {sentences[0]}\n" for k in range(NUM_LABELS)))
    student.module("os").chdir(tmp)  # importing classifier.py opens result.log in the working folder

    bert = build(student, "BertModel", cfg)
    patch(student, student.module("bert").BertModel, "from_pretrained", bert)
    try:
        tokenizer = student.module("tokenizer").BertTokenizer(f"{tmp}/vocab.txt")
        patch(student, student.module("tokenizer").BertTokenizer, "from_pretrained", tokenizer)
        encoded = tokenizer(sentences, return_tensors="pt", padding=True, truncation=True)
        classifier = student.module("classifier")
        saved = patch(student, classifier, "save_model", None)
        argv = ["classifier.py", "--option", "finetune", "--epochs", str(epochs), "--lr", repr(lr), "--batch_size", str(BATCH),
                "--hidden_dropout_prob", "0", "--train", f"{tmp}/train.txt", "--dev", f"{tmp}/dev.txt", "--test", f"{tmp}/dev.txt"]  # fmt: skip
        student.module("builtins").setattr(student.module("sys"), "argv", argv)
        args = classifier.get_args()
        student.module("builtins").setattr(args, "filepath", f"{tmp}/model.pt")
        classifier.train(args)
    except StudentCodeError as exc:
        fail(f"classifier.train(args) raised {exc.exc_type}: {exc.exc_message}")
    if saved.call_count != 1:
        fail("The given train() should save the model once in this run (dev accuracy improves after the first epoch); "
             f"save_model was called {saved.call_count} times. Was the given code around your training step changed?")  # fmt: skip
    model, optimizer = _saved_objects(saved.call_args)

    params = model.named_parameters()
    head = [
        i
        for i, p in enumerate(params)
        if not p["name"].startswith("bert.") and p["shape"] == [NUM_LABELS, cfg.hidden_size]
    ]
    if len(head) != 1:
        fail("Could not find the classifier head's Linear(768, num_labels) among the model's parameters.")
    opt_state = optimizer.call_method("state_dict")
    per_param = opt_state.get("state", {}).get(head[0], {}) if isinstance(opt_state, dict) else {}
    groups = opt_state.get("param_groups") or [{}]
    betas = tuple(groups[0].get("betas", (0.9, 0.999)))
    head_name = params[head[0]]["name"]
    state = state_of(model)
    weight, bias = state[head_name], state[head_name.removesuffix("weight") + "bias"]

    # The student's own BERT (weights unchanged at learning rate 0), so that a BERT bug does not count
    # against the training step (q2 a-d grade it).
    bert.call_method("eval")
    out = bert(encoded["input_ids"], encoded["attention_mask"])
    if not isinstance(out, dict) or not isinstance(out.get("pooler_output"), torch.Tensor):
        fail("BertModel.forward did not return a 'pooler_output' tensor, so the training step cannot be checked.")
    pooled = out["pooler_output"].float()
    w = weight.clone().requires_grad_(True)
    loss = F.nll_loss(F.log_softmax(pooled @ w.T + bias, dim=-1), labels)
    loss.backward()
    assert w.grad is not None
    log = _read(student, f"{tmp}/result.log")
    printed = [float(v) for v in re.findall(r"train loss\s*::\s*([-+0-9.eEnaif]+)", log)]
    step = per_param.get("step", 0)
    return Observed(
        steps=[int(step.item() if isinstance(step, torch.Tensor) else step)],
        exp_avg=per_param.get("exp_avg", torch.zeros_like(weight)).float(),
        betas=(float(betas[0]), float(betas[1])),
        gradient=w.grad.detach(),
        loss=float(loss.detach()),
        printed=printed,
    )


def _saved_objects(call: Any) -> tuple[RemoteObject, RemoteObject]:
    """(model, optimizer) from the recorded ``save_model(model, optimizer, args, config, filepath)`` call."""
    args = call[0] if isinstance(call, tuple) and len(call) == 2 and isinstance(call[0], tuple) else call
    if not isinstance(args, tuple) or len(args) < 2 or not all(isinstance(a, RemoteObject) for a in args[:2]):
        fail("save_model was not called as save_model(model, optimizer, ...): was the given code changed?")
    return args[0], args[1]
