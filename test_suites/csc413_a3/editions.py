"""Which edition of the course's notebooks a submission is, and where its definitions are (trusted side).

Read from the modules the grader wrote for the notebooks before the sandbox started (their
``_notebook_defined_in`` line: name -> cell), never from the sandbox and never by reading the student's
notebook again here (the engine read it under its caps). Used only for messages: no expectation
depends on it.

The 2021 and 2022 notebooks lack the 2023 parts this assignment grades (2.2 decoder-only NMT, 2.3
IsoFLOP; 2021 also the ``BertForSentenceClassification`` head and CLIP). Their checks fail, rightly;
the report says so once (:func:`edition_note`, on the first check) and each of those checks says in
one line why (:func:`missing_message`), instead of repeating the notebook's skipped-cell list.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

NOTEBOOKS = {"nmt_nb": "nmt.ipynb", "bert_nb": "bert.ipynb", "clip_nb": "clip.ipynb"}
_PRELUDE_LINES = 12  # the generated module's header (grader/engine/notebooks.py: _PRELUDE)


@dataclass(frozen=True)
class Part:
    """A graded part of the 2023 notebooks and the names that make it up."""

    number: str
    title: str
    module: str
    names: tuple[str, ...]


PARTS = (
    Part(
        "2.1", "scaled dot-product and causal attention", "nmt_nb", ("ScaledDotAttention", "CausalScaledDotAttention")
    ),
    Part("2.2", "decoder-only NMT", "nmt_nb", ("generate_tensors_for_training_decoder_nmt", "DecoderOnlyTransformer")),
    Part("2.3", "IsoFLOP scaling fits", "nmt_nb", ("find_optimal_params", "fit_linear_log")),
    Part("3", "BertForSentenceClassification", "bert_nb", ("BertForSentenceClassification",)),
    Part("4", "the CLIP caption", "clip_nb", ("caption",)),
)
#: (year, classes only that edition's nmt.ipynb defines), newest first: 2022 kept MyLSTMCell beside its GRU
_OLDER = (("2022", ("MyGRUCell", "GRUEncoder")), ("2021", ("LSTMEncoder", "MyLSTMCell")))
#: any of these in nmt.ipynb: the 2023 notebook (or the 2025 handout's), graded as is
_CURRENT = (
    "generate_tensors_for_training_decoder_nmt",
    "find_optimal_params",
    "fit_linear_log",
    "DecoderOnlyTransformer",
)


def defined_cells(files: Path, module: str) -> dict[str, int]:
    """name -> cell number of the notebook's top-level definitions; {} when the notebook was not read."""
    path = files / f"{module}.py"
    if path.is_symlink() or not path.is_file():
        return {}
    try:
        with path.open(encoding="utf-8") as fh:
            for _, line in zip(range(_PRELUDE_LINES), fh, strict=False):
                if line.startswith("_notebook_defined_in = "):
                    found = ast.literal_eval(line.split("=", 1)[1].strip())
                    return {str(k): int(v) for k, v in found.items()} if isinstance(found, dict) else {}
    except (OSError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return {}


def located(files: Path, module: str, name: str) -> str:
    """' (nmt.ipynb, cell 12)' where ``name`` is defined, or '' when unknown."""
    cell = defined_cells(files, module).get(name)
    return f" ({NOTEBOOKS.get(module, module)}, cell {cell})" if cell is not None else ""


@dataclass(frozen=True)
class Edition:
    """An older edition recognised in nmt.ipynb, and the graded parts the submission lacks."""

    year: str
    marker: str
    marker_cell: int
    missing: tuple[Part, ...]


def older_edition(files: Path) -> Edition | None:
    """The 2021 or 2022 edition when nmt.ipynb is one (it defines their classes and none of 2.2/2.3)."""
    nmt = defined_cells(files, "nmt_nb")
    if not nmt or any(name in nmt for name in _CURRENT):
        return None
    for year, markers in _OLDER:
        if marker := next((m for m in markers if m in nmt), None):
            have = {module: defined_cells(files, module) for module in NOTEBOOKS}
            missing = tuple(p for p in PARTS if not all(n in have[p.module] for n in p.names))
            return Edition(year, marker, nmt[marker], missing)
    return None


def _parts(parts: tuple[Part, ...]) -> str:
    named = [f"{p.number} ({p.title})" for p in parts]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def edition_note(files: Path) -> str:
    """The one note of the report that names the edition and the 2023 parts it lacks; '' for the 2023 notebooks."""
    edition = older_edition(files)
    if edition is None or not edition.missing:
        return ""
    return (
        f"nmt.ipynb looks like the {edition.year} notebook (it defines {edition.marker}, cell {edition.marker_cell}, "
        f"and none of the decoder-only or IsoFLOP code). Part{'s' if len(edition.missing) > 1 else ''} "
        f"{_parts(edition.missing)} {'are' if len(edition.missing) > 1 else 'is'} from the 2023 notebook this "
        f"assignment is graded on and not in your submission: {'their' if len(edition.missing) > 1 else 'its'} "
        "checks give 0. Everything your notebooks do have is graded as usual."
    )


def missing_message(files: Path, module: str, name: str) -> str:
    """One line for a check whose definition an older edition lacks; '' when that is not why it is missing."""
    edition = older_edition(files)
    part = next((p for p in edition.missing if p.module == module and name in p.names), None) if edition else None
    if edition is None or part is None:
        return ""
    return (
        f"{NOTEBOOKS[module]} does not define {name}: part {part.number} ({part.title}) is from the 2023 notebook "
        f"and your notebooks look like the {edition.year} edition (see the note on check 2.1.1.1)."
    )


def source_of(files: Path, module: str, name: str) -> str:
    """The source of the statement that last defines ``name`` at the top level (as the grader kept it); '' if none."""
    path = files / f"{module}.py"
    if path.is_symlink() or not path.is_file():
        return ""
    found = ""
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("_notebook_run(") or name not in line:
                    continue
                _, _, source = ast.literal_eval(line[len("_notebook_run") :].strip())
                tree = ast.parse(source)
                if any(getattr(node, "name", None) == name for node in tree.body):
                    found = source
    except (OSError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return found
    return found


_MAX_CANDIDATES = 5


def candidates_advice(files: Path, notebook: str) -> str:
    """For a missing ``notebook``: the submission's other notebooks that may be it, and what to do; '' if none.

    Renamed copies ("nmt (1).ipynb", "nmt_final.ipynb") come first; any other notebook that is not one of
    the three graded ones is named as a possible rename (e.g. "PA03.ipynb"). Nothing is graded in its place.
    """
    stem = notebook.removesuffix(".ipynb").lower()
    found: list[str] = []
    for path in sorted(files.rglob("*.ipynb")):  # the unpacked submission: bounded by the unpacker's limits
        relative = path.relative_to(files).as_posix()
        if ".ipynb_checkpoints" in relative or relative in NOTEBOOKS.values() or path.is_symlink():
            continue
        found.append(relative)
        if len(found) > 50:
            break
    if not found:
        return ""
    named = [f for f in found if stem in Path(f).name.lower()]
    if len(named) == 1:
        return f" Found {named[0]}: if it is this notebook, name it {notebook}, at the top level of the submission."
    listed = ", ".join((named or found)[:_MAX_CANDIDATES]) + (" ..." if len(named or found) > _MAX_CANDIDATES else "")
    return f" The submission has other notebooks ({listed}): if one of them is this one, name it {notebook}."
