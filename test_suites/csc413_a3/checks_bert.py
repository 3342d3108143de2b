"""Part 3 Q1 (bert.ipynb): ``BertForSentenceClassification`` (10 points), and the real MathBERT fine-tune.

Offline checks use tiny ``transformers.BertConfig`` models built inside the sandbox, into which the grader
loads weights it drew here (fresh per grading). Logits are compared with ``classifier(pooler_output)``
computed here, in the trusted process, by our own ``BertModel`` holding *those* weights: nothing read
back from the sandbox feeds an expectation. The fine-tune runs its optimiser inside the sandbox on a
gradient the grader computes from the returned logits, so the training labels never reach the student's
code; losses and accuracies are computed here.
"""

from __future__ import annotations

import csv
import functools
import random
from pathlib import Path
from typing import Any

import torch
import transformers

from grader.authoring import (
    Feedback,
    RemoteObject,
    Student,
    StudentCodeError,
    check,
    fail,
    load_trusted_weights,
    load_weights,
    trusted_weights,
)

from .common import close, definition, run, tensor, worst
from .editions import located

NB = "bert_nb"
TAGS = ["bert.ipynb", "part 3"]
TINY = {
    "vocab_size": 100,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 16,
}
HEAD = {"classifier.weight", "classifier.bias"}


@functools.cache
def body_shapes() -> dict[str, tuple[int, ...]]:
    """Every parameter of the tiny ``BertModel`` (the parent class: everything but the head), by name."""
    body = transformers.BertModel(transformers.BertConfig(**TINY))
    return {name: tuple(p.shape) for name, p in body.named_parameters()}


# At suite load, which a worker does once per process before its first job: the first BertModel imports
# transformers' BERT modules (seconds), which no grading should pay. Shapes only, from our own config.
body_shapes()


def _load_body(model: Any) -> dict[str, torch.Tensor]:
    """Draw the BertModel weights here and load them into the student's model (LayerNorm gains around 1)."""
    shapes = body_shapes()
    gains = [n for n in shapes if n.endswith("LayerNorm.weight")]
    return load_trusted_weights(model, shapes, what="BertForSentenceClassification", around_one=gains)


def _tiny(student: Student, seed: int, files: Path, num_labels: int, **extra: float) -> Any:
    """The student's classifier on a tiny BERT, built in the sandbox, in eval mode."""
    student.seed(seed)
    cls = definition(student, NB, "BertForSentenceClassification", files)
    config = run(
        "transformers.BertConfig", student.module("transformers").BertConfig, num_labels=num_labels, **TINY, **extra
    )
    model = run("BertForSentenceClassification(config)", cls, config)
    if not any(c.endswith("modeling_bert.BertModel") for c in model.describe()["mro"]):
        fail("BertForSentenceClassification should subclass transformers.BertModel (as given).")
    run("model.eval()", model.call_method, "eval")
    return model


def _batch(seed: int, size: int = 4, length: int = 6, labels: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, TINY["vocab_size"], (size, length), generator=gen)
    ids[:, 0] = 1
    mask = torch.ones(size, length, dtype=torch.long)
    mask[0, -2:] = 0
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, labels, (size,), generator=gen)}


def _head(model: Any) -> Any:
    try:
        head = model.classifier
    except StudentCodeError:  # an AttributeError inside the sandbox: no attribute of that name
        head = None
    if not isinstance(head, RemoteObject):
        fail(
            "The model has no module named `classifier`. Name the head `self.classifier` (Q3 freezes every parameter "
            "whose name lacks 'classifier', so the name matters)."
        )
    return head


@check(
    name="BERT head: `classifier` is nn.Linear(hidden_size, num_labels)",
    number="3.1.1",
    points=2,
    tags=TAGS,
    timeout=120,
)
def head_shape(student: Student, seed: int, files: Path) -> None:
    """For num_labels 3 and 5 (catches a hard-coded 3), ``classifier`` maps config.hidden_size to config.num_labels."""
    for labels in (3, 5):
        head = _head(_tiny(student, seed, files, labels))
        info = head.describe()
        if not any(c == "torch.nn.modules.linear.Linear" for c in info["mro"]):
            fail(f"`classifier` should be an nn.Linear, got {info['type']}")
        shape = (head.in_features, head.out_features)
        if shape != (TINY["hidden_size"], labels):
            fail(
                f"With hidden_size {TINY['hidden_size']} and num_labels {labels}, `classifier` should be "
                f"nn.Linear({TINY['hidden_size']}, {labels}), got nn.Linear{shape}: use config.hidden_size and config.num_labels."
            )
        # The attributes above are what the module says of itself; torch's loader checks the parameters' shapes.
        load_weights(
            head, trusted_weights({"weight": (labels, TINY["hidden_size"]), "bias": (labels,)}), what="`classifier`"
        )


@check(
    name="BERT head: returns (logits, loss) with labels and (logits,) without",
    number="3.1.2",
    points=2,
    tags=TAGS,
    timeout=120,
)
def head_returns(student: Student, seed: int, files: Path) -> None:
    """With labels: logits (B, num_labels) and loss = cross-entropy(logits, labels); without: the 1-tuple of the
    same logits. The logits come from the BERT weights the grader loads (other weights, other logits)."""
    model = _tiny(student, seed, files, 3)
    _load_body(model)
    batch = _batch(seed)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    out = run("model(input_ids, attention_mask, labels)", model, **batch)
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail(
            f"With labels the model should return (logits, loss), got {type(out).__name__} of {len(out) if isinstance(out, tuple | list) else '?'}"
        )
    logits, loss = tensor(out[0], "logits"), tensor(out[1], "loss")
    if tuple(logits.shape) != (4, 3) or not logits.is_floating_point():
        fail(f"logits should be a float tensor (batch, num_labels) = (4, 3), got {logits.dtype} {tuple(logits.shape)}")
    expected = torch.nn.functional.cross_entropy(logits.double(), batch["labels"])
    if loss.numel() != 1 or abs(float(loss) - float(expected)) > 1e-5:
        fail(
            f"The loss should be the cross-entropy of the returned logits against the labels (mean over the batch, "
            f"as CrossEntropyLoss gives); got {loss.tolist()}, which is not."
        )
    out = run("model(input_ids, attention_mask)", model, **inputs)
    if not isinstance(out, tuple | list) or len(out) != 1:
        fail(f"Without labels the model should return the 1-tuple (logits,), got {type(out).__name__}")
    alone = tensor(out[0], "logits")
    if alone.shape != logits.shape or not close(alone, logits):
        fail("Without labels the model returned other logits than with labels for the same inputs (eval mode).")
    _load_body(model)
    again = tensor(run("model(input_ids, attention_mask)", model, **inputs)[0], "logits")
    if again.shape == logits.shape and close(again, logits):
        fail(
            "With other BERT weights loaded into the model (load_state_dict), the logits did not change: they must "
            "come from the parent forward's output (outputs.pooler_output) through the classifier."
        )


def _trusted_bert(state: dict[str, torch.Tensor], labels: int) -> transformers.BertModel:
    """Our own BertModel holding the grader's weights (everything but the head)."""
    torch.manual_seed(0)
    config = transformers.BertConfig(num_labels=labels, **TINY)
    ours = transformers.BertModel(config)
    body = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    result = ours.load_state_dict(body, strict=False)
    if set(result.missing_keys) & set(body_shapes()):  # our own model and our own draw: a suite bug
        raise RuntimeError(f"the trusted BertModel lacks drawn weights: {result.missing_keys[:3]}")
    return ours.eval()


@check(
    name="BERT head: logits = classifier(pooler_output), no softmax", number="3.1.3", points=3, tags=TAGS, timeout=120
)
def head_logits(student: Student, seed: int, files: Path) -> None:
    """In eval mode, logits equal the classifier applied to the parent forward's pooler_output."""
    model = _tiny(student, seed, files, 3)
    _head(model)
    state = _load_body(model)
    state |= load_trusted_weights(
        model,
        {"classifier.weight": (3, TINY["hidden_size"]), "classifier.bias": (3,)},
        what="BertForSentenceClassification",
    )
    batch = _batch(seed + 1)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    out = run("model(input_ids, attention_mask)", model, **inputs)
    logits = tensor(out[0] if isinstance(out, tuple | list) and out else out, "logits")
    with torch.no_grad():
        hidden = _trusted_bert(state, 3)(**inputs)
        w, b = state["classifier.weight"], state["classifier.bias"]
        expected = hidden.pooler_output @ w.T + b
        from_cls = hidden.last_hidden_state[:, 0] @ w.T + b
    if close(logits, expected):
        return
    if close(logits, torch.softmax(expected, -1)) or close(logits, torch.log_softmax(expected, -1)):
        fail(
            "The logits are (log-)probabilities: return the classifier's raw output; CrossEntropyLoss applies the softmax itself."
        )
    if close(logits, from_cls):
        fail(
            "The logits come from last_hidden_state[:, 0]; the handout uses outputs.pooler_output (the pooled [CLS] representation)."
        )
    detail = (
        worst(logits, expected)
        if logits.shape == expected.shape
        else f"shape {tuple(logits.shape)}, expected {tuple(expected.shape)}"
    )
    fail(
        f"The logits of BertForSentenceClassification.forward{located(files, NB, 'BertForSentenceClassification')} "
        f"should equal classifier(outputs.pooler_output): {detail}"
    )


@check(
    name="BERT head: freezing every parameter without 'classifier' leaves exactly the head trainable",
    number="3.1.4",
    points=1,
    tags=TAGS,
    timeout=120,
)
def head_freezing(student: Student, seed: int, files: Path) -> None:
    """Q3's loop (requires_grad = False where 'classifier' is not in the name) leaves classifier.weight and .bias."""
    params = run("model.named_parameters()", _tiny(student, seed, files, 3).named_parameters)
    left = {p["name"] for p in params if "classifier" in p["name"] and p["requires_grad"]}
    if left != HEAD:
        fail(
            f"After Q3's freezing loop the trainable parameters would be {sorted(left) or 'none'}; they must be exactly "
            "classifier.weight and classifier.bias (name the head `classifier`, and nothing else)."
        )


def verbal_arithmetic(data: Path) -> tuple[list[list[str]], list[int]]:
    with (data / "verbal-arithmetic" / "PA03_data_20_train.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["input"].split() for r in rows], [int(r["label"]) for r in rows]


@check(
    name="BERT head: a short fine-tune of a tiny BERT learns verbal arithmetic",
    number="3.1.5",
    points=2,
    tags=TAGS,
    timeout=180,
)
def head_learns(student: Student, seed: int, data: Path, feedback: Feedback, files: Path) -> None:
    """120 AdamW steps (lr 3e-3, batch 64) on word-level verbal arithmetic: on 192 held-out rows the loss falls
    and the accuracy beats the majority class.

    The grader computes the training gradient on the logits itself (cross-entropy, here) and back-propagates
    it through the student's model with ``grad_probe``, so no label is ever passed to the student's code; the
    word ids are shuffled (seeded) and the scored rows are never trained on. Only a model that learns
    from the gradient can predict them (a forward that memorises what it is shown cannot).
    """
    words, labels = verbal_arithmetic(data)
    # Seeded, not fresh: a model near the threshold must get the same verdict on every regrade, and the
    # labels never reach the sandbox, so a fixed draw gives a forgery nothing to fit.
    draw = random.Random(seed)
    names = sorted({w for ws in words for w in ws})
    draw.shuffle(names)
    vocab = {w: i + 3 for i, w in enumerate(names)}
    ids = torch.tensor([[1, *(vocab[w] for w in ws), 2] for ws in words])
    y = torch.tensor(labels)
    order = list(range(len(y)))
    draw.shuffle(order)
    held, train = sorted(order[:192]), sorted(order[192:])
    majority = float(torch.bincount(y[held]).max()) / len(held)
    model = _tiny(student, seed, files, 3)
    torch_r = student.module("torch")
    params = run("model.parameters()", model.call_method, "parameters")
    optimizer = run("torch.optim.AdamW", torch_r.optim.AdamW, params, lr=3e-3)

    def logits_of(rows: torch.Tensor) -> torch.Tensor:
        out = run("model(input_ids)", model, input_ids=ids[rows])
        return tensor(out[0] if isinstance(out, tuple | list) and out else out, "logits").double()

    def evaluate() -> tuple[float, float]:
        run("model.eval()", model.call_method, "eval")
        logits = logits_of(torch.tensor(held))
        if tuple(logits.shape) != (len(held), 3):
            fail(f"logits for {len(held)} sentences should have shape ({len(held)}, 3), got {tuple(logits.shape)}")
        loss = torch.nn.functional.cross_entropy(logits, y[held])
        return float(loss), float((logits.argmax(-1) == y[held]).double().mean())

    loss_before, _ = evaluate()
    run("model.train()", model.call_method, "train")
    for step in range(120):
        pick = torch.tensor(draw.sample(train, 64))
        student.seed(seed + step)  # the same dropout masks in both passes below
        logits = logits_of(pick)
        # d(mean cross-entropy)/d(logits), computed here: the labels stay on the trusted side.
        grad = (torch.softmax(logits, -1) - torch.nn.functional.one_hot(y[pick], 3)) / len(pick)
        student.seed(seed + step)
        run("loss.backward()", model.grad_probe, input_ids=ids[pick], weights=grad.float(), output_index=0)
        run("optimizer.step()", optimizer.call_method, "step")
    loss_after, accuracy = evaluate()
    if not loss_after < 0.8 * loss_before or accuracy < majority + 0.05:
        fail(
            f"After 120 optimisation steps the model did not learn: on held-out sentences the loss went {loss_before:.3f} "
            f"-> {loss_after:.3f} and the accuracy is {accuracy:.3f} (predicting the majority class gives {majority:.3f}). "
            "Are the logits raw scores of the classifier on pooler_output?"
        )
    feedback.note(
        f"Tiny BERT fine-tune: held-out loss {loss_before:.3f} -> {loss_after:.3f}, accuracy {accuracy:.3f} "
        f"(majority class {majority:.3f})."
    )


def _split(labels: list[int], seed: int = 42, validation: float = 0.3) -> tuple[list[int], list[int]]:
    """A stratified 70/30 split with seed 42, like the notebook's (not sklearn's exact draw, which needs sklearn)."""
    rng = random.Random(seed)
    train: list[int] = []
    val: list[int] = []
    for label in sorted(set(labels)):
        rows = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(rows)
        cut = round(len(rows) * validation)
        val += rows[:cut]
        train += rows[cut:]
    return sorted(train), sorted(val)


@check(
    name="MathBERT fine-tune (Q2) reaches the handout's validation accuracy",
    number="3.2",
    points=0,
    tags=[*TAGS, "gpu", "model cache"],
    timeout=1200,
    models=["tbs17/MathBERT"],
)
def mathbert_finetune(student: Student, data: Path, config: dict[str, float], feedback: Feedback, files: Path) -> None:
    """The handout's Q2 run on the cached tbs17/MathBERT: 3 epochs, AdamW 5e-5, 10% warm-up, clip 1.0, batch 32, MAX_LEN 7."""
    words, labels = verbal_arithmetic(data)
    train, val = _split(labels)
    tr = student.module("transformers")
    tokenizer = run(
        "BertTokenizer.from_pretrained('tbs17/MathBERT')", tr.BertTokenizer.from_pretrained, "tbs17/MathBERT"
    )

    def encode(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = run(
            "tokenizer(...)",
            tokenizer,
            [" ".join(words[i]) for i in rows],
            padding="max_length",
            truncation=True,
            max_length=7,
            return_tensors="pt",
        )
        return tensor(batch["input_ids"], "input_ids"), tensor(batch["attention_mask"], "attention_mask")

    (ids, mask), (val_ids, val_mask) = encode(train), encode(val)
    y, val_y = torch.tensor([labels[i] for i in train]), torch.tensor([labels[i] for i in val])
    student.seed(42)
    cls = definition(student, NB, "BertForSentenceClassification", files)
    model = run("from_pretrained('tbs17/MathBERT', num_labels=3)", cls.from_pretrained, "tbs17/MathBERT", num_labels=3)
    torch_r = student.module("torch")
    optimizer = run("torch.optim.AdamW", torch_r.optim.AdamW, model.call_method("parameters"), lr=5e-5)
    steps_per_epoch = -(-len(train) // 32)
    total = 3 * steps_per_epoch
    scheduler = run(
        "get_linear_schedule_with_warmup", tr.get_linear_schedule_with_warmup, optimizer, int(0.1 * total), total
    )
    rng = random.Random(42)
    accuracies = []
    for _epoch in range(3):
        run("model.train()", model.call_method, "train")
        order = list(range(len(train)))
        rng.shuffle(order)
        for start in range(0, len(order), 32):
            pick = torch.tensor(order[start : start + 32])
            run(
                "loss.backward()",
                model.grad_probe,
                input_ids=ids[pick],
                attention_mask=mask[pick],
                labels=y[pick],
                weights=torch.tensor(1.0),
                output_index=1,
            )
            run("clip_grad_norm_", torch_r.nn.utils.clip_grad_norm_, model.call_method("parameters"), 1.0)
            run("optimizer.step()", optimizer.call_method, "step")
            run("scheduler.step()", scheduler.call_method, "step")
        run("model.eval()", model.call_method, "eval")
        out = run("model(input_ids, attention_mask)", model, input_ids=val_ids, attention_mask=val_mask)
        logits = tensor(out[0] if isinstance(out, tuple | list) and out else out, "logits")
        accuracies.append(float((logits.argmax(-1) == val_y).double().mean()))
    wanted = config["mathbert_min_val_accuracy"]
    feedback.note(
        f"MathBERT validation accuracy per epoch: {', '.join(f'{a:.3f}' for a in accuracies)} (needs {wanted:.2f})."
    )
    if accuracies[-1] < wanted:
        fail(
            f"After the handout's 3-epoch fine-tune the validation accuracy is {accuracies[-1]:.3f}; the handout's "
            f"runs reach {wanted:.2f} or more. Check the head (classifier on pooler_output, raw logits)."
        )
