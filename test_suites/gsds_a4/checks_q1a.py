"""q1a: ``QAmodel`` in ``q1/q1a.ipynb`` (imported as module ``q1a``), on a tiny random offline model."""

from __future__ import annotations

from pathlib import Path

import torch

from grader.authoring import Credit, StudentCodeError, check, fail
from grader.sandbox.client import RemoteObject, Student

from . import qa

QUESTION_FIRST_HINT = (
    "encode the pair with the question first and the context second: tokenizer(question, context, return_tensors='pt')"
)


def _tokenize(model: RemoteObject, question: str, context: str) -> None:
    try:
        model.call_method("tokenize", question, context)
    except StudentCodeError as exc:
        fail(f"tokenize(question, context) raised {exc.exc_type}: {exc.exc_message}")


def _answer(model: RemoteObject) -> str:
    try:
        answer = model.call_method("generateAnswer")
    except StudentCodeError as exc:
        fail(f"generateAnswer() raised {exc.exc_type}: {exc.exc_message}")
    if not isinstance(answer, str):
        fail(f"generateAnswer() must return a string, got {type(answer).__name__}")
    return answer


def _own_ids(model: RemoteObject) -> torch.Tensor:
    """The student's own encoding of the last pair (q1a(b) grades it; here only the span matters)."""
    ids = qa.read_inputs(model, ("input_ids",))["input_ids"]
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        fail("self.inputs['input_ids'] should be a (1, L) tensor.")
    return ids[0]


@check(
    name="q1a(a) QAmodel.__init__ loads the tokenizer and the model", number="1.1", points=2, timeout=120, tags=["q1a"]
)
def init(student: Student, data: Path, seed: int) -> None:
    """tokenizer and model from model_path (AutoTokenizer, AutoModelForQuestionAnswering); max_seq_len from the config."""
    model = qa.qa_model(student, data, seed)
    if "Tokenizer" not in model.describe("tokenizer")["type"]:
        fail("self.tokenizer should be the tokenizer loaded with AutoTokenizer.from_pretrained(model_path).")
    if "ForQuestionAnswering" not in model.describe("model")["type"]:
        fail(
            "self.model should be the question-answering model (AutoModelForQuestionAnswering.from_pretrained(model_path))."
        )
    if model.max_seq_len != qa.MAX_POSITIONS or model.splitted is not False:
        fail(
            f"max_seq_len should be the model's max_position_embeddings ({qa.MAX_POSITIONS}) and splitted False after __init__."
        )


@check(
    name="q1a(b) tokenize: question first, tensors with token_type_ids, long contexts split",
    number="1.2",
    points=6,
    timeout=120,
    tags=["q1a"],
)
def tokenize(student: Student, data: Path, seed: int) -> Credit | None:
    """A short pair equals tokenizer(question, context, return_tensors='pt'); a long one becomes the given split's chunks."""
    model = qa.qa_model(student, data, seed)
    first = qa.contexts(data)[0]
    short_context = first["context"].split(". ")[0] + "."
    _tokenize(model, first["question"], short_context)
    got, want = qa.read_inputs(model), qa.encode(data, first["question"], short_context)
    for key, expected in want.items():
        value = got[key]
        if not isinstance(value, torch.Tensor):
            fail(
                f"self.inputs['{key}'] is a {type(value).__name__}: ask the tokenizer for PyTorch tensors (return_tensors='pt')."
            )
        if not torch.equal(value, expected):
            swapped = qa.encode(data, short_context, first["question"])
            if torch.equal(value, swapped[key]):
                fail(f"The context comes before the question: {QUESTION_FIRST_HINT}.")
            fail(f"self.inputs['{key}'] is not the encoding of the pair (no truncation): {QUESTION_FIRST_HINT}.")
    if model.splitted is not False:
        fail("A pair that fits in max_seq_len tokens must not be split (splitted should be False).")
    _tokenize(model, first["question"], first["context"])
    full = qa.encode(data, first["question"], first["context"])
    if full["input_ids"].shape[1] <= qa.MAX_POSITIONS:
        raise RuntimeError("the long context fits the tiny model: the check would not test splitting")
    if model.splitted is not True:
        fail(
            f"A pair of {full['input_ids'].shape[1]} tokens (> max_seq_len {qa.MAX_POSITIONS}) must be split: set self.inputs = self.split() and splitted = True."
        )
    chunks, expected_chunks = model.inputs, qa.given_split(full)
    if len(chunks) != len(expected_chunks):
        fail(
            f"The long pair should give {len(expected_chunks)} chunks (the given split of the full, untruncated encoding), got {len(chunks)}."
        )
    for index, expected_chunk in expected_chunks.items():
        chunk = chunks[index]
        for key, tensor in expected_chunk.items():
            if not isinstance(chunk[key], torch.Tensor) or not torch.equal(chunk[key], tensor):
                fail(
                    f"Chunk {index} ('{key}') differs from the given split of the full encoding: do not truncate before splitting."
                )
    _tokenize(model, first["question"], short_context)
    if model.splitted is not False:
        return Credit(
            5 / 6,
            "After a long pair, tokenizing a short one leaves splitted True: reset self.splitted in tokenize (small deduction).",
        )
    return None


@check(
    name="q1a(c) generateAnswer: arg-max span, end inclusive; chunk answers joined",
    number="1.3",
    points=12,
    timeout=120,
    tags=["q1a"],
)
def generate_answer(student: Student, data: Path, seed: int) -> None:
    """With a stand-in model giving chosen logits: the decoded ids [start, end] (end inclusive); split mode joins non-[CLS] answers with ', '."""
    model = qa.qa_model(student, data, seed)
    first = qa.contexts(data)[0]
    context = first["context"].split(". ")[0] + "."
    _tokenize(model, first["question"], context)
    _answer(model)  # the real tiny model runs end to end (its answer is random)
    ids = _own_ids(model)
    start, end = len(ids) - 6, len(ids) - 3
    real = model.model
    student.module("builtins").setattr(
        model, "model", qa.stub_outputs(student, [qa.one_hot_logits(len(ids), start, end)])
    )
    got, want = _answer(model), qa.decode(data, ids[start : end + 1])
    if got != want:
        if got == qa.decode(data, ids[start:end]):
            fail("The answer drops its last token: the end index is inclusive (input_ids[start : end + 1]).")
        fail(f"For logits peaking at tokens {start} and {end} the answer should be {want!r}, got {got!r}.")
    student.module("builtins").setattr(model, "model", real)
    _tokenize(model, first["question"], first["context"])
    if model.splitted is not True:
        fail("A context longer than max_seq_len tokens was not split, so the split path of generateAnswer cannot run.")
    chunks = model.inputs  # the student's own chunks: q1a(b) grades how they were made
    logits, expected = [], ""
    for index in range(len(chunks)):
        chunk = chunks[index]
        n = chunk["input_ids"].shape[1]
        if index == 1:  # this chunk has no answer: the span is [CLS] and is left out
            logits.append(qa.one_hot_logits(n, 0, 0))
            continue
        s, e = n - 5, n - 3
        logits.append(qa.one_hot_logits(n, s, e))
        expected += qa.decode(data, chunk["input_ids"][0][s : e + 1]) + ", "
    student.module("builtins").setattr(model, "model", qa.stub_outputs(student, logits))
    got = _answer(model)
    if got != expected:
        fail(
            f"For a split context the answer should join each chunk's answer (those that are not [CLS]) with ', ' in chunk order: expected {expected!r}, got {got!r}."
        )


@check(
    name="q1a(d) bonus: the answer span has end >= start", number="1.4", points=4, timeout=120, tags=["q1a", "bonus"]
)
def end_after_start(student: Student, data: Path, seed: int) -> None:
    """When the arg-max end precedes the arg-max start, the answer follows one of the accepted rules (best end after the start, best pair, best start before the end)."""
    model = qa.qa_model(student, data, seed)
    first = qa.contexts(data)[0]
    context = first["context"].split(". ")[0] + "."
    _tokenize(model, first["question"], context)
    ids = _own_ids(model)
    n = len(ids)
    s_best, e_best = n - 3, n - 8  # arg-max end before arg-max start
    start_logits, end_logits = torch.zeros(1, n), torch.zeros(1, n)
    start_logits[0, s_best], start_logits[0, n - 9] = 5.0, 4.0
    end_logits[0, e_best], end_logits[0, n - 2] = 5.0, 3.0
    accepted = set()
    accepted.add(
        qa.decode(data, ids[s_best : s_best + int(end_logits[0, s_best:].argmax()) + 1])
    )  # best end after the start
    e = int(end_logits[0].argmax())
    accepted.add(qa.decode(data, ids[int(start_logits[0, : e + 1].argmax()) : e + 1]))  # best start before the end
    pairs = [(float(start_logits[0, i] + end_logits[0, j]), i, j) for i in range(n) for j in range(i, n)]
    _, i, j = max(pairs)
    accepted.add(qa.decode(data, ids[i : j + 1]))  # best pair with end >= start
    student.module("builtins").setattr(model, "model", qa.stub_outputs(student, [(start_logits, end_logits)]))
    got = _answer(model)
    if got not in accepted:
        fail(
            f"With the best end before the best start the answer was {got!r}; guarantee end >= start (e.g. the best end at or after the start)."
        )


@check(name="q1a with deepset/bert-base-cased-squad2 (operator's model cache)", number="1.5", points=0, timeout=300,
       tags=["q1a"], models=["deepset/bert-base-cased-squad2"])  # fmt: skip
def real_model(student: Student, data: Path) -> None:
    """The handout's model answers the two driver questions on stored contexts (the author; the host country)."""
    student.module("os").environ.call_method("__setitem__", "HF_HUB_OFFLINE", "1")
    try:
        model = student.module("q1a").QAmodel("deepset/bert-base-cased-squad2")
    except StudentCodeError as exc:
        fail(f"QAmodel('deepset/bert-base-cased-squad2') raised {exc.exc_type}: {exc.exc_message}")
    for case in qa.contexts(data):
        _tokenize(model, case["question"], case["context"])
        answer = _answer(model)
        if case["answer"].lower() not in answer.lower():
            fail(f"{case['question']} was answered {answer!r}; expected an answer containing {case['answer']!r}.")
