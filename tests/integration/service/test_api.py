"""The service over real HTTP: uploads, roles, visibility, limits, regrades, CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.utils.builders import CS224N_MISSING_ARTIFACTS, REFERENCE, zip_of
from tests.utils.service import GRADER, Service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service]

GOOD = "import time\n\ndef add(a, b):\n    return a + b\n\ndef pause():\n    time.sleep(0)\n"


@pytest.fixture(scope="module")
def people(service: Service) -> dict[str, str]:
    tokens = service.students("visibility", "alice", "bob", "carol", "dave", "erin")
    tokens.update(service.students("cs224n-a5", "alice"))
    return {**tokens, "ta": service.token("ta", "ta-1"), "ci": service.token("ci", "ci-1")}


def client(service: Service, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=service.url, headers=headers, timeout=60)


def upload(c: httpx.Client, assignment: str, data: bytes, name: str = "submission.zip") -> httpx.Response:
    return c.post(f"/api/v1/assignments/{assignment}/submissions", files={"file": (name, data, "application/zip")})


@pytest.fixture(scope="module")
def graded(service: Service, people: dict[str, str]) -> Iterator[dict[str, str]]:
    """alice and bob each have one graded 'visibility' submission."""
    ids = {}
    for who in ("alice", "bob"):
        with client(service, people[who]) as c:
            r = upload(c, "visibility", zip_of({"good.py": GOOD}))
            assert r.status_code == 202, r.text
            ids[who] = r.json()["id"]
    with client(service, people["ta"]) as c:
        for sub_id in ids.values():
            assert wait_state(c, sub_id)["state"] == "done"
    yield ids


def test_health_and_openapi(service: Service) -> None:
    assert httpx.get(f"{service.url}/healthz").json()["redis"] is True
    spec = httpx.get(f"{service.url}/openapi.json").json()
    paths = spec["paths"]
    assert "/api/v1/assignments/{assignment_id}/submissions" in paths
    # The upload's form, as FastAPI documents its File and Form parameters: for clients and for the fuzzer.
    body = paths["/api/v1/assignments/{assignment_id}/submissions"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]
    schema = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["required"] == ["file"]
    assert (
        schema["properties"]["file"]["contentMediaType"] == "application/octet-stream"
        and "token" in schema["properties"]
    )


def test_reference_through_grader_submit_gets_the_same_score_as_grader_grade(
    service: Service, people: dict[str, str]
) -> None:
    out = subprocess.run(
        [
            GRADER,
            "submit",
            str(REFERENCE),
            "--assignment",
            "cs224n-a5",
            "--server",
            service.url,
            "--token",
            people["ci"],
            "--wait",
            "--expect-full-marks",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Not full marks: the checks that need GPU-trained artifacts (CS224N_MISSING_ARTIFACTS) fail, and
    # --expect-full-marks says so with its own exit status; every other check passes.
    assert out.returncode == 1, out.stderr
    body = json.loads(out.stdout)
    report = body["report"]
    assert body["state"] == "done" and report["max_score"] == 33
    assert {t["number"] for t in report["tests"] if t["status"] != "passed"} == CS224N_MISSING_ARTIFACTS
    assert report["score"] == sum(
        t["max_score"] for t in report["tests"] if t["number"] not in CS224N_MISSING_ARTIFACTS
    )
    assert body["timestamps"]["finished"] and body["progress"]["done"] == body["progress"]["total"] == len(
        report["tests"]
    )


def test_student_sees_own_report_without_hidden_checks_or_total(
    service: Service, people: dict[str, str], graded: dict[str, str]
) -> None:
    with client(service, people["alice"]) as c:
        body = c.get(f"/api/v1/submissions/{graded['alice']}").json()
    report = body["report"]
    assert [t["number"] for t in report["tests"]] == ["1", "4"]
    assert report["score"] is None and report["withheld_checks"] == 2
    assert "staff_output" not in json.dumps(report)


def test_ta_sees_every_check_and_the_total(service: Service, people: dict[str, str], graded: dict[str, str]) -> None:
    with client(service, people["ta"]) as c:
        report = c.get(f"/api/v1/submissions/{graded['alice']}").json()["report"]
    assert [t["number"] for t in report["tests"]] == ["1", "2", "3", "4"]
    assert report["score"] == 4 and "staff_output" in report


def test_student_cannot_read_another_students_submission(
    service: Service, people: dict[str, str], graded: dict[str, str]
) -> None:
    with client(service, people["bob"]) as c:
        r = c.get(f"/api/v1/submissions/{graded['alice']}")
        assert r.status_code == 404 and r.json()["detail"] == "Submission not found"
        own = c.get("/api/v1/assignments/visibility/submissions").json()
    assert [s["id"] for s in own["submissions"]] == [graded["bob"]]
    assert own["latest_per_student"] == {}
    # the listing withholds the total exactly as the report does (two checks are still hidden)
    assert own["submissions"][0]["score"] is None and own["submissions"][0]["max_score"] is None


def test_ta_lists_everything_with_latest_per_student(
    service: Service, people: dict[str, str], graded: dict[str, str]
) -> None:
    with client(service, people["ta"]) as c:
        listing = c.get("/api/v1/assignments/visibility/submissions").json()
    assert listing["latest_per_student"]["alice"] == graded["alice"]
    assert listing["latest_per_student"]["bob"] == graded["bob"]
    assert {s["score"] for s in listing["submissions"]} == {4}


def test_ta_regrades_one_and_all(service: Service, people: dict[str, str], graded: dict[str, str]) -> None:
    with client(service, people["ta"]) as c:
        before = c.get(f"/api/v1/submissions/{graded['alice']}").json()["timestamps"]["finished"]
        assert c.post(f"/api/v1/submissions/{graded['alice']}/regrade").status_code == 202
        after = wait_state(c, graded["alice"])
        assert after["state"] == "done" and after["timestamps"]["finished"] != before
        # "Regrade everyone" asks first: a dry run counts, no confirmation is 428 with the count, nothing queued.
        count = c.post("/api/v1/assignments/visibility/regrade", params={"dry_run": "true"})
        assert count.status_code == 200 and count.json()["queued"] == [] and count.json()["would_queue"] >= len(graded)
        asked = c.post("/api/v1/assignments/visibility/regrade")
        assert (
            asked.status_code == 428 and f"queues {count.json()['would_queue']} submissions" in asked.json()["detail"]
        )
        r = c.post("/api/v1/assignments/visibility/regrade", params={"confirm": "true"})
        assert r.status_code == 202 and set(r.json()["queued"]) >= set(graded.values())
        assert r.json()["would_queue"] == count.json()["would_queue"]
        for sub_id in r.json()["queued"]:
            assert wait_state(c, sub_id)["report"]["score"] == 4
    with client(service, people["alice"]) as c:
        assert c.post(f"/api/v1/submissions/{graded['alice']}/regrade").status_code == 403


def test_grades_csv_has_one_row_per_student(service: Service, people: dict[str, str], graded: dict[str, str]) -> None:
    with client(service, people["ta"]) as c:
        r = c.get("/api/v1/assignments/visibility/grades.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["alice"]["score"] == "4" and rows["bob"]["score"] == "4"
    assert rows["carol"]["state"] == "missing"
    with client(service, people["alice"]) as c:
        assert c.get("/api/v1/assignments/visibility/grades.csv").status_code == 403


def test_student_is_rate_limited(service: Service, people: dict[str, str]) -> None:
    with client(service, people["carol"]) as c:
        codes = [upload(c, "visibility", zip_of({"good.py": GOOD})).status_code for _ in range(5)]
        last = upload(c, "visibility", zip_of({"good.py": GOOD}))
    assert codes[:4] == [202] * 4 and codes[4] == 429
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert last.json()["detail"] == "Too many submissions: at most 4 per 3600 s"


def test_a_refused_upload_is_not_a_submission(service: Service, people: dict[str, str]) -> None:
    """A broken or oversized zip gets its message, and costs the student neither a place in the rate
    limit nor space on the server's disk."""
    blobs = service.root / "var" / "blobs"
    before = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    with client(service, people["dave"]) as c:
        refused = [
            upload(c, "visibility", b"not a zip at all"),
            upload(c, "visibility", zip_of({"good.py": "x" * 100})[:-30]),
            upload(c, "visibility", b"\0" * (6 * 1024**2)),
        ]
        assert [r.status_code for r in refused] == [422, 422, 413]
        assert sorted(p.name for p in blobs.rglob("*") if p.is_file()) == before  # nothing kept, not even a temp file
        codes = [upload(c, "visibility", zip_of({"good.py": GOOD})).status_code for _ in range(5)]
    assert codes == [202] * 4 + [429]  # the limit (4) counts the four accepted uploads only


def test_a_large_upload_is_checked_from_its_spooled_file_and_kept(service: Service, people: dict[str, str]) -> None:
    """Over 1 MiB Starlette spools the upload to disk: it is checked there, then stored whole."""
    data = zip_of({"good.py": GOOD, "data.bin": os.urandom(3 * 1024**2)})  # random: deflate cannot shrink it
    broken = data[: len(data) // 2]
    with client(service, people["ta"]) as c:
        assert upload(c, "visibility", broken).status_code == 422
        r = upload(c, "visibility", data)
        assert r.status_code == 202, r.text
        sub = wait_state(c, r.json()["id"])
    assert sub["size_bytes"] == len(data) and sub["state"] == "done"
    sha = hashlib.sha256(data).hexdigest()
    assert (service.root / "var" / "blobs" / sha[:2] / sha).read_bytes() == data


@pytest.mark.parametrize(
    ("who", "assignment", "data", "status", "detail"),
    [
        (None, "visibility", b"x", 401, "Missing or invalid token"),
        (None, "nope", b"x", 401, "Missing or invalid token"),  # no hint to strangers about which ids exist
        ("bad", "visibility", b"x", 401, "Missing or invalid token"),
        ("ta", "nope", b"x", 404, "Unknown assignment 'nope'"),
        ("ta", "visibility", b"not a zip at all", 422, "is not a zip archive"),
        ("ta", "visibility", b"\0" * (6 * 1024**2), 413, "Upload larger than 5242880 bytes"),
        ("bob", "cs224n-a5", b"x", 403, "You are not on the roster of 'cs224n-a5'"),
    ],
    ids=[
        "no-token",
        "no-token-unknown-assignment",
        "bad-token",
        "unknown-assignment",
        "not-a-zip",
        "too-large",
        "not-on-roster",
    ],
)
def test_upload_errors_are_clear(
    service: Service, people: dict[str, str], who: str | None, assignment: str, data: bytes, status: int, detail: str
) -> None:
    token = people.get(who, who) if who else None
    with client(service, token) as c:
        r = upload(c, assignment, data)
    assert r.status_code == status
    assert detail in r.json()["detail"]


def test_an_html_form_may_send_the_token_as_a_field(service: Service, people: dict[str, str]) -> None:
    with client(service, None) as c:
        r = c.post(
            "/api/v1/assignments/visibility/submissions",
            data={"token": people["erin"]},
            files={"file": ("submission.zip", zip_of({"good.py": GOOD}), "application/zip")},
        )
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "queued" and r.json()["status_url"] == f"/api/v1/submissions/{r.json()['id']}"


@pytest.mark.parametrize(
    ("request_args", "status", "detail"),
    [
        (
            {"data": {"note": "x"}, "files": {"other": ("a.zip", b"x")}},
            422,
            "The upload has no file: send the zip as the form field 'file'",
        ),
        ({"json": {"file": "x"}}, 422, "The upload has no file"),
        ({"data": {"file": "not a file part"}}, 422, "The upload has no file"),
        ({"files": [("file", ("a.zip", b"x")), ("file", ("b.zip", b"y"))]}, 400, "Too many files"),
        (
            {"content": b"--x\r\nno end", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
            400,
            "Invalid multipart data",
        ),
    ],
    ids=["no-file-field", "json-body", "file-as-text", "two-files", "truncated-multipart"],
)
def test_a_malformed_upload_form_is_refused_clearly(
    service: Service, people: dict[str, str], request_args: dict[str, object], status: int, detail: str
) -> None:
    with client(service, people["ta"]) as c:
        r = c.post("/api/v1/assignments/visibility/submissions", **request_args)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]


def test_broken_submission_is_graded_with_a_message(service: Service, people: dict[str, str]) -> None:
    with client(service, people["ta"]) as c:
        r = upload(
            c,
            "visibility",
            zip_of({"good.py": "def add(a, b):\n    raise ValueError('nope')\n\ndef pause():\n    pass\n"}),
        )
        body = wait_state(c, r.json()["id"])
    assert body["state"] == "done" and body["report"]["score"] == 1  # only the slow check, which needs no add()
    assert "ValueError: nope" in body["report"]["tests"][0]["output"]


def raw_upload(c: httpx.Client, assignment: str, filename: bytes, data: bytes) -> httpx.Response:
    """An upload whose file name goes on the wire byte for byte (httpx would escape a NUL, for one)."""
    boundary = "grader-test-7d9c1e0b"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: application/zip\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return c.post(
        f"/api/v1/assignments/{assignment}/submissions",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


@pytest.mark.parametrize(
    "filename",
    [b"..", b"a/..", b"x\0y.zip", "\u00fc".encode() * 200],
    ids=["dot-dot", "folder-dot-dot", "nul-byte", "over-255-bytes"],
)
def test_file_names_that_cannot_name_a_file_are_replaced(
    service: Service, people: dict[str, str], filename: bytes
) -> None:
    # Found by tests/fuzz: these names reached the scratch folder as is and the upload failed with a 500.
    with client(service, people["ta"]) as c:
        r = raw_upload(c, "visibility", filename, b"not a zip at all")
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "The uploaded file 'submission.zip' is not a zip archive. Please upload a .zip file "
        "(formats such as .tar.gz, .rar or .7z are not accepted)."
    )


def test_zip_named_dot_dot_is_graded_as_submission_zip(service: Service, people: dict[str, str]) -> None:
    with client(service, people["ta"]) as c:
        r = raw_upload(c, "visibility", b"..", zip_of({"good.py": GOOD}))
        assert r.status_code == 202, r.text
        body = wait_state(c, r.json()["id"])
    assert body["filename"] == "submission.zip"
    assert body["state"] == "done" and body["report"]["score"] == 4
