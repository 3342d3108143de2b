"""``getitems(keys, stack=True)`` in a real sandbox: the same items as one by one, and a forged batch refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from grader.errors import ProtocolViolation, StudentCodeError
from grader.sandbox.client import Student

Sandbox = Callable[..., Student]

pytestmark = pytest.mark.bwrap

DATASET = """
import torch

class Pairs:
    def __getitem__(self, i):
        row = torch.arange(i, i + 9) % 5
        return row[:-1], row[1:]

class Mixed:
    def __getitem__(self, i):
        return (torch.arange(i), torch.ones(i, 2)) if i % 3 else [torch.tensor(i), "text"]

class Raises:
    def __getitem__(self, i):
        if i == 7:
            raise IndexError(f"no item {i}")
        return torch.arange(3), torch.arange(2)
"""

FORGER = """
from grader.sandbox import protocol

def forge(items, *args, **kwargs):
    stacked = protocol.stack_items.__wrapped__(items)
    stacked["shapes"] = [{"all": [1]} for _ in stacked["shapes"]]  # claims fewer elements than sent
    return stacked

forge.__wrapped__ = protocol.stack_items
protocol.stack_items = forge
"""


def same_items(got: list[object], want: list[object]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        assert isinstance(g, tuple | list) and isinstance(w, tuple | list)
        for a, b in zip(g, w, strict=True):
            if isinstance(b, torch.Tensor):
                assert isinstance(a, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
            else:
                assert a == b


@pytest.mark.parametrize("name", ["Pairs", "Mixed"])
def test_stacked_items_are_the_items_one_by_one(sandbox: Sandbox, name: str) -> None:
    student = sandbox({"dataset.py": DATASET})
    ds = getattr(student.module("dataset"), name)()
    keys = list(range(1, 40))
    same_items(ds.getitems(keys, stack=True), [ds[k] for k in keys])


def test_an_exception_in_any_item_is_the_students(sandbox: Sandbox) -> None:
    student = sandbox({"dataset.py": DATASET})
    ds = student.module("dataset").Raises()
    with pytest.raises(StudentCodeError, match="no item 7"):
        ds.getitems(list(range(10)), stack=True)


def test_a_forged_stacked_batch_is_a_protocol_violation(sandbox: Sandbox) -> None:
    student = sandbox({"dataset.py": DATASET, "forger.py": FORGER})
    ds = student.module("dataset").Pairs()
    assert len(ds.getitems([1, 2], stack=True)) == 2
    student.module("forger")
    with pytest.raises(ProtocolViolation, match="stacked batch"):
        ds.getitems([1, 2, 3], stack=True)
