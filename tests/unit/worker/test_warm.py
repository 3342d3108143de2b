"""A grading process imports its queues' suites when it starts, so the first job does not pay for it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from grader.engine.suites import suite_package
from grader.worker.warm import preload_suites
from tests.utils.builders import settings_for

SUITES = Path(__file__).resolve().parents[2] / "files" / "suites"


def test_the_suites_of_the_queues_are_loaded_and_a_broken_one_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(SUITES / "toy", suites / "toy")
    shutil.copytree(SUITES / "visibility", suites / "visibility")
    gpu = suites / "visibility" / "suite.toml"
    gpu.write_text(gpu.read_text().replace("[resources]", '[resources]\nqueue = "gpu"', 1))
    shutil.copytree(SUITES / "toy", suites / "broken")
    manifest = suites / "broken" / "suite.toml"
    manifest.write_text(manifest.read_text().replace('id = "toy"', 'id = "broken"'))
    (suites / "broken" / "checks_toy.py").write_text("raise RuntimeError('a bug in staff code')\n")
    settings = settings_for(tmp_path / "data", suites_dir=suites)

    assert preload_suites(settings, ["cpu"]) == ["toy"]
    assert suite_package("toy") in sys.modules
    assert "could not preload suite broken" in caplog.text  # logged for staff; its jobs report it
    assert sorted(preload_suites(settings, ["cpu", "gpu"])) == ["toy", "visibility"]
