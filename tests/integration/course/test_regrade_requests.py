"""Regrade requests through the real service (embedded Redis, a Celery worker, uvicorn, the bwrap sandbox):
a student asks with a message, a TA answers by re-running (a second report version, compared with the
first), adjusting or declining; "regrade everyone" counts first; each act in the audit log. Also the
``grader course`` commands against the same store.

Its own service, as the term test has: the settings it changes must not reach other tests' assignments.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.utils.builders import zip_of
from tests.utils.service import GRADER, Service, running_service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service]

FILES = {"solution.py": "def double(s):\n    return s + s\n", "dev.predictions": "a\nb\na\nb\n"}
A = "/api/v1/assignments/labels"


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with running_service("grader-test-regrades-") as svc:
        yield svc


@pytest.fixture(scope="module")
def people(service: Service) -> dict[str, str]:
    students = service.students("labels", "alice", "bob")
    return {**{s: v.split(",")[0] for s, v in students.items()}, "ta": service.token("ta", "tina")}


def client(service: Service, token: str) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_a_regrade_request_answered_three_ways(service: Service, people: dict[str, str]) -> None:
    ta, alice, bob = (client(service, people[p]) for p in ("ta", "alice", "bob"))
    with ta, alice, bob:
        r = alice.post(f"{A}/submissions", files={"file": ("s.zip", zip_of(FILES), "application/zip")})
        assert r.status_code == 202, r.text
        sub = r.json()["id"]
        requests = f"/api/v1/submissions/{sub}/regrade-requests"
        # Before a report there is nothing to question.
        early = alice.post(requests, json={"message": "too soon"})
        assert early.status_code in (201, 409)  # 409 unless the worker was already done
        if early.status_code == 201:  # answered at once, so that the test goes on from one open request
            ta.post(
                f"/api/v1/regrade-requests/{early.json()['id']}/resolve", json={"action": "decline", "answer": "wait"}
            )
        first = wait_state(ta, sub)
        assert first["state"] == "done"
        versions = ta.get(f"/api/v1/submissions/{sub}/reports").json()
        assert [(v["version"], v["current"]) for v in versions] == [(1, True)]

        # The student asks, with a message, about a check their report shows; one open request at a time.
        assert alice.post(requests, json={"message": "x", "check": "2"}).json() == {
            "detail": "Your report has no check '2'"
        }
        asked = alice.post(requests, json={"message": "Check 5 failed on my machine's output", "check": "5"})
        assert asked.status_code == 201, asked.text
        req = asked.json()
        assert (req["state"], req["student"], req["report_version"], req["check"]) == ("open", "alice", 1, "5")
        again = alice.post(requests, json={"message": "again"})
        assert (
            again.status_code == 409
            and again.json()["detail"] == "You already have an open regrade request on this submission"
        )
        assert ta.post(requests, json={"message": "staff"}).status_code == 403
        assert bob.get(requests).status_code == 404 and bob.post(requests, json={"message": "hers"}).status_code == 404
        assert [q["id"] for q in ta.get(f"{A}/regrade-requests", params={"state": "open"}).json()] == [req["id"]]
        assert alice.get(f"{A}/regrade-requests").status_code == 403

        # Re-run: a new run, a second report version; the TA opens and compares both; the student sees the current.
        resolve = f"/api/v1/regrade-requests/{req['id']}/resolve"
        assert alice.post(resolve, json={"action": "rerun"}).status_code == 403
        rerun = ta.post(resolve, json={"action": "rerun", "answer": "Graded again with the fixed suite."})
        assert rerun.status_code == 200 and rerun.json()["state"] == "rerun" and rerun.json()["run_id"]
        assert (
            ta.post(resolve, json={"action": "decline", "answer": "no"}).json()["detail"]
            == "This request was already answered (rerun)"
        )
        second = wait_state(ta, sub)
        versions = ta.get(f"/api/v1/submissions/{sub}/reports").json()
        assert [(v["version"], v["current"], v["run_id"]) for v in versions] == [
            (1, False, versions[0]["run_id"]),
            (2, True, rerun.json()["run_id"]),
        ]
        old = ta.get(f"/api/v1/submissions/{sub}/reports/1").json()
        assert old["created_at"] == first["report"]["created_at"] != second["report"]["created_at"]
        diff = ta.get(f"/api/v1/submissions/{sub}/reports/compare", params={"before": 1}).json()
        assert (diff["before"], diff["after"]) == (1, 2) and {c["number"] for c in diff["checks"]} == {
            "1",
            "2",
            "3",
            "4",
            "5",
        }
        assert all(c["before_score"] == c["after_score"] for c in diff["checks"])  # the same code scores the same
        assert ta.get(f"/api/v1/submissions/{sub}/reports/3").json() == {"detail": "Report version 3 not found"}
        assert alice.get(f"/api/v1/submissions/{sub}/reports").status_code == 403
        assert (
            alice.get(f"/api/v1/submissions/{sub}").json()["report"]["execution_time"]
            == second["report"]["execution_time"]
        )

        # Adjust: the TA adds points with the answer as the reason.
        req2 = alice.post(requests, json={"message": "Check 1 accepts my format per the handout", "check": "1"}).json()
        assert ta.post(f"/api/v1/regrade-requests/{req2['id']}/resolve", json={"action": "adjust"}).status_code == 422
        adjusted = ta.post(
            f"/api/v1/regrade-requests/{req2['id']}/resolve",
            json={"action": "adjust", "check": "1", "points": 0.5, "answer": "Half a point: the format is allowed."},
        )
        assert adjusted.status_code == 200 and adjusted.json()["state"] == "adjusted"
        grade = ta.get(f"/api/v1/submissions/{sub}/grade").json()
        assert [(a["id"], a["points"], a["reason"]) for a in grade["adjustments"]] == [
            (adjusted.json()["adjustment_id"], 0.5, "Half a point: the format is allowed.")
        ]

        # Decline: only with an answer, which the student reads.
        req3 = alice.post(requests, json={"message": "I deserve more"}).json()
        url3 = f"/api/v1/regrade-requests/{req3['id']}/resolve"
        assert ta.post(url3, json={"action": "decline"}).json() == {
            "detail": "Declining needs an answer for the student"
        }
        assert ta.post(url3, json={"action": "decline", "answer": "The checks are right."}).status_code == 200
        mine = alice.get(requests).json()
        assert [(q["state"], q["answer"]) for q in mine][-3:] == [
            ("rerun", "Graded again with the fixed suite."),
            ("adjusted", "Half a point: the format is allowed."),
            ("declined", "The checks are right."),
        ]
        assert ta.get(f"{A}/regrade-requests", params={"state": "open"}).json() == []

        # Regrade everyone: counted, then confirmed; the kept report versions grow by one.
        count = ta.post(f"{A}/regrade", params={"dry_run": "true"}).json()
        assert (count["would_queue"], count["queued"], count["dry_run"]) == (1, [], True)
        assert ta.post(f"{A}/regrade").status_code == 428
        assert ta.post(f"{A}/regrade", params={"confirm": "true"}).json()["queued"] == [sub]
        wait_state(ta, sub)
        assert len(ta.get(f"/api/v1/submissions/{sub}/reports").json()) == 3

        log = ta.get("/api/v1/audit", params={"assignment": "labels"}).json()
        acts = [(e["actor"], e["action"]) for e in reversed(log) if e["action"].startswith(("regrade", "adjustment"))]
        assert acts[-9:] == [
            ("student:alice", "regrade_request.create"),
            ("ta:tina", "regrade.submission"),
            ("ta:tina", "regrade_request.rerun"),
            ("student:alice", "regrade_request.create"),
            ("ta:tina", "adjustment.add"),
            ("ta:tina", "regrade_request.adjusted"),
            ("student:alice", "regrade_request.create"),
            ("ta:tina", "regrade_request.declined"),
            ("ta:tina", "regrade.all"),
        ]


def grader(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GRADER, *args], env=service.env, capture_output=True, text=True, timeout=300)


def test_course_settings_from_the_command_line(service: Service, people: dict[str, str]) -> None:
    changed = grader(service, "course", "set", "labels", "late_policy=per_hour", "late_percent=5", "max_submissions=3")
    assert changed.returncode == 0, changed.stderr
    assert (
        '"late_policy": "per_hour"' in changed.stdout
        and "changed late_policy, late_percent, max_submissions" in changed.stderr
    )
    cleared = grader(service, "course", "set", "labels", "max_submissions=none")
    assert cleared.returncode == 0 and '"max_submissions": null' in cleared.stdout
    extended = grader(service, "course", "extend", "labels", "bob", "--due", "2026-12-24T23:59Z", "--note", "illness")
    assert extended.returncode == 0, extended.stderr
    shown = service.cli("course", "show", "labels")
    assert '"late_percent": 5.0' in shown and '"bob"' in shown and '"note": "illness"' in shown
    with client(service, people["ta"]) as ta:  # the API reads what the command line wrote
        assert ta.get(f"{A}/settings").json()["late_policy"] == "per_hour"
        assert ta.get(f"{A}/extensions").json()["bob"]["due"].startswith("2026-12-24T23:59:00")
        acts = [
            (e["actor"].split(":")[0], e["action"])
            for e in ta.get("/api/v1/audit", params={"assignment": "labels"}).json()[:3]
        ]
    assert acts == [("cli", "extension.set"), ("cli", "settings.update"), ("cli", "settings.update")]
    removed = grader(service, "course", "extend", "labels", "bob", "--remove")
    assert removed.returncode == 0 and "withdrew bob's extension" in removed.stderr
    # User errors are one line, never a traceback.
    for args, message in (
        (("set", "labels", "late_percent=150"), "late_percent"),
        (("set", "labels", "colour=red"), "colour"),
        (("set", "labels", "due"), "expected key=value"),
        (("show", "nope"), "unknown assignment 'nope'"),
        (("extend", "labels", "bob", "--remove"), "'bob' has no extension"),
        (("extend", "labels", "bob", "--due", "someday"), "due:"),
    ):
        out = grader(service, "course", *args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
