"""The TA's term pages in-process (TestClient) on a real Redis: settings with their history, extensions,
regrade requests answered from the page, one submission's adjustments, comments and report versions, the
audit log; staff only, CSRF on every form, each act audited.

No worker runs: reports are written to the store as the worker writes them (two runs: two versions).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
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
    sub: str = ""


def _report(first_passes: bool) -> GradeReport:
    tests = [
        CheckReport(
            name="visible check",
            number="1",
            score=1 if first_passes else 0,
            max_score=1,
            visibility="visible",
            status="passed" if first_passes else "failed",
            result=CheckResult.passed if first_passes else CheckResult.failed,
        ),
        CheckReport(
            name="second visible",
            number="4",
            score=1,
            max_score=1,
            visibility="visible",
            status="passed",
            result=CheckResult.passed,
        ),
    ]
    return GradeReport(
        score=sum(t.score for t in tests),
        max_score=2,
        execution_time=1,
        tests=tests,
        assignment=A,
        grader_version="t",
        created_at=NOW,
    )


def _grade(services: Services, sub_id: str, run: str, first_passes: bool) -> None:
    queued_run(services.store, sub_id, run, "cpu", NOW)
    report = _report(first_passes)
    services.store.finish(
        sub_id,
        run,
        SubmissionState.done,
        NOW,
        report_json=report.model_dump_json(),
        score=report.score,
        max_score=report.max_score,
    )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with page_app("grader-test-term-pages-", World) as world:
        services = world.services
        services.store.add_to_roster(A, ["alice"])
        tokens = {
            "alice": issue_token(services.store, Role.student, "alice"),
            "ta": issue_token(services.store, Role.ta, "tina"),
        }
        sub = Submission(
            id=services.store.new_id(),
            assignment=A,
            student="alice",
            role=Role.student,
            blob_sha256="0" * 64,
            filename="alice.zip",
            size_bytes=10,
            received_at=NOW,
            run_id="",
        )
        services.store.add_submission(sub)
        _grade(services, sub.id, "run-1", first_passes=False)
        _grade(services, sub.id, "run-2", first_passes=True)
        world.tokens, world.sub = tokens, sub.id
        yield world


def _actions(world: World) -> list[str]:
    return [e.action for e in audit.entries(world.services.store, assignment=A)]


def test_term_pages_are_for_tas_only(world: World) -> None:
    alice = world.client("alice")
    for url in (
        f"/staff/assignments/{A}/course",
        "/staff/audit",
        f"/staff/submissions/{world.sub}",
        f"/staff/submissions/{world.sub}/compare?before=1",
        "/staff/audit.csv",
    ):
        assert alice.get(url).status_code == 403, url
    assert world.client().get(f"/staff/assignments/{A}/course").status_code == 303  # to the sign-in page
    ta = world.client("ta")
    assert ta.post(f"/staff/assignments/{A}/settings", data={"csrf": "x", "late_percent": "5"}).status_code == 403


def test_settings_form_saves_only_what_changed_with_history_and_audit(world: World) -> None:
    ta = world.client("ta")
    page = ta.get(f"/staff/assignments/{A}/course")
    assert page.status_code == 200 and 'id="settings-form"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "due": "2026-12-01T23:59",
        "late_due": "2026-12-04T23:59",
        "late_policy": "per_day",
        "late_percent": "10",
        "counting": "best",
        "max_submissions": "",
    }
    saved = ta.post(f"/staff/assignments/{A}/settings", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"/staff/assignments/{A}/course?done=settings"
    settings = ta.get(f"/staff/assignments/{A}/course").text
    assert 'value="2026-12-01T23:59"' in settings and '<option value="best" selected>' in settings
    assert "<code>late_percent</code> 0.0 → 10.0" in settings
    assert ta.post(f"/staff/assignments/{A}/settings", data=form).status_code == 303  # the same again: no change
    assert _actions(world).count("settings.update") == 1
    bad = ta.post(f"/staff/assignments/{A}/settings", data={**form, "late_percent": "150"})
    assert bad.status_code == 422 and "late_percent" in bad.text


def test_extensions_are_granted_and_withdrawn(world: World) -> None:
    ta = world.client("ta")
    csrf = csrf_of(ta.get(f"/staff/assignments/{A}/course").text)
    r = ta.post(
        f"/staff/assignments/{A}/extensions",
        data={"csrf": csrf, "student": "alice", "due": "2026-12-03T12:00", "note": "illness"},
    )
    assert r.status_code == 303
    assert world.services.store.r.hget(f"grader:course:{A}:exceptions", "alice") is not None
    page = ta.get(f"/staff/assignments/{A}/course").text
    assert "<td>alice</td>" in page and "illness" in page
    assert (
        ta.post(
            f"/staff/assignments/{A}/extensions", data={"csrf": csrf, "student": "alice", "withdraw": "1"}
        ).status_code
        == 303
    )
    assert "No extensions." in ta.get(f"/staff/assignments/{A}/course").text
    missing = ta.post(f"/staff/assignments/{A}/extensions", data={"csrf": csrf, "student": "alice", "withdraw": "1"})
    assert missing.status_code == 404 and "has no extension" in missing.text
    assert _actions(world)[:2] == ["extension.delete", "extension.set"]


def test_a_regrade_request_is_answered_from_the_page(world: World) -> None:
    student, ta = world.client("alice", bearer=True), world.client("ta")
    asked = student.post(
        f"/api/v1/submissions/{world.sub}/regrade-requests", json={"message": "Check 4 is right", "check": "4"}
    )
    assert asked.status_code == 201, asked.text
    page = ta.get(f"/staff/assignments/{A}/course").text
    assert (
        "Regrade requests (1 open)" in page
        and "Check 4 is right" in page
        and f'data-request="{asked.json()["id"]}"' in page
    )
    url = f"/staff/regrade-requests/{asked.json()['id']}/resolve"
    no_answer = ta.post(url, data={"csrf": csrf_of(page), "action": "decline"})
    assert no_answer.status_code == 422 and "Declining needs an answer for the student" in no_answer.text
    done = ta.post(url, data={"csrf": csrf_of(page), "action": "decline", "answer": "It already has full marks."})
    assert done.status_code == 303 and done.headers["location"] == f"/staff/assignments/{A}/course?done=request"
    mine = student.get(f"/api/v1/submissions/{world.sub}/regrade-requests").json()
    assert (mine[0]["state"], mine[0]["answer"], mine[0]["resolved_by"]) == (
        "declined",
        "It already has full marks.",
        "ta:tina",
    )
    assert "Regrade requests (0 open)" in ta.get(f"/staff/assignments/{A}/course").text
    again = ta.post(url, data={"csrf": csrf_of(page), "action": "decline", "answer": "x"})
    assert again.status_code == 409 and "already answered (declined)" in again.text


def test_one_submissions_grade_versions_adjustments_and_comments(world: World) -> None:
    ta = world.client("ta")
    page = ta.get(f"/staff/submissions/{world.sub}")
    assert page.status_code == 200
    assert f'href="/staff/submissions/{world.sub}/versions/1">version 1</a>: done' in page.text
    assert (
        f'href="/staff/submissions/{world.sub}/compare?before=1"' in page.text
        and "<strong>current</strong>" in page.text
    )
    diff = ta.get(f"/staff/submissions/{world.sub}/compare", params={"before": 1}).text
    assert "Total 1 → 2" in diff and "1 check(s) changed." in diff
    assert re.search(r'<tr data-changed="1"><td>1 visible check</td>\s*<td>failed 0</td>\s*<td>passed 1</td>', diff)
    old = ta.get(f"/staff/submissions/{world.sub}/versions/1").text
    assert "Report version 1" in old and '<td class="result-failed">failed</td>' in old
    assert ta.get(f"/staff/submissions/{world.sub}/versions/9").status_code == 404
    csrf = csrf_of(page.text)
    added = ta.post(
        f"/staff/submissions/{world.sub}/adjustments",
        data={"csrf": csrf, "check": "4", "points": "-0.5", "reason": "hard-coded"},
    )
    assert added.status_code == 303
    assert (
        ta.post(
            f"/staff/submissions/{world.sub}/adjustments", data={"csrf": csrf, "points": "1", "reason": ""}
        ).status_code
        == 422
    )
    assert (
        ta.post(
            f"/staff/submissions/{world.sub}/comments", data={"csrf": csrf, "text": "See the handout, 2.1."}
        ).status_code
        == 303
    )
    page = ta.get(f"/staff/submissions/{world.sub}").text
    assert (
        "-0.5 on check 4: hard-coded" in page and "See the handout, 2.1." in page and '<dd id="final">1.5</dd>' in page
    )
    adj_id = re.search(rf"/staff/submissions/{world.sub}/adjustments/([0-9a-f]+)/delete", page)
    assert adj_id
    assert (
        ta.post(f"/staff/submissions/{world.sub}/adjustments/{adj_id.group(1)}/delete", data={"csrf": csrf}).status_code
        == 303
    )
    assert '<dd id="final">2</dd>' in ta.get(f"/staff/submissions/{world.sub}").text
    assert _actions(world)[:3] == ["adjustment.delete", "comment.add", "adjustment.add"]


def test_the_audit_page_lists_and_exports_the_log(world: World) -> None:
    ta = world.client("ta")
    audit.record(world.services.store, "ta:tina", "settings.update", A, None, {"probe": "<b>x</b>"}, assignment=A)
    page = ta.get("/staff/audit", params={"assignment": A})
    assert page.status_code == 200 and "<code>settings.update</code>" in page.text
    assert "&lt;b&gt;x&lt;/b&gt;" in page.text or "\\u003cb\\u003ex" in page.text  # escaped, never markup
    assert "<b>x</b>" not in page.text
    rows = list(csv.DictReader(io.StringIO(ta.get("/staff/audit.csv", params={"assignment": A}).text)))
    assert rows[0]["action"] == "settings.update" and all(r["assignment"] == A for r in rows)
    for n in range(55):  # a second page
        audit.record(world.services.store, "ta:tina", "comment.add", f"s{n}", None, None, assignment=A)
    first = ta.get("/staff/audit", params={"assignment": A}).text
    assert first.count("<code>comment.add</code>") == 50 and "offset=50" in first
    assert "Newer" in ta.get("/staff/audit", params={"assignment": A, "offset": 50}).text
