"""Part 2: the sentence-classification head in ``classifier.py`` (the given loop applies NLL loss)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from grader.authoring import (
    Feedback,
    RemoteObject,
    Student,
    StudentCodeError,
    assert_shape,
    check,
    fail,
    fail_raised,
    max_abs_diff,
)

from . import editions
from .bertlib.bodies import fresh
from .bertlib.head import BERT_CONFIG_DROPOUT, NUM_LABELS, WIDE, classifier, trusted_head
from .bertlib.probes import batch, close, tensor_result, trusted


@check(name="BertSentClassifier: log-probabilities from the pooled output", number="2.1", points=15, timeout=90)
def head(student: Student, seed: int, files: Path, feedback: Feedback) -> None:
    """Output (bs, num_labels) of log-probabilities (rows log-sum-exp to 0) = log_softmax(Linear(pooler_output)) in eval mode."""
    edition = editions.detect(files)
    model, bert = classifier(student, "finetune", bert_dropout=BERT_CONFIG_DROPOUT)
    seed = fresh(seed)
    ids, mask = batch(seed, WIDE)
    try:
        model.call_method("eval")
        out = tensor_result(model(ids, mask), "BertSentClassifier.forward(input_ids, attention_mask)")
    except StudentCodeError as exc:
        fail_raised("BertSentClassifier.forward", exc)
    if out.dim() == 2 and out.shape[1] != NUM_LABELS:
        fail(
            f"The head has {out.shape[1]} outputs: it must map hidden_size to config.num_labels = {NUM_LABELS} (one Linear layer)."
        )
    assert_shape(out, (2, NUM_LABELS), what="classifier output (batch, num_labels)")
    raw = not _log_probabilities(out)
    # The comparison runs with weights the grader draws: BERT's (with the pooler's weight 0, so the pooled
    # vector is tanh of the pooler's bias whatever BERT's layers compute: a BERT bug, graded in part 1,
    # does not count twice) and the head's Linear, found by its shape and loaded by name.
    bert_state = trusted(bert, "BertModel", WIDE, zero=("pooler_dense.weight",))
    pooled = torch.tanh(bert_state["pooler_dense.bias"]).expand(ids.shape[0], -1)
    weight, bias = trusted_head(model, WIDE.hidden_size)
    try:
        out = tensor_result(model(ids, mask), "BertSentClassifier.forward(input_ids, attention_mask)")
    except StudentCodeError as exc:
        fail_raised("BertSentClassifier.forward", exc)
    raw = raw or not _log_probabilities(out)
    # Raw scores are normalised here only to say what else is wrong; they fail whatever they hold.
    normed = F.log_softmax(out.double(), dim=-1).float() if raw else out
    want = F.log_softmax(pooled @ weight.T + bias, dim=-1)
    problems = []
    if raw:
        problems.append(
            "returns raw scores, not log-probabilities (its rows' log-sum-exp is not 0): the given "
            "training loop applies F.nll_loss, so forward must end with F.log_softmax(logits, dim=-1)"
        )
    if not close(normed, want):
        if _reads_cls(bert, ids, mask, normed, weight, bias):
            problems.append(
                "reads last_hidden_state[:, 0]: use BERT's 'pooler_output' (the [CLS] vector after the "
                "pooler's dense layer and tanh)"
            )
        else:
            problems.append(
                "is not log_softmax(Linear(dropout(pooler_output))) with the grader's weights loaded "
                f"(BERT and the head's Linear, eval mode): off by up to {max_abs_diff(normed, want):.3g}"
            )
    if problems:
        fail("In classifier.py, BertSentClassifier.forward " + "; and it ".join(problems) + ".")
    # Fall 2023's given __init__ takes the head's probability from self.bert.config; 2021/2022 leave it to the
    # student, and the handout asks for config.hidden_dropout_prob.
    probabilities = (0.3, BERT_CONFIG_DROPOUT) if edition.head_dropout_from_bert else (0.3,)
    _dropout_probability(student, model, pooled, seed, weight, bias, probabilities, feedback)


def _log_probabilities(out: torch.Tensor) -> bool:
    """Every row a log-probability distribution: log-sum-exp 0, no entry above 0."""
    lse = torch.logsumexp(out.double(), dim=-1)
    return bool(torch.allclose(lse, torch.zeros_like(lse), atol=1e-5)) and not bool((out > 1e-6).any())


def _reads_cls(
    bert: RemoteObject,
    ids: torch.Tensor,
    mask: torch.Tensor,
    out: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
) -> bool:
    """A hint only (the verdict is already a failure): does the head read last_hidden_state[:, 0]?"""
    try:
        bert_out = bert(ids, mask)
    except StudentCodeError:
        return False
    if isinstance(bert_out, dict) and isinstance(bert_out.get("last_hidden_state"), torch.Tensor):
        cls = F.log_softmax(bert_out["last_hidden_state"][:, 0].float() @ weight.T + bias, dim=-1)
        return close(out, cls)
    return False


def _dropout_probability(
    student: Student,
    model: RemoteObject,
    pooled: torch.Tensor,
    seed: int,
    weight: torch.Tensor,
    bias: torch.Tensor,
    probabilities: tuple[float, ...],
    feedback: Feedback,
) -> None:
    """In train mode under one seed, the head's dropout should be hidden_dropout_prob (a warning otherwise)."""
    ids, mask = batch(seed, WIDE)
    model.call_method("train")
    student.seed(seed)
    got = tensor_result(model(ids, mask), "BertSentClassifier.forward in train mode")
    wants = []
    for p in probabilities:
        torch.manual_seed(seed)
        wants.append(F.log_softmax(F.dropout(pooled, p, True) @ weight.T + bias, dim=-1))
    if not any(close(got, want) for want in wants):
        feedback.note(
            "Note: in train mode the head does not match dropout(p=config.hidden_dropout_prob) on the pooled "
            "output followed by the Linear layer; use the configured dropout probability."
        )
        feedback.warn_staff("head dropout differs from hidden_dropout_prob (or sits elsewhere)")


@check(name="BertSentClassifier: trainable parameters per option", number="2.2", points=5, timeout=60)
def trainable(student: Student, files: Path, feedback: Feedback) -> None:
    """The edition's frozen option ('pretrain' 2021/2022, 'freeze' Fall 2023) trains only the head; 'finetune' all."""
    edition = editions.detect(files)
    for option in (edition.frozen_option, "finetune"):
        model, _ = classifier(student, option)
        params = model.named_parameters()
        head = [p for p in params if not p["name"].startswith("bert.")]
        built = f"BertSentClassifier(config) with config.option = '{option}' ({edition.name} handout, from {edition.signal})"
        if not head:
            fail(f"{built} has no parameters outside self.bert: the head's Linear layer is missing.")
        frozen_head = sorted(p["name"] for p in head if not p["requires_grad"])
        if frozen_head:
            fail(
                f"{built}: the head's parameters must be trainable; {', '.join(frozen_head[:3])} have requires_grad False."
            )
        bert = [p for p in params if p["name"].startswith("bert.")]
        wrong = [p["name"] for p in bert if p["requires_grad"] != (option == "finetune")]
        if wrong:
            want = "trainable (requires_grad True)" if option == "finetune" else "frozen (requires_grad False)"
            fail(
                f"{built}: every BERT parameter must be {want}; {len(wrong)} of {len(bert)} are not "
                f"(e.g. {', '.join(wrong[:2])})."
            )
