"""The sentence classifier around the student's BERT, built offline: ``from_pretrained`` is replaced.

The given classifier builds its BERT with ``BertModel.from_pretrained('bert-base-uncased')``, which
downloads weights; inside the sandbox that call returns a small random ``BertModel`` of the student's
own code instead, with the hidden size the given config fixes (768).
"""

from __future__ import annotations

from typing import Any

import torch

from grader.authoring import StudentCodeError, fail
from grader.sandbox.client import RemoteObject, Student

from .probes import build, patch
from .reference import TinyConfig

#: Hidden size 768 because the given training config hard-codes it; one layer keeps it cheap. Dropout 0
#: inside BERT (p = 0 draws no random numbers), so in train mode only the head's dropout uses the seed.
WIDE = TinyConfig(vocab_size=120, hidden_size=768, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                  max_position_embeddings=40, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
NUM_LABELS = 5


def offline_bert(student: Student, cfg: TinyConfig = WIDE) -> RemoteObject:
    """A small random student ``BertModel`` that ``BertModel.from_pretrained(...)`` now returns."""
    bert = build(student, "BertModel", cfg)
    patch(student, student.module("bert").BertModel, "from_pretrained", bert)
    return bert


def namespace(student: Student, **values: Any) -> RemoteObject:
    """A ``types.SimpleNamespace`` inside the sandbox (the given code passes its config as one)."""
    ns = student.module("types").SimpleNamespace(**values)
    if not isinstance(ns, RemoteObject):
        fail("could not build the classifier's config in the sandbox")
    return ns


def classifier(student: Student, option: str, dropout: float = 0.3) -> tuple[RemoteObject, RemoteObject]:
    """``classifier.BertSentClassifier(config)`` as the given training code builds it; returns (head model, bert)."""
    bert = offline_bert(student)
    config = namespace(student, hidden_dropout_prob=dropout, num_labels=NUM_LABELS, hidden_size=WIDE.hidden_size,
                       data_dir=".", option=option)  # fmt: skip
    try:
        model = student.module("classifier").BertSentClassifier(config)
    except StudentCodeError as exc:
        fail(f"BertSentClassifier(config) raised {exc.exc_type}: {exc.exc_message}")
    return model, bert


def head_weights(state: dict[str, torch.Tensor], width: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The head's Linear (num_labels × width) outside the ``bert.`` submodule, if there is exactly one."""
    weights = [
        k
        for k, v in state.items()
        if not k.startswith("bert.") and k.endswith("weight") and tuple(v.shape) == (NUM_LABELS, width)
    ]
    if len(weights) != 1:
        return None
    bias = weights[0][: -len("weight")] + "bias"
    return state[weights[0]].float(), state.get(bias, torch.zeros(NUM_LABELS)).float()
