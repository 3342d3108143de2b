"""A student's regrade request from their submission page, in-process (TestClient) on a real Redis: the form
offers the checks their filtered report shows, posts through the API's ``ask`` (its refusals shown in the
form), keeps CSRF, and the page shows the request's state and the TA's answer.

No worker runs: the report is written to the store as the worker writes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from grader.api.deps import Services
from grader.models.report import CheckResult, GradeReport
from grader.models.report import TestReport as CheckReport
from grader.store import audit
from grader.store.records import Role, Submission, SubmissionState
from grader.store.tokens import issue_token
from tests.utils.builders import queued_run
from tests.utils.pages import PageApp, csrf_of, page_app

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
A = "visibility"


@dataclass
class World(PageApp):
    subs: dict[str, str] = field(default_factory=dict)


def _check(number: str, name: str, visibility: str, passed: bool) -> CheckReport:
    return CheckReport(
        name=name,
        number=number,
        score=1 if passed else 0,
        max_score=1,
        visibility=visibility,
        status="passed" if passed else "failed",
        result=CheckResult.passed if passed else CheckResult.failed,
    )


def _submission(services: Services, student: str, graded: bool = True) -> str:
    sub = Submission(
        id=services.store.new_id(),
        assignment=A,
        student=student,
        role=Role.student,
        blob_sha256="0" * 64,
        filename=f"{student}.zip",
        size_bytes=10,
        received_at=NOW,
        run_id="",
    )
    services.store.add_submission(sub)
    queued_run(services.store, sub.id, "run-1", "cpu", NOW)
    if graded:
        tests = [
            _check("1", "visible check", "visible", False),
            _check("2", "probe beta", "hidden", False),
            _check("4", "slow visible check", "visible", True),
        ]
        report = GradeReport(
            score=1, max_score=3, execution_time=1, tests=tests, assignment=A, grader_version="t", created_at=NOW
        )
        services.store.finish(
            sub.id,
            "run-1",
            SubmissionState.done,
            NOW,
            report_json=report.model_dump_json(),
            score=report.score,
            max_score=report.max_score,
        )
    return sub.id


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with page_app("grader-test-regrade-pages-", World) as world:
        services = world.services
        services.store.add_to_roster(A, ["alice", "bob"])
        tokens = {who: issue_token(services.store, Role.student, who) for who in ("alice", "bob")}
        tokens["ta"] = issue_token(services.store, Role.ta, "tina")
        subs = {"alice": _submission(services, "alice"), "queued": _submission(services, "bob", graded=False)}
        world.tokens, world.subs = tokens, subs
        yield world


def _ask_url(world: World, who: str = "alice") -> str:
    return f"/submissions/{world.subs[who]}/regrade-request"


def test_the_form_offers_the_checks_the_students_report_shows(world: World) -> None:
    page = world.client("alice").get(f"/submissions/{world.subs['alice']}").text
    assert 'id="regrade-form"' in page and f'action="{_ask_url(world)}"' in page
    options = re.findall(r'<option value="([^"]*)"', page.split('id="regrade-check"')[1].split("</select>")[0])
    assert options == ["", "1", "4"]  # the hidden check 2 is not in the student's report, so not offered
    ta_view = world.client("ta").get(f"/submissions/{world.subs['alice']}").text
    assert 'id="regrade-form"' not in ta_view  # only the submission's student asks
    queued = world.client("bob").get(f"/submissions/{world.subs['queued']}").text
    assert 'id="regrade-form"' not in queued and 'id="regrade"' not in queued  # nothing to ask about yet


def test_asking_needs_the_sessions_csrf_token_and_our_origin(world: World) -> None:
    alice = world.client("alice")
    csrf = csrf_of(alice.get(f"/submissions/{world.subs['alice']}").text)
    assert alice.post(_ask_url(world), data={"message": "please"}).status_code == 403
    assert alice.post(_ask_url(world), data={"csrf": "0" * 64, "message": "please"}).status_code == 403
    cross = alice.post(
        _ask_url(world), data={"csrf": csrf, "message": "please"}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403 and "Cross-site request refused" in cross.text
    assert world.client().post(_ask_url(world), data={"csrf": csrf, "message": "x"}).status_code == 303  # to sign in
    assert world.services.store.r.llen(f"grader:regreqs:sub:{world.subs['alice']}") == 0


def test_refusals_are_shown_in_the_form_with_what_the_student_wrote(world: World) -> None:
    alice = world.client("alice")
    csrf = csrf_of(alice.get(f"/submissions/{world.subs['alice']}").text)
    empty = alice.post(_ask_url(world), data={"csrf": csrf, "message": "  ", "check": "1"})
    assert empty.status_code == 422
    assert (
        '<p id="regrade-error" class="error" role="alert">Write what you think was graded wrong, and why</p>'
        in empty.text
    )
    hidden = alice.post(_ask_url(world), data={"csrf": csrf, "message": "What is <b>check 2</b>?", "check": "2"})
    assert hidden.status_code == 422 and "Your report has no check &#39;2&#39;" in hidden.text
    assert "What is &lt;b&gt;check 2&lt;/b&gt;?</textarea>" in hidden.text  # kept, escaped
    too_long = alice.post(_ask_url(world), data={"csrf": csrf, "message": "x" * 5001})
    assert too_long.status_code == 422 and "at most 5000 characters" in too_long.text
    bob = world.client("bob")
    not_graded = bob.post(
        f"/submissions/{world.subs['queued']}/regrade-request",
        data={"csrf": csrf_of(bob.get("/").text), "message": "where is my grade?"},
    )
    assert not_graded.status_code == 409 and "has no report yet" in not_graded.text


def test_another_student_or_a_ta_cannot_ask_about_alices_submission(world: World) -> None:
    bob, ta = world.client("bob"), world.client("ta")
    by_bob = bob.post(_ask_url(world), data={"csrf": csrf_of(bob.get("/").text), "message": "mine now"})
    assert by_bob.status_code == 404 and "Submission not found" in by_bob.text
    by_ta = ta.post(_ask_url(world), data={"csrf": csrf_of(ta.get("/").text), "message": "on her behalf"})
    assert by_ta.status_code == 403 and "Only the student who submitted it may ask for a regrade" in by_ta.text
    assert world.services.store.r.llen(f"grader:regreqs:sub:{world.subs['alice']}") == 0


def test_the_student_asks_and_reads_the_tas_answer_on_the_page(world: World) -> None:
    alice, ta = world.client("alice"), world.client("ta")
    url = f"/submissions/{world.subs['alice']}"
    asked = alice.post(
        _ask_url(world), data={"csrf": csrf_of(alice.get(url).text), "message": "Check 1 <i>is</i> right", "check": "1"}
    )
    assert asked.status_code == 303 and asked.headers["location"] == f"{url}#regrade"
    page = alice.get(url).text
    assert '<li data-state="open">' in page and "about check 1" in page and "waiting for a TA&#39;s answer" in page
    assert "<blockquote>Check 1 &lt;i&gt;is&lt;/i&gt; right</blockquote>" in page
    assert 'id="regrade-form"' not in page and "A TA will answer your open request here" in page
    again = alice.post(_ask_url(world), data={"csrf": csrf_of(page), "message": "Still waiting"})
    assert again.status_code == 409 and "You already have an open regrade request on this submission" in again.text
    entry = audit.entries(world.services.store, assignment=A)[0]
    assert (entry.action, entry.actor) == ("regrade_request.create", "student:alice")

    # The TA declines from the course page; the student's page shows the answer and the form again.
    course = ta.get(f"/staff/assignments/{A}/course").text
    request_id = re.search(r'data-request="([0-9a-f]+)"', course)
    assert request_id
    declined = ta.post(
        f"/staff/regrade-requests/{request_id.group(1)}/resolve",
        data={"csrf": csrf_of(course), "action": "decline", "answer": "Your output differs in row 3."},
    )
    assert declined.status_code == 303
    page = alice.get(url).text
    assert '<li data-state="declined">' in page and '<strong class="request-state">declined</strong>' in page
    assert re.search(r"Answer from tina \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\):\s*Your output differs in row 3.</p>", page)
    assert 'id="regrade-form"' in page
    # The live fragment the page polls carries the same section.
    status = alice.get(f"{url}/status").json()
    assert "Your output differs in row 3." in status["html"] and 'id="regrade-form"' in status["html"]
