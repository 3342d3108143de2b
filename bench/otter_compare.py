"""Otter-Grader side by side: the CSC413 A3 attention checks (part 2.1, 8 points) on the same reference notebook.

    .venv/bin/python bench/otter_compare.py [--repeat 3] [--venv /tmp/grader-otter-venv]

- Otter: ``bench/otter/tests/*.py`` (our six attention checks in Otter's OK format, with the support file
  ``bench/otter/csc413_attention.py``) packed by ``otter generate`` and run by Otter's local,
  non-containerised runner ``otter run`` (no Docker) on ``reference_solutions/csc413_a3/nmt.ipynb``.
  Otter executes the notebook; the cells that download data, call ``nvidia-smi`` or train for minutes are
  tagged ``otter_ignore`` (Otter's own tag), so it runs the definitions and the tests, like us.
- Ours: the engine grades the same three-notebook submission with ``test_suites/csc413_a3`` restricted to
  ``checks_attention.py`` (a copy of its manifest with only that check file), in a bwrap sandbox started
  cold, and taken from a warm pool.

The three take turns, round by round (Otter, ours cold, ours warm), so a burst of load from elsewhere on
the machine falls on all of them alike; the warm pool refills between turns, never during one.

The Otter venv is created or refreshed by ``bench/otter_env.sh`` (``--skip-env`` to reuse it as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH, ROOT, header, traversable_dir, zip_folder  # noqa: E402
from grader.config import Settings  # noqa: E402
from grader.engine.runner import grade, make_launcher, sandbox_spec  # noqa: E402
from grader.engine.suites import load_suite  # noqa: E402
from grader.sandbox.pool import WarmPool  # noqa: E402
from tests.utils.builders import SHARED_ENVS  # noqa: E402

SUITE = ROOT / "test_suites" / "csc413_a3"
REFERENCE = ROOT / "reference_solutions" / "csc413_a3"
OTTER = BENCH / "otter"
#: Cells Otter must not execute: network downloads, shell commands and the long training runs.
SKIP = re.compile(r"urllib|^\s*!|^%%time|\btrain\(|train_decoder_only\(|isoflop_runs\[|\.fit\(|trainer\.train", re.M)


def attention_suite(dest: Path, preload: bool = True) -> Path:
    """A copy of the CSC413 suite folder whose manifest names only the attention checks (and, with
    ``preload``, declares the notebook's heavy imports for the warm pool)."""
    dest.mkdir(parents=True)
    for item in SUITE.iterdir():
        if item.name not in ("suite.toml", "__pycache__"):
            (dest / item.name).symlink_to(item)
    text = (SUITE / "suite.toml").read_text(encoding="utf-8")
    manifest = tomllib.loads(text)
    text = re.sub(r"(?m)^total_points = .*$", "", text)
    text = text.replace('python_path = ["."]', 'python_path = ["."]\ncheck_files = ["checks_attention.py"]', 1)
    if preload and "preload" not in manifest.get("resources", {}):
        # What the notebook imports at the top; a warm sandbox has it loaded before the submission arrives.
        text = text.replace("[resources]\n", '[resources]\npreload = ["numpy", "matplotlib.pyplot"]\n', 1)
    assert "check_files" in text and manifest["id"]
    (dest / "suite.toml").write_text(text, encoding="utf-8")
    return dest


def otter_notebook(dest: Path) -> tuple[Path, int]:
    """The reference nmt.ipynb with the download, shell and training cells tagged ``otter_ignore``."""
    nb = nbformat.read(REFERENCE / "nmt.ipynb", as_version=4)
    skipped = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and SKIP.search(cell.source):
            cell.metadata.setdefault("tags", []).append("otter_ignore")
            skipped += 1
    path = dest / "nmt.ipynb"
    nbformat.write(nb, path)
    return path, skipped


class OtterRunner:
    """``otter run`` of the packed attention tests on one notebook, one submission per call."""

    def __init__(self, venv: Path, work: Path, notebook: Path) -> None:
        self.otter, self.work, self.notebook = str(venv / "bin" / "otter"), work, notebook
        self.autograder = work / "autograder.zip"
        self.runs = 0
        shutil.copy(OTTER / "csc413_attention.py", work / "csc413_attention.py")
        subprocess.run(
            [
                self.otter,
                "generate",
                "-t",
                str(OTTER / "tests"),
                "-o",
                str(self.autograder),
                "--no-config",
                "--no-requirements",
                "--no-environment",
                "csc413_attention.py",
            ],
            cwd=work,
            check=True,
            capture_output=True,
        )

    def __call__(self) -> tuple[float, str]:
        """(seconds, score) of one ``otter run``."""
        out = self.work / f"otter-out-{self.runs}"
        self.runs += 1
        out.mkdir()
        t = time.perf_counter()
        done = subprocess.run(
            [self.otter, "run", "-a", str(self.autograder), "-o", str(out), "--no-logo", str(self.notebook)],
            cwd=self.work,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - t
        if done.returncode != 0:
            raise RuntimeError(f"otter run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        results = json.loads((out / "results.json").read_text())
        earned = sum(t.get("score") or 0 for t in results["tests"])
        possible = sum(t.get("max_score") or 0 for t in results["tests"])
        return took, f"{earned:g}/{possible:g}"


class OursRunner:
    """Our engine grading the zip with the attention-only suite: a cold sandbox per call, or the warm pool's."""

    def __init__(self, suite_dir: Path, zip_path: Path, warm: bool) -> None:
        self.root = traversable_dir("grader-bench-otter-ours-")
        self.settings = Settings(env="test", data_dir=self.root, envs_dir=SHARED_ENVS)  # type: ignore[call-arg]
        self.suite, self.zip_path = load_suite(suite_dir), zip_path
        self.pool = (
            WarmPool(make_launcher(self.settings), self.settings.scratch_dir, {"cpu": 1}, self.settings.timeouts)
            if warm
            else None
        )
        self._ready()

    def _ready(self) -> None:
        """A warm sandbox waiting (untimed), so no refill runs during anyone's timed grading."""
        if self.pool is not None:
            self.pool.target(sandbox_spec(self.suite, self.settings, self.root))
            self.pool.wait_ready("cpu", 180)

    def __call__(self) -> tuple[float, str]:
        t = time.perf_counter()
        report = grade(self.suite, self.zip_path, self.settings, launcher=self.pool)
        took = time.perf_counter() - t
        self._ready()
        return took, f"{report.score:g}/{report.max_score:g}"

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        shutil.rmtree(self.root, ignore_errors=True)


def interleaved(runners: dict[str, Callable[[], tuple[float, str]]], repeat: int) -> dict[str, tuple[list[float], str]]:
    """Each runner once per round, in turn, ``repeat`` timed rounds after an untimed one (page cache, Jupyter's
    first start): on a shared machine a burst of load then falls on every grader alike, not on one."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    scores: dict[str, str] = {}
    for i in range(repeat + 1):
        for name, run in runners.items():
            took, scores[name] = run()
            if i:
                times[name].append(took)
    return {name: (times[name], scores[name]) for name in runners}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/grader-otter-venv"))
    parser.add_argument("--skip-env", action="store_true", help="use the Otter venv as it is")
    args = parser.parse_args(argv)
    header(
        "Otter-Grader side by side (CSC413 A3 attention)",
        "bench/otter_compare.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    if not args.skip_env or not (args.venv / "bin" / "otter").exists():
        subprocess.run([str(BENCH / "otter_env.sh"), str(args.venv)], check=True)
    work = traversable_dir("grader-bench-otter-")
    ours: list[OursRunner] = []
    try:
        notebook, skipped = otter_notebook(work)
        zip_path = work / "submission.zip"
        zip_path.write_bytes(zip_folder(REFERENCE, skip=("mutants", "_source", "__pycache__", "README.md")))
        suite_dir = attention_suite(work / "suite")
        print(f"Otter skips {skipped} cells of nmt.ipynb (downloads, shell, training); ours reads definitions only")
        otter = OtterRunner(args.venv, work, notebook)
        ours = [OursRunner(suite_dir, zip_path, warm=False), OursRunner(suite_dir, zip_path, warm=True)]
        loads = [os.getloadavg()[0]]
        results = interleaved({"otter": otter, "cold": ours[0], "warm": ours[1]}, args.repeat)
        loads.append(os.getloadavg()[0])
    finally:
        for runner in ours:
            runner.close()
        shutil.rmtree(work, ignore_errors=True)
    (otter_times, otter_score), (cold, cold_score), (warm, warm_score) = (
        results["otter"],
        results["cold"],
        results["warm"],
    )
    print(f"load average (1 min) {loads[0]:.1f} before the rounds, {loads[1]:.1f} after")
    otter_med = statistics.median(otter_times)
    print(f"\n{'grader':34} {'median s':>9} {'min s':>7} {'Otter / this':>13}  score")
    rows = [
        ("Otter 7 `otter run` (no Docker)", otter_times, otter_score),
        ("ours, cold sandbox", cold, cold_score),
        ("ours, warm pool", warm, warm_score),
    ]
    for name, times, score in rows:
        med = statistics.median(times)
        print(f"{name:34} {med:9.3f} {min(times):7.3f} {otter_med / med:13.2f}  {score}")
    if len({otter_score, cold_score, warm_score}) != 1:
        # A speed comparison is only one if both graders gave the same verdict on the same notebook.
        raise SystemExit(f"the scores differ ({otter_score}, {cold_score}, {warm_score}): not a comparison")
    return {"otter_s": otter_med, "ours_cold_s": statistics.median(cold), "ours_warm_s": statistics.median(warm)}


if __name__ == "__main__":
    main()
