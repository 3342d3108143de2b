"""docs/SUITES.md: the example suite it shows is the one in docs/tutorial/, and it verifies as the page says."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from tests.unit.authoring.test_suite_imports import grader_imports
from tests.utils.builders import traversable_dir

DOC = PROJECT_ROOT / "docs" / "SUITES.md"
EXAMPLE = PROJECT_ROOT / "docs" / "tutorial"
SUITES = EXAMPLE / "test_suites"
REFERENCE = EXAMPLE / "reference_solutions" / "attention"
GRADER = str(PROJECT_ROOT / ".venv" / "bin" / "grader")

# A file shown in the page: a marker line naming it, then a fenced block holding exactly its text.
SHOWN = re.compile(r"^<!-- (file|output): (.+?) -->\n```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def shown(kind: str) -> dict[str, str]:
    """What the page shows under ``<!-- kind: name -->`` markers, by name."""
    blocks = [(k, name, text) for k, name, text in SHOWN.findall(DOC.read_text(encoding="utf-8")) if k == kind]
    names = [name for _, name, _ in blocks]
    assert len(names) == len(set(names)), f"{DOC.name} shows one of {names} twice"
    return {name: text for _, name, text in blocks}


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_every_file_of_the_example_is_shown_verbatim() -> None:
    files = {str(p.relative_to(PROJECT_ROOT)): p.read_text(encoding="utf-8") for p in example_files()}
    assert set(shown("file")) == set(files), "the page shows other files than docs/tutorial/ holds"
    for name, text in shown("file").items():
        assert text == files[name], f"{DOC.name} shows {name} differently from the file"


def test_the_example_suite_imports_only_the_authoring_surface() -> None:
    for path in sorted(SUITES.rglob("*.py")):
        others = [m for m in grader_imports(path.read_text(encoding="utf-8")) if m != "grader.authoring"]
        assert not others, f"{path.relative_to(PROJECT_ROOT)} imports {others}"


@pytest.fixture()
def data_dir() -> Iterator[Path]:
    root = traversable_dir("grader-test-tutorial-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.bwrap
@pytest.mark.slow
def test_grader_suite_verify_passes_and_prints_what_the_page_shows(data_dir: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "GRADER_SUITES_DIR": str(SUITES), "GRADER_DATA_DIR": str(data_dir)}
    command = [GRADER, "suite", "verify", "tutorial-attention", "--reference", str(REFERENCE)]
    out = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.rstrip() for line in out.stdout.splitlines()]
    assert "ok   mutant    softmax_overflows" in lines and "ok   forgery   attention_zeroed" in lines
    assert "not covered by any mutant: none" in lines
    # The page pastes this very output (trailing blanks of the matrix's centred cells aside).
    page = shown("output")["grader suite verify tutorial-attention"]
    assert lines == page.splitlines()
