"""The sentence classifier around the student's BERT, built offline: ``from_pretrained`` is replaced.

The given classifier builds its BERT with ``BertModel.from_pretrained('bert-base-uncased')``, which
downloads weights; inside the sandbox that call returns a small random ``BertModel`` of the student's
own code instead, with the hidden size the given config fixes (768).
"""

from __future__ import annotations

from typing import Any

import torch

from grader.authoring import RemoteObject, Student, StudentCodeError, fail, fail_raised, load_weights, trusted_weights

from .probes import build, patch
from .reference import TinyConfig

#: Hidden size 768 because the given training config hard-codes it; one layer keeps it cheap. Dropout 0
#: inside BERT (p = 0 draws no random numbers), so in train mode only the head's dropout uses the seed.
WIDE = TinyConfig(
    vocab_size=120,
    hidden_size=768,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=40,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
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


#: Written into the offline BERT's ``config.hidden_dropout_prob`` after it is built (its own dropout
#: modules keep WIDE's 0): the Fall 2023 head reads its probability from ``self.bert.config``.
BERT_CONFIG_DROPOUT = 0.2


def classifier(
    student: Student, option: str, dropout: float = 0.3, *, bert_dropout: float | None = None
) -> tuple[RemoteObject, RemoteObject]:
    """``classifier.BertSentClassifier(config)`` as the given training code builds it; returns (head model, bert).

    ``bert_dropout``, when given, is what the BERT's config then says its hidden dropout probability is.
    """
    bert = offline_bert(student)
    if bert_dropout is not None:
        try:
            student.module("builtins").setattr(bert.config, "hidden_dropout_prob", bert_dropout)
        except (StudentCodeError, AttributeError):
            pass  # a model without .config: the head cannot read it either
    config = namespace(
        student,
        hidden_dropout_prob=dropout,
        num_labels=NUM_LABELS,
        hidden_size=WIDE.hidden_size,
        data_dir=".",
        option=option,
    )
    try:
        model = student.module("classifier").BertSentClassifier(config)
    except StudentCodeError as exc:
        fail_raised("BertSentClassifier(config)", exc)
    return model, bert


def head_names(model: RemoteObject, width: int) -> tuple[str, str | None] | None:
    """The names of the head's Linear (num_labels × width) outside ``bert.``, if there is exactly one."""
    params = {p["name"]: p["shape"] for p in model.named_parameters()}
    weights = [
        n
        for n, shape in params.items()
        if not n.startswith("bert.") and n.endswith("weight") and shape == [NUM_LABELS, width]
    ]
    if len(weights) != 1:
        return None
    bias = weights[0].removesuffix("weight") + "bias"
    return weights[0], bias if bias in params else None


def head_shapes(model: RemoteObject, width: int) -> dict[str, tuple[int, ...]]:
    """The head Linear's parameter names and shapes, or a failure when there is no single such layer."""
    names = head_names(model, width)
    if names is None:
        fail(f"Could not find the head's Linear({width}, {NUM_LABELS}) outside self.bert.")
    weight_name, bias_name = names
    return {weight_name: (NUM_LABELS, width)} | ({bias_name: (NUM_LABELS,)} if bias_name else {})


def trusted_head(model: RemoteObject, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the head's Linear here, load it into the student's classifier by name; (weight, bias)."""
    shapes = head_shapes(model, width)
    drawn = trusted_weights(shapes)
    load_weights(model, drawn, what="the classifier head")
    return split_head(drawn)


def split_head(drawn: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a drawn head (a zero bias where the layer has none)."""
    weight = next(v for k, v in drawn.items() if k.endswith("weight"))
    bias = next((v for k, v in drawn.items() if k.endswith("bias")), torch.zeros(NUM_LABELS))
    return weight, bias
