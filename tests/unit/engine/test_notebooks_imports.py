"""A notebook's imports that no kept code names wait until a name they bind is read (notebooks_imports.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.engine.notebooks import ingest_notebook
from grader.engine.notebooks_cells import plan_cell
from grader.engine.notebooks_imports import DeferredImport, deferred_imports
from grader.models.notebooks import NotebookAlias, NotebookSpec
from tests.utils.modules import Loader, modules_from


def notebook(*cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    return nbformat.writes(nb)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A folder of installed packages outside the submission, on sys.path; what it held is forgotten after."""
    folder = tmp_path / "site"
    folder.mkdir()
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    for name in [n for n in sys.modules if n.split(".")[0].startswith("h3pkg")]:
        del sys.modules[name]


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Loader]:
    """Import ``submission/<name>.py`` the way the sandbox does (the submission folder on sys.path)."""
    submission = tmp_path / "submission"
    submission.mkdir()
    with modules_from(submission, on_path=True, also_forget=("h3local",)) as loader:
        yield loader


def package(site: Path, name: str, body: str = "") -> None:
    """An installed package ``name`` (with a submodule ``sub``) that counts its imports in ``sys``."""
    (site / name).mkdir()
    (site / name / "__init__.py").write_text(f"import sys\nsys.h3_loads = [*getattr(sys, 'h3_loads', []), {name!r}]\n")
    (site / name / "sub.py").write_text(body or "def helper():\n    return 'helped'\n\nclass Thing:\n    pass\n")


def ingest(tmp_path: Path, *cells: str, aliases: list[NotebookAlias] | None = None, defer: bool = True) -> None:
    (tmp_path / "submission" / "hw.ipynb").write_text(notebook(*cells))
    spec = NotebookSpec(path="hw.ipynb", module="hw", aliases=aliases or [], defer_imports=defer)
    ingest_notebook(tmp_path / "submission", spec)


def test_imports_run_at_load_unless_the_suite_defers_them(tmp_path: Path, site: Path, load: Loader) -> None:
    """A suite whose checks copy the module's globals (``vars(q1b)``) would not see a deferred name."""
    package(site, "h3pkg_g")
    ingest(tmp_path, "import h3pkg_g as unused\n", "def f():\n    return 0\n", defer=False)
    assert "unused" in vars(load("hw")) and "h3pkg_g" in sys.modules


def test_an_import_no_kept_code_names_runs_when_its_name_is_first_read(
    tmp_path: Path, site: Path, load: Loader
) -> None:
    package(site, "h3pkg_a")
    package(site, "h3pkg_b")
    ingest(
        tmp_path,
        "import h3pkg_a as unused\nfrom h3pkg_b.sub import helper, Thing\n",
        "df = unused.load()\n",  # a skipped cell is no mention: it never runs
        "def f():\n    return 1\n",
    )
    hw = load("hw")
    assert hw.f() == 1 and "h3pkg_a" not in sys.modules and "h3pkg_b" not in sys.modules
    assert hw.helper() == "helped" and hw.Thing is sys.modules["h3pkg_b.sub"].Thing
    assert hw.unused is sys.modules["h3pkg_a"]
    assert [n for n in sys.h3_loads if n in ("h3pkg_a", "h3pkg_b")] == ["h3pkg_b", "h3pkg_a"]  # type: ignore[attr-defined]
    assert hw._notebook_errors == [] and hw._notebook_deferred == {}


@pytest.mark.parametrize(
    "use",
    [
        "def f():\n    return h3pkg_c.sub.helper()\n",  # the module's name
        "def f():\n    return sub\n",  # a part of its path
        "def f(x):\n    '''calls helper'''\n    return x\n",  # a name it binds, even in a docstring
        "def f():\n    return globals()['hel' + 'per']\n",  # a computed read of the module's globals
    ],
)
def test_an_import_kept_code_may_use_runs_at_load(tmp_path: Path, site: Path, load: Loader, use: str) -> None:
    package(site, "h3pkg_c")
    ingest(tmp_path, "from h3pkg_c.sub import helper\n", use)
    load("hw")
    assert "h3pkg_c.sub" in sys.modules


def test_the_submissions_own_module_is_imported_at_load(tmp_path: Path, load: Loader) -> None:
    """A student's helper may be imported for what importing it does (registering, patching)."""
    (tmp_path / "submission" / "h3local.py").write_text("import sys\nsys.h3_local = True\n")
    ingest(tmp_path, "import h3local\n", "def f():\n    return 2\n")
    load("hw")
    assert "h3local" in sys.modules


def test_a_deferred_import_that_fails_is_reported_when_read(tmp_path: Path, site: Path, load: Loader) -> None:
    package(site, "h3pkg_d", body="raise RuntimeError('broken install')\n")
    ingest(tmp_path, "from h3pkg_d.sub import a, b\n", "def f():\n    return 3\n")
    hw = load("hw")
    assert hw.f() == 3 and hw._notebook_errors == []
    with pytest.raises(AttributeError, match=r"defines a in cell 1, but .*RuntimeError: broken install"):
        _ = hw.a
    with pytest.raises(AttributeError, match="defines b in cell 1"):
        _ = hw.b
    assert len(hw._notebook_errors) == 1  # the import ran once for both names


def test_an_import_the_interpreter_cannot_find_still_fails_at_load(tmp_path: Path, site: Path, load: Loader) -> None:
    package(site, "h3pkg_e")
    ingest(tmp_path, "from h3pkg_e.missing import x\nimport h3pkg_absent\n", "def f():\n    return 4\n")
    hw = load("hw")
    assert [e.split(":")[1].strip() for e in hw._notebook_errors] == ["ModuleNotFoundError"] * 2


def test_which_imports_wait() -> None:
    plans = [
        plan_cell(1, "import os\nimport numpy as np\nfrom a.b import c as d\nfrom . import rel\nfrom x import *\n"),
        plan_cell(2, "def f():\n    return np.zeros(1)\n\nclass T:\n    pass\n"),
    ]
    assert deferred_imports(plans) == {(1, 0): DeferredImport("os", ("os",)), (1, 2): DeferredImport("a.b", ("d",))}
    assert (1, 2) not in deferred_imports(plans, also_named=["d"])  # e.g. an alias's accepted name
    assert deferred_imports([*plans, plan_cell(3, "def g():\n    return eval('1')\n")]) == {}
    assert (1, 0) in deferred_imports([*plans, plan_cell(3, "def g(m):\n    m.eval()\n")])  # model.eval()


def test_an_alias_bound_from_an_import_is_not_deferred(tmp_path: Path, site: Path, load: Loader) -> None:
    package(site, "h3pkg_f")
    alias = NotebookAlias(name="Model", accept=["Thing"])
    ingest(tmp_path, "from h3pkg_f.sub import Thing\n", aliases=[alias])
    hw = load("hw")
    assert "h3pkg_f.sub" in sys.modules and hw.Model is sys.modules["h3pkg_f.sub"].Thing
