"""Accounts through the real service and CLI: tokens listed, revoked, rotated and expiring; roster import;
one-time sign-in links kept out of the access log; what a student sees; the OpenAPI description and /docs."""

from __future__ import annotations

import csv
import io
import subprocess

import httpx
import pytest

from tests.utils.service import GRADER, Service

pytestmark = [pytest.mark.bwrap, pytest.mark.service]


def api(service: Service, token: str) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def grader(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GRADER, *args], env=service.env, capture_output=True, text=True, timeout=300)


def roster(service: Service, assignment: str, *ids: str, extra: tuple[str, ...] = ()) -> list[dict[str, str]]:
    path = service.root / f"accounts-{assignment}.csv"
    path.write_text("student_id\n" + "\n".join(ids) + "\n")
    out = service.cli("roster", "import", str(path), "--assignment", assignment, "--base-url", service.url, *extra)
    return list(csv.DictReader(io.StringIO(out)))


def test_roster_import_refuses_unknown_assignments_and_unreadable_files(service: Service) -> None:
    path = service.root / "typo.csv"
    path.write_text("student_id\nzed\n")
    unknown = grader(service, "roster", "import", str(path), "--assignment", "cs224n-a6")
    assert unknown.returncode == 2 and "unknown assignment 'cs224n-a6'; installed: " in unknown.stderr
    assert "Traceback" not in unknown.stderr and unknown.stdout == ""
    missing = grader(service, "roster", "import", str(service.root / "nope.csv"), "--assignment", "toy")
    assert (
        missing.returncode == 2
        and "cannot read the roster file" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    # Nothing was written for the typo: zed has no token and is on no roster.
    assert "zed" not in service.cli("token", "list", "--subject", "zed")


def test_roster_import_keeps_tokens_unless_rotated_and_prints_a_link_for_everyone(service: Service) -> None:
    first = roster(service, "toy", "kim", "lee")
    assert [r["student_id"] for r in first] == ["kim", "lee"] and all(r["token"].startswith("student_") for r in first)
    assert all(r["link"].startswith(f"{service.url}/signin/link#link_") for r in first)
    tokens = {r["student_id"]: r["token"] for r in first}
    again = roster(service, "visibility", "kim", "lee", "moe")  # kim and lee exist: links only
    assert {r["student_id"]: r["token"] for r in again}["kim"] == "" and again[2]["token"].startswith("student_")
    assert len({r["link"] for r in first + again}) == 5  # a fresh one-time link every time
    with api(service, tokens["kim"]) as kim:
        assert kim.get("/api/v1/assignments/visibility").status_code == 200  # the same token, now on both
    rotated = roster(service, "toy", "kim", extra=("--rotate",))
    with api(service, tokens["kim"]) as old, api(service, rotated[0]["token"]) as new:
        assert old.get("/api/v1/assignments").status_code == 401
        assert new.get("/api/v1/assignments").status_code == 200


def test_students_see_only_their_assignments(service: Service) -> None:
    token = roster(service, "toy", "nia")[0]["token"]
    with api(service, token) as nia:
        listed = nia.get("/api/v1/assignments")
        assert [a["id"] for a in listed.json()] == ["toy"] and listed.headers["x-total-count"] == "1"
        assert nia.get("/api/v1/assignments/toy").json()["id"] == "toy"
        hidden = nia.get("/api/v1/assignments/visibility")
        assert hidden.status_code == 404 and hidden.json() == {"detail": "Unknown assignment 'visibility'"}
    ta = service.token("ta", "ta-accounts")
    with api(service, ta) as staff:
        every = staff.get("/api/v1/assignments", params={"limit": 2})
        assert len(every.json()) == 2 and int(every.headers["x-total-count"]) >= 5
        assert staff.get("/api/v1/assignments", params={"limit": 0}).status_code == 422


def test_tokens_are_listed_revoked_rotated_and_expire(service: Service) -> None:
    ci = service.token("ci", "ci-accounts")
    listing = service.cli("token", "list", "--subject", "ci-accounts")
    assert "ci-accounts" in listing and ci not in listing
    token_id = next(line.split()[1] for line in listing.splitlines() if "ci-accounts" in line)
    rotated = grader(service, "token", "rotate", token_id)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    with api(service, ci) as old, api(service, new) as fresh:
        assert old.get("/api/v1/assignments").status_code == 401 and fresh.get("/api/v1/assignments").status_code == 200
    revoked = grader(service, "token", "revoke", "--subject", "ci-accounts")
    assert revoked.returncode == 0 and "revoked 1 token(s)" in revoked.stderr
    with api(service, new) as gone:
        assert gone.get("/api/v1/assignments").json() == {"detail": "Missing or invalid token"}
    bad = grader(service, "token", "revoke", "feedfacecafe")
    assert bad.returncode == 2 and "no token with id 'feedfacecafe'" in bad.stderr and "Traceback" not in bad.stderr
    expired = grader(service, "token", "create", "--role", "ta", "--name", "short", "--expires", "0m").stdout.strip()
    with api(service, expired) as late:
        assert late.get("/api/v1/assignments").status_code == 401
    assert "(expired)" in service.cli("token", "list", "--subject", "short")
    wrong = grader(service, "token", "create", "--role", "ta", "--expires", "soon")
    assert wrong.returncode == 2 and "--expires takes a duration" in wrong.stderr
    with api(service, service.token("ta", "auditor")) as staff:
        acts = [e for e in staff.get("/api/v1/audit").json() if e["target"].startswith(f"token/{token_id}")]
    assert [e["action"] for e in acts] == ["token.revoke", "token.rotate", "token.create"][1:]  # newest first
    assert acts[0]["before"]["subject"] == "ci-accounts" and acts[0]["after"] is None and ci not in str(acts)


def test_a_sign_in_link_works_once_and_never_reaches_the_access_log(service: Service) -> None:
    row = roster(service, "toy", "oli")[0]
    secret = row["link"].split("#", 1)[1]
    with httpx.Client(base_url=service.url, follow_redirects=False, timeout=30) as browser:
        assert browser.get("/signin/link").status_code == 200  # what a browser requests: no fragment
        first = browser.post("/signin/link", data={"link": secret})
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert browser.get("/").status_code == 200
    again = httpx.post(f"{service.url}/signin/link", data={"link": secret}, timeout=30)
    assert again.status_code == 401
    # An API token in a query (still accepted by the API) is redacted from the access log.
    with httpx.Client(base_url=service.url, timeout=30) as anyone:
        assert anyone.get("/api/v1/assignments", params={"token": row["token"]}).status_code == 200
        assert anyone.get("/signin/link", params={"token": row["token"]}).status_code == 400
    log = (service.root / "serve.log").read_text(errors="replace")
    assert "token=[redacted]" in log
    assert secret not in log and row["token"] not in log


def test_openapi_declares_the_bearer_scheme_and_the_errors_and_docs_work_offline(service: Service) -> None:
    spec = httpx.get(f"{service.url}/openapi.json", timeout=30).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `grader token create` or `grader roster import`.",
    }
    upload = spec["paths"]["/api/v1/assignments/{assignment_id}/submissions"]["post"]
    assert upload["security"] == [{"HTTPBearer": []}]
    assert {"202", "400", "401", "403", "404", "409", "413", "422", "429", "503", "507"} <= set(upload["responses"])
    assert "Location" in upload["responses"]["202"]["headers"]
    assert "Retry-After" in upload["responses"]["429"]["headers"]
    assert "/api/v1/assignments/{assignment_id}" in spec["paths"]
    docs = httpx.get(f"{service.url}/docs", timeout=30)
    assert (
        docs.status_code == 200 and "cdn" not in docs.text.lower() and "/docs-assets/swagger-ui-bundle.js" in docs.text
    )
    bundle = httpx.get(f"{service.url}/docs-assets/swagger-ui-bundle.js", timeout=30)
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    redoc = httpx.get(f"{service.url}/redoc", timeout=30)
    assert redoc.status_code == 200 and "/docs-assets/redoc.standalone.js" in redoc.text
