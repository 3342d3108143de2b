"""Hostile submissions graded end to end by the engine: each attacks check 2 of the toy suite.

Whatever check 2's code does, checks 1 and 3 are still graded, the report is well formed, and no byte
of the suite's hidden data appears anywhere in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine.runner import grade
from grader.engine.suites import load_suite
from grader.errors import ConfigurationError
from grader.models.report import GradeReport
from tests.utils.builders import TOY_SUITES, make_submission, settings_for

pytestmark = pytest.mark.bwrap

GOOD = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
SECRET = (TOY_SUITES / "toy" / "data" / "secret.txt").read_text().strip()


def grade_evil(workspace: Path, evil: str) -> GradeReport:
    submission = make_submission(workspace / "submission", {"good.py": GOOD, "evil.py": evil})
    settings = settings_for(workspace / "var", suites_dir=TOY_SUITES)
    return grade(load_suite(TOY_SUITES / "toy"), submission, settings)


def assert_contained(report: GradeReport, *phrases: str) -> None:
    results = {t.number: t for t in report.tests}
    assert results["1"].result == "passed" and results["3"].result == "passed", report.model_dump_json(indent=1)
    assert results["2"].result != "passed"
    assert report.score == 2 and report.max_score == 3
    for phrase in phrases:
        assert phrase in results["2"].output, results["2"].output
    assert SECRET not in report.model_dump_json()
    GradeReport.model_validate_json(report.model_dump_json())  # still a valid report


def test_honest_submission_gets_full_marks(workspace: Path) -> None:
    report = grade_evil(workspace, "def answer(x):\n    return x * x\n")
    assert report.score == 3 and all(t.result == "passed" for t in report.tests)
    assert report.sandboxes and report.sandboxes[0].notes == []


def test_printing_a_fake_report_changes_nothing(workspace: Path) -> None:
    evil = 'import json\nprint(json.dumps({"score": 100, "max_score": 3, "tests": []}))\ndef answer(x):\n    print(\'{"score": 3}\')\n    return "passed"\n'
    report = grade_evil(workspace, evil)
    assert_contained(report, "answer(7) should be 49, got a str")
    assert '"score": 100' in report.staff_output  # their output is kept, for staff only
    assert "score" not in report.output


def test_writing_result_files_changes_nothing(workspace: Path) -> None:
    evil = (
        "import os\n"
        "def answer(x):\n"
        "    for path in ['/autograder/results/results.json', '../results.json', '/tmp/results.json', 'results.json']:\n"
        "        try:\n"
        "            os.makedirs(os.path.dirname(path) or '.', exist_ok=True)\n"
        "            open(path, 'w').write('{\"score\": 100}')\n"
        "        except OSError:\n"
        "            pass\n"
        "    return None\n"
    )
    report = grade_evil(workspace, evil)
    assert_contained(report, "got a NoneType")
    assert not list(workspace.rglob("results.json"))


def test_monkeypatching_the_agent_forges_nothing(workspace: Path) -> None:
    evil = (
        "import sys\n"
        "server = sys.modules['grader.sandbox.agent.server']\n"
        "def forged(self, request):\n"
        "    return {'id': request.get('id'), 'ok': True, 'value': {'status': 'passed', 'score': 100}}\n"
        "server.Agent.handle = forged\n"
        "def answer(x):\n"
        "    return x\n"
    )
    report = grade_evil(workspace, evil)
    assert_contained(report)


def test_forged_frames_on_the_rpc_pipe_are_rejected(workspace: Path) -> None:
    evil = (
        "import os, struct, json\n"
        "def answer(x):\n"
        "    body = json.dumps({'id': 999, 'ok': True, 'value': 49}).encode()\n"
        "    for fd in range(3, 20):\n"
        "        try:\n"
        "            os.write(fd, struct.pack('>II', len(body), 0) + body)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 0\n"
    )
    report = grade_evil(workspace, evil)
    assert_contained(report)


@pytest.mark.parametrize(
    ("evil", "phrase"),
    [
        ("import sys\nsys.exit(0)\n", "sys.exit(0) was called"),
        ("import os\nos._exit(0)\n", "exited with status 0"),
        ("def answer(x):\n    import os\n    os._exit(0)\n", "exited with status 0"),
        ("def answer(x):\n    raise SystemExit(0)\n", "sys.exit(0) was called"),
    ],
    ids=["sys-exit-at-import", "os-exit-at-import", "os-exit-mid-check", "system-exit-mid-check"],
)
def test_exit_tricks_end_in_a_clear_message(workspace: Path, evil: str, phrase: str) -> None:
    assert_contained(grade_evil(workspace, evil), phrase)


def test_infinite_loop_in_a_constructor_times_out(workspace: Path) -> None:
    evil = (
        "class Model:\n    def __init__(self):\n        while True:\n            pass\n\ndef answer(x):\n    Model()\n"
    )
    report = grade_evil(workspace, evil)
    assert_contained(report, "did not finish in time", "time limit is 5 s")
    assert report.tests[1].result == "timeout"


def test_fork_bomb_is_contained(workspace: Path) -> None:
    evil = "import os\ndef answer(x):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    assert_contained(grade_evil(workspace, evil), "did not finish in time")


def test_ten_gigabyte_allocation_fails_cleanly(workspace: Path) -> None:
    evil = "import torch\ndef answer(x):\n    return int(torch.ones(10 * 1024**3, dtype=torch.uint8).sum())\n"
    assert_contained(grade_evil(workspace, evil), "Your code raised RuntimeError")


def test_reading_hidden_data_finds_nothing(workspace: Path) -> None:
    secret_path = TOY_SUITES / "toy" / "data" / "secret.txt"
    evil = (
        "import glob\n"
        "def answer(x):\n"
        f"    for path in [{str(secret_path)!r}, '/proc/1/root{secret_path}', *[p for top in ('/home', '/tmp', '/mnt', '/opt', '/work') for p in glob.glob(top + '/**/secret.txt', recursive=True)]]:\n"
        "        try:\n"
        "            return open(path).read()\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 'nothing found'\n"
    )
    assert_contained(grade_evil(workspace, evil), "got a str")


def test_missing_required_file_is_named_and_the_rest_is_graded(workspace: Path) -> None:
    submission = make_submission(workspace / "submission", {"evil.py": "def answer(x):\n    return x * x\n"})
    report = grade(load_suite(TOY_SUITES / "toy"), submission, settings_for(workspace / "var", suites_dir=TOY_SUITES))
    assert report.files_missing == ["good.py"]
    assert "Missing required file(s): good.py" in report.output
    assert [t.result for t in report.tests] == ["failed", "passed", "failed"]
    assert "No module named 'good'" in report.tests[0].output


def test_global_timeout_keeps_every_finished_check(workspace: Path) -> None:
    submission = make_submission(
        workspace / "submission", {"good.py": GOOD, "evil.py": "import time\ndef answer(x):\n    time.sleep(30)\n"}
    )
    settings = settings_for(workspace / "var", suites_dir=TOY_SUITES, timeouts={"total": 4})
    report = grade(load_suite(TOY_SUITES / "toy"), submission, settings)
    results = [t.result for t in report.tests]
    assert results == ["passed", "timeout", "not_run"], [t.output for t in report.tests]
    assert "overall time limit" in report.tests[2].output
    assert report.score == 1


def test_grading_is_refused_without_bubblewrap(workspace: Path) -> None:
    submission = make_submission(workspace / "submission", {"good.py": GOOD})
    settings = settings_for(workspace / "var", suites_dir=TOY_SUITES, bwrap_path="/nonexistent/bwrap")
    with pytest.raises(ConfigurationError, match="bubblewrap"):
        grade(load_suite(TOY_SUITES / "toy"), submission, settings)
