"""Tests for grader.engine.suites: discovery, loading check modules as a package, ordering by number."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.suites import Suite, discover, load_assignment, load_suite
from grader.errors import ManifestError, SuiteError

REAL_SUITES = PROJECT_ROOT / "test_suites"
_ids = count()

HELPERS = 'X = "from helpers"\nPOINTS = 1.5\n'

CHECKS_A = '''
from grader.authoring import check

from .helpers import POINTS, X


@check(name=f"uses {X}", number="2", points=POINTS)
def two():
    """Number two."""


@check(name="one point ten", number="1.10", points=1)
def one_ten():
    pass
'''

CHECKS_B = """
from grader.authoring import check


@check(name="ten", number="10", points=0.5)
def ten():
    pass


@check(name="one point two", number="1.2", points=2)
def one_two(student, config):
    pass


@check(name="one point nine", number="1.9", points=1)
def one_nine():
    pass
"""


@pytest.fixture(autouse=True)
def _forget_suite_packages() -> Iterator[None]:
    """load_suite registers ``grader_suite_<id>`` packages in sys.modules; drop the ones a test added."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("grader_suite_"):
            del sys.modules[name]


def unique_id(prefix: str = "mini") -> str:
    return f"{prefix}-{next(_ids)}"


def make_suite(
    root: Path, suite_id: str | None = None, files: dict[str, str] | None = None, extra_toml: str = "total_points = 6"
) -> Path:
    """A suite folder named after its id, holding a suite.toml and the given Python files."""
    suite_id = suite_id or unique_id()
    folder = root / suite_id
    folder.mkdir(parents=True)
    (folder / "suite.toml").write_text(f'id = "{suite_id}"\ntitle = "Mini {suite_id}"\n{extra_toml}\n')
    default = {"helpers.py": HELPERS, "checks_a.py": CHECKS_A, "checks_b.py": CHECKS_B}
    for name, text in (default if files is None else files).items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


# ----------------------------------------------------------------------------- load_suite


def test_load_suite_sorts_checks_by_number_numerically(tmp_path: Path) -> None:
    suite = load_suite(make_suite(tmp_path))
    assert [c.number for c in suite.checks] == ["1.2", "1.9", "1.10", "2", "10"]


def test_load_suite_supports_relative_imports_of_helpers_in_the_suite_folder(tmp_path: Path) -> None:
    suite = load_suite(make_suite(tmp_path))
    two = next(c for c in suite.checks if c.number == "2")
    assert two.name == "uses from helpers"
    assert two.points == 1.5


def test_load_suite_collects_checks_from_every_check_file(tmp_path: Path) -> None:
    suite = load_suite(make_suite(tmp_path))
    assert {c.func.__module__.rsplit(".", 1)[1] for c in suite.checks} == {"checks_a", "checks_b"}


def test_load_suite_does_not_treat_helpers_as_check_files(tmp_path: Path) -> None:
    files = {
        "helpers.py": HELPERS + "from grader.authoring import check\n"
        "@check(name='stray', number='99', points=1)\ndef stray(): pass\n",
        "checks_a.py": CHECKS_A,
    }
    suite = load_suite(make_suite(tmp_path, files=files, extra_toml=""))
    assert "stray" not in {c.name for c in suite.checks}


def test_load_suite_returns_manifest_path_and_totals(tmp_path: Path) -> None:
    folder = make_suite(tmp_path)
    suite = load_suite(folder)
    assert isinstance(suite, Suite)
    assert suite.path == folder
    assert suite.data_dir == folder / "data"
    assert suite.max_score == 6
    assert suite.manifest.total_points == 6


def test_load_suite_keeps_the_injected_parameter_names(tmp_path: Path) -> None:
    suite = load_suite(make_suite(tmp_path))
    assert next(c for c in suite.checks if c.number == "1.2").params == ("student", "config")


def test_number_ordering_puts_non_numeric_parts_after_numeric_ones(tmp_path: Path) -> None:
    checks = "from grader.authoring import check\n" + "".join(
        f"@check(name='{n}', number='{n}', points=0)\ndef c{i}(): pass\n"
        for i, n in enumerate(["1.b", "1.a", "1.10", "1", "1.2", "0.5"])
    )
    suite = load_suite(make_suite(tmp_path, files={"checks_x.py": checks}, extra_toml=""))
    assert [c.number for c in suite.checks] == ["0.5", "1", "1.2", "1.10", "1.a", "1.b"]


def test_suite_with_no_check_files_is_a_suite_error(tmp_path: Path) -> None:
    folder = make_suite(tmp_path, files={"helpers.py": HELPERS}, extra_toml="")
    with pytest.raises(SuiteError, match="has no check modules"):
        load_suite(folder)


def test_check_files_globs_come_from_the_manifest(tmp_path: Path) -> None:
    files = {"helpers.py": HELPERS, "graded.py": CHECKS_A, "checks_b.py": CHECKS_B}
    folder = make_suite(tmp_path, files=files, extra_toml='check_files = ["graded.py"]')
    assert [c.number for c in load_suite(folder).checks] == ["1.10", "2"]


def test_points_that_disagree_with_the_manifest_are_a_suite_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="add up to 6"):
        load_suite(make_suite(tmp_path, extra_toml="total_points = 7"))


def test_duplicate_numbers_across_check_files_are_a_suite_error(tmp_path: Path) -> None:
    dup = "from grader.authoring import check\n@check(name='other', number='2', points=0)\ndef d(): pass\n"
    files = {"helpers.py": HELPERS, "checks_a.py": CHECKS_A, "checks_c.py": dup}
    with pytest.raises(SuiteError, match="number '2'"):
        load_suite(make_suite(tmp_path, files=files, extra_toml=""))


def test_a_check_module_that_fails_to_import_is_a_suite_error(tmp_path: Path) -> None:
    files = {"checks_a.py": "from .missing_helpers import X\n"}
    with pytest.raises(SuiteError, match="cannot load check module"):
        load_suite(make_suite(tmp_path, files=files, extra_toml=""))


def test_a_suite_without_a_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError):
        load_suite(tmp_path)


def test_a_check_module_that_raises_at_import_is_a_suite_error(tmp_path: Path) -> None:
    bad = "from grader.authoring import check\n@check(name='neg', number='1', points=-1)\ndef c(): pass\n"
    with pytest.raises(SuiteError):
        load_suite(make_suite(tmp_path, files={"checks_a.py": bad}, extra_toml=""))


def test_loading_a_suite_again_reads_the_current_check_files(tmp_path: Path) -> None:
    suite_id = unique_id("reload")
    first = make_suite(
        tmp_path / "first",
        suite_id,
        {"helpers.py": HELPERS, "checks_x.py": CHECKS_A.replace("one point ten", "old")},
        "",
    )
    second = make_suite(
        tmp_path / "second",
        suite_id,
        {"helpers.py": HELPERS, "checks_x.py": CHECKS_A.replace("one point ten", "new")},
        "",
    )
    assert "old" in {c.name for c in load_suite(first).checks}
    assert "new" in {c.name for c in load_suite(second).checks}


# ----------------------------------------------------------------------------- discover and load_assignment


def test_discover_maps_each_id_to_its_folder(tmp_path: Path) -> None:
    a = make_suite(tmp_path, "alpha")
    b = make_suite(tmp_path, "beta")
    (tmp_path / "not-a-suite").mkdir()
    (tmp_path / "stray.toml").write_text("x = 1\n")
    assert discover(tmp_path) == {"alpha": a, "beta": b}


def test_discover_uses_the_manifest_id_not_the_folder_name(tmp_path: Path) -> None:
    folder = tmp_path / "folder_name"
    folder.mkdir()
    (folder / "suite.toml").write_text('id = "declared-id"\ntitle = "t"\n')
    assert discover(tmp_path) == {"declared-id": folder}


def test_discover_on_an_empty_folder_is_empty(tmp_path: Path) -> None:
    assert discover(tmp_path) == {}


def test_discover_rejects_two_suites_with_one_id(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "suite.toml").write_text('id = "same"\ntitle = "t"\n')
    with pytest.raises(SuiteError, match="two suites declare the id 'same'"):
        discover(tmp_path)


def test_discover_reports_an_invalid_manifest(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "suite.toml").write_text('id = "Bad_Id"\ntitle = "t"\n')
    with pytest.raises(ManifestError):
        discover(tmp_path)


def test_load_assignment_loads_the_suite_with_that_id(tmp_path: Path) -> None:
    suite_id = unique_id("assign")
    make_suite(tmp_path, suite_id)
    make_suite(tmp_path)
    assert load_assignment(tmp_path, suite_id).manifest.id == suite_id


def test_load_assignment_of_an_unknown_id_lists_the_installed_ids(tmp_path: Path) -> None:
    make_suite(tmp_path, "beta")
    make_suite(tmp_path, "alpha")
    with pytest.raises(SuiteError) as info:
        load_assignment(tmp_path, "gamma")
    assert info.value.student_message == "unknown assignment 'gamma'; installed: alpha, beta"


def test_load_assignment_with_nothing_installed_says_none(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="installed: none"):
        load_assignment(tmp_path, "anything")


# ----------------------------------------------------------------------------- the repository's own suites


def test_the_repository_suites_folder_is_discovered() -> None:
    assert discover(REAL_SUITES)["cs224n-a5"] == REAL_SUITES / "cs224n_a5"


def test_the_cs224n_a5_suite_loads_and_totals_33_points() -> None:
    suite = load_assignment(REAL_SUITES, "cs224n-a5")  # parts d (5), e (10), f (10), g (8)
    assert suite.max_score == 33
    assert suite.manifest.total_points == 33
    assert suite.checks, "the suite declares checks"


def test_the_cs224n_a5_checks_are_in_number_order_with_unique_names() -> None:
    suite = load_assignment(REAL_SUITES, "cs224n-a5")
    keys = [[int(p) for p in c.number.split(".")] for c in suite.checks]
    assert keys == sorted(keys)
    assert len({c.name for c in suite.checks}) == len(suite.checks)


# ----------------------------------------------------------------------------- shared helper packages

SHARED_LIB = {
    "__init__.py": "",
    "core.py": "from . import consts\nVALUE = consts.BASE + 1\n",
    "consts.py": "BASE = 41\n",
}
CHECKS_SHARED = """
from grader.authoring import check

from .lib.core import VALUE


@check(name=f"value {VALUE}", number="1", points=1)
def one():
    pass
"""


def make_shared(root: Path, folder: str = "owner/lib") -> Path:
    for name, text in SHARED_LIB.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text(text)
    return root / folder


def test_a_declared_shared_package_is_imported_under_the_suites_own_package(tmp_path: Path) -> None:
    lib = make_shared(tmp_path)
    suite = load_suite(make_suite(tmp_path, files={"checks_a.py": CHECKS_SHARED}, extra_toml='shared = ["owner/lib"]'))
    assert suite.checks[0].name == "value 42"
    core = sys.modules[f"grader_suite_{suite.manifest.id.replace('-', '_')}.lib.core"]
    assert core.__file__ == str(lib / "core.py")


def test_an_undeclared_sibling_package_is_not_importable(tmp_path: Path) -> None:
    make_shared(tmp_path)
    with pytest.raises(SuiteError, match="No module named"):
        load_suite(make_suite(tmp_path, files={"checks_a.py": CHECKS_SHARED}, extra_toml=""))


@pytest.mark.parametrize("shared", ["owner/missing", "owner/lib/core", "owner/lib/__pycache__"])
def test_a_shared_entry_that_is_not_a_package_folder_is_a_suite_error(tmp_path: Path, shared: str) -> None:
    make_shared(tmp_path)
    folder = make_suite(tmp_path, files={"checks_a.py": CHECKS_SHARED}, extra_toml=f'shared = ["{shared}"]')
    with pytest.raises(SuiteError, match="is not a package folder"):
        load_suite(folder)


@pytest.mark.parametrize("shared", ["../outside/lib", "/etc/lib", "lib"])
def test_a_shared_entry_outside_the_suites_folder_is_refused_by_the_manifest(tmp_path: Path, shared: str) -> None:
    folder = make_suite(tmp_path, files={"checks_a.py": CHECKS_SHARED}, extra_toml=f'shared = ["{shared}"]')
    with pytest.raises(ManifestError):
        load_suite(folder)


def test_a_shared_package_that_clashes_with_a_suite_module_is_a_suite_error(tmp_path: Path) -> None:
    make_shared(tmp_path)
    files = {"checks_a.py": CHECKS_SHARED, "lib.py": "X = 1\n"}
    with pytest.raises(SuiteError, match="clashes"):
        load_suite(make_suite(tmp_path, files=files, extra_toml='shared = ["owner/lib"]'))
