"""Checks that bracket an attacked check with honest ones, with margins for a busy host.

Checks 1 and 3 may have to start a sandbox first (check 3 after an attack ended the previous one):
``import torch`` costs a second or two of CPU, which a host at five times its cores' load can stretch to
tens of seconds of wall time; 300 s is never the limit a contained attack is judged by. Check 2's
20 s is what the looping attacks run into; its honest part (importing ``evil.py`` and one call) needs
a few hundredths of a second of CPU.
"""

from pathlib import Path

from grader.authoring import check, fail
from grader.sandbox.client import Student


@check(name="honest add", number="1", points=1, timeout=300)
def honest_add(student: Student) -> None:
    result = student.module("good").add(2, 3)
    if result != 5:
        fail(f"add(2, 3) should be 5, got {result!r}")


@check(name="attacked", number="2", points=1, timeout=20)
def attacked(student: Student, data: Path) -> None:
    secret = (data / "secret.txt").read_text()
    # call_method is one round trip: a forged reply is a wrong value, never a crash of this check.
    result = student.module("evil").call_method("answer", 7)
    if not isinstance(result, int) or isinstance(result, bool) or result != 49:
        fail(f"answer(7) should be 49, got a {type(result).__name__}")
    assert secret  # hidden data stays on this side; only a verdict crosses back


@check(name="honest multiply", number="3", points=1, timeout=300)
def honest_multiply(student: Student) -> None:
    result = student.module("good").mul(3, 4)
    if result != 12:
        fail(f"mul(3, 4) should be 12, got {result!r}")
