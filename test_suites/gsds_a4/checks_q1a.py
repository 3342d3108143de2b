"""q1a: ``QAmodel`` in ``q1/q1a.ipynb`` (imported as module ``q1a``), on a tiny random offline model."""

from __future__ import annotations

from pathlib import Path

import torch

from grader.authoring import Credit, RemoteObject, Student, StudentCodeError, check, fail, fail_raised, raised

from . import qa

QUESTION_FIRST_HINT = (
    "encode the pair with the question first and the context second: tokenizer(question, context, return_tensors='pt')"
)


def _tokenize(model: RemoteObject, question: str, context: str) -> None:
    try:
        model.call_method("tokenize", question, context)
    except StudentCodeError as exc:
        fail_raised("tokenize(question, context)", exc)


def _answer(model: RemoteObject) -> str:
    try:
        answer = model.call_method("generateAnswer")
    except StudentCodeError as exc:
        fail_raised("generateAnswer()", exc)
    if not isinstance(answer, str):
        fail(f"generateAnswer() must return a string, got {type(answer).__name__}")
    return answer


def _context_start(inputs: dict[str, torch.Tensor]) -> int:
    """Where the context starts in an encoded pair ([CLS] question [SEP] have token type 0)."""
    return int((inputs["token_type_ids"][0] == 0).sum())


@check(
    name="q1a(a) QAmodel.__init__ loads the tokenizer and the model", number="1.1", points=2, timeout=120, tags=["q1a"]
)
def init(student: Student, data: Path) -> None:
    """tokenizer and model from model_path (AutoTokenizer, AutoModelForQuestionAnswering): they encode a pair and
    score it as the tokenizer and the model (weights drawn by the grader) saved there do; max_seq_len from the config."""
    model, weights = qa.qa_model(student, data)
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
    question, context = qa.short_pair(data, qa.fresh_rng())
    want = qa.encode(data, question, context)
    try:
        encoded = model.tokenizer(question, context, return_tensors="pt")
        ids = encoded["input_ids"]
    except StudentCodeError as exc:
        fail(
            f"self.tokenizer(question, context, return_tensors='pt') raised {raised(exc)}; "
            "self.tokenizer should be the tokenizer loaded with AutoTokenizer.from_pretrained(model_path)."
        )
    if not isinstance(ids, torch.Tensor) or not torch.equal(ids, want["input_ids"]):
        fail(
            "self.tokenizer does not encode a question/context pair as the tokenizer saved at model_path does: "
            "load it with AutoTokenizer.from_pretrained(model_path)."
        )
    try:
        out = model.model(**want)
        got = torch.stack([out["start_logits"][0], out["end_logits"][0]])
    except (StudentCodeError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        fail(f"self.model(**inputs) on an encoded pair did not give start and end logits ({type(exc).__name__}).")
    if got.shape != (2, want["input_ids"].shape[1]) or not torch.allclose(
        got.float(), qa.logits(data, weights, want), atol=1e-4, rtol=1e-4
    ):
        fail(
            "self.model's start/end logits on an encoded pair differ from those of the model saved at model_path: "
            "load it with AutoModelForQuestionAnswering.from_pretrained(model_path)."
        )


@check(
    name="q1a(b) tokenize: question first, tensors with token_type_ids, long contexts split",
    number="1.2",
    points=6,
    timeout=120,
    tags=["q1a"],
)
def tokenize(student: Student, data: Path) -> Credit | None:
    """A short pair equals tokenizer(question, context, return_tensors='pt'); a long one becomes the given split's
    chunks (pairs drawn per grading from the stored contexts)."""
    model, _ = qa.qa_model(student, data)
    rng = qa.fresh_rng()
    question, short_context = qa.short_pair(data, rng)
    _tokenize(model, question, short_context)
    got, want = qa.read_inputs(model), qa.encode(data, question, short_context)
    for key, expected in want.items():
        value = got[key]
        if not isinstance(value, torch.Tensor):
            fail(
                f"self.inputs['{key}'] is a {type(value).__name__}: ask the tokenizer for PyTorch tensors (return_tensors='pt')."
            )
        if not torch.equal(value, expected):
            swapped = qa.encode(data, short_context, question)
            if torch.equal(value, swapped[key]):
                fail(f"The context comes before the question: {QUESTION_FIRST_HINT}.")
            fail(f"self.inputs['{key}'] is not the encoding of the pair (no truncation): {QUESTION_FIRST_HINT}.")
    if model.splitted is not False:
        fail("A pair that fits in max_seq_len tokens must not be split (splitted should be False).")
    question, long_context = qa.long_pair(data, rng)
    _tokenize(model, question, long_context)
    full = qa.encode(data, question, long_context)
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
    _tokenize(model, *qa.short_pair(data, rng))
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
def generate_answer(student: Student, data: Path) -> None:
    """With the grader's encoding in self.inputs and a stand-in model giving chosen logits (spans drawn per grading):
    the decoded ids [start, end] (end inclusive); split mode joins non-[CLS] chunk answers with ', '."""
    model, _ = qa.qa_model(student, data)
    rng = qa.fresh_rng()
    question, context = qa.short_pair(data, rng)
    _tokenize(model, question, context)
    _answer(model)  # the real tiny model runs end to end (its answer is random)
    inputs = qa.encode(data, question, context)
    # The grader's encoding, not the student's (q1a(b) grades that): the expectation comes from our ids only.
    qa.replace_inputs(student, model, inputs)
    ids = inputs["input_ids"][0]
    start, end = qa.span(rng, ids, _context_start(inputs))
    real = model.model
    student.module("builtins").setattr(
        model, "model", qa.stub_outputs(student, [qa.one_hot_logits(len(ids), start, end)])
    )
    got, want = _answer(model), qa.decode(data, ids[start : end + 1])
    if got != want:
        if got == qa.decode(data, ids[start:end]):
            fail("The answer drops its last token: the end index is inclusive (input_ids[start : end + 1]).")
        fail(
            f"For logits peaking at tokens {start} and {end} of the encoded pair the answer should be the text of "
            f"input_ids[0][{start} : {end + 1}]; generateAnswer returned {got!r}."
        )
    student.module("builtins").setattr(model, "model", real)
    question, context = qa.long_pair(data, rng)
    _tokenize(model, question, context)
    if model.splitted is not True:
        fail("A context longer than max_seq_len tokens was not split, so the split path of generateAnswer cannot run.")
    chunks = qa.given_split(qa.encode(data, question, context))
    qa.replace_inputs(student, model, dict(chunks))
    unanswered = rng.randrange(len(chunks))  # this chunk's span is [CLS]: its answer is left out
    logits, expected = [], ""
    for index, chunk in chunks.items():
        chunk_ids = chunk["input_ids"][0]
        if index == unanswered:
            logits.append(qa.one_hot_logits(len(chunk_ids), 0, 0))
            continue
        s, e = qa.span(rng, chunk_ids, _context_start(chunk))
        logits.append(qa.one_hot_logits(len(chunk_ids), s, e))
        expected += qa.decode(data, chunk_ids[s : e + 1]) + ", "
    student.module("builtins").setattr(model, "model", qa.stub_outputs(student, logits))
    got = _answer(model)
    if got != expected:
        fail(
            f"For a context split into {len(chunks)} chunks, with logits pointing at a span in each chunk but chunk "
            f"{unanswered} (whose span is [CLS]), the answer should join each chunk's answer (those that are not "
            f"[CLS]) with ', ' in chunk order; generateAnswer returned {got!r}."
        )


@check(
    name="q1a(d) bonus: the answer span has end >= start", number="1.4", points=4, timeout=120, tags=["q1a", "bonus"]
)
def end_after_start(student: Student, data: Path) -> None:
    """When the arg-max end precedes the arg-max start, the answer follows one of the accepted rules (best end after
    the start, best pair, best start before the end); positions drawn per grading."""
    model, _ = qa.qa_model(student, data)
    rng = qa.fresh_rng()
    question, context = qa.short_pair(data, rng)
    _tokenize(model, question, context)
    inputs = qa.encode(data, question, context)
    qa.replace_inputs(student, model, inputs)
    ids = inputs["input_ids"][0]
    n, first = len(ids), _context_start(inputs)
    # a < b < c < d in the context: the best start is c, the best end b (before it); the runner-ups are a and d.
    # Drawn again while the end-exclusive answer of the first rule reads like an accepted one (a repeated word).
    for _ in range(20):
        a, b, c, d = sorted(rng.sample(range(first, n - 1), 4))
        if qa.decode(data, ids[c:d]) not in {qa.decode(data, ids[c : d + 1]), qa.decode(data, ids[a : b + 1])}:
            break
    start_logits, end_logits = torch.zeros(1, n), torch.zeros(1, n)
    start_logits[0, c], start_logits[0, a] = 5.0, 4.0
    end_logits[0, b], end_logits[0, d] = 5.0, 3.0
    accepted = set()
    accepted.add(qa.decode(data, ids[c : c + int(end_logits[0, c:].argmax()) + 1]))  # best end after the start
    e = int(end_logits[0].argmax())
    accepted.add(qa.decode(data, ids[int(start_logits[0, : e + 1].argmax()) : e + 1]))  # best start before the end
    pairs = [(float(start_logits[0, i] + end_logits[0, j]), i, j) for i in range(n) for j in range(i, n)]
    _, i, j = max(pairs)
    accepted.add(qa.decode(data, ids[i : j + 1]))  # best pair with end >= start
    student.module("builtins").setattr(model, "model", qa.stub_outputs(student, [(start_logits, end_logits)]))
    got = _answer(model)
    if got not in accepted:
        fail(
            f"With the best end (token {b}) before the best start (token {c}) the answer was {got!r}; guarantee "
            "end >= start (e.g. the best end at or after the start)."
        )


@check(
    name="q1a with deepset/bert-base-cased-squad2 (operator's model cache)",
    number="1.5",
    points=0,
    timeout=300,
    tags=["q1a"],
    models=["deepset/bert-base-cased-squad2"],
)
def real_model(student: Student, data: Path) -> None:
    """The handout's model answers the two driver questions on stored contexts (the author; the host country), each
    with its own answer (an answer naming both cannot pass)."""
    student.module("os").environ.call_method("__setitem__", "HF_HUB_OFFLINE", "1")
    try:
        model = student.module("q1a").QAmodel("deepset/bert-base-cased-squad2")
    except StudentCodeError as exc:
        fail_raised("QAmodel('deepset/bert-base-cased-squad2')", exc)
    cases = qa.contexts(data)
    for case in cases:
        _tokenize(model, case["question"], case["context"])
        answer = _answer(model)
        others = [c["answer"] for c in cases if c is not case and c["answer"].lower() in answer.lower()]
        if case["answer"].lower() not in answer.lower() or others:
            fail(f"{case['question']} was answered {answer!r}; expected an answer naming {case['answer']!r} (only).")
