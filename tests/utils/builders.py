"""Builders for submissions, suites and settings used across the test tiers."""

from __future__ import annotations

import io
import tempfile
import textwrap
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.config import PROJECT_ROOT, Settings
from grader.engine.suites import load_suite
from grader.engine.verify import (
    Verification,
    apply_edits,
    copy_reference,
    plan,
    read_missing_artifacts,
    read_spec,
    spec_names,
    verify_suite,
)
from grader.store.submissions import Store

REFERENCE = PROJECT_ROOT / "reference_solutions" / "cs224n_a5"
TOY_SUITES = PROJECT_ROOT / "tests" / "files" / "suites"
#: The CS224N checks that need trained artifacts (params, predictions), which our reference lacks until
#: it is trained on a GPU: they fail with "needs the file ...", every other check gives full marks. Declared
#: in the reference's verify.toml, which `grader suite verify` reads.
CS224N_MISSING_ARTIFACTS = frozenset(read_missing_artifacts(REFERENCE))


def traversable_dir(prefix: str) -> Path:
    """A fresh folder under /tmp that a sandbox's own uid can reach (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o711)
    return path


def make_submission(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text, dedented) under ``root`` and return it."""
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def zip_of(files: dict[str, str | bytes]) -> bytes:
    """A zip, in memory, of ``files`` (archive name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def visibility_zip(pause_seconds: float = 0) -> bytes:
    """An honest submission for the 'visibility' test suite (4/4); ``pause()`` sleeps as long as asked."""
    return zip_of(
        {
            "good.py": f"import time\n\ndef add(a, b):\n    return a + b\n\ndef pause():\n    time.sleep({pause_seconds})\n"
        }
    )


def make_zip(folder: Path, dest: Path, wrapper: str = "") -> Path:
    """Zip ``folder``'s files into ``dest`` (optionally under one wrapper folder)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{wrapper}{path.relative_to(folder)}")
    return dest


def mutant_spec(name: str, reference: Path = REFERENCE, folder: str = "mutants") -> dict[str, Any]:
    """A mutant's (or forgery's) toml, in the edit format of ``grader.engine.verify``."""
    return read_spec(reference, folder, name)


def _apply_edits(name: str, root: Path, reference: Path, folder: str = "mutants") -> None:
    data = PROJECT_ROOT / "test_suites" / reference.name / "data"  # a reference folder is named as its suite's
    apply_edits(mutant_spec(name, reference, folder), root, f"{folder[:-1]} {name}", data)


def apply_mutant(name: str, dest: Path, reference: Path = REFERENCE, folder: str = "mutants") -> Path:
    """Copy a reference solution (CS224N's unless given) to ``dest`` and apply the mutant's (or, with
    ``folder="forgeries"``, the forgery's) edits."""
    copy_reference(reference, dest)
    _apply_edits(name, dest, reference, folder)
    return dest


def apply_mutants(names: tuple[str, ...], dest: Path, reference: Path = REFERENCE, folder: str = "mutants") -> Path:
    """The reference with every mutant (or forgery) of ``names`` applied, one after another (they must edit
    different places: each edit still has to match exactly once)."""
    apply_mutant(names[0], dest, reference, folder)
    for name in names[1:]:
        _apply_edits(name, dest, reference, folder)
    return dest


def mutant_names(reference: Path = REFERENCE, folder: str = "mutants") -> list[str]:
    return spec_names(reference, folder)


#: The students' environments the tests share: built once by scripts/bootstrap (or `grader env build`) and
#: cached by their hash, so no test downloads scikit-learn again.
SHARED_ENVS = PROJECT_ROOT / "var" / "envs"


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: real bwrap, the repository's suites unless overridden, state under ``data_dir``
    (the students' environments excepted: the shared, pre-built ones)."""
    overrides.setdefault("envs_dir", SHARED_ENVS)
    return Settings(env="test", data_dir=data_dir, **overrides)  # type: ignore[arg-type]


def verify_packs(folder: str, kind: str) -> list[tuple[str, ...]]:
    """The gradings ``grader suite verify`` makes for a suite's mutants or forgeries (``kind``), by name."""
    suite = load_suite(PROJECT_ROOT / "test_suites" / folder)
    return [tuple(s.name for s in group) for group in plan(suite, PROJECT_ROOT / "reference_solutions" / folder, kind)]


def assert_verified(folder: str, kind: str, names: tuple[str, ...], data_dir: Path) -> Verification:
    """``grader suite verify`` of the named mutants or forgeries (``kind``) of a suite holds: each names the
    check and the message that contradict its toml otherwise."""
    suite = load_suite(PROJECT_ROOT / "test_suites" / folder)
    reference = PROJECT_ROOT / "reference_solutions" / folder
    result = verify_suite(suite, reference, settings_for(data_dir), kinds=(kind,), names=names)
    assert sorted(o.name for o in result.outcomes) == sorted(names)
    wrong = {o.name: o.wrong for o in result.outcomes if not o.ok}
    assert not wrong, wrong
    return result


def queued_run(store: Store, sub_id: str, run_id: str, queue: str, when: datetime) -> None:
    """Record run ``run_id`` of ``sub_id`` and mark it queued at ``when``, as the API does around its send
    (nothing is sent: the tests that use it drive the states themselves)."""
    store.new_run(sub_id, run_id, queue)
    store.mark_sent(sub_id, run_id, queue, when)
