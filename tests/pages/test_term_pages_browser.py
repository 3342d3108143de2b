"""The term pages in a real browser (Debian's chromium, headless) against a real service: a student asks for
a regrade from their submission page; a TA changes the late policy, answers the request (the student reads
the answer on the same page), comments on the submission, compares its report versions, regrades everyone
through the confirmation step and reads it all in the audit log.
Screenshots go to ``<basetemp>/screenshots`` beside the other pages' (``tests/pages/update_screenshots.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.utils.builders import zip_of
from tests.utils.service import Service, running_service, wait_state

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
FILES = {"solution.py": "def double(s):\n    return s + s\n", "dev.predictions": "a\nb\na\nb\n"}


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    with running_service("grader-test-term-browser-") as svc:
        yield svc


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


def test_a_ta_runs_the_term_from_the_pages(browser: Browser, service: Service, shots: Path) -> None:
    alice_token = service.students("labels", "alice")["alice"].split(",")[0]
    ta_token = service.token("ta", "tina")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {alice_token}"}, timeout=60) as alice:
        sub = alice.post(
            "/api/v1/assignments/labels/submissions", files={"file": ("s.zip", zip_of(FILES), "application/zip")}
        ).json()["id"]
        assert wait_state(alice, sub)["state"] == "done"

    # The student asks from her submission page, about one check of her report.
    student_ctx = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 860})
    student_ctx.set_default_timeout(30_000)
    student = student_ctx.new_page()
    student.goto("/signin")
    student.get_by_label("Your token").fill(alice_token)
    student.get_by_role("button", name="Sign in").click()
    student.goto(f"/submissions/{sub}")
    student.get_by_label("Check asked about").select_option("5")
    student.get_by_label("What you think was graded wrong, and why").fill("Check 5 should pass")
    student.get_by_role("button", name="Ask for a regrade").click()
    asked = student.locator("#regrade-requests li")
    expect(asked).to_have_count(1)
    expect(asked).to_contain_text("about check 5: waiting for a TA's answer")
    expect(student.locator("#regrade-form")).to_have_count(0)

    ctx = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.goto("/signin")
    page.get_by_label("Your token").fill(ta_token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=re.compile("Hidden labels and hidden inputs")).click()
    page.get_by_role("link", name="Term settings, extensions, regrade requests").click()
    expect(page.get_by_role("heading", name=re.compile("Regrade requests \\(1 open\\)"))).to_be_visible()

    # The late policy: 10 % per started day.
    page.get_by_label("Late policy").select_option("per_day")
    page.get_by_label("Late percent").fill("10")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#saved")).to_have_text("Saved (settings).")
    expect(page.get_by_label("Late policy")).to_have_value("per_day")
    page.screenshot(path=shots / "term-settings.png", full_page=True)

    # The request: declined with an answer the student reads.
    request = page.get_by_role("region", name="Request from alice")
    expect(request).to_contain_text("Check 5 should pass")
    request.get_by_label("Answer by").select_option("decline")
    request.get_by_label("Answer to the student").fill("Check 5 already passes in your report.")
    request.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_role("heading", name=re.compile("Regrade requests \\(0 open\\)"))).to_be_visible()
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {alice_token}"}, timeout=60) as alice:
        answered = alice.get(f"/api/v1/submissions/{sub}/regrade-requests").json()[0]
    assert (answered["state"], answered["answer"]) == ("declined", "Check 5 already passes in your report.")
    student.reload()
    expect(asked).to_contain_text("about check 5: declined")
    expect(asked.locator(".answer")).to_contain_text("Answer from tina")
    expect(asked.locator(".answer")).to_contain_text("Check 5 already passes in your report.")
    expect(student.locator("#regrade-form")).to_be_visible()  # she may ask again
    student.locator("#regrade").screenshot(path=shots / "regrade-student.png")
    student_ctx.close()

    # The submission's grade page: a comment, then regrade everyone (counted, confirmed).
    page.get_by_role("link", name="overview").click()
    page.get_by_role("link", name="Grade of alice's latest submission").click()
    page.get_by_label("Comment").fill("Tidy solution.")
    page.get_by_role("button", name="Add the comment").click()
    expect(page.locator("#comments")).to_contain_text("Tidy solution.")
    page.get_by_role("link", name="overview").click()
    page.get_by_role("link", name=re.compile("Regrade everyone")).click()
    expect(page.locator("#regrade-count")).to_contain_text("This queues 1 submission ")
    page.screenshot(path=shots / "regrade-confirm.png", full_page=True)
    page.get_by_role("button", name="Queue 1 submission").click()
    expect(page.get_by_role("status")).to_have_text("Queued 1 submission for regrading.")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ta_token}"}, timeout=60) as ta:
        wait_state(ta, sub)

    # Two report versions now; the comparison says nothing changed.
    page.get_by_role("link", name="Grade of alice's latest submission").click()
    expect(page.locator("#versions li")).to_have_count(2)
    page.screenshot(path=shots / "grade-ta.png", full_page=True)
    page.get_by_role("link", name="compare with the current").click()
    expect(page.locator("#compare-total")).to_contain_text("0 check(s) changed.")

    # The audit log shows every act, newest first.
    page.goto("/staff/audit?assignment=labels")
    actions = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
    assert actions[:5] == [
        "regrade.all",
        "comment.add",
        "regrade_request.declined",
        "settings.update",
        "regrade_request.create",
    ]
    page.screenshot(path=shots / "audit.png", full_page=True)
    ctx.close()
