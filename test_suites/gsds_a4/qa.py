"""q1a offline: a tiny random ``BertForQuestionAnswering`` and a WordPiece vocabulary, saved in the sandbox.

The grader chooses every input here (docs/SECURITY.md, "The rule"). The vocabulary is trained on the
trusted side with the ``tokenizers`` library on our stored contexts, with the standard BERT
special-token ids the given ``split`` relies on ([SEP] = 102). The model's weights are drawn on the
trusted side, fresh for each grading, and loaded into a tiny model built in the sandbox (torch's own
``load_state_dict``); the tokenizer and the model are saved with ``save_pretrained`` into a temporary
folder that is then passed to the student's ``QAmodel(model_path)``. The trusted side rebuilds the same
tokenizer and the same model from those weights to compute every expected encoding, logit and answer;
the question/context pairs and the answer spans are drawn per grading too, so no constant or table can
stand in for the student's code.
"""

from __future__ import annotations

import functools
import json
import random
import re
import secrets
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from grader.authoring import (
    RemoteObject,
    Student,
    StudentCodeError,
    expect_object,
    fail,
    fail_raised,
    load_weights,
    trusted_weights,
)

SPECIALS = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
MAX_POSITIONS = 32
#: The tiny model (dropout 0: its forward is the same in train and eval mode).
CONFIG: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": MAX_POSITIONS,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


@functools.lru_cache(maxsize=1)
def vocabulary(data: Path) -> tuple[str, ...]:
    """A cased WordPiece vocabulary trained on the stored contexts (special tokens at BERT's ids)."""
    from tokenizers import BertWordPieceTokenizer

    texts = [f"{c['question']} {c['context']}" for c in contexts(data)]
    specials = [SPECIALS.get(i, f"[unused{i}]") for i in range(104)]
    tok = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    tok.train_from_iterator(texts, vocab_size=400, min_frequency=1, special_tokens=specials, show_progress=False)
    vocab = sorted(tok.get_vocab().items(), key=lambda item: item[1])
    if [t for t, _ in vocab[:104]] != specials:
        raise RuntimeError("the trained vocabulary lost the standard special-token ids")
    return tuple(t for t, _ in vocab)


def contexts(data: Path) -> list[dict[str, str]]:
    return list(json.loads((data / "q1a-contexts.json").read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=1)
def local_tokenizer(data: Path) -> Any:
    """The same tokenizer on the trusted side (never the student's code)."""
    from transformers import BertTokenizerFast

    folder = Path(tempfile.mkdtemp(prefix="grader-q1a-vocab-"))
    (folder / "vocab.txt").write_text("\n".join(vocabulary(data)) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=False)


def _offline(student: Student) -> None:
    student.module("os").environ.call_method("__setitem__", "HF_HUB_OFFLINE", "1")
    student.module("os").environ.call_method("__setitem__", "TRANSFORMERS_OFFLINE", "1")


def _trusted_model(vocab_size: int) -> Any:
    """The tiny model on the trusted side (our own code only)."""
    from transformers import BertConfig, BertForQuestionAnswering

    return BertForQuestionAnswering(BertConfig(vocab_size=vocab_size, **CONFIG)).eval()


@functools.lru_cache(maxsize=1)
def _shapes(vocab_size: int) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in _trusted_model(vocab_size).named_parameters()}


# At suite load, which a worker does once per process before its first job: the vocabulary and the
# tokenizer (from the stored contexts only, the same for every grading) and a first model, whose import of
# transformers' BERT modules takes seconds that no grading should pay. Shapes only: weights are drawn per grading.
_shapes(len(vocabulary(Path(__file__).parent / "data")))
local_tokenizer(Path(__file__).parent / "data")


def initial_weights(data: Path) -> dict[str, torch.Tensor]:
    """Every parameter of the tiny model, drawn here for this grading (nonzero; LayerNorm gains around one)."""
    shapes = _shapes(len(vocabulary(data)))
    return trusted_weights(shapes, around_one=[name for name in shapes if name.endswith("LayerNorm.weight")])


def model_dir(student: Student, data: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """Save the tiny model, holding weights drawn here, and its tokenizer in a fresh sandbox folder; returns the
    folder and the weights."""
    _offline(student)
    folder = str(student.module("tempfile").mkdtemp(prefix="qa-model-"))
    vocab = vocabulary(data)
    handle = student.module("builtins").open(f"{folder}/vocab.txt", "w", encoding="utf-8")
    handle.call_method("write", "\n".join(vocab) + "\n")
    handle.call_method("close")
    tf = student.module("transformers")
    tf.BertTokenizerFast(vocab_file=f"{folder}/vocab.txt", do_lower_case=False).save_pretrained(folder)
    weights = initial_weights(data)
    model = tf.BertForQuestionAnswering(tf.BertConfig(vocab_size=len(vocab), **CONFIG))
    load_weights(model, weights, what="the tiny BertForQuestionAnswering")
    model.call_method("save_pretrained", folder)
    return folder, weights


def qa_model(student: Student, data: Path) -> tuple[RemoteObject, dict[str, torch.Tensor]]:
    """``QAmodel(model_path)`` from the student's notebook, on the offline tiny model; and that model's weights."""
    folder, weights = model_dir(student, data)
    try:
        qa = student.module("q1a").QAmodel(folder)
    except StudentCodeError as exc:
        fail_raised("QAmodel(model_path)", exc)
    return expect_object(qa, "QAmodel(model_path)"), weights


def logits(data: Path, weights: dict[str, torch.Tensor], inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Start and end logits (2, L) of the tiny model with ``weights`` on ``inputs``, computed here."""
    model = _trusted_model(len(vocabulary(data)))
    model.load_state_dict(weights)
    with torch.no_grad():
        out = model(**inputs)
    return torch.stack([out.start_logits[0], out.end_logits[0]])


def fresh_rng() -> random.Random:
    """Draws for one grading (pairs, spans): no submission can carry a table of them."""
    return random.Random(secrets.randbits(64))


def short_pair(data: Path, rng: random.Random) -> tuple[str, str]:
    """A stored question and a few consecutive words of a stored context that fit the tiny model unsplit."""
    cases = contexts(data)
    for _ in range(200):
        question, words = rng.choice(cases)["question"], rng.choice(cases)["context"].split()
        size = rng.randint(8, 14)
        start = rng.randrange(len(words) - size)
        context = " ".join(words[start : start + size])
        encoded = encode(data, question, context)
        length, context_start = encoded["input_ids"].shape[1], int((encoded["token_type_ids"][0] == 0).sum())
        if length - context_start >= 10 and length <= MAX_POSITIONS:
            return question, context
    raise RuntimeError("no short pair fits the tiny model")


def long_pair(data: Path, rng: random.Random) -> tuple[str, str]:
    """A stored question and stored sentences in a random order: more than three chunks, the last of which has
    room for an answer span."""
    cases = contexts(data)
    for _ in range(50):
        sentences = [s for case in cases for s in re.split(r"(?<=[a-z]\.) ", case["context"])]
        rng.shuffle(sentences)
        question = rng.choice(cases)["question"]
        context = ""
        for sentence in sentences:
            context = f"{context} {sentence}".strip()
            encoded = encode(data, question, context)
            if encoded["input_ids"].shape[1] > 3 * MAX_POSITIONS:
                last = list(given_split(encoded).values())[-1]["input_ids"].shape[1]
                if last - int((encoded["token_type_ids"][0] == 0).sum()) >= 4:
                    return question, context
                break
    raise RuntimeError("the stored contexts give no long pair")


def span(rng: random.Random, ids: torch.Tensor, first: int) -> tuple[int, int]:
    """A span of 2 to 4 tokens inside the context part (from ``first``, before the closing [SEP])."""
    start = rng.randrange(first, len(ids) - 2)
    return start, min(start + rng.randint(1, 3), len(ids) - 2)


def replace_inputs(student: Student, qa: RemoteObject, values: dict[Any, Any]) -> None:
    """Put the grader's encoding (or chunks) into the student's ``self.inputs`` in place, so that its type stays
    the student's own (a BatchEncoding with ``.to()``, an OrderedDict of chunks); a plain dict where that fails."""
    builtins, operator = student.module("builtins"), student.module("operator")
    try:
        for method in (operator.methodcaller("clear"), operator.methodcaller("update", values)):
            builtins.list(builtins.map(method, builtins.map(operator.attrgetter("inputs"), [qa])))
    except StudentCodeError:
        builtins.setattr(qa, "inputs", values)


def encode(data: Path, question: str, context: str) -> dict[str, torch.Tensor]:
    enc = local_tokenizer(data)(question, context, return_tensors="pt", return_token_type_ids=True)
    return {k: enc[k] for k in ("input_ids", "token_type_ids", "attention_mask")}


def given_split(
    inputs: dict[str, torch.Tensor], max_len: int = MAX_POSITIONS
) -> OrderedDict[int, dict[str, torch.Tensor]]:
    """The handout's ``split``: chunks of the context behind the question, [SEP] (102) closing all but the last."""
    q_len = int((inputs["token_type_ids"][0] == 0).sum())
    size = max_len - q_len - 1
    question = {k: v[0][:q_len] for k, v in inputs.items()}
    context = {k: v[0][q_len:] for k, v in inputs.items()}
    count = (len(context["input_ids"]) + size - 1) // size
    chunks: OrderedDict[int, dict[str, torch.Tensor]] = OrderedDict()
    for i in range(count):
        chunk = {k: torch.cat([question[k], context[k][i * size : (i + 1) * size]]) for k in question}
        if i < count - 1:
            chunk = {k: torch.cat([v, torch.tensor([102 if k == "input_ids" else 1])]) for k, v in chunk.items()}
        chunks[i] = {k: v.unsqueeze(0) for k, v in chunk.items()}
    return chunks


def decode(data: Path, ids: torch.Tensor) -> str:
    tok = local_tokenizer(data)
    return str(tok.convert_tokens_to_string(tok.convert_ids_to_tokens(ids.tolist())))


def read_inputs(
    qa: RemoteObject, keys: tuple[str, ...] = ("input_ids", "token_type_ids", "attention_mask")
) -> dict[str, Any]:
    """``qa.inputs[k]`` for the three keys (a BatchEncoding or a dict: both fine), or a failure naming the missing key."""
    try:
        inputs = qa.inputs
    except StudentCodeError:
        fail("After tokenize(question, context), self.inputs is not set.")
    out = {}
    for key in keys:
        try:
            out[key] = inputs[key]
        except StudentCodeError:
            fail(
                f"self.inputs has no '{key}': return PyTorch tensors including token_type_ids (the given split needs them)."
            )
    return out


def stub_outputs(student: Student, logits: list[tuple[torch.Tensor, torch.Tensor]]) -> RemoteObject:
    """A stand-in for ``self.model`` returning the chosen start/end logits, one call after another."""
    # The outputs are built lazily inside the sandbox (starmap over (loss, start, end)): a model output
    # built by a call of its own would come back here as a plain dict.
    make = student.module("transformers.modeling_outputs").QuestionAnsweringModelOutput
    outputs = student.module("itertools").starmap(make, [(None, s, e) for s, e in logits])
    stand_in = student.module("unittest.mock").Mock(side_effect=outputs)
    assert isinstance(stand_in, RemoteObject)
    return stand_in


def one_hot_logits(length: int, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (1, length) whose arg-max start and end are the given positions."""
    s, e = torch.zeros(1, length), torch.zeros(1, length)
    s[0, start], e[0, end] = 5.0, 5.0
    return s, e
