"""Fuzz every operation of the real service's own OpenAPI spec with schemathesis: no 5xx, no crash.

One service (embedded Redis, a Celery worker, uvicorn) for the module; the schema is loaded from its
``/openapi.json``. Each operation gets ``MAX_EXAMPLES`` requests per role (a student on the roster, a
TA, CI, and nobody), valid and invalid ones mixed as schemathesis mixes them; a role's requests carry
its ``Authorization: Bearer`` header, the anonymous ones whatever the fuzzer makes of the
``authorization`` header parameter (often nothing). Path parameters are drawn half of the time from
the ids that exist (the installed assignments, two real submissions), so the fuzzer gets past the 404s
into the handlers. Derandomized and without an example database, every run sends the same requests.

(``schemathesis.pytest.from_fixture`` would do the looping, but it sets ``Function._nodeid``, which
pytest 9.2 no longer has; the loop below uses the documented ``APIOperation.as_strategy`` instead.)

Fuzzed uploads that happen to be valid zips and fuzzed regrades put jobs on the grading queue; the
fuzz tests never wait for them (a regrade supersedes the previous run, so repeats cost the worker
nothing). Afterwards the service must still be healthy and still grade a normal upload.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error

from tests.utils.builders import zip_of
from tests.utils.service import Service, running_service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]

ROLES = ["student", "ta", "ci", "anonymous"]
MAX_EXAMPLES = 25
EXPECTED_OPERATIONS = {
    "GET /healthz",
    "GET /api/v1/healthz",
    "GET /api/v1/assignments",
    "GET /api/v1/assignments/{assignment_id}/submissions",
    "POST /api/v1/assignments/{assignment_id}/submissions",
    "POST /api/v1/assignments/{assignment_id}/regrade",
    "GET /api/v1/assignments/{assignment_id}/grades.csv",
    "GET /api/v1/submissions/{submission_id}",
    "POST /api/v1/submissions/{submission_id}/regrade",
}
# File names are built from pieces that mean something to a path or a file system, and random bytes.
NAME_PARTS = [
    b"..",
    b".",
    b"/",
    b"\\",
    b"\x00",
    b"a",
    b" ",
    "\u00fc".encode(),
    b"\xff",
    b"x" * 100,
    b".zip",
    b"%00",
    b"'",
]
GOOD = "import time\n\ndef add(a, b):\n    return a + b\n\ndef pause():\n    time.sleep(0)\n"


def upload(c: httpx.Client, assignment: str, data: bytes) -> httpx.Response:
    return c.post(
        f"/api/v1/assignments/{assignment}/submissions", files={"file": ("submission.zip", data, "application/zip")}
    )


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    # The fuzzer uploads far more than a student could: a rate limit it can reach would turn
    # every later upload into a 429 and hide whatever the upload path does wrong.
    with running_service(
        "grader-test-fuzz-", GRADER_RATE_LIMIT_COUNT="1000000", GRADER_UPLOAD_MAX_BYTES=str(5 * 1024**2)
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def tokens(service: Service) -> dict[str, str]:
    students = service.students("visibility", "alice", "bob")
    students.update(service.students("cs224n-a5", "alice"))
    return {
        "student": students["alice"],
        "bob": students["bob"],
        "ta": service.token("ta", "ta-fuzz"),
        "ci": service.token("ci", "ci-fuzz"),
    }


@pytest.fixture(scope="module")
def submissions(service: Service, tokens: dict[str, str]) -> list[str]:
    """A graded submission of the fuzzing student (reports are filtered per role) and one of another
    student (which the fuzzing student must not see); the second is not waited for."""
    ids = []
    for who in ("student", "bob"):
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60) as c:
            r = upload(c, "visibility", zip_of({"good.py": GOOD}))
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {tokens['ta']}"}, timeout=60) as c:
        assert wait_state(c, ids[0])["state"] == "done"
    return ids


def fuzz_config(submissions: list[str]) -> schemathesis.Config:
    """Existing ids for the path parameters, half of the time (the rest is generated)."""
    return schemathesis.Config.from_dict(
        {
            "dictionaries": {
                "assignments": {"values": ["visibility", "cs224n-a5"]},
                "submissions": {"values": submissions},
            },
            "parameters": {
                "path.assignment_id": {"dictionary": "assignments", "probability": 0.5},
                "path.submission_id": {"dictionary": "submissions", "probability": 0.5},
            },
        }
    )


def fuzz_operation(operation: APIOperation, headers: dict[str, str], sent: Counter[str]) -> None:
    """``MAX_EXAMPLES`` generated requests to ``operation``, valid and invalid ones mixed as schemathesis
    itself mixes them, reproducibly; fails on the first 5xx or crash (then shrinks it)."""
    modes = [operation.as_strategy(generation_mode=mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
        print_blob=False,
    )
    @hypothesis.given(case=st.one_of(modes))
    def one(case: schemathesis.Case) -> None:
        response = case.call(headers=headers, timeout=60)  # a crash is a connection error, raised here
        sent[operation.label] += 1
        case.validate_response(response, checks=[not_a_server_error], headers=headers)

    one()


@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors(
    service: Service, tokens: dict[str, str], submissions: list[str], role: str, subtests: pytest.Subtests
) -> None:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", config=fuzz_config(submissions))
    headers = {} if role == "anonymous" else {"Authorization": f"Bearer {tokens[role]}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= EXPECTED_OPERATIONS
    sent: Counter[str] = Counter()
    for operation in operations:
        with subtests.test(operation=operation.label):
            fuzz_operation(operation, headers, sent)
    assert set(sent) == {op.label for op in operations}, "an operation was never called"


def multipart(filename: bytes, data: bytes) -> tuple[bytes, str]:
    """A one-file multipart body with the file name's bytes exactly as given (httpx would escape them)."""
    boundary = "grader-fuzz-7d9c1e0b"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: application/zip\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False)
@hypothesis.given(filename=st.lists(st.sampled_from(NAME_PARTS) | st.binary(max_size=8), max_size=8).map(b"".join))
@hypothesis.example(filename=b"..")
@hypothesis.example(filename=b"a/..")
@hypothesis.example(filename=b"x\x00y.zip")
@hypothesis.example(filename="\u00fc".encode() * 200)
def test_upload_file_names(service: Service, tokens: dict[str, str], filename: bytes) -> None:
    """The spec cannot describe the upload's file name, so schemathesis never varies it: fuzz it here.
    The body is not a zip, so nothing is queued: every answer must be a 4xx naming the file."""
    body, content_type = multipart(filename, b"not a zip")
    r = httpx.post(
        f"{service.url}/api/v1/assignments/visibility/submissions",
        content=body,
        timeout=60,
        headers={"Authorization": f"Bearer {tokens['student']}", "Content-Type": content_type},
    )
    assert 400 <= r.status_code < 500, f"{r.status_code} for file name {filename!r}: {r.text[:500]}"


def test_service_still_healthy_and_grading(service: Service, tokens: dict[str, str]) -> None:
    health = httpx.get(f"{service.url}/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["redis"] is True
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {tokens['student']}"}, timeout=60) as c:
        r = upload(c, "visibility", zip_of({"good.py": GOOD}))
        assert r.status_code == 202, r.text
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {tokens['ta']}"}, timeout=60) as c:
        body = wait_state(c, r.json()["id"])
    assert body["state"] == "done" and body["report"]["score"] == body["report"]["max_score"] == 4
