"""Tests for the per-process suite cache of grader.engine.suites: loaded once, reloaded when a file changes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine.suites import cached_assignment, cached_suite, load_suite
from grader.errors import SuiteError

CHECKS = """
from grader.authoring import check

from .lib.core import VALUE


@check(name=f"{NAME} {VALUE}", number="1", points=1)
def one():
    pass
"""


@pytest.fixture(autouse=True)
def _forget_suite_packages() -> Iterator[None]:
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("grader_suite_"):
            del sys.modules[name]


def make_suite(root: Path, suite_id: str = "cached", name: str = "first") -> Path:
    """``root/suites/<id>`` whose check names itself ``name`` and the value of a shared package under ``root/suites/owner/lib``."""
    lib = root / "suites" / "owner" / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "__init__.py").write_text("")
    if not (lib / "core.py").exists():
        (lib / "core.py").write_text("VALUE = 1\n")
    folder = root / "suites" / suite_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.toml").write_text(f'id = "{suite_id}"\ntitle = "T"\ntotal_points = 1\nshared = ["owner/lib"]\n')
    (folder / "checks_a.py").write_text(CHECKS.replace("{NAME}", name))
    return folder


def test_an_unchanged_suite_is_loaded_once(tmp_path: Path) -> None:
    folder = make_suite(tmp_path)
    first = cached_suite(folder)
    module = sys.modules[first.checks[0].func.__module__]
    assert cached_suite(folder) is first
    assert cached_assignment(tmp_path / "suites", "cached") is first
    assert sys.modules[first.checks[0].func.__module__] is module  # not re-imported


def test_a_changed_check_file_is_reloaded(tmp_path: Path) -> None:
    folder = make_suite(tmp_path)
    assert cached_suite(folder).checks[0].name == "first 1"
    make_suite(tmp_path, name="second, longer")  # another size: Python's bytecode cache cannot mask it either
    assert cached_suite(folder).checks[0].name == "second, longer 1"


def test_a_changed_shared_package_is_reloaded(tmp_path: Path) -> None:
    folder = make_suite(tmp_path)
    assert cached_suite(folder).checks[0].name == "first 1"
    (tmp_path / "suites" / "owner" / "lib" / "core.py").write_text("VALUE = 1234\n")
    assert cached_suite(folder).checks[0].name == "first 1234"


def test_a_new_file_in_the_suite_folder_reloads_it(tmp_path: Path) -> None:
    folder = make_suite(tmp_path)
    first = cached_suite(folder)
    (folder / "data").mkdir()
    (folder / "data" / "answers.txt").write_text("42\n")  # hidden data a module may read when imported
    assert cached_suite(folder) is not first


def test_another_folder_with_the_same_id_does_not_leave_a_stale_package(tmp_path: Path) -> None:
    here = make_suite(tmp_path / "a")
    there = make_suite(tmp_path / "b", name="there")
    first = cached_suite(here)
    assert cached_suite(there).checks[0].name == "there 1"
    again = cached_suite(here)  # its package was replaced by the other folder's: loaded anew
    assert again is not first and again.checks[0].name == "first 1"
    assert sys.modules[again.checks[0].func.__module__].__file__ == str(here / "checks_a.py")


def test_a_suite_that_fails_to_load_is_not_cached(tmp_path: Path) -> None:
    folder = make_suite(tmp_path)
    (folder / "checks_a.py").write_text("raise RuntimeError('broken')\n")
    with pytest.raises(SuiteError, match="broken"):
        cached_suite(folder)
    make_suite(tmp_path, name="fixed")
    assert cached_suite(folder).checks[0].name == "fixed 1"
    assert load_suite(folder).checks[0].name == "fixed 1"


def test_an_unknown_assignment_names_the_installed_ones(tmp_path: Path) -> None:
    make_suite(tmp_path)
    with pytest.raises(SuiteError, match="installed: cached"):
        cached_assignment(tmp_path / "suites", "nope")
