"""The students' environment end to end: built with uv from PyPI, mounted read-only in the real sandbox,
reported by ``grader env check``, and a worker without it says so on every check instead of failing students."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.environments import RECORD, SITE, EnvironmentBuildError, build_environment, environment_status
from grader.engine.runner import grade
from grader.engine.suites import load_suite
from grader.models.manifest import Environment
from tests.utils.builders import SHARED_ENVS, TOY_SUITES, make_submission, settings_for

SUITE = load_suite(TOY_SUITES / "environment")
GRADER = str(PROJECT_ROOT / ".venv" / "bin" / "grader")
STARTER = {
    "starter.py": """\
        # As the minbert starter files do: utils.py, then classifier.py (2021/2022, then Fall 2023).
        import importlib_metadata
        import sklearn.metrics
        import pandas as pd
        import numpy
        import torch

        assert sklearn.metrics.accuracy_score([0, 1], [0, 1]) == 1.0
        assert len(pd.DataFrame({"a": [1, 2]})) == 2


        def origins():
            import sklearn

            return {m.__name__: m.__file__ for m in (importlib_metadata, sklearn, pd, numpy, torch)}


        def try_write(folder):
            try:
                with open(folder + "/planted.py", "w") as f:
                    f.write("x = 1")
            except OSError as exc:
                return type(exc).__name__
            return "written"
        """,
}


def test_a_cold_build_is_complete_readable_by_all_and_built_once(workspace: Path) -> None:
    envs = workspace / "envs"
    environment = Environment(packages=["importlib_metadata>=3.7"])
    assert environment_status(environment, envs).lacking == ("importlib_metadata>=3.7",)
    started = time.monotonic()
    status = build_environment(environment, envs)
    cold = time.monotonic() - started
    assert status.built and status.lacking == () and status.mount == envs / status.key / SITE
    assert (status.site / "importlib_metadata" / "__init__.py").is_file()
    for path in [status.folder, *status.folder.rglob("*")]:
        assert path.stat().st_mode & (stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)), path
        assert not path.stat().st_mode & stat.S_IWOTH, path
    record = (status.folder / RECORD).read_text()
    assert '"installer": "uv"' in record and "importlib-metadata" in record
    built_at = (status.folder / RECORD).stat().st_mtime
    assert build_environment(environment, envs).built and (status.folder / RECORD).stat().st_mtime == built_at
    assert cold < 120, f"a cold build of importlib_metadata took {cold:.1f} s"
    rebuilt = build_environment(environment, envs, force=True)  # the new one replaces the old in one rename
    assert rebuilt.built and (rebuilt.folder / RECORD).stat().st_mtime > built_at
    assert sorted(p.name for p in envs.iterdir()) == [".cache", status.key]


def test_concurrent_builders_leave_one_complete_environment(workspace: Path) -> None:
    envs = workspace / "envs"
    environment = Environment(packages=["zipp>=3"])
    errors: list[BaseException] = []

    def build() -> None:
        try:
            assert build_environment(environment, envs).built
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in envs.iterdir() if p.name != ".cache") == [environment_status(environment, envs).key]


def test_an_offline_build_fails_in_words_and_leaves_nothing_half_built(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_OFFLINE", "1")  # a worker without network, and an empty package cache
    envs = workspace / "envs"
    with pytest.raises(EnvironmentBuildError, match=r"uv could not install zipp>=3 \(no network"):
        build_environment(Environment(packages=["zipp>=3"]), envs)
    assert [p.name for p in envs.iterdir() if p.name != ".cache"] == []


@pytest.mark.bwrap
def test_the_handouts_packages_import_in_the_sandbox_after_the_graders_torch(workspace: Path) -> None:
    build_environment(SUITE.manifest.environment, SHARED_ENVS)  # scripts/bootstrap built it: a no-op then
    submission = make_submission(workspace / "sub", STARTER)
    report = grade(SUITE, submission, settings_for(workspace / "var", suites_dir=TOY_SUITES))
    assert [(t.number, t.result, t.output) for t in report.tests] == [("1", "passed", ""), ("2", "passed", "")]


@pytest.mark.bwrap
def test_a_worker_without_the_environment_runs_no_check_and_says_why(workspace: Path) -> None:
    submission = make_submission(workspace / "sub", STARTER)
    settings = settings_for(workspace / "var", suites_dir=TOY_SUITES, envs_dir=workspace / "no-envs")
    report = grade(SUITE, submission, settings)
    assert [t.result for t in report.tests] == ["not_run", "not_run"] and report.score == 0
    for test in report.tests:
        assert test.output == (
            "Not run, not gradable on this worker: the grader's environment for this assignment lacks "
            "importlib_metadata>=3.7, scikit-learn>=1.0, pandas>=1.3; staff: run `grader env build`. "
            "It is pending: staff can see this and regrade later."
        )


def _env_check(envs: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "GRADER_SUITES_DIR": str(TOY_SUITES),
        "GRADER_ENVS_DIR": str(envs),
        "COLUMNS": "300",
    }
    return subprocess.run(
        [GRADER, "env", "check", "--assignment", "environment"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HOME": os.environ.get("HOME", "/root")},
        check=False,
    )


def test_env_check_names_what_this_worker_lacks(workspace: Path) -> None:
    missing = _env_check(workspace / "no-envs")
    assert missing.returncode == 1, missing.stderr
    assert "not built" in missing.stdout
    assert "importlib_metadata>=3.7, scikit-learn>=1.0, pandas>=1.3: run `grader env build`" in missing.stdout
    assert "tqdm" not in missing.stdout.split("not built")[1]  # the grader's own tqdm is not lacking
    build_environment(SUITE.manifest.environment, SHARED_ENVS)
    built = _env_check(SHARED_ENVS)
    assert built.returncode == 0, built.stdout + built.stderr
    key = environment_status(SUITE.manifest.environment, SHARED_ENVS).key
    assert f"built ({key})" in built.stdout and "nothing" in built.stdout


def test_env_check_refuses_an_unknown_assignment(workspace: Path) -> None:
    out = subprocess.run(
        [GRADER, "env", "check", "--assignment", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "GRADER_SUITES_DIR": str(TOY_SUITES)},
        check=False,
    )
    assert out.returncode == 2 and "unknown assignment 'nope'" in out.stderr


def test_env_build_without_network_says_so_and_fails(workspace: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "GRADER_SUITES_DIR": str(TOY_SUITES),
        "GRADER_ENVS_DIR": str(workspace / "envs"),
        "UV_OFFLINE": "1",
        "COLUMNS": "300",
    }
    out = subprocess.run(
        [GRADER, "env", "build", "--assignment", "environment"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "environment: cannot build its environment: uv could not install importlib_metadata>=3.7" in out.stdout
    assert [p.name for p in (workspace / "envs").iterdir() if p.name != ".cache"] == []
