"""Which of a notebook's imports can wait until something reads a name they bind.

A notebook's first cell imports everything the whole notebook uses: bert.ipynb imports pandas and
scikit-learn for its data-loading cells, which the grader skips, so the definitions it keeps never
name ``pd`` or ``train_test_split``. Importing them anyway cost a cold sandbox seconds (scikit-learn
pulls in scipy.stats) on the submission's time. Such an import is *deferred*: the generated module
records it and runs it, in its cell and line, the first time a check reads one of its names (the
module's ``__getattr__``), so a check that does still gets exactly what the notebook imported.

Deferring is decided by reading, conservatively: a plain absolute import is deferred only when no
other kept statement mentions, as any word at all (strings and comments included), a name it binds
or a part of its module's dotted path, and when no kept statement could read module globals by a
computed name (``globals``, ``eval`` and the like). Inside the sandbox, an import whose module the
interpreter cannot find, or which is the submission's own code (an import may be there for its side
effects), still runs at load, as before.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from grader.engine.notebooks_cells import CellPlan

_WORD = re.compile(r"[A-Za-z_]\w*")
# Ways to read a module global by a computed name; a notebook using any of them defers nothing. Names
# (``globals()``, ``eval(...)``, ``sys.modules[__name__].__dict__``) and attributes (``f.__globals__``;
# not ``model.eval()``, nor the given ``AttrDict``'s ``self.__dict__ = self``). A computed
# ``getattr(module, name)`` needs nothing here: it reaches the module's ``__getattr__``, which imports.
_DYNAMIC_NAMES = frozenset({"globals", "locals", "vars", "eval", "exec", "builtins", "__builtins__", "__name__"})
_DYNAMIC_ATTRIBUTES = frozenset({"__globals__", "f_globals", "f_locals", "globals"})


def _reads_globals_by_name(source: str) -> bool:
    """Whether ``source`` could read a module global by a computed name (unparsable counts as could)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return any(
        (isinstance(node, ast.Name) and node.id in _DYNAMIC_NAMES)
        or (isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_ATTRIBUTES)
        for node in ast.walk(tree)
    )


@dataclass(frozen=True, slots=True)
class DeferredImport:
    """An import statement run on first use: the module it imports and the names it binds."""

    module: str
    names: tuple[str, ...]


def _import_of(source: str) -> DeferredImport | None:
    """The import ``source`` holds when it is one plain absolute import statement that binds named values."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    if isinstance(node, ast.Import) and len(node.names) == 1:
        alias = node.names[0]
        return DeferredImport(alias.name, ((alias.asname or alias.name).split(".")[0],))
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
        if any(a.name == "*" for a in node.names):
            return None
        return DeferredImport(node.module, tuple(a.asname or a.name for a in node.names))
    return None


def deferred_imports(plans: list[CellPlan], also_named: Iterable[str] = ()) -> dict[tuple[int, int], DeferredImport]:
    """The kept imports that can wait, by (cell number, index in the cell's kept statements).

    ``also_named``: names read from outside the notebook's code (e.g. an alias's accepted names).
    """
    sources = [stmt.source for plan in plans for stmt in plan.kept]
    if any(_reads_globals_by_name(source) for source in sources):
        return {}
    words = [set(_WORD.findall(source)) for source in sources]
    mentions = Counter(word for found in words for word in found)
    mentions.update(set(also_named))
    deferred: dict[tuple[int, int], DeferredImport] = {}
    for plan in plans:
        for index, stmt in enumerate(plan.kept):
            found = _import_of(stmt.source) if stmt.source.lstrip().startswith(("import", "from")) else None
            if found is None:
                continue
            # Each word counts once per statement: a count of 1 is this statement's own mention.
            own = {*found.names, *found.module.split(".")}
            if all(mentions[word] <= 1 for word in own):
                deferred[(plan.number, index)] = found
    return deferred
