"""Per-suite figures through the real service: each installed suite's reference and mutants, warm pool and cold.

    .venv/bin/python bench/suites.py [--suites minbert,csc413_a3,gsds_a4,cs224n_a5] [--mutants 2] [--rounds 3]
                                     [--modes warm,cold] [--gap 4] [--memory] [--otter] [--json out.json]

For each mode a real ``grader serve`` (bench/common.py, as bench/burst.py starts it) with one worker:
- ``warm``: the pool ``grader serve`` sizes by default (grader/worker/sizing.py);
- ``cold``: ``GRADER_WARM_POOL__CPU=0``: a fresh sandbox per submission, no pool (the Gradescope way).
Per suite, ``--rounds`` x (reference + the first ``--mutants`` mutants by name), one at a time,
``--gap`` seconds apart (a warm pool refills in that time); in ``warm`` after one untimed upload, which
retargets the pool to the suite's sandbox profile (as on a deadline, when one assignment dominates).

Reported per suite and mode: median and p95 of upload accepted -> report ready (as the student's client
sees it, polling every 0.1 s: faster polling takes CPU from the grading), and the median phases: queue
wait (queued -> started), unpack, notebook ingestion, sandbox start (cold: interpreter + torch + preload imports; warm: the pool's hand-out), the
checks (and the slowest check), and the worker's own part (blob copy, suite load, report write: started ->
finished minus the engine's total). ``--memory`` measures one idle warm sandbox of each suite (PSS of its
process tree); ``--otter`` runs bench/otter_compare.py (the CSC413 attention checks) when its venv exists.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, header, quantile, service, traversable_dir, upload, wait_done, zip_folder  # noqa: E402
from grader.sandbox.pool import WARM_NOTE  # noqa: E402
from tests.utils.builders import SHARED_ENVS  # noqa: E402

SUITES = ("minbert", "csc413_a3", "gsds_a4", "cs224n_a5")
SKIP = ("mutants", "forgeries", "_source", "__pycache__", "README.md")
MODES = {"warm": {}, "cold": {"GRADER_WARM_POOL__CPU": "0", "GRADER_WARM_POOL__GPU": "0"}}


def assignment_id(suite: str) -> str:
    return str(tomllib.loads((ROOT / "test_suites" / suite / "suite.toml").read_text())["id"])


def mutant_names(suite: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / "reference_solutions" / suite / "mutants").glob("*.toml"))


def submission(suite: str, mutant: str | None, dest: Path) -> Path:
    """The reference of ``suite`` in ``dest``, with ``mutant``'s exact-once edits (a notebook's in its cells)."""
    reference = ROOT / "reference_solutions" / suite
    shutil.copytree(reference, dest, ignore=shutil.ignore_patterns(*SKIP))
    if mutant is None:
        return dest
    spec = tomllib.loads((reference / "mutants" / f"{mutant}.toml").read_text(encoding="utf-8"))
    for edit in spec.get("replace", []):
        target = dest / edit.get("file", spec.get("file", ""))
        text = target.read_text(encoding="utf-8")
        if text.count(edit["old"]) == 1:
            target.write_text(text.replace(edit["old"], edit["new"]), encoding="utf-8")
            continue
        nb = nbformat.read(target, as_version=4)  # the edit is of a cell's source, not of the notebook's JSON
        cells = [c for c in nb.cells if c.cell_type == "code" and c.source.count(edit["old"]) == 1]
        if len(cells) != 1:
            raise ValueError(f"mutant {mutant}: its edit does not match exactly once in {target.name}")
        cells[0].source = cells[0].source.replace(edit["old"], edit["new"])
        nbformat.write(nb, target)
    return dest


def zips(suite: str, mutants: int, work: Path) -> list[tuple[str, bytes]]:
    """(label, zip) for the reference and the first ``mutants`` mutants of ``suite``."""
    chosen: list[str | None] = [None, *mutant_names(suite)[:mutants]]
    return [
        (name or "reference", zip_folder(submission(suite, name, work / f"{suite}-{name or 'reference'}"), skip=SKIP))
        for name in chosen
    ]


def _ts(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("nan")


@dataclass
class Sample:
    """One graded submission: what the client waited and the service's phases."""

    label: str
    wait: float
    phases: dict[str, float]
    checks: dict[str, float]
    warm: bool
    score: str

    @classmethod
    def of(cls, label: str, wait: float, record: dict[str, Any]) -> Sample:
        report, stamps = record["report"] or {}, record["timestamps"]
        timings = report.get("timings", {})
        job = _ts(stamps["finished"]) - _ts(stamps["started"])
        phases = {
            "queue": _ts(stamps["started"]) - _ts(stamps["queued"]),
            "unpack": timings.get("unpack", float("nan")),
            "notebooks": timings.get("notebooks", float("nan")),
            "sandbox": timings.get("sandbox_start", float("nan")),
            "checks": timings.get("checks", float("nan")),
            "worker": job - timings.get("total", float("nan")),
        }
        checks = {f"{t['number']} {t['name']}": t["execution_time"] for t in report.get("tests", [])}
        warm = any(WARM_NOTE in s["notes"] for s in report.get("sandboxes", [])[:1])
        return cls(label, wait, phases, checks, warm, f"{report.get('score', '?')}/{report.get('max_score', '?')}")


@dataclass
class Row:
    """One suite in one mode."""

    suite: str
    mode: str
    samples: list[Sample] = field(default_factory=list)

    def summary(self, label: str | None = None) -> dict[str, Any]:
        chosen = [s for s in self.samples if label is None or s.label == label]
        waits = [s.wait for s in chosen]
        phases = {k: statistics.median(s.phases[k] for s in chosen) for k in chosen[0].phases} if chosen else {}
        checks = (
            {k: statistics.median(s.checks[k] for s in chosen if k in s.checks) for k in chosen[0].checks}
            if chosen
            else {}
        )
        return {
            "suite": self.suite,
            "mode": self.mode,
            "n": len(chosen),
            "median_s": quantile(waits, 0.5),
            "p95_s": quantile(waits, 0.95),
            "warm": sum(s.warm for s in chosen),
            "phases": phases,
            "checks": checks,
            "scores": sorted({f"{s.label} {s.score}" for s in chosen}),
        }


def run_mode(
    mode: str, suites: list[str], subs: dict[str, list[tuple[str, bytes]]], rounds: int, gap: float
) -> list[Row]:
    links = {suite: ROOT / "test_suites" / suite for suite in suites}
    # Both queues, as grader serve's default: CS224N (queue gpu, fallback cpu) is then graded, and kept warm, on gpu.
    env = {
        "GRADER_ENVS_DIR": str(SHARED_ENVS),
        "GRADER_RATE_LIMIT_COUNT": "10000",
        "GRADER_WORKER_QUEUES": "cpu,gpu",
        **MODES[mode],
    }
    rows = []
    with service(links, workers=1, **env) as svc:
        for suite in suites:
            assignment = assignment_id(suite)
            token = svc.students(assignment, 1, prefix=suite)[0]
            client = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
            # The student's view of a record leaves out the timings and sandbox notes: staff read them.
            staff = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.ta_token()}"}, timeout=120)
            row = Row(suite, mode)
            if mode == "warm":  # untimed: the pool retargets to this suite's profile
                _, first = upload(client, assignment, subs[suite][0][1])
                wait_done(staff, first["id"], poll=0.1)
            for _ in range(rounds):
                for label, data in subs[suite]:
                    time.sleep(gap)
                    _, answer = upload(client, assignment, data)
                    accepted = time.perf_counter()
                    record = wait_done(staff, answer["id"], poll=0.1)
                    row.samples.append(Sample.of(label, time.perf_counter() - accepted, record))
            client.close()
            staff.close()
            rows.append(row)
    if svc.orphans:
        raise RuntimeError(f"processes left behind after Ctrl-C: {svc.orphans}")
    return rows


def warm_memory(suites: list[str]) -> dict[str, float]:
    """MiB (PSS of the process tree) of one idle warm sandbox of each suite's profile."""
    from grader.config import Settings
    from grader.engine.runner import make_launcher, sandbox_spec
    from grader.engine.suites import load_suite
    from grader.sandbox.pool import WarmPool

    root = traversable_dir("grader-bench-memory-")
    settings = Settings(env="test", data_dir=root, envs_dir=SHARED_ENVS)  # type: ignore[call-arg]
    found = {}
    try:
        for suite in suites:
            loaded = load_suite(ROOT / "test_suites" / suite)
            spec = sandbox_spec(loaded, settings, root)
            queue = "gpu" if spec.gpu else "cpu"
            with WarmPool(make_launcher(settings), settings.scratch_dir, {queue: 1}, settings.timeouts) as pool:
                pool.target(spec)
                if not pool.wait_ready(queue, 300):
                    raise RuntimeError(f"no warm sandbox for {suite}")
                time.sleep(1)
                found[suite] = sum(_pss(pid) for pid in _tree(pool._idle[queue][0].process.popen.pid)) / 2**20
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return found


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        out.append(current := todo.pop())
        todo += children.get(current, [])
    return out


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", default=",".join(SUITES))
    parser.add_argument("--mutants", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="warm,cold")
    parser.add_argument("--gap", type=float, default=4, help="seconds between uploads (the warm pool refills)")
    parser.add_argument("--memory", action="store_true", help="measure one idle warm sandbox per suite")
    parser.add_argument("--otter", action="store_true", help="also run bench/otter_compare.py (needs its venv)")
    parser.add_argument("--json", type=Path, default=None, help="write every summary here")
    args = parser.parse_args(argv)
    header(
        "Per-suite figures through the service",
        "bench/suites.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    suites = [s for s in args.suites.split(",") if s]
    work = traversable_dir("grader-bench-suites-")
    try:
        subs = {suite: zips(suite, args.mutants, work) for suite in suites}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {"rows": []}
    if args.memory:
        result["warm_sandbox_mib"] = warm_memory(suites)
        print("idle warm sandbox, PSS MiB:", {k: round(v) for k, v in result["warm_sandbox_mib"].items()})
    rows = [row for mode in args.modes.split(",") for row in run_mode(mode, suites, subs, args.rounds, args.gap)]
    print(f"\n{'suite':10} {'mode':5} {'subm.':9} {'n':>3} {'warm':>4} {'median':>7} {'p95':>6}   phases (median s)")
    for row in rows:
        for label in [None, "reference"]:
            s = row.summary(label)
            result["rows"].append(s)
            phases = " ".join(f"{k} {v:.2f}" for k, v in s["phases"].items())
            slowest = max(s["checks"].items(), key=lambda kv: kv[1], default=("-", 0.0))
            print(
                f"{row.suite:10} {row.mode:5} {label or 'all':9} {s['n']:3} {s['warm']:4} {s['median_s']:7.2f} "
                f"{s['p95_s']:6.2f}   {phases}; slowest check {slowest[0]} {slowest[1]:.2f}"
            )
    for s in result["rows"][::2]:
        print(f"scores {s['suite']} {s['mode']}: {', '.join(s['scores'])}")
    if args.otter:
        from bench import otter_compare

        venv = Path("/tmp/grader-otter-venv")
        if (venv / "bin" / "otter").exists():
            result["otter"] = otter_compare.main(["--repeat", str(args.rounds), "--skip-env"])
        else:
            print(f"Otter: no venv at {venv}; build it with bench/otter_env.sh (network) and rerun with --otter")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
