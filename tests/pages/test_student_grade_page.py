"""The "Your grade" section of a student's submission page, in-process (TestClient) on a real Redis: once the
report shows its total, the automatic score, each TA adjustment, the late penalty with how late, the final
grade and the TA's comments; while a hidden check is withheld, only the comments (the API's rule); another
student gets 404 and staff read the grade on their own page.

No worker runs: the report is written to the store as the worker writes it. Dates are relative to the real
clock, since the release of hidden checks is decided against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from grader.api.pages.student_grade import late_by
from grader.models.report import CheckResult, GradeReport
from grader.models.report import TestReport as CheckReport
from grader.store.course import CourseStore
from grader.store.records import Role, Submission, SubmissionState
from grader.store.tokens import issue_token
from tests.utils.builders import queued_run
from tests.utils.pages import PageApp, page_app

A = "visibility"
RECEIVED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
# Due 1 day 2 hours 30 minutes before the upload: two started days late.
DUE = RECEIVED - timedelta(days=1, hours=2, minutes=30)
HIDDEN_REASON = "label 1 of the hidden probe is ambiguous"


@dataclass
class World(PageApp):
    sub: str = ""

    def set_due(self, due: datetime) -> None:
        manifest = self.services.manifests[A]
        CourseStore(self.services.store).update_settings(
            manifest, {"due": due, "late_policy": "per_day", "late_percent": 10}, "ta:tina"
        )


def _check(number: str, name: str, visibility: str) -> CheckReport:
    return CheckReport(
        name=name,
        number=number,
        score=1,
        max_score=1,
        visibility=visibility,
        status="passed",
        result=CheckResult.passed,
    )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with page_app("grader-test-student-grade-", World) as world:
        services = world.services
        services.store.add_to_roster(A, ["alice", "bob"])
        tokens = {who: issue_token(services.store, Role.student, who) for who in ("alice", "bob")}
        tokens["ta"] = issue_token(services.store, Role.ta, "tina")
        sub = Submission(
            id=services.store.new_id(),
            assignment=A,
            student="alice",
            role=Role.student,
            blob_sha256="0" * 64,
            filename="alice.zip",
            size_bytes=10,
            received_at=RECEIVED,
            run_id="",
        )
        services.store.add_submission(sub)
        queued_run(services.store, sub.id, "run-1", "cpu", RECEIVED)
        tests = [
            _check("1", "visible check", "visible"),
            _check("2", "probe beta", "hidden"),
            _check("4", "slow visible check", "visible"),
        ]
        report = GradeReport(
            score=3, max_score=3, execution_time=1, tests=tests, assignment=A, grader_version="t", created_at=RECEIVED
        )
        services.store.finish(
            sub.id,
            "run-1",
            SubmissionState.done,
            RECEIVED,
            report_json=report.model_dump_json(),
            score=report.score,
            max_score=report.max_score,
        )
        course = CourseStore(services.store)
        course.add_adjustment(A, sub.id, "2", 0.5, HIDDEN_REASON, "ta:tina")
        course.add_adjustment(A, sub.id, "", -1, "copied the <b>config</b>", "ta:tina")
        course.add_comment(A, sub.id, "Nice work on q3 <script>", "ta:tina")
        world.tokens, world.sub = tokens, sub.id
        yield world


def _section(html: str) -> str:
    assert '<section class="card" aria-labelledby="grade-heading" id="grade">' in html, "no grade section"
    return html.split('id="grade">')[1].split("</section>")[0]


def test_released_the_section_shows_every_part_of_the_grade(world: World) -> None:
    world.set_due(DUE)
    url = f"/submissions/{world.sub}"
    page = world.client("alice").get(url)
    assert page.status_code == 200
    grade = _section(page.text)
    # raw 3, adjustments +0.5 - 1, two started days late at 10 %: 2.5 - 0.5 = 2.
    assert '<dd id="grade-raw">3 / 3</dd>' in grade
    assert '<dd id="grade-adjustments">-0.5</dd>' in grade
    assert (
        f'<dd id="grade-penalty">−0.5 (20 %): late by 1 day 2 hours 30 minutes after your due date '
        f"{DUE.strftime('%Y-%m-%d %H:%M')} UTC</dd>"
    ) in grade
    assert '<dd id="grade-final"><strong>2</strong> / 3</dd>' in grade
    assert f"<li>+0.5 on check 2: {HIDDEN_REASON}</li>" in grade
    assert "<li>-1 on the total: copied the &lt;b&gt;config&lt;/b&gt;</li>" in grade
    assert "Nice work on q3 &lt;script&gt;" in grade and "grade-withheld" not in grade
    assert 'id="grade-not-counted"' not in grade  # her only submission counts
    # The figures are the API's, and the fragment the page polls carries the same section.
    api = world.client("alice", bearer=True).get(f"/api/v1/submissions/{world.sub}/grade").json()["grade"]
    parts = (api["raw"], api["adjustments"], api["penalty"], api["penalty_percent"], api["final"])
    assert parts == (3, -0.5, 0.5, 20, 2)
    assert _section(world.client("alice").get(f"{url}/status").json()["html"]) == grade


def test_withheld_only_the_tas_comments_are_shown(world: World) -> None:
    world.set_due(datetime.now(UTC) + timedelta(days=3))  # the hidden check 2 is not released yet
    url = f"/submissions/{world.sub}"
    for html in (world.client("alice").get(url).text, world.client("alice").get(f"{url}/status").json()["html"]):
        grade = _section(html)
        assert 'id="grade-withheld"' in grade and "Nice work on q3 &lt;script&gt;" in grade
        for leak in (
            'id="grade-parts"',
            "grade-final",
            "grade-penalty",
            "on check 2",
            HIDDEN_REASON,
            "config",
            "late by",
            'id="grade-not-counted"',
        ):
            assert leak not in grade, leak
        assert HIDDEN_REASON not in html and "probe beta" not in html
    api = world.client("alice", bearer=True).get(f"/api/v1/submissions/{world.sub}/grade").json()
    assert api["grade"] is None and api["adjustments"] == [] and api["counts"] is True  # latest: tells nothing
    manifest = world.services.manifests[A]
    CourseStore(world.services.store).update_settings(manifest, {"counting": "best"}, "ta:tina")
    api = world.client("alice", bearer=True).get(f"/api/v1/submissions/{world.sub}/grade").json()
    assert api["counts"] is None  # under "best" it would tell which upload scored higher, hidden checks included


def test_another_student_gets_404_and_staff_read_the_grade_on_their_page(world: World) -> None:
    world.set_due(DUE)
    url = f"/submissions/{world.sub}"
    bob = world.client("bob")
    page = bob.get(url)
    assert page.status_code == 404 and "Submission not found" in page.text
    assert "Nice work on q3" not in page.text and HIDDEN_REASON not in page.text
    assert bob.get(f"{url}/status").status_code == 404
    ta_view = world.client("ta").get(url)
    assert ta_view.status_code == 200 and 'id="grade-heading"' not in ta_view.text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=1), "1 minute"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=2, minutes=1), "2 days 1 minute"),
        (timedelta(days=1, hours=3, seconds=30), "1 day 3 hours 1 minute"),
    ],
)
def test_late_by_counts_started_minutes(delta: timedelta, text: str) -> None:
    assert late_by(delta) == text
