"""One term through the real service (embedded Redis, a Celery worker, uvicorn, the bwrap sandbox): roster,
release, an extension, a late upload and its penalty, a TA adjustment and comment, a regrade request answered
with an adjustment, the gradebook, the audit log.

Its own service: the course settings it changes must not reach the other service tests' assignments.
The ``labels`` toy suite (6 points) scores ``test.predictions`` against hidden labels (check 2).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.utils.builders import TOY_SUITES, zip_of
from tests.utils.service import Service, running_service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service]

GOLD = (TOY_SUITES / "labels" / "data" / "test_labels.txt").read_text().split()
FILES = {
    "solution.py": "def double(s):\n    return s + s\n",
    "dev.predictions": "a\nb\na\nb\n",
    "test.predictions": "\n".join(["b" if g == "a" else "a" for g in GOLD[:2]] + GOLD[2:]) + "\n",
}
A = "/api/v1/assignments/labels"


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with running_service("grader-test-term-") as svc:
        yield svc


@pytest.fixture(scope="module")
def people(service: Service) -> dict[str, str]:
    # Each student's value is their token (and, with accounts' sign-in links, ",<link>" after it).
    students = service.students("labels", "alice", "bob", "carol")
    return {**{s: v.split(",")[0] for s, v in students.items()}, "ta": service.token("ta", "tina")}


def client(service: Service, token: str) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def upload(c: httpx.Client) -> httpx.Response:
    return c.post(f"{A}/submissions", files={"file": ("s.zip", zip_of(FILES), "application/zip")})


def test_a_term(service: Service, people: dict[str, str]) -> None:
    now = datetime.now(UTC)
    ta, alice, bob = (client(service, people[p]) for p in ("ta", "alice", "bob"))
    with ta, alice, bob:
        # Not released yet: a student's upload is refused; staff and students cannot change settings alike.
        assert ta.patch(f"{A}/settings", json={"release_at": iso(now + timedelta(days=1))}).status_code == 200
        r = upload(alice)
        assert r.status_code == 409 and "not released yet" in r.json()["detail"]
        assert alice.patch(f"{A}/settings", json={"release_at": None}).status_code == 403
        # Released; due two hours ago, late uploads up to tomorrow at 10% per started day, the best counts.
        settings = ta.patch(
            f"{A}/settings",
            json={
                "release_at": iso(now - timedelta(days=7)),
                "due": iso(now - timedelta(hours=2)),
                "late_due": iso(now + timedelta(days=1)),
                "late_policy": "per_day",
                "late_percent": 10,
                "counting": "best",
            },
        ).json()
        assert (
            settings["late_policy"] == "per_day" and settings["counting"] == "best" and settings["published"] is False
        )
        assert len(ta.get(f"{A}/settings/history").json()) == 2
        # bob has an extension to tomorrow.
        r = ta.put(f"{A}/extensions/bob", json={"due": iso(now + timedelta(days=1)), "note": "illness"})
        assert r.status_code == 200, r.text
        late, on_time = upload(alice), upload(bob)
        assert late.status_code == 202 and late.json()["late"] is True, late.text
        assert on_time.status_code == 202 and on_time.json()["late"] is False
        sub_a, sub_b = late.json()["id"], on_time.json()["id"]
        assert wait_state(ta, sub_a)["state"] == "done" and wait_state(ta, sub_b)["state"] == "done"

        # A TA adjustment on check 2 and a comment; a student can do neither.
        adj = ta.post(
            f"/api/v1/submissions/{sub_a}/adjustments",
            json={"check": "2", "points": 1, "reason": "label 1 is ambiguous"},
        )
        assert adj.status_code == 201, adj.text
        assert ta.post(f"/api/v1/submissions/{sub_a}/comments", json={"text": "Nice work on q3."}).status_code == 201
        assert (
            alice.post(f"/api/v1/submissions/{sub_a}/adjustments", json={"points": 5, "reason": "me"}).status_code
            == 403
        )
        assert bob.get(f"/api/v1/submissions/{sub_a}/grade").status_code == 404

        # bob's extension still runs, so the hidden-label check stays withheld from alice (past her own due
        # date): her grade's figures too, while she reads the comment.
        mine = alice.get(f"/api/v1/submissions/{sub_a}/grade").json()
        assert mine["grade"] is None and mine["adjustments"] == [] and mine["comments"][0]["text"] == "Nice work on q3."
        report = alice.get(f"/api/v1/submissions/{sub_a}").json()["report"]
        assert report["score"] is None and [p["number"] for p in report["pending"]] == ["2"]
        # The TA sees every part: the raw score, +1, and 10% of the adjusted grade off for a day late.
        staff = ta.get(f"/api/v1/submissions/{sub_a}/grade").json()
        raw = staff["grade"]["raw"]
        assert (
            staff["grade"]
            == {
                "raw": raw,
                "adjustments": 1.0,
                "penalty": round((raw + 1) * 0.1, 2),
                "penalty_percent": 10.0,
                "final": round((raw + 1) * 0.9, 2),
                "max_score": 6.0,
            }
            and staff["counts"] is True
        )

        # bob's extension ends, after his upload (still on time) and before now: the release comes for everyone
        # at once. Not "a minute ago": a quick run uploads within that minute, which would make his upload late.
        bob_received = datetime.fromisoformat(bob.get(f"/api/v1/submissions/{sub_b}").json()["timestamps"]["received"])
        ends = bob_received + timedelta(seconds=1)
        time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds() + 0.1))
        assert ta.put(f"{A}/extensions/bob", json={"due": iso(ends)}).status_code == 200
        mine = alice.get(f"/api/v1/submissions/{sub_a}/grade").json()
        assert (
            mine["grade"]["final"] == round((raw + 1) * 0.9, 2)
            and mine["adjustments"][0]["reason"] == "label 1 is ambiguous"
        )
        assert alice.get(f"/api/v1/submissions/{sub_a}").json()["report"]["score"] == raw

        # bob, reading the released check 2, asks for a regrade; the TA answers with half a point on it.
        asked = bob.post(
            f"/api/v1/submissions/{sub_b}/regrade-requests",
            json={"message": "Line 2 is 'a' in the handout", "check": "2"},
        )
        assert asked.status_code == 201, asked.text
        answer = {
            "action": "adjust",
            "check": "2",
            "points": 0.5,
            "answer": "Both labels are defensible: half a point.",
        }
        assert bob.post(f"/api/v1/regrade-requests/{asked.json()['id']}/resolve", json=answer).status_code == 403
        resolved = ta.post(f"/api/v1/regrade-requests/{asked.json()['id']}/resolve", json=answer)
        assert resolved.status_code == 200, resolved.text
        theirs = bob.get(f"/api/v1/submissions/{sub_b}/regrade-requests").json()
        assert [(q["state"], q["answer"]) for q in theirs] == [
            ("adjusted", "Both labels are defensible: half a point.")
        ]
        bobs = bob.get(f"/api/v1/submissions/{sub_b}/grade").json()
        assert [(a["check"], a["points"], a["id"]) for a in bobs["adjustments"]] == [
            ("2", 0.5, theirs[0]["adjustment_id"])
        ]

        grades = {g["student"]: g for g in ta.get(f"{A}/grades").json()}
        assert grades["alice"]["counted"]["grade"]["final"] == round((raw + 1) * 0.9, 2)
        assert grades["bob"]["counted"]["grade"] == {
            "raw": raw,
            "adjustments": 0.5,
            "penalty": 0.0,
            "penalty_percent": 0.0,
            "final": raw + 0.5,
            "max_score": 6.0,
        }
        assert grades["carol"]["counted"] is None and grades["bob"]["exception"]["note"] == ""

        canvas = list(csv.reader(io.StringIO(ta.get(f"{A}/gradebook.csv").text)))
        assert canvas[0][:6] == [
            "Student",
            "ID",
            "SIS User ID",
            "SIS Login ID",
            "Section",
            "Hidden labels and hidden inputs (labels)",
        ]
        assert canvas[1][0] == "Points Possible" and canvas[1][5] == "6"
        rows = {r[0]: r for r in canvas[2:]}
        assert rows["alice"][5:10] == [f"{(raw + 1) * 0.9:g}", f"{raw:g}", "1", f"{(raw + 1) * 0.1:g}", "10"]
        assert rows["bob"][5:10] == [f"{raw + 0.5:g}", f"{raw:g}", "0.5", "0", "0"]
        assert rows["carol"][5] == ""
        moodle = list(csv.reader(io.StringIO(ta.get(f"{A}/gradebook.csv", params={"layout": "moodle"}).text)))
        assert moodle[0][:2] == ["ID number", "Hidden labels and hidden inputs (labels)"] and moodle[1][0] == "alice"

        # The audit log: who did what, with before and after.
        log: list[dict[str, Any]] = ta.get("/api/v1/audit", params={"assignment": "labels"}).json()
        acts = [(e["action"], e["actor"]) for e in reversed(log)]
        assert acts == [
            ("settings.update", "ta:tina"),
            ("settings.update", "ta:tina"),
            ("extension.set", "ta:tina"),
            ("adjustment.add", "ta:tina"),
            ("comment.add", "ta:tina"),
            ("extension.set", "ta:tina"),
            ("regrade_request.create", "student:bob"),
            ("adjustment.add", "ta:tina"),
            ("regrade_request.adjusted", "ta:tina"),
        ]
        first = log[-1]
        assert first["before"]["release_at"] is None and first["after"]["release_at"] is not None
        assert log[3]["before"]["note"] == "illness" and log[3]["after"]["note"] == ""
        assert log[0]["before"]["state"] == "open" and log[0]["after"]["adjustment_id"] == log[1]["after"]["id"]
        assert log[1]["target"] == sub_b and log[1]["after"]["points"] == 0.5
        audit_csv = list(csv.DictReader(io.StringIO(ta.get("/api/v1/audit.csv").text)))
        assert [r["action"] for r in audit_csv][:4] == [
            "regrade_request.adjusted",
            "adjustment.add",
            "regrade_request.create",
            "extension.set",
        ]
        assert alice.get("/api/v1/audit").status_code == 403


def test_submission_limit_and_the_active_mark(service: Service, people: dict[str, str]) -> None:
    carol_token = people["carol"]
    with client(service, people["ta"]) as ta, client(service, carol_token) as carol:
        assert (
            ta.patch(f"{A}/settings", json={"max_submissions": 1, "counting": "active", "release_at": None}).status_code
            == 200
        )
        first = upload(carol)
        assert first.status_code == 202, first.text
        r = upload(carol)
        assert r.status_code == 429 and "all 1 submissions" in r.json()["detail"]
        assert ta.put(f"{A}/extensions/carol", json={"max_submissions": 2}).status_code == 200
        second = upload(carol)
        assert second.status_code == 202
        marked = carol.post(f"/api/v1/submissions/{first.json()['id']}/active")
        assert marked.status_code == 200 and marked.json()["counts"] is True
        assert carol.get(f"/api/v1/submissions/{second.json()['id']}/grade").json()["counts"] is False
        assert ta.post(f"/api/v1/submissions/{first.json()['id']}/active").status_code == 403
        assert ta.patch(f"{A}/settings", json={"late_percent": 150}).status_code == 422
        for sub in (first, second):
            wait_state(ta, sub.json()["id"])
