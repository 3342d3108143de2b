"""Sandbox fixed cost and RPC cost, measured side by side in one run (machines are noisy: read ratios).

    .venv/bin/python bench/sandbox_overhead.py [--repeat 5]

Prints, for the same interpreter and the same machine:
- spawn + ``import torch`` of the agent in a bubblewrap sandbox vs the same agent unsandboxed, and vs
  a bare ``python -c 'import torch'``;
- one RPC round trip (a trivial call) vs a plain in-process call;
- tensor transfer throughput through the RPC (echo of a 4 MiB float32 tensor).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from grader.models.limits import Timeouts
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.launcher import BwrapLauncher, InsecureSubprocessLauncher, SandboxSpec

MODULE = "def noop(x=None):\n    return x\n\ndef echo(t):\n    return t\n"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)

    top = Path(tempfile.mkdtemp(prefix="grader-bench-", dir="/tmp"))
    top.chmod(0o711)  # the sandbox's own uid must reach the submission, as in the engine
    root = top / "submission"
    root.mkdir(mode=0o755)
    (root / "bench_mod.py").write_text(MODULE)
    (root / "bench_mod.py").chmod(0o644)
    launcher = BwrapLauncher()
    try:
        bare, plain, boxed = [], [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-c", "import torch"], check=True)
            bare.append(time.perf_counter() - t)
            for runner, samples in ((InsecureSubprocessLauncher(), plain), (launcher, boxed)):
                session = SandboxSession(runner, SandboxSpec(root, (".",)), Timeouts())
                t = time.perf_counter()
                session.ensure_started()  # spawn + the agent's hello, which imports torch
                samples.append(time.perf_counter() - t)
                session.close()

        session = SandboxSession(launcher, SandboxSpec(root, (".",)), Timeouts())
        module = Student(session).module("bench_mod")
        module.noop(1)
        t = time.perf_counter()
        for i in range(args.calls):
            module.noop(i)
        rpc = (time.perf_counter() - t) / args.calls

        def local(x: int) -> int:
            return x

        t = time.perf_counter()
        for i in range(args.calls):
            local(i)
        inproc = (time.perf_counter() - t) / args.calls

        tensor = torch.randn(1024 * 1024)  # 4 MiB
        echoes = []
        for _ in range(20):
            t = time.perf_counter()
            back = module.echo(tensor)
            echoes.append(time.perf_counter() - t)
        assert torch.equal(back, tensor)
        session.close()
    finally:
        shutil.rmtree(top, ignore_errors=True)

    mib_per_s = 2 * 4 / statistics.median(echoes)  # there and back
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {args.repeat} spawns, {args.calls} calls")
    print(f"{'measure':44} {'value':>12} {'baseline':>12} {'ratio':>8}")
    print(f"{'agent start (spawn + import torch), ms:':44}")
    print(
        f"{'  bwrap sandbox vs same agent unsandboxed':44} {_median_ms(boxed):12.0f} {_median_ms(plain):12.0f} {_median_ms(boxed) / _median_ms(plain):8.2f}"
    )
    print(
        f"{'  bwrap sandbox vs bare python -c import torch':44} {_median_ms(boxed):12.0f} {_median_ms(bare):12.0f} {_median_ms(boxed) / _median_ms(bare):8.2f}"
    )
    print(f"{'  sandbox fixed cost over unsandboxed agent':44} {_median_ms(boxed) - _median_ms(plain):12.0f}")
    print(f"{'RPC round trip vs in-process call (us)':44} {rpc * 1e6:12.1f} {inproc * 1e6:12.3f} {rpc / inproc:8.0f}")
    print(f"{'tensor echo, 4 MiB each way (MiB/s)':44} {mib_per_s:12.0f}")
    return {
        "sandbox_start_ms": _median_ms(boxed),
        "unsandboxed_start_ms": _median_ms(plain),
        "bare_import_torch_ms": _median_ms(bare),
        "rpc_us": rpc * 1e6,
        "echo_mib_s": mib_per_s,
    }


if __name__ == "__main__":
    main()
