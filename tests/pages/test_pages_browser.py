"""The pages in a real browser (Debian's chromium, headless) against a real service: a student uploads
the CS224N reference and watches the result appear live (the hidden-label checks withheld until the due
date); students cannot open each other's pages; a TA reads the plots, downloads the CSV and regrades.
Screenshots of each page go to ``<basetemp>/screenshots`` (``tests/pages/update_screenshots.py`` copies
them to ``docs/screenshots``).
"""

from __future__ import annotations

import base64
import csv
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.utils.builders import REFERENCE, make_zip, traversable_dir
from tests.utils.service import Service, running_service

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
MAX_UPLOAD = 2 * 1024**2
GRADING_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with running_service("grader-test-pages-", GRADER_UPLOAD_MAX_BYTES=str(MAX_UPLOAD)) as svc:
        yield svc


@pytest.fixture(scope="module")
def people(service: Service) -> dict[str, str]:
    return {**service.students("cs224n-a5", "alice", "bob"), "ta": service.token("ta", "head-ta")}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def reference_zip() -> Iterator[bytes]:
    """The CS224N reference in the students' layout (no mutants, no README), zipped."""
    root = traversable_dir("grader-test-pages-zip-")
    shutil.copytree(REFERENCE, root / "a5", ignore=shutil.ignore_patterns("mutants", "__pycache__", "README.md"))
    yield make_zip(root / "a5", root / "assignment5_submission.zip").read_bytes()
    shutil.rmtree(root, ignore_errors=True)


def context(browser: Browser, service: Service, viewport: dict[str, int] = LAPTOP) -> BrowserContext:
    ctx = browser.new_context(base_url=service.url, viewport=viewport, accept_downloads=True)  # type: ignore[arg-type]
    ctx.set_default_timeout(30_000)
    return ctx


def new_link(service: Service, who: str) -> str:
    """A one-time sign-in link for ``who``, as staff would send it (``grader token link``)."""
    link = service.cli("token", "link", who, "--base-url", service.url).strip()
    assert link.startswith(f"{service.url}/signin/link#link_")
    return link.removeprefix(service.url)


def sign_in_with_link(page: Page, service: Service, who: str) -> None:
    """Open a fresh link, click Continue once; the secret leaves the address bar and the link is used up."""
    link = new_link(service, who)
    page.goto(link)
    expect(page.get_by_role("button", name="Continue")).to_be_enabled()
    assert "#" not in page.url  # the page took the secret out of the address bar (and its history entry)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()
    assert link.split("#", 1)[1] not in (service.root / "serve.log").read_text(errors="replace")


def api_report(service: Service, token: str, sub_id: str) -> dict:  # type: ignore[type-arg]
    response = httpx.get(f"{service.url}/api/v1/submissions/{sub_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.fixture(scope="module")
def alices_submission(
    browser: Browser, service: Service, people: dict[str, str], shots: Path, reference_zip: bytes
) -> str:
    """Alice signs in with her link, drops the reference zip on the page and watches it being graded."""
    ctx = context(browser, service)
    page = ctx.new_page()
    page.goto("/signin")
    page.screenshot(path=shots / "signin.png")
    sign_in_with_link(page, service, "alice")
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("link", name=re.compile("CS224N A5")).click()
    expect(page.get_by_role("heading", name="Files expected")).to_be_visible()
    page.screenshot(path=shots / "assignment.png", full_page=True)

    # Too large: refused in the page, before anything is sent.
    page.get_by_label("Choose your submission zip").set_input_files(
        {"name": "huge.zip", "mimeType": "application/zip", "buffer": b"0" * (MAX_UPLOAD + 1)}
    )
    expect(page.locator("#upload-error")).to_contain_text("the limit is 2.0 MiB")
    page.get_by_role("button", name="Upload and grade").click()
    expect(page.locator("#upload-error")).to_contain_text("the limit is 2.0 MiB")
    assert api_list(service, people["alice"]) == []

    # Drag and drop the real zip onto the drop zone, then upload.
    page.evaluate(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, {type: "application/zip"}));
            const zone = document.getElementById("dropzone");
            for (const type of ["dragenter", "dragover", "drop"])
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        ["assignment5_submission.zip", base64.b64encode(reference_zip).decode()],
    )
    expect(page.locator("#chosen")).to_contain_text("assignment5_submission.zip")
    expect(page.locator("#upload-error")).to_be_empty()
    page.get_by_role("button", name="Upload and grade").click()
    page.wait_for_url(re.compile(r"/submissions/[0-9a-f]{32}$"))
    sub_id = page.url.rsplit("/", 1)[1]
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads instead of updating live
    expect(page.get_by_text("Checks done")).to_be_visible()
    page.screenshot(path=shots / "submission-progress.png", full_page=True)

    # The checks scored against the hidden test labels (suite.toml's [policy]) are withheld before the
    # due date, and with them the total: the page says the files were received and shows the other checks.
    expect(page.locator("#score-withheld")).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument === true"), "the result must appear without a reload"
    report = api_report(service, people["alice"], sub_id)["report"]
    # The points are the API's, not numbers written here: the suite is still growing.
    assert report["score"] is None and report["status"] == "graded"
    assert [p["number"] for p in report["pending"]] == ["4.2", "4.4", "4.6"]
    expect(page.locator("#shown-score")).to_contain_text(f"{report['shown_score']:g} / {report['shown_max_score']:g}")
    expect(page.locator("#pending")).to_contain_text("shown after the due date")
    assert page.locator(".check").count() == len(report["tests"]) + len(report["pending"])
    expect(page.locator("#finished-value")).not_to_have_text("—")  # the facts above the result update too
    page.screenshot(path=shots / "submission-student.png", full_page=True)

    phone = context(browser, service, PHONE)
    small = phone.new_page()
    small.goto(new_link(service, "alice"))
    small.get_by_role("button", name="Continue").click()
    small.goto(f"/submissions/{sub_id}")
    expect(small.locator("#score-withheld")).to_be_visible()
    assert no_horizontal_scroll(small)
    small.screenshot(path=shots / "submission-phone.png")
    phone.close()
    ctx.close()
    return sub_id


def api_list(service: Service, token: str) -> list:  # type: ignore[type-arg]
    response = httpx.get(
        f"{service.url}/api/v1/assignments/cs224n-a5/submissions", headers={"Authorization": f"Bearer {token}"}
    )
    return response.json()["submissions"]  # type: ignore[no-any-return]


def test_student_uploads_the_reference_and_sees_the_result_live(alices_submission: str) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", alices_submission)


def test_a_student_cannot_open_another_students_submission(
    browser: Browser, service: Service, people: dict[str, str], alices_submission: str, shots: Path
) -> None:
    ctx = context(browser, service)
    page = ctx.new_page()
    sign_in_with_link(page, service, "bob")
    response = page.goto(f"/submissions/{alices_submission}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text("Submission not found")
    assert "assignment5_submission.zip" not in page.content()
    assert page.request.get(f"/submissions/{alices_submission}/status").status == 404
    page.screenshot(path=shots / "not-found.png")
    assert page.goto("/staff/assignments/cs224n-a5").status == 403  # type: ignore[union-attr]
    ctx.close()


def test_ta_reads_the_plots_downloads_the_csv_and_regrades(
    browser: Browser, service: Service, people: dict[str, str], alices_submission: str, shots: Path
) -> None:
    ctx = context(browser, service)
    page = ctx.new_page()
    page.goto("/signin")
    page.get_by_label("Your token").fill(people["ta"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=re.compile("CS224N A5")).click()
    expect(page.get_by_role("heading", name="Latest submission per student")).to_be_visible()
    for plot in ("#plot-timeline", "#plot-histogram", "#plot-checks"):
        expect(page.locator(plot)).to_be_visible()
        assert page.locator(plot).evaluate("img => img.complete && img.naturalWidth > 0"), plot
    histogram = base64.b64decode(page.locator("#plot-histogram").get_attribute("src").split(",", 1)[1])  # type: ignore[union-attr]
    assert histogram.startswith(b"<?xml") and b"<svg" in histogram
    row = page.locator("#latest tbody tr", has_text="alice")
    expect(row).to_have_count(1)
    page.get_by_label("Filter").fill("nobody-by-that-name")
    expect(row).to_be_hidden()
    page.get_by_label("Filter").fill("")
    page.get_by_role("button", name="Score").click()
    expect(page.locator("#latest th", has_text="Score")).to_have_attribute("aria-sort", "ascending")
    page.screenshot(path=shots / "overview.png", full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download grades (CSV)").click()
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(Path(info.value.path()).read_text()))}
    report = api_report(service, people["ta"], alices_submission)["report"]
    assert rows["alice"]["score"] == f"{report['score']:g}" and rows["alice"]["submission_id"] == alices_submission
    assert rows["bob"]["state"] == "missing"

    row.get_by_role("link", name="alice", exact=True).click()
    for heading in ("Timings per phase", "Limits applied", "Captured sandbox output", "Sandbox"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator(".check")).to_have_count(len(report["tests"]))  # every check, hidden ones included
    page.screenshot(path=shots / "submission-ta.png", full_page=True)

    page.get_by_role("button", name="Regrade this submission").click()
    expect(page.locator("#score")).to_have_text(f"{report['score']:g}", timeout=GRADING_TIMEOUT_MS)
    body = api_report(service, people["ta"], alices_submission)
    assert body["state"] == "done", body["error"]
    ctx.close()


def test_a_used_link_and_a_signed_out_session_sign_nobody_in(
    browser: Browser, service: Service, people: dict[str, str]
) -> None:
    ctx = context(browser, service)
    page = ctx.new_page()
    link = new_link(service, "bob")
    page.goto(link)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Assignments")).to_be_visible()
    session = next(c for c in ctx.cookies() if c["name"] == "grader_session")
    assert session["httpOnly"] and session["value"].startswith("s_") and people["bob"] not in session["value"]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The same link again, in another browser: already used.
    other = context(browser, service).new_page()
    other.goto(link)
    other.get_by_role("button", name="Continue").click()
    expect(other.get_by_role("alert")).to_contain_text("already used")
    # The signed-out session's cookie, replayed: the server ended it.
    replay = context(browser, service)
    replay.add_cookies([{**session}])  # type: ignore[list-item]
    replayed = replay.new_page()
    replayed.goto("/")
    expect(replayed.get_by_role("heading", name="Sign in")).to_be_visible()
