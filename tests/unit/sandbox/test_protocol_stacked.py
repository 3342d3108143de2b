"""Tests for grader.sandbox.protocol's stacked batches: the same items as item by item, hostile batches refused."""

from __future__ import annotations

import json
import os
import threading
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch

from grader.sandbox.protocol import (
    HEADER,
    STACKED,
    FrameCaps,
    FrameError,
    encode_frame,
    read_frame,
    stack_items,
    unstack_items,
    write_frame,
)

Pair = namedtuple("Pair", "x y")


def through_pipe(value: Any) -> Any:
    """Encode ``value`` into a frame, pass it through a real pipe, decode it (as the client does)."""
    frame = encode_frame({"v": value})
    r, w = os.pipe()
    try:
        # a frame may exceed the pipe buffer: write it from a thread
        thread = threading.Thread(target=lambda: (write_frame(w, frame), os.close(w)), daemon=True)
        thread.start()
        got = read_frame(r, FrameCaps())["v"]
        thread.join(timeout=10)
        return got
    finally:
        os.close(r)


def same_items(got: list[Any], want: list[Any]) -> None:
    """Item by item: the same container kind, and tensors of the same dtype, shape and values."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert type(g) is (tuple if isinstance(w, tuple) else list)
        assert len(g) == len(w)
        for a, b in zip(g, w, strict=True):
            assert isinstance(a, torch.Tensor)
            assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b.detach())


def pairs(n: int, length: int = 7) -> list[tuple[torch.Tensor, torch.Tensor]]:
    ids = torch.arange(n * (length + 1)).reshape(n, length + 1) % 11
    return [(row[:-1].clone(), row[1:].clone()) for row in ids]


@pytest.mark.parametrize(
    "items",
    [
        pairs(50),
        [list(p) for p in pairs(5)],  # lists stay lists
        [Pair(*p) for p in pairs(3)],  # namedtuples arrive as tuples, as item by item
        [(torch.arange(n), torch.ones(n, 2, dtype=torch.float64)) for n in (0, 3, 1, 5)],  # shapes vary
        [(torch.tensor(n), torch.tensor(n > 1)) for n in range(4)],  # 0-dim tensors, bool
        [(torch.zeros(2, 0, dtype=torch.int8),) for _ in range(3)],  # empty tensors, one position
        [(torch.arange(4.0, requires_grad=True) * 2, torch.arange(3)) for _ in range(2)],  # autograd, detached
        [(torch.arange(6).reshape(2, 3).t(), torch.arange(2)) for _ in range(2)],  # not contiguous
    ],
)
def test_a_stacked_batch_brings_back_the_same_items(items: list[Any]) -> None:
    stacked = stack_items(items)
    assert isinstance(stacked, dict) and stacked[STACKED] in ("tuple", "list")
    same_items(unstack_items(through_pipe(stacked), len(items)), items)


def test_one_shape_per_position_is_sent_once() -> None:
    stacked = stack_items(pairs(1000))
    assert stacked["shapes"] == [{"all": [7]}, {"all": [7]}]
    assert [c.shape for c in stacked["columns"]] == [(7000,), (7000,)]


@pytest.mark.parametrize(
    "items",
    [
        [],
        [()],
        [(torch.arange(3), torch.arange(3))] * 2 + [[torch.arange(3), torch.arange(3)]],  # tuple then list
        [(torch.arange(3), torch.arange(3)), (torch.arange(3),)],  # widths differ
        [(torch.arange(3), 5)],  # not a tensor
        [(torch.arange(3), np.arange(3))],  # numpy: sent as a copy item by item
        [(torch.arange(3),), (torch.arange(3.0),)],  # dtypes differ in a position
        [(torch.arange(3).to(torch.complex64),)],  # a dtype that cannot cross: the same error as item by item
        [{"x": torch.arange(3)}],
        [torch.arange(3), torch.arange(3)],
    ],
)
def test_anything_else_is_left_to_travel_item_by_item(items: list[Any]) -> None:
    assert stack_items(items) is items


def test_a_batch_over_the_tensor_cap_travels_item_by_item() -> None:
    items = pairs(10)
    assert stack_items(items, max_elements=69) is items
    assert isinstance(stack_items(items, max_elements=70), dict)


def good_batch() -> dict[str, Any]:
    return through_pipe(stack_items(pairs(4, length=3)))


@pytest.mark.parametrize(
    ("edit", "count"),
    [
        (lambda b: b.pop(STACKED), 4),
        (lambda b: b.update({STACKED: "set"}), 4),
        (lambda b: None, 5),  # more items asked than sent
        (lambda b: None, 0),
        (lambda b: b.update(columns=[]), 4),
        (lambda b: b.update(columns=b["columns"][:1]), 4),
        (lambda b: b.update(columns=[c.reshape(2, -1) for c in b["columns"]]), 4),
        (lambda b: b.update(columns=[c[:-1] for c in b["columns"]]), 4),
        (lambda b: b.update(columns=["not a tensor", b["columns"][1]]), 4),
        (lambda b: b["shapes"].__setitem__(0, {"all": [4]}), 4),
        (lambda b: b["shapes"].__setitem__(0, {"all": [-3]}), 4),
        (lambda b: b["shapes"].__setitem__(0, {"all": [3, True]}), 4),
        (lambda b: b["shapes"].__setitem__(0, {"all": [0, 2**62]}), 4),
        (lambda b: b["shapes"].__setitem__(0, {"each": [[3], [3], [3]]}), 4),
        (lambda b: b["shapes"].__setitem__(0, {"each": [[3], [3], [3], [4]]}), 4),
        (lambda b: b["shapes"].__setitem__(0, {"all": [3], "each": [[3]] * 4}), 4),
        (lambda b: b["shapes"].__setitem__(0, [3]), 4),
        (lambda b: b.update(shapes=b["shapes"][:1]), 4),
    ],
)
def test_a_forged_stacked_batch_is_refused(edit: Any, count: int) -> None:
    batch = good_batch()
    edit(batch)
    with pytest.raises(FrameError):
        unstack_items(batch, count)


def test_uneven_shapes_that_add_up_are_read_as_sent() -> None:
    batch = good_batch()
    batch["shapes"][0] = {"each": [[1], [5], [0], [6]]}
    items = unstack_items(batch, 4)
    assert [tuple(x.shape) for x, _ in items] == [(1,), (5,), (0,), (6,)]


def test_a_hand_written_stacked_frame_decodes_only_into_tensors() -> None:
    """What a hostile agent could write by hand: JSON and a blob, never anything but tensors and shapes."""
    blob = torch.arange(6, dtype=torch.int64).numpy().tobytes()
    body = {
        "v": {
            "$dict": [
                [STACKED, "tuple"],
                ["columns", [{"$tensor": {"dtype": "int64", "shape": [6], "offset": 0, "nbytes": 48}}]],
                ["shapes", [{"$dict": [["all", [2]]]}]],
            ]
        }
    }
    text = json.dumps(body).encode()
    frame = HEADER.pack(len(text), len(blob)) + text + blob
    r, w = os.pipe()
    write_frame(w, frame)
    os.close(w)
    try:
        value = read_frame(r, FrameCaps())["v"]
    finally:
        os.close(r)
    items = unstack_items(value, 3)
    assert [x.tolist() for (x,) in items] == [[0, 1], [2, 3], [4, 5]]
