"""Refresh ``docs/screenshots/*.png``: run both browser test files (the pages, the term pages) with a known
``--basetemp``, copy their screenshots.

Usage: ``.venv/bin/python tests/pages/update_screenshots.py [pytest options]`` (starts a real service, grades
the reference).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="grader-screenshots-") as tmp:
        base = Path(tmp) / "basetemp"
        tests = ["tests/pages/test_pages_browser.py", "tests/pages/test_term_pages_browser.py"]
        options = ["-q", "-p", "no:cacheprovider", f"--basetemp={base}", *sys.argv[1:]]
        code = subprocess.call([sys.executable, "-m", "pytest", *tests, *options], cwd=ROOT)
        if code != 0:
            return code
        dest = ROOT / "docs" / "screenshots"
        dest.mkdir(parents=True, exist_ok=True)
        for png in sorted((base / "screenshots").glob("*.png")):
            shutil.copyfile(png, dest / png.name)
            sys.stdout.write(f"{dest / png.name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
