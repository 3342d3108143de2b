"""Write our reference notebooks (nmt.ipynb, bert.ipynb, clip.ipynb) in the students' layout.

Run from anywhere: ``.venv/bin/python reference_solutions/csc413_a3/_source/build_notebooks.py``. The cells
follow the handout's structure (given code, the graded cells, and the download/training cells a
student runs); the grader keeps only definitions. The cell sources live in ``cells_*.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
OUT = HERE.parent
sys.path.insert(0, str(HERE))

from cells_bert import BERT  # noqa: E402
from cells_clip import CLIP  # noqa: E402
from cells_nmt import NMT  # noqa: E402


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A Colab-style notebook of ("md" | "code", source) cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}, "accelerator": "GPU"}  # fmt: skip
    for kind, source in cells:
        source = source.strip("\n")
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        if kind != "md":
            cell.pop("id", None)
        nb.cells.append(cell)
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4  # ids are optional before 4.5, which keeps mutant diffs free of random ids
    return nb


def main() -> None:
    for name, cells in (("nmt.ipynb", NMT), ("bert.ipynb", BERT), ("clip.ipynb", CLIP)):
        nbformat.write(build(cells), OUT / name)


if __name__ == "__main__":
    main()
