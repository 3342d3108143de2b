"""Two checks of student code on inputs drawn per grading, one of a trained artifact."""

import random

from grader.authoring import Student, check, fail


@check(name="add", number="1", points=1)
def add(student: Student, seed: int) -> None:
    a, b = random.Random(seed).sample(range(1000), 2)
    if student.module("calc").add(a, b) != a + b:
        fail(f"add({a}, {b}) should be {a + b}")


@check(name="mul", number="2", points=1)
def mul(student: Student, seed: int) -> None:
    a, b = random.Random(seed + 1).sample(range(2, 1000), 2)
    if student.module("calc").mul(a, b) != a * b:
        fail(f"mul({a}, {b}) should be {a * b}")


@check(name="trained answer", number="3", points=1)
def answer(student: Student) -> None:
    if (student.read_file("answer.txt") or b"").strip() != b"42":
        fail("answer.txt should hold the trained answer")
