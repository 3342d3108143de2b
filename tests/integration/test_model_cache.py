"""Cache-gated checks: not run (never passed) without the model; run against the read-only cache with it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from grader.engine.runner import grade
from grader.engine.suites import load_suite
from tests.utils.builders import TOY_SUITES, make_submission, settings_for
from tests.utils.service import GRADER

pytestmark = pytest.mark.bwrap

GOOD = """
import glob, json, os

def add(a, b):
    return a + b

def load_config(model_id):
    root = os.path.join(os.environ["HF_HOME"], "hub", "models--" + model_id.replace("/", "--"), "snapshots")
    (path,) = glob.glob(os.path.join(root, "*", "config.json"))
    try:
        open(path, "a").close()
        return "the cache is writable"
    except OSError:
        return json.load(open(path))
"""


def model_cache(root: Path) -> Path:
    snapshot = root / "hf" / "hub" / "models--acme--tiny-model" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"hidden_size": 8}))
    for path in [root / "hf", *(root / "hf").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root / "hf"


def test_without_the_model_the_check_is_not_run(workspace: Path) -> None:
    submission = make_submission(workspace / "sub", {"good.py": GOOD})
    report = grade(load_suite(TOY_SUITES / "models"), submission, settings_for(workspace / "var"))
    assert [t.result for t in report.tests] == ["passed", "not_run"]
    assert "acme/tiny-model" in report.tests[1].output and report.score == 1


def test_with_the_model_cached_the_check_reads_it_read_only(workspace: Path) -> None:
    submission = make_submission(workspace / "sub", {"good.py": GOOD})
    settings = settings_for(workspace / "var", hf_home=model_cache(workspace))
    report = grade(load_suite(TOY_SUITES / "models"), submission, settings)
    assert [t.result for t in report.tests] == ["passed", "passed"], [t.output for t in report.tests]


def test_models_check_lists_what_can_run(workspace: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "GRADER_SUITES_DIR": str(TOY_SUITES), "COLUMNS": "200"}
    missing = subprocess.run(
        [GRADER, "models", "check", "--strict"], env=env, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1 and "acme/tiny-model" in missing.stdout and "missing" in missing.stdout
    cached = subprocess.run(
        [GRADER, "models", "check", "--strict", "--assignment", "models"],
        env={**env, "HF_HOME": str(model_cache(workspace))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cached.returncode == 0 and "cached" in cached.stdout
