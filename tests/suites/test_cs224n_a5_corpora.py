"""The CS224N span checks' batch decoder gives exactly the per-item decoder's result for every kind of draw."""

from __future__ import annotations

import importlib
import random
from types import ModuleType

import pytest
import torch

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_assignment

BLOCK = 32


@pytest.fixture(scope="module")
def corpora() -> ModuleType:
    assert load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5").checks  # imports the suite's package
    return importlib.import_module("grader_suite_cs224n_a5.corpora")


def _pairs(corpora: ModuleType, rng: random.Random) -> tuple[list[str], list[tuple[object, object]]]:
    """Well-formed draws of both accepted lengths, and one of each malformation the decoder names."""
    itos = corpora.vocabulary("".join(corpora.long_documents(rng, count=4)) + "\u00e9\U0001f600")
    pairs: list[tuple[object, object]] = []
    for length in (BLOCK - 1, BLOCK):
        for _ in range(40):
            ids = torch.tensor([rng.randrange(len(itos)) for _ in range(length + 1)])
            pairs.append((ids[:-1].clone(), ids[1:].clone()))
    good = pairs[0]
    x, y = good[0], good[1]
    assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
    bad_shift = y.clone()
    bad_shift[3] = (int(bad_shift[3]) + 1) % len(itos)
    too_big = x.clone()
    too_big[0] = len(itos)
    negative = y.clone()
    negative[-1] = -1
    pairs += [
        ([1, 2], y),
        (x, "y"),
        (x.int(), y),
        (x, y.float()),
        (x[None], y[None]),
        (x[:-1], y),
        (x[:10], y[:10]),
        (x[:0], y[:0]),
        (x, bad_shift),
        (too_big, y),
        (x, negative),
        (x.long().t(), y),
        (torch.stack([x, x], 1)[:, 0], y),  # non-contiguous but well formed
    ]
    rng.shuffle(pairs)
    return itos, pairs


@pytest.mark.parametrize("seed", range(5))
def test_decode_all_is_decode_of_each(corpora: ModuleType, seed: int) -> None:
    itos, pairs = _pairs(corpora, random.Random(seed))
    want = [corpora.decode(x, y, itos, BLOCK) for x, y in pairs]
    assert corpora.decode_all(pairs, itos, BLOCK) == want
    assert sum(problem == "" for _, problem in want) >= 80 and sum(problem != "" for _, problem in want) >= 10
