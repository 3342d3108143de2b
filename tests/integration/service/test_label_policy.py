"""The hidden-label policy and the crash-text rules through the real service (Redis, a Celery worker, uvicorn).

The ``labels`` toy suite scores ``test.predictions`` against hidden labels and is due in 2099: before
then a student's GET shows that the file was received, never the figure; a TA's GET shows everything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from tests.utils.builders import TOY_SUITES, zip_of
from tests.utils.service import Service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service]

GOLD = (TOY_SUITES / "labels" / "data" / "test_labels.txt").read_text().split()
HIDDEN = (TOY_SUITES / "labels" / "data" / "hidden_case.txt").read_text().strip()
ECHO = "def double(s):\n    raise ValueError('got ' + s)\n"
FIGURE = "Test accuracy: 6/8"  # the predictions below get 6 of the 8 hidden labels right


def client(service: Service, token: str) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def graded(service: Service) -> Iterator[dict[str, str]]:
    """frank's graded 'labels' submission: constant dev answers (flagged), 6/8 on the test labels, an echoing double()."""
    people = {**service.students("labels", "frank"), "ta": service.token("ta", "ta-labels")}
    answers = ["b" if g == "a" else "a" for g in GOLD[:2]] + GOLD[2:]
    files = {"solution.py": ECHO, "dev.predictions": "a\na\na\na\n", "test.predictions": "\n".join(answers) + "\n"}
    with client(service, people["frank"]) as c:
        r = c.post(
            "/api/v1/assignments/labels/submissions", files={"file": ("s.zip", zip_of(files), "application/zip")}
        )
        assert r.status_code == 202, r.text
    with client(service, people["ta"]) as c:
        assert wait_state(c, r.json()["id"])["state"] == "done"
    yield {**people, "id": r.json()["id"]}


def test_a_student_get_before_the_due_date_withholds_the_hidden_label_figure(
    service: Service, graded: dict[str, str]
) -> None:
    with client(service, graded["frank"]) as c:
        r = c.get(f"/api/v1/submissions/{graded['id']}")
        listing = c.get("/api/v1/assignments/labels/submissions").json()
    report = r.json()["report"]
    assert FIGURE not in r.text and "6/8" not in r.text
    assert [t["number"] for t in report["tests"]] == ["1", "3", "4", "5"]
    assert report["pending"] == [
        {
            "name": "Test predictions: accuracy on the hidden labels",
            "number": "2",
            "max_score": 2.0,
            "output": "test.predictions: 8 lines, well formed.\nThe result of this check on the "
            "hidden test labels is shown after the due date.",
        }
    ]
    assert report["score"] is None and report["shown_max_score"] == 4 and report["withheld_checks"] == 1
    assert listing["submissions"][0]["score"] is None
    assert "constant dev predictions" not in r.text and "staff" not in r.text


def test_a_student_get_never_echoes_a_hidden_input_or_a_host_path(service: Service, graded: dict[str, str]) -> None:
    with client(service, graded["frank"]) as c:
        r = c.get(f"/api/v1/submissions/{graded['id']}")
    tests = {t["number"]: t for t in r.json()["report"]["tests"]}
    assert HIDDEN not in r.text and "/home/student" not in r.text and str(service.root) not in r.text
    assert tests["3"]["output"].startswith("Your code raised ValueError. Its message is not shown")
    assert 'File "solution.py", line 2, in double' in tests["3"]["output"]
    assert "<not shown: this check's inputs are hidden>" in tests["4"]["output"]
    assert "Your code raised ValueError: got ab" in tests["5"]["output"]  # a public input is the student's to read


def test_a_ta_get_shows_the_figure_the_flags_and_the_raw_crash_text(service: Service, graded: dict[str, str]) -> None:
    with client(service, graded["ta"]) as c:
        report = c.get(f"/api/v1/submissions/{graded['id']}").json()["report"]
        grades = c.get("/api/v1/assignments/labels/grades.csv").text
    tests = {t["number"]: t for t in report["tests"]}
    assert FIGURE in tests["2"]["output"] and tests["2"]["score"] == 1.5 and tests["2"]["hidden_labels"] is True
    assert report["score"] == 2 and report["staff_flags"] == ["1 Dev predictions: accuracy: constant dev predictions"]
    assert HIDDEN in tests["3"]["staff_output"] and HIDDEN in tests["4"]["staff_output"]
    assert next(csv.DictReader(io.StringIO(grades)))["score"] == "2"
