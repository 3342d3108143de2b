"""Uploads lacking the assignment's files are refused at once (422, nothing graded, no attempt counted);
accepted ones answer 202 with ``Location``; listings are paged."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.utils.builders import zip_of
from tests.utils.service import Service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service]

GOOD = "import time\n\ndef add(a, b):\n    return a + b\n\ndef pause():\n    time.sleep(0)\n"
CS224N = {
    f"assignment5/src/{n}.py": "x = 1\n"
    for n in ("dataset", "model", "attention", "run", "trainer", "utils", "london_baseline")
}


@pytest.fixture(scope="module")
def pat(service: Service) -> Iterator[httpx.Client]:
    token = service.students("visibility", "pat")["pat"]
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        yield client


def upload(c: httpx.Client, data: bytes, assignment: str = "visibility") -> httpx.Response:
    return c.post(f"/api/v1/assignments/{assignment}/submissions", files={"file": ("s.zip", data, "application/zip")})


def test_a_zip_without_the_required_files_is_refused_with_what_is_missing_and_found(pat: httpx.Client) -> None:
    empty = upload(pat, zip_of({}))
    assert empty.status_code == 422
    assert empty.json()["detail"] == (
        "This zip is missing files that 'visibility' requires: 'good.py'. It contains: nothing. "
        "Nothing was graded and it does not count as an attempt."
    )
    wrong = upload(pat, zip_of({"notes.txt": "hi", "__MACOSX/._good.py": "junk", "src/good.py": GOOD}))
    assert wrong.status_code == 422
    assert "requires: 'good.py'. It contains: 'notes.txt', 'src/good.py'." in wrong.json()["detail"]


def test_a_zip_of_another_assignment_says_which(pat: httpx.Client) -> None:
    other = upload(pat, zip_of(CS224N))
    assert other.status_code == 422
    assert "It looks like a submission for 'cs224n-a5' (CS224N A5" in other.json()["detail"]


def test_refused_uploads_are_no_attempts_and_the_accepted_one_has_a_location(
    service: Service, pat: httpx.Client
) -> None:
    for _ in range(5):  # more than the rate limit (4): refused uploads are not counted
        assert upload(pat, zip_of({"wrapper/other.py": "x = 1\n"})).status_code == 422
    ok = upload(pat, zip_of({"wrapper/good.py": GOOD}))  # one wrapping folder: the usual root detection
    assert (
        ok.status_code == 202
        and ok.headers["location"] == ok.json()["status_url"] == f"/api/v1/submissions/{ok.json()['id']}"
    )
    assert wait_state(pat, ok.json()["id"])["state"] == "done"
    listing = pat.get("/api/v1/assignments/visibility/submissions").json()
    assert listing["total"] == 1 and [s["id"] for s in listing["submissions"]] == [ok.json()["id"]]
    with httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {service.token('ta', 'ta-layout')}"}, timeout=60
    ) as ta:
        _regrade_and_page(ta, ok.json()["id"])


def _regrade_and_page(ta: httpx.Client, sub_id: str) -> None:
    regraded = ta.post(f"/api/v1/submissions/{sub_id}/regrade")
    assert regraded.status_code == 202 and regraded.headers["location"] == f"/api/v1/submissions/{sub_id}"
    page = ta.get("/api/v1/assignments/visibility/submissions", params={"limit": 1, "offset": 0}).json()
    assert len(page["submissions"]) == 1 and page["total"] >= 1 and page["limit"] == 1
    assert ta.get("/api/v1/assignments/visibility/submissions", params={"limit": 5000}).status_code == 422
