"""The API's layout check: required files found after the unpacker's root detection, or what is missing."""

from __future__ import annotations

import io

from grader.api.layout import archive_files, layout_problem, missing_files
from grader.config import PROJECT_ROOT
from grader.models.manifest import SuiteManifest, load_manifest
from tests.utils.builders import zip_of

SUITES = {p.parent.name: load_manifest(p) for p in (PROJECT_ROOT / "test_suites").glob("*/suite.toml")}
A5, MINBERT = SUITES["cs224n_a5"], SUITES["minbert"]
A5_FILES = {
    f"src/{n}.py": "x = 1\n" for n in ("dataset", "model", "attention", "run", "trainer", "utils", "london_baseline")
}


def _others() -> list[SuiteManifest]:
    return list(SUITES.values())


def test_clutter_is_left_out_and_folders_are_not_files() -> None:
    data = zip_of(
        {"a/b.py": "", "__MACOSX/a/._b.py": "", "a/.DS_Store": "", "a/__pycache__/b.cpython-311.pyc": "", "a/c.pyc": ""}
    )
    assert archive_files(data) == ["a/b.py"]
    assert archive_files(io.BytesIO(data)) == ["a/b.py"]


def test_a_complete_submission_passes_wrapped_or_not() -> None:
    assert layout_problem(zip_of(A5_FILES), A5, _others()) is None
    assert layout_problem(zip_of({f"assignment5/{k}": v for k, v in A5_FILES.items()}), A5, _others()) is None
    # Optional files and globs: minbert's required names only.
    assert (
        layout_problem(
            zip_of({"bert.py": "", "classifier.py": "", "optimizer.py": "", "sst-dev-output.txt": ""}),
            MINBERT,
            _others(),
        )
        is None
    )


def test_missing_files_are_named_with_what_was_found() -> None:
    files = archive_files(zip_of({"src/model.py": "", "README.md": ""}))
    missing, rooted = missing_files(files, A5)
    assert "src/run.py" in missing and "src/model.py" not in missing and rooted == ["README.md", "src/model.py"]
    message = layout_problem(zip_of({"bert.py": ""}), MINBERT, _others())
    assert message == (
        "This zip is missing files that 'minbert' requires: 'classifier.py', 'optimizer.py'. "
        "It contains: 'bert.py'. Nothing was graded and it does not count as an attempt."
    )


def test_another_assignments_layout_is_named() -> None:
    message = layout_problem(zip_of(A5_FILES), MINBERT, _others())
    assert message is not None and f"It looks like a submission for 'cs224n-a5' ({A5.title})" in message


def test_long_listings_are_cut() -> None:
    message = layout_problem(zip_of({f"f{i:02}.txt": "" for i in range(40)}), MINBERT, _others())
    assert message is not None and "'f14.txt' and 25 more." in message
