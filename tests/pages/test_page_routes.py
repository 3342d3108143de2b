"""The page routes in-process (TestClient) on a real Redis: sign-in, CSRF, roles and what students see.

No worker runs: submissions and reports are written to the store directly, as the worker would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from grader.api.deps import Services
from grader.models.report import CheckResult, GradeReport, OutputFormat, PhaseTimings, SandboxRecord
from grader.models.report import TestReport as CheckReport
from grader.store.records import Role, Submission, SubmissionState
from grader.store.sessions import issue_link
from grader.store.tokens import digest, issue_token, revoke
from tests.utils.builders import queued_run, zip_of
from tests.utils.pages import PageApp, csrf_of, page_app

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SECRET = "STAFF-ONLY-TRACEBACK-7"


@dataclass
class World(PageApp):
    subs: dict[str, str] = field(default_factory=dict)


def _check(number: str, name: str, visibility: str, passed: bool = True, **extra: object) -> CheckReport:
    return CheckReport(
        name=name,
        number=number,
        score=1 if passed else 0,
        max_score=1,
        visibility=visibility,
        status="passed" if passed else "failed",
        result=CheckResult.passed if passed else CheckResult.failed,
        staff_output=SECRET,
        **extra,
    )  # type: ignore[arg-type]


def _report() -> GradeReport:
    tests = [
        _check("1", "visible check", "visible", output="**well done**", output_format=OutputFormat.md),
        _check("2", "probe beta", "hidden", passed=False),
        _check("3", "probe gamma", "after_due_date"),
        _check(
            "4",
            "slow visible check",
            "visible",
            output="\x1b[31mred\x1b[0m <script>x</script>",
            output_format=OutputFormat.ansi,
        ),
    ]
    return GradeReport(
        score=3,
        max_score=4,
        execution_time=2.5,
        tests=tests,
        assignment="visibility",
        grader_version="t",
        created_at=NOW,
        timings=PhaseTimings(unpack=0.1, sandbox_start=0.4, checks=2.0, total=2.5),
        limits={"memory_bytes": 2147483648, "wall_seconds": 60},
        staff_output="captured sandbox stdout",
        sandboxes=[SandboxRecord(generation=0, exit_reason="finished")],
        sandbox_exit_reason="finished",
    )


def _graded(
    services: Services, student: str, filename: str, role: Role = Role.student, received: datetime = NOW
) -> str:
    store = services.store
    sub = Submission(
        id=store.new_id(),
        assignment="visibility",
        student=student,
        role=role,
        blob_sha256="0" * 64,
        filename=filename,
        size_bytes=10,
        received_at=received,
        run_id="",
    )
    store.add_submission(sub)
    queued_run(store, sub.id, "run-1", "cpu", NOW)
    report = _report()
    store.finish(
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
    with page_app("grader-test-pages-", World, upload_max_bytes=4096) as world:
        services = world.services
        services.store.add_to_roster("visibility", ["alice", "bob"])
        tokens = {who: issue_token(services.store, Role.student, who) for who in ("alice", "bob")}
        tokens["ta"] = issue_token(services.store, Role.ta, "head-ta")
        subs = {who: _graded(services, who, f"{who}-work.zip") for who in ("alice", "bob")}
        world.tokens, world.subs = tokens, subs
        yield world


def test_pages_redirect_to_sign_in_without_a_session(world: World) -> None:
    client = world.client()
    for path in (
        "/",
        f"/submissions/{world.subs['alice']}",
        "/assignments/visibility",
        "/staff/assignments/visibility",
    ):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/signin", path
    assert client.get("/signin").status_code == 200


def test_sign_in_sets_an_httponly_samesite_cookie_and_refuses_bad_tokens(world: World) -> None:
    client = world.client()
    bad = client.post("/signin", data={"token": "student_nope"})
    assert bad.status_code == 401 and "That token is not valid." in bad.text
    good = client.post("/signin", data={"token": world.tokens["alice"]})
    assert good.status_code == 303 and good.headers["location"] == "/"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert client.get("/").status_code == 200


def test_sign_in_from_another_site_is_refused(world: World) -> None:
    response = world.client().post(
        "/signin", data={"token": world.tokens["alice"]}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_a_sign_in_link_page_asks_for_one_click_and_sets_no_cookie_by_itself(world: World) -> None:
    response = world.client().get("/signin/link")
    assert (
        response.status_code == 200
        and 'action="/signin/link"' in response.text
        and "set-cookie" not in response.headers
    )
    assert '<script src="/static/signin.js"></script>' in response.text  # reads the secret from the fragment
    # An old-style link with the API token in its query signs nobody in.
    old = world.client().get("/signin/link", params={"token": world.tokens["bob"]})
    assert old.status_code == 400 and "no longer carry your token" in old.text and "set-cookie" not in old.headers


def test_a_sign_in_link_is_exchanged_once_for_a_session(world: World) -> None:
    secret = issue_link(world.services.store, digest(world.tokens["bob"]), 600)
    client = world.client()
    first = client.post("/signin/link", data={"link": secret})
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "httponly" in cookie.lower() and secret not in cookie and world.tokens["bob"] not in cookie
    assert client.get("/").status_code == 200
    again = world.client().post("/signin/link", data={"link": secret})
    assert again.status_code == 401 and "already used" in again.text and "set-cookie" not in again.headers
    assert world.client().post("/signin/link", data={"link": "link_nope"}).status_code == 401
    cross = world.client().post(
        "/signin/link",
        data={"link": issue_link(world.services.store, digest(world.tokens["bob"]), 600)},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status_code == 403 and "set-cookie" not in cross.headers


def test_signing_out_or_revoking_the_token_ends_the_session_on_the_server(world: World) -> None:
    store = world.services.store
    token = issue_token(store, Role.student, "alice")
    client = world.client()
    assert client.post("/signin", data={"token": token}).status_code == 303
    session_id = client.cookies["grader_session"]
    assert session_id.startswith("s_") and token not in session_id
    assert client.get("/").status_code == 200
    client.post("/signout", data={"csrf": csrf_of(client.get("/").text)})
    replay = world.client()
    replay.cookies.set("grader_session", session_id)  # the old cookie, kept by someone: the session is gone
    assert replay.get("/").status_code == 303
    assert client.post("/signin", data={"token": token}).status_code == 303
    assert client.get("/").status_code == 200
    revoke(store, [digest(token)])
    assert client.get("/").status_code == 303 and client.get("/").headers["location"] == "/signin"


def test_an_expired_token_signs_nobody_in(world: World) -> None:
    store = world.services.store
    token = issue_token(store, Role.student, "alice", expires_at=NOW - timedelta(days=1))
    assert world.client().post("/signin", data={"token": token}).status_code == 401


def test_students_see_only_the_assignments_they_are_on(world: World) -> None:
    home = world.client("alice").get("/")
    assert home.status_code == 200 and "/assignments/visibility" in home.text
    assert "/assignments/toy" not in home.text and "/assignments/cs224n-a5" not in home.text
    assert "/assignments/toy" in world.client("ta").get("/").text


def test_student_sees_visible_checks_only_and_no_score_while_checks_are_hidden(world: World) -> None:
    page = world.client("alice").get(f"/submissions/{world.subs['alice']}")
    assert page.status_code == 200
    assert "visible check" in page.text and "slow visible check" in page.text
    assert "probe beta" not in page.text and "probe gamma" not in page.text
    assert SECRET not in page.text and "captured sandbox stdout" not in page.text and "memory_bytes" not in page.text
    assert 'id="score"' not in page.text and "withheld while 2 hidden checks" in page.text
    assert "<strong>well done</strong>" in page.text  # Markdown rendered
    assert '<span class="ansi-fg-1">red</span> &lt;script&gt;' in page.text  # ANSI as escaped spans
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_student_history_does_not_show_the_full_score(world: World) -> None:
    page = world.client("alice").get("/assignments/visibility")
    assert page.status_code == 200 and "alice-work.zip" in page.text and "bob-work.zip" not in page.text
    assert "3 / 4" not in page.text and 'data-max-bytes="4096"' in page.text


def test_a_student_cannot_open_another_students_submission(world: World) -> None:
    client = world.client("alice")
    page = client.get(f"/submissions/{world.subs['bob']}")
    assert page.status_code == 404 and "Submission not found" in page.text and "bob-work.zip" not in page.text
    assert client.get(f"/submissions/{world.subs['bob']}/status").status_code == 404


def test_ta_sees_every_check_staff_output_timings_and_limits(world: World) -> None:
    page = world.client("ta").get(f"/submissions/{world.subs['alice']}")
    assert page.status_code == 200
    for text in (
        "probe beta",
        "probe gamma",
        SECRET,
        "captured sandbox stdout",
        "memory_bytes",
        "sandbox start",
        'id="score">3</strong>',
        "Regrade this submission",
    ):
        assert text in page.text, text


def test_progress_names_a_hidden_check_only_to_staff(world: World) -> None:
    store = world.services.store
    # received earlier than alice's graded one, so that one stays her latest for the overview's tests
    sub_id = _graded(world.services, "alice", "in-flight.zip", received=NOW - timedelta(hours=1))
    queued_run(store, sub_id, "run-2", "cpu", NOW)
    store.start_attempt(sub_id, NOW)
    store.progress(sub_id, 1, 4, "2 probe beta", "hidden")
    student = world.client("alice").get(f"/submissions/{sub_id}/status").json()
    assert student["finished"] is False and student["html"] is None
    assert student["progress"] == {
        "state": "running",
        "done": 1,
        "total": 4,
        "current": "a hidden check",
        "queue_position": None,
    }
    assert world.client("ta").get(f"/submissions/{sub_id}/status").json()["progress"]["current"] == "2 probe beta"
    store.progress(sub_id, 3, 4, "4 slow visible check", "visible")
    assert (
        world.client("alice").get(f"/submissions/{sub_id}/status").json()["progress"]["current"]
        == "4 slow visible check"
    )
    page = world.client("alice").get(f"/submissions/{sub_id}")
    assert 'data-finished="false"' in page.text and "Checks done" in page.text


def test_finished_status_carries_the_filtered_result(world: World) -> None:
    body = world.client("alice").get(f"/submissions/{world.subs['alice']}/status").json()
    assert body["finished"] is True and "visible check" in body["html"] and "probe beta" not in body["html"]
    assert SECRET not in body["html"]


def test_staff_pages_are_for_tas_only(world: World) -> None:
    alice = world.client("alice")
    page = alice.get("/staff/assignments/visibility")
    assert page.status_code == 403 and "Only TAs may open this page" in page.text and "<html" in page.text
    assert alice.get("/staff/assignments/visibility/grades.csv").status_code == 403
    assert alice.post(f"/staff/submissions/{world.subs['alice']}/regrade", data={"csrf": "x"}).status_code == 403


def test_ta_overview_has_three_svg_plots_the_table_and_the_csv(world: World) -> None:
    ta = world.client("ta")
    page = ta.get("/staff/assignments/visibility")
    assert page.status_code == 200
    for plot in ("plot-timeline", "plot-histogram", "plot-checks"):
        assert re.search(rf'id="{plot}" src="data:image/svg\+xml;base64,', page.text), plot
    assert "2 probe beta" in page.text and "0 of 2" in page.text  # the pass-rate table: both students fail it
    csv = ta.get("/staff/assignments/visibility/grades.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("student_id,score") and "alice,3,4,done" in csv.text
    assert ta.get("/staff/assignments/nope").status_code == 404


def test_regrade_needs_the_csrf_token_and_our_origin(world: World) -> None:
    ta = world.client("ta")
    csrf = csrf_of(ta.get(f"/submissions/{world.subs['bob']}").text)
    url = f"/staff/submissions/{world.subs['bob']}/regrade"
    assert ta.post(url).status_code == 403
    assert ta.post(url, data={"csrf": "0" * 64}).status_code == 403
    assert ta.post(url, data={"csrf": csrf}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert world.services.store.get(world.subs["bob"]).state == SubmissionState.done  # type: ignore[union-attr]
    done = ta.post(url, data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/submissions/{world.subs['bob']}"
    assert world.services.store.get(world.subs["bob"]).state == SubmissionState.queued  # type: ignore[union-attr]
    # A CSRF token belongs to one session: bob's does not work for the TA.
    bob_csrf = csrf_of(world.client("bob").get("/").text)
    assert ta.post(url, data={"csrf": bob_csrf}).status_code == 403


def test_page_upload_checks_csrf_and_reports_the_apis_errors(world: World) -> None:
    client = world.client("bob")
    csrf = csrf_of(client.get("/assignments/visibility").text)
    url = "/assignments/visibility/upload"
    files = {"file": ("good.zip", zip_of({"good.py": "def add(a, b):\n    return a + b\n"}), "application/zip")}
    assert client.post(url, files=files).status_code == 403
    json_headers = {"Accept": "application/json"}
    not_zip = client.post(
        url, files={"file": ("x.zip", b"not a zip", "application/zip")}, data={"csrf": csrf}, headers=json_headers
    )
    assert not_zip.status_code == 422 and "not a zip archive" in not_zip.json()["detail"]
    too_big = client.post(
        url, files={"file": ("big.zip", b"0" * 5000, "application/zip")}, data={"csrf": csrf}, headers=json_headers
    )
    assert too_big.status_code == 413
    accepted = client.post(url, files=files, data={"csrf": csrf}, headers=json_headers)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["url"] == f"/submissions/{body['id']}"
    assert world.services.store.get(body["id"]).student == "bob"  # type: ignore[union-attr]
    plain = client.post(url, files=files, data={"csrf": csrf})  # no script: a redirect to the page
    assert plain.status_code == 303 and plain.headers["location"].startswith("/submissions/")


def test_sign_out_clears_the_cookie(world: World) -> None:
    client = world.client("alice")
    csrf = csrf_of(client.get("/").text)
    response = client.post("/signout", data={"csrf": csrf})
    assert response.status_code == 303 and 'grader_session=""' in response.headers["set-cookie"]


def test_reference_uploads_are_marked_and_left_out_of_the_statistics(world: World) -> None:
    ci_sub = _graded(world.services, "ci-reference", "reference.zip", Role.ci)
    page = world.client("ta").get("/staff/assignments/visibility")
    row = re.search(rf'<a href="/submissions/{ci_sub}">ci-reference</a>(.*?)</tr>', page.text, re.S)
    assert row and "reference/CI" in row.group(1)
    assert "<dd>2 of 2 on the roster</dd>" in page.text  # the statistics count the two students only
    assert "reference/CI" in world.client("ta").get(f"/submissions/{ci_sub}").text


def test_regrade_all_asks_for_confirmation_with_the_count(world: World) -> None:
    ta = world.client("ta")
    overview = ta.get("/staff/assignments/visibility").text
    assert 'href="/staff/assignments/visibility/regrade" id="regrade-all"' in overview
    latest = world.services.store.latest_per_student("visibility")
    page = ta.get("/staff/assignments/visibility/regrade")
    assert page.status_code == 200 and f"This queues <strong>{len(latest)}</strong> submissions" in page.text
    # Posting without the confirmation queues nothing and goes to the confirmation step.
    response = ta.post("/staff/assignments/visibility/regrade", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/staff/assignments/visibility/regrade"
    assert world.services.store.latest_per_student("visibility") == latest  # no new run issued
    assert world.client("alice").get("/staff/assignments/visibility/regrade").status_code == 403


def test_regrade_all_queues_every_latest_submission(world: World) -> None:
    ta = world.client("ta")
    csrf = csrf_of(ta.get("/staff/assignments/visibility").text)
    response = ta.post("/staff/assignments/visibility/regrade", data={"csrf": csrf, "confirm": "yes"})
    latest = world.services.store.latest_per_student("visibility")
    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/assignments/visibility?regraded={len(latest)}"
    assert all(sub.state == SubmissionState.queued for sub in latest.values())
    assert f"Queued {len(latest)} submissions for regrading." in ta.get(response.headers["location"]).text


# ----------------------------------------------------------------------------- hidden labels and staff flags

FIGURE = "Test accuracy: 5/8"  # derived from the hidden labels: staff only until the due date (2099 in the toy suite)


def _labels_graded(services: Services, student: str, flags: list[str]) -> str:
    store = services.store
    tests = [
        CheckReport(
            name="Dev predictions: accuracy",
            number="1",
            score=1,
            max_score=1,
            status="passed",
            result=CheckResult.passed,
            output="Dev accuracy: 4/4",
            staff_flags=flags,
        ),
        CheckReport(
            name="Test predictions: accuracy on the hidden labels",
            number="2",
            score=1.25,
            max_score=2,
            status="failed",
            result=CheckResult.partial,
            output=FIGURE,
            hidden_labels=True,
            pre_release_output="test.predictions: 8 lines, well formed.",
        ),
    ]
    report = GradeReport(
        score=2.25,
        max_score=3,
        execution_time=1,
        tests=tests,
        assignment="labels",
        grader_version="t",
        created_at=NOW,
        staff_flags=[f"1 Dev predictions: accuracy: {f}" for f in flags],
    )
    sub = Submission(
        id=store.new_id(),
        assignment="labels",
        student=student,
        role=Role.student,
        blob_sha256="0" * 64,
        filename=f"{student}-labels.zip",
        size_bytes=10,
        received_at=NOW,
        run_id="",
    )
    store.add_submission(sub)
    queued_run(store, sub.id, "run-1", "cpu", NOW)
    store.finish(
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
def labelled(world: World) -> dict[str, str]:
    return {
        "alice": _labels_graded(world.services, "alice", ["constant dev predictions"]),
        "bob": _labels_graded(world.services, "bob", []),
    }


def test_student_page_withholds_the_hidden_label_figure_and_says_what_the_check_marked_well_formed(
    world: World, labelled: dict[str, str]
) -> None:
    page = world.client("alice").get(f"/submissions/{labelled['alice']}")
    assert page.status_code == 200
    assert FIGURE not in page.text and "1.25" not in page.text and "2.25" not in page.text
    assert 'id="pending"' in page.text and "test.predictions: 8 lines, well formed." in page.text
    assert "shown after the due date" in page.text and "Dev accuracy: 4/4" in page.text
    assert 'id="score"' not in page.text and "Points of the checks shown below (not your total): 1 / 1" in page.text
    assert "constant dev predictions" not in page.text and "flagged" not in page.text.lower()
    status = world.client("alice").get(f"/submissions/{labelled['alice']}/status").json()
    assert FIGURE not in status["html"] and "constant dev predictions" not in status["html"]


def test_ta_submission_page_shows_the_figure_and_the_flags(world: World, labelled: dict[str, str]) -> None:
    page = world.client("ta").get(f"/submissions/{labelled['alice']}")
    assert page.status_code == 200 and FIGURE in page.text and 'id="score">2.25</strong>' in page.text
    assert 'id="staff-flags"' in page.text and "1 Dev predictions: accuracy: constant dev predictions" in page.text
    assert "hidden labels</span>" in page.text and "Students see before the release: test.predictions" in page.text
    assert 'id="staff-flags"' not in world.client("ta").get(f"/submissions/{labelled['bob']}").text


def test_ta_overview_marks_flagged_submissions_and_filters_them(world: World, labelled: dict[str, str]) -> None:
    ta = world.client("ta")
    page = ta.get("/staff/assignments/labels")
    assert page.status_code == 200 and labelled["alice"] in page.text and labelled["bob"] in page.text
    assert (
        page.text.count('data-flagged="1"') == 1
        and 'title="1 Dev predictions: accuracy: constant dev predictions"' in page.text
    )
    assert "(1 flagged for review)" in page.text
    only = ta.get("/staff/assignments/labels?flagged=1")
    assert only.status_code == 200 and labelled["alice"] in only.text and labelled["bob"] not in only.text
    assert "Showing the 1 flagged submission only" in only.text
    assert world.client("alice").get("/staff/assignments/labels?flagged=1").status_code == 403
