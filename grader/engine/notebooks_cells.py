"""Sort a notebook's code cells into definitions to keep and everything else, by reading them (never running them).

A graded notebook holds definitions (imports, functions, classes, constants) among cells that install
packages, download data and train for hours. The grader needs the former only, so each code cell is
cleaned of IPython syntax (magics, shell escapes) and parsed with :mod:`ast`; its top-level statements
are kept when they define something and dropped otherwise, each drop with a reason the student can
act on. Line numbers stay those of the cell, so a traceback points at the student's own cell.

A cell over :data:`MAX_CELL_CHARS` of code is skipped unread: parsing costs hundreds of bytes of
memory per byte of dense code (a 10 MB cell of one-line statements builds gigabytes of syntax tree),
and no assignment's definitions need a megabyte of source in one cell. Everything here runs in the
confined child of :mod:`grader.engine.confined` during ingestion, so even what passes this check is
held to memory and time caps.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

# ``x = !ls`` and ``x = %time f()``: IPython assigns a shell or magic result; plain Python cannot.
_SHELL_ASSIGN = re.compile(r"^\s*[A-Za-z_][\w\s,]*=\s*[!%]")
_MAGIC_OR_SHELL = re.compile(r"^\s*[!%]")
# Names a skipped piece of code would have defined, to explain a missing name precisely.
_DEFINES = re.compile(
    r"^\s*(?:(?:async\s+)?def|class)\s+([A-Za-z_]\w*)|^\s*([A-Za-z_]\w*)\s*(?::[^=]*)?=[^=]", re.MULTILINE
)
MAX_CELL_CHARS = 1024 * 1024  # code in one cell (characters); a larger cell is skipped unread


@dataclass(frozen=True, slots=True)
class KeptStatement:
    """One top-level statement to run, with the cell line it starts on (decorators included)."""

    first_line: int  # 1-based line of the cell where the statement starts
    source: str  # the statement's lines, exactly as in the (cleaned) cell
    defines: tuple[str, ...]  # names it binds at module level
    params: tuple[str, ...] = ()  # parameter names of a function, or of a class's __init__

    def parse(self, filename: str = "<cell>") -> ast.Module:
        """The statement's syntax tree, numbered as in its cell; linear in the statement's size (a
        statement padded with newlines up to its line would cost the square of the cell's length)."""
        return ast.increment_lineno(ast.parse(self.source, filename), self.first_line - 1)


@dataclass
class CellPlan:
    """What happens to one code cell: the statements kept and why anything else was left out."""

    number: int  # 1-based position among all the notebook's cells (markdown included)
    kept: list[KeptStatement] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # reasons, for the report
    skipped_names: dict[str, str] = field(default_factory=dict)  # name a skipped piece defines -> why skipped

    def skip(self, reason: str, source: str = "") -> None:
        """Record a skipped piece of the cell and the names it would have defined."""
        for match in _DEFINES.finditer(source):
            self.skipped_names.setdefault(match.group(1) or match.group(2), reason)
        if reason not in self.skipped:
            self.skipped.append(reason)


def _size(chars: int) -> str:
    return f"{chars / (1024 * 1024):.1f} MiB" if chars >= 1024 * 1024 else f"{chars / 1024:.0f} KiB"


def _snippet(text: str, limit: int = 60) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = "".join(ch if ch.isprintable() else "?" for ch in line)  # escape codes must not reach reports
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _clean_lines(source: str, plan: CellPlan) -> tuple[str, bool, ast.Module | None]:
    """Replace magic and shell lines by ``pass`` at the same indentation (line numbers and blocks survive).

    Returns the cleaned source, whether the whole cell is a cell magic (``%%time`` and friends run
    the rest of the cell under IPython's control; such cells train or write files, so they are
    skipped), and the syntax tree when the cell is valid Python as it is (parsed once, not twice).
    """
    lines = source.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if first.lstrip().startswith("%%"):
        plan.skip(f"cell magic `{_snippet(first, 30)}`", source)
        return "", True, None
    try:
        return source, False, ast.parse(source)  # valid Python has no IPython syntax (``% x`` may continue a line)
    except (SyntaxError, ValueError, RecursionError):
        pass  # cleaned below; plan_cell reports what still does not parse (and MemoryError)
    cleaned: list[str] = []
    dropped: list[str] = []
    for line in lines:
        if _MAGIC_OR_SHELL.match(line) or _SHELL_ASSIGN.match(line):
            dropped.append(line.strip())
            cleaned.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            cleaned.append(line)
    if dropped:
        kind = "shell command" if re.match(r"^([\w\s,]*=\s*)?!", dropped[0]) else "IPython magic"
        more = f" and {len(dropped) - 1} more such line(s)" if len(dropped) > 1 else ""
        plan.skip(f"{kind} `{_snippet(dropped[0], 40)}`{more}")
    return "\n".join(cleaned), False, None


def _is_literal(node: ast.expr) -> bool:
    """Constants and expressions built only from constants (``7``, ``"a" + "b"``, ``[1, 2]``, ``2 ** 10``)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_literal(k) for k in node.keys) and all(_is_literal(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_literal(node.left) and _is_literal(node.right)
    if isinstance(node, ast.JoinedStr):
        return all(_is_literal(v.value) if isinstance(v, ast.FormattedValue) else _is_literal(v) for v in node.values)
    return False


def _target_names(target: ast.expr) -> list[str] | None:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_target_names(e) for e in target.elts]
        return None if any(n is None for n in names) else [x for n in names if n for x in n]
    return None  # attributes and subscripts change other objects: not a definition


def _param_names(args: ast.arguments) -> tuple[str, ...]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return tuple(a.arg for a in every)


def _definition(node: ast.stmt) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(names defined, parameter names) when ``node`` is a definition worth keeping, else None."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return tuple((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"), ()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return (node.name,), _param_names(node.args)
    if isinstance(node, ast.ClassDef):
        init = next((s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
        return (node.name,), _param_names(init.args) if init else ()
    if isinstance(node, ast.Assign) and _is_literal(node.value):
        names = [_target_names(t) for t in node.targets]
        if all(n is not None for n in names):
            return tuple(x for n in names if n for x in n), ()
    if isinstance(node, ast.AnnAssign) and node.value is not None and _is_literal(node.value):
        single = _target_names(node.target)
        if single is not None:
            return tuple(single), ()
    if isinstance(node, ast.Try) and all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) for s in node.body):
        # ``try: import x / except ImportError: ...``: optional imports, kept whole.
        return tuple(n for s in node.body if (d := _definition(s)) for n in d[0]), ()
    return None


def _why_dropped(node: ast.stmt) -> str:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return "a top-level call (training, plotting or downloading is not run by the grader)"
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return "an assignment computed by running code (only constants are kept)"
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return "a top-level loop"
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return "a top-level `with` block"
    return f"a top-level `{type(node).__name__.lower()}` statement"


def plan_cell(number: int, source: str) -> CellPlan:
    """Decide, statement by statement, what of one code cell is kept."""
    plan = CellPlan(number)
    if len(source) > MAX_CELL_CHARS:  # its names are not searched either: that too is work on the whole cell
        plan.skip(
            f"{_size(len(source))} of code, over the {_size(MAX_CELL_CHARS)} the grader reads in one cell "
            "(data or generated code pasted into the cell? load it from a file instead)"
        )
        return plan
    try:
        cleaned, magic_cell, tree = _clean_lines(source, plan)
        if magic_cell or not cleaned.strip():
            return plan
        if tree is None:
            tree = ast.parse(cleaned, filename=f"cell {number}")
    except SyntaxError as exc:
        plan.skip(f"syntax error at line {exc.lineno}: {exc.msg}", cleaned)
        return plan
    except MemoryError:
        plan.skip("too large to read: parsing it needed more memory than the grader allows for a notebook")
        return plan
    except (ValueError, RecursionError) as exc:  # NUL bytes; absurdly nested expressions
        plan.skip(f"cannot be parsed ({type(exc).__name__})", cleaned)
        return plan
    lines = cleaned.splitlines()
    dropped: list[tuple[int, str, str]] = []
    for node in tree.body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "\n".join(lines[start - 1 : node.end_lineno])
        try:
            found = _definition(node)
        except RecursionError:  # ``1 + 1 + ...`` thousands of terms deep: not a definition anyone needs
            found = None
        if found is not None:
            plan.kept.append(KeptStatement(start, text, found[0], found[1]))
        elif isinstance(node, ast.Pass) or (
            isinstance(node, ast.Expr) and isinstance(node.value, (ast.Constant, ast.Name))
        ):
            continue  # a replaced magic line, a bare string or a name shown as the cell's output: nothing to run
        else:
            dropped.append((start, text, _why_dropped(node)))
    for index, (line, text, why) in enumerate(dropped):
        more = f" and {len(dropped) - 1} more statement(s) that are not definitions" if len(dropped) > 1 else ""
        reason = f"line {line} `{_snippet(text)}`: {why}"
        if index == 0:
            plan.skip(reason + more, text)
        for match in _DEFINES.finditer(text):
            plan.skipped_names.setdefault(match.group(1) or match.group(2), reason)
    return plan
