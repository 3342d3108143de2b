"""What ``grader suite verify`` reads: a reference folder's ``verify.toml``, its mutants and forgeries, their
edits, and which of them may share one grading (see :mod:`grader.engine.verify` for the format).

Sharing a grading is what keeps verifying a whole suite affordable, and it must prove what separate
gradings prove. ``verify.toml``'s ``[reach]`` table names, per submitted file, every check that runs or
reads it (a spec may narrow it with its own ``reaches``, e.g. the part of a notebook it changes). Two
mutants share a grading only when the checks their edits reach are disjoint: every check is then reached
by at most one of them and gives the verdict it gives that mutant alone. Two forgeries share one when
neither's edits reach the other's targets. A spec whose edits touch a file without a declared reach is
graded alone.
"""

from __future__ import annotations

import shutil
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from grader.errors import SuiteError

#: Files of a reference folder that are ours, not the students': never copied into a graded submission.
NOT_SUBMITTED = ("mutants", "forgeries", "variants", "_source", "__pycache__", "README.md", "verify.toml")
#: The kinds of spec, with their folder and the key of the checks they declare.
KINDS = {"mutant": ("mutants", "checks"), "forgery": ("forgeries", "targets")}


def read_spec(reference: Path, folder: str, name: str) -> dict[str, Any]:
    """A mutant's or forgery's toml, ``reference/<folder>/<name>.toml``."""
    return tomllib.loads((reference / folder / f"{name}.toml").read_text(encoding="utf-8"))


def read_verify_toml(reference: Path) -> dict[str, Any]:
    declared = reference / "verify.toml"
    return tomllib.loads(declared.read_text(encoding="utf-8")) if declared.is_file() else {}


def read_missing_artifacts(reference: Path) -> frozenset[str]:
    """The checks ``reference/verify.toml`` declares the reference fails for lack of an artifact (none without it)."""
    return frozenset(read_verify_toml(reference).get("missing_artifacts", []))


def spec_names(reference: Path, folder: str) -> list[str]:
    return sorted(p.stem for p in (reference / folder).glob("*.toml"))


@dataclass(frozen=True)
class Spec:
    """One mutant or forgery, as verify grades it."""

    kind: str  # "mutant" or "forgery"
    name: str
    data: dict[str, Any]  # the toml
    expected: frozenset[str]  # checks it must fail (mutant) or score 0 on (forgery)
    reach: frozenset[str] | None  # every check its edits can change; None when not declared: graded alone

    @property
    def bug_class(self) -> str:
        return str(self.data.get("bug_class", "unclassified"))


def edited_files(spec: dict[str, Any]) -> set[str]:
    """The submission files a spec's edits change."""
    files = {str(edit.get("file", spec.get("file", ""))) for edit in spec.get("replace", [])}
    files |= {str(written["path"]) for written in spec.get("write", [])}
    return files | {str(target) for _, target in spec.get("data_copies", [])}


def load_specs(reference: Path, kind: str, reach_table: dict[str, list[str]]) -> list[Spec]:
    """Every spec of ``kind`` in ``reference``, with the checks its edits reach."""
    folder, key = KINDS[kind]
    specs = []
    for name in spec_names(reference, folder):
        data = read_spec(reference, folder, name)
        files = edited_files(data)
        reach: frozenset[str] | None = None
        if "reaches" in data:
            reach = frozenset(data["reaches"])
        elif files and all(f in reach_table for f in files):
            reach = frozenset(c for f in files for c in reach_table[f])
        specs.append(Spec(kind, name, data, frozenset(data.get(key, [])), reach))
    return specs


def _compatible(a: Spec, b: Spec) -> bool:
    if a.reach is None or b.reach is None:
        return False
    if a.kind == "mutant":  # every check reached by at most one of them
        return not a.reach & b.reach
    return not (a.reach & b.expected or b.reach & a.expected)  # neither reaches the other's targets


def pack(specs: list[Spec]) -> list[tuple[Spec, ...]]:
    """Specs packed greedily (by name) into gradings they can share (see the module docstring)."""
    packs: list[list[Spec]] = []
    for spec in sorted(specs, key=lambda s: s.name):
        for group in packs:
            if all(_compatible(spec, other) for other in group):
                group.append(spec)
                break
        else:
            packs.append([spec])
    return [tuple(group) for group in packs]


def _replace_once(text: str, old: str, new: str, where: str) -> str:
    count = text.count(old)
    if count != 1:
        raise SuiteError(f"{where}: the text to replace occurs {count} times")
    return text.replace(old, new)


def apply_edits(spec: dict[str, Any], root: Path, label: str, data_dir: Path | None = None) -> None:
    """Apply one mutant's or forgery's edits to the submission folder ``root`` (see grader.engine.verify)."""
    for edit in spec.get("replace", []):
        rel = edit.get("file", spec.get("file", ""))
        target = root / rel
        where = f"{label}: {rel}"
        if target.suffix == ".ipynb":  # the students' code lives in the code cells, edited as text
            nb = nbformat.read(target, as_version=4)  # type: ignore[no-untyped-call]
            cells = [c for c in nb.cells if c.cell_type == "code" and edit["old"] in c.source]
            hits = sum(c.source.count(edit["old"]) for c in cells)
            if hits == 1:
                cells[0].source = cells[0].source.replace(edit["old"], edit["new"])
                nbformat.write(nb, target)  # type: ignore[no-untyped-call]
                continue
            if hits > 1:
                raise SuiteError(f"{where}: the text to replace occurs {hits} times in its code cells")
            # No cell holds it: an edit written against the notebook's JSON text (escaped quotes, newlines)
            target.write_text(_replace_once(target.read_text(encoding="utf-8"), edit["old"], edit["new"], where))
        else:
            target.write_text(_replace_once(target.read_text(encoding="utf-8"), edit["old"], edit["new"], where))
    for written in spec.get("write", []):
        target = root / written["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(written["text"]), encoding="utf-8")
    for source, target_rel in spec.get("data_copies", []):
        if data_dir is None:
            raise SuiteError(f"{label}: data_copies needs the suite's data folder")
        shutil.copy(data_dir / source, root / target_rel)


def copy_reference(reference: Path, dest: Path) -> Path:
    """The reference in the students' layout (our notes, mutants and forgeries left out), readable by sandboxes."""
    shutil.copytree(reference, dest, ignore=shutil.ignore_patterns(*NOT_SUBMITTED))
    dest.chmod(0o755)
    return dest
