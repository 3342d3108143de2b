"""An exception of the student's code in words, for a failure message (issue 21, class 8).

"raised AssertionError: " with nothing after it helps no one: the message says when the exception had no
text, and where in the student's own files it was raised (file, line and code, read from its traceback).
"""

from __future__ import annotations

import re

from grader.authoring import StudentCodeError

#: A traceback frame in one of the submission's files (src/dataset.py and the like).
_FRAME = re.compile(r'File "[^"]*?(src/[^"/]+\.py)", line (\d+)')


def where(traceback: str) -> str:
    """' at src/x.py line N: `code`' for the innermost frame in the student's src/ files, or ''."""
    lines = traceback.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        m = _FRAME.search(lines[i])
        if m:
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f" at {m[1]} line {m[2]}" + (f": `{code[:120]}`" if code and not code.startswith("File ") else "")
    return ""


def raised(exc: StudentCodeError) -> str:
    """'raised ValueError: empty range ... at src/dataset.py line 40: `...`' (or 'with no message')."""
    message = exc.exc_message.strip()
    return f"raised {exc.exc_type}" + (f": {message[:300]}" if message else " (with no message)") + where(exc.traceback)
