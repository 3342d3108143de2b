"""Two quick checks: a plain call and a tensor round trip (the shape of a typical unit check)."""

import torch

from grader.authoring import check, fail
from grader.sandbox.client import Student


@check(name="add", number="1", points=1, timeout=30)
def add(student: Student) -> None:
    result = student.module("light").add(2, 3)
    if result != 5:
        fail(f"add(2, 3) should be 5, got {result!r}")


@check(name="softmax rows", number="2", points=1, timeout=30)
def softmax_rows(student: Student, seed: int) -> None:
    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(seed))
    y = student.module("light").row_softmax(x)
    if not isinstance(y, torch.Tensor) or not torch.allclose(y, torch.softmax(x, dim=-1), atol=1e-6):
        fail("row_softmax(x) should equal torch.softmax(x, dim=-1)")
