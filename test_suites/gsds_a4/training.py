"""Run the student's training code (q2 e, f) offline in a run the grader controls, and replay it here.

The grader chooses every input: a small BERT of the student's own code whose weights it draws (the
pooler's weight 0, so the pooled vector is tanh of the pooler's bias whatever the layers compute: a
BERT bug, graded in q2 a-d, does not count again, while the layers still run), the classifier head's
weights, 8 sentences with labels drawn per grading (one batch of 8, so the shuffle cannot change a
batch), dropout 0, option ``pretrain`` (BERT frozen: the head alone learns, so the pooled vector stays
the grader's) and the learning rate. The same run is replayed here with torch's AdamW (the handout's
optimizer, its defaults) from the same weights: the head after each step, each epoch's loss and the
accuracies are ours, compared with what the student's run leaves and prints. Nothing the sandbox
reports feeds an expectation.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from grader.authoring import RemoteObject, Student, StudentCodeError, fail, fail_raised, load_weights, trusted_weights

from .bertlib import reference as ref
from .bertlib.head import NUM_LABELS, head_names, head_shapes, namespace, split_head
from .bertlib.probes import build, draw, patch, state_of

SPECIALS = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
BATCH, HIDDEN, LR = 8, 768, 1e-3
#: Below these the replay could disagree with a correct float32 run: the arg-max class (accuracy) and
#: Adam's normalised step (a gradient near 0 is where eps matters). Such draws are drawn again.
CLASS_MARGIN, GRADIENT_MARGIN = 1e-3, 1e-3
#: A correct run's head weights agree with the replay to float32 rounding; a missing zero_grad moves
#: the second step by about 3 % of the learning rate (3e-5).
WEIGHT_ATOL = 2e-6


@dataclass(frozen=True)
class Trajectory:
    """Our replay: the head before the first step and after each step, and what each state gives."""

    heads: list[tuple[torch.Tensor, torch.Tensor]]
    losses: list[float]  # the batch's mean NLL at each state
    classes: list[int]  # the class predicted (for every sentence: the pooled vector is shared) at each state
    gaps: list[float]  # min |softmax - label frequency| at each state (Adam's step is sign-like above it)
    margins: list[float]  # top-1 minus top-2 log-probability at each state


@dataclass
class Run:
    """The student's objects of one controlled run and what the grader chose for it."""

    tmp: str
    classifier: RemoteObject
    model: RemoteObject
    labels: list[int]
    dev: list[int]
    test: list[int]
    head: tuple[torch.Tensor, torch.Tensor]
    pooled: torch.Tensor
    lr: float


def replay(
    head: tuple[torch.Tensor, torch.Tensor],
    pooled: torch.Tensor,
    labels: list[int],
    lr: float,
    steps: int,
    *,
    accumulate: bool = False,
) -> Trajectory:
    """``steps`` AdamW steps on the batch's mean NLL (gradients zeroed each step unless ``accumulate``)."""
    w, b = (t.clone().requires_grad_(True) for t in head)
    optimizer = torch.optim.AdamW([w, b], lr=lr)
    ys = torch.tensor(labels)
    freq = torch.bincount(ys, minlength=NUM_LABELS).float() / len(labels)
    heads, losses, classes, gaps, margins = [], [], [], [], []
    for k in range(steps + 1):
        logp = F.log_softmax(w @ pooled + b, dim=-1)
        loss = -logp[ys].mean()
        top = torch.topk(logp.detach(), 2).values
        heads.append((w.detach().clone(), b.detach().clone()))
        losses.append(float(loss.detach()))
        classes.append(int(logp.argmax()))
        gaps.append(float((logp.detach().exp() - freq).abs().min()))
        margins.append(float(top[0] - top[1]))
        if k == steps:
            break
        if not accumulate:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Trajectory(heads, losses, classes, gaps, margins)


def _labels() -> list[int]:
    """8 labels with every class present (the given code counts the classes of the training file)."""
    rng = secrets.SystemRandom()
    labels = list(range(NUM_LABELS)) + [rng.randrange(NUM_LABELS) for _ in range(BATCH - NUM_LABELS)]
    rng.shuffle(labels)
    return labels


def _eval_labels() -> list[int]:
    """15 labels, class k a different number of times (1..5, shuffled): the accuracy names the class predicted."""
    rng = secrets.SystemRandom()
    counts = list(range(1, NUM_LABELS + 1))
    rng.shuffle(counts)
    labels = [k for k in range(NUM_LABELS) for _ in range(counts[k])]
    rng.shuffle(labels)
    return labels


def vocabulary(sentences: list[str]) -> list[str]:
    """Standard BERT special-token ids (the given code relies on them) plus the sample's lower-cased words."""
    words = sorted({w for s in sentences for w in re.findall(r"\w+|[^\w\s]", s.lower())})
    return [SPECIALS.get(i, f"[unused{i}]") for i in range(104)] + words


def _write(student: Student, path: str, text: str) -> None:
    handle = student.module("builtins").open(path, "w", encoding="utf-8")
    handle.call_method("write", text)
    handle.call_method("close")


def read(student: Student, path: str) -> str:
    handle = student.module("builtins").open(path, encoding="utf-8")
    text = handle.call_method("read")
    handle.call_method("close")
    return str(text)


def _lines(labels: list[int], sentences: list[str]) -> str:
    return "".join(f"{y} ||| {sentences[i % len(sentences)]}\n" for i, y in enumerate(labels))


def prepare(student: Student, sample: Path, *, layers: int, steps: int, lr: float = LR) -> tuple[Run, Trajectory]:
    """Build the controlled run in the sandbox (the given ``BertSentClassifier`` now returns our model)."""
    sentences = [line.split(" ||| ", 1)[1].strip() for line in sample.read_text(encoding="utf-8").splitlines()]
    vocab = vocabulary(sentences)
    cfg = ref.TinyConfig(
        vocab_size=len(vocab),
        hidden_size=HIDDEN,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    labels, dev, test = _labels(), _eval_labels(), _eval_labels()
    tmp = str(student.module("tempfile").mkdtemp())
    _write(student, f"{tmp}/vocab.txt", "\n".join(vocab) + "\n")
    _write(student, f"{tmp}/train.txt", _lines(labels, sentences))
    _write(student, f"{tmp}/dev.txt", _lines(dev, sentences))
    _write(student, f"{tmp}/test.txt", _lines(test, sentences))
    student.module("os").chdir(tmp)  # importing classifier.py opens result.log in the working folder

    bert = build(student, "BertModel", cfg)
    patch(student, student.module("bert").BertModel, "from_pretrained", bert)
    try:
        tokenizer = student.module("tokenizer").BertTokenizer(f"{tmp}/vocab.txt")
        patch(student, student.module("tokenizer").BertTokenizer, "from_pretrained", tokenizer)
        classifier = student.module("classifier")
        config = namespace(
            student, hidden_dropout_prob=0.0, num_labels=NUM_LABELS, hidden_size=HIDDEN, data_dir=".", option="pretrain"
        )
        model = classifier.BertSentClassifier(config)
    except StudentCodeError as exc:
        fail_raised("Building the classifier (classifier.BertSentClassifier)", exc)
    shapes = head_shapes(model, HIDDEN)
    for _ in range(50):
        bert_weights = draw("BertModel", cfg, zero=("pooler_dense.weight",))
        head = split_head(drawn := trusted_weights(shapes))
        pooled = torch.tanh(bert_weights["pooler_dense.bias"])
        trajectory = replay(head, pooled, labels, lr, steps)
        if min(trajectory.margins) > CLASS_MARGIN and min(trajectory.gaps[:-1]) > GRADIENT_MARGIN:
            break
    load_weights(bert, bert_weights, what="bert.BertModel")
    load_weights(model, drawn, what="the classifier head")
    patch(student, classifier, "BertSentClassifier", model)
    return Run(tmp, classifier, model, labels, dev, test, head, pooled, lr), trajectory


def train(student: Student, run: Run, epochs: int) -> RemoteObject:
    """``classifier.train(args)`` with the handout's CLI (``get_args``) on the run's files; returns args."""
    tmp = run.tmp
    argv = [
        "classifier.py",
        "--option",
        "pretrain",
        "--epochs",
        str(epochs),
        "--lr",
        repr(run.lr),
        "--batch_size",
        str(BATCH),
        "--hidden_dropout_prob",
        "0",
        "--train",
        f"{tmp}/train.txt",
        "--dev",
        f"{tmp}/dev.txt",
        "--test",
        f"{tmp}/test.txt",
        "--dev_out",
        f"{tmp}/dev-output.txt",
        "--test_out",
        f"{tmp}/test-output.txt",
    ]
    try:
        student.module("builtins").setattr(student.module("sys"), "argv", argv)
        args = run.classifier.get_args()
        student.module("builtins").setattr(args, "filepath", f"{tmp}/model.pt")
        run.classifier.train(args)
    except StudentCodeError as exc:
        fail_raised("classifier.train(args)", exc)
    if not isinstance(args, RemoteObject):
        fail("classifier.get_args() did not return the parsed arguments")
    return args


def head_after(run: Run) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's head weights as its run left them (the thing under test)."""
    names = head_names(run.model, HIDDEN)
    if names is None:
        fail("After training, the classifier no longer has one Linear(768, num_labels) head.")
    state = state_of(run.model)
    weight = state[names[0]]
    return weight, state[names[1]] if names[1] else torch.zeros(NUM_LABELS)


def same_head(got: tuple[torch.Tensor, torch.Tensor], want: tuple[torch.Tensor, torch.Tensor]) -> bool:
    return all(
        g.shape == w.shape and bool(torch.allclose(g, w, atol=WEIGHT_ATOL, rtol=1e-5))
        for g, w in zip(got, want, strict=True)
    )


def printed_losses(log: str) -> list[float]:
    """The epoch train losses a ``result.log`` shows."""
    return [float(v) for v in re.findall(r"train loss\s*::\s*([-+0-9.eEnaif]+)", log)]


def accuracy(labels: list[int], predicted: int) -> float:
    return sum(y == predicted for y in labels) / len(labels)
