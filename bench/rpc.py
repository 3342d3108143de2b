"""RPC round-trip latency and tensor throughput of the sandbox protocol, side by side with their floors.

    .venv/bin/python bench/rpc.py [--calls 2000] [--sizes 4096,1048576,16777216,67108864]

Measured in one run against one real bwrap sandbox:
- round trip of a trivial call (``noop(i)``), p50/p99, vs a bare pipe ping-pong of the same number of
  bytes between two processes (the operating system's floor) and vs a plain in-process call;
- tensor echo (there and back) at several sizes, MiB/s counting both directions, vs an in-process
  ``clone()`` of the same tensor (memory bandwidth: the floor for any copy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import header, quantile, traversable_dir  # noqa: E402
from grader.models.limits import SandboxLimits, Timeouts  # noqa: E402
from grader.sandbox.client import SandboxSession, Student  # noqa: E402
from grader.sandbox.launcher import BwrapLauncher, SandboxSpec  # noqa: E402

MODULE = "def noop(x=None):\n    return x\n\ndef echo(t):\n    return t\n"


def pipe_pingpong(calls: int, size: int) -> list[float]:
    """Round trips of ``size`` bytes between this process and a forked child over two pipes."""
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child echoes until the pipe closes
        os.close(down_w)
        os.close(up_r)
        while data := os.read(down_r, 65536):
            os.write(up_w, data)
        os._exit(0)
    os.close(down_r)
    os.close(up_w)
    payload = b"x" * size
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        os.write(down_w, payload)
        got = 0
        while got < size:
            got += len(os.read(up_r, 65536))
        samples.append(time.perf_counter() - t)
    os.close(down_w)
    os.waitpid(pid, 0)
    os.close(up_r)
    return samples


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--sizes", default="4096,1048576,16777216,67108864")
    parser.add_argument("--echoes", type=int, default=10)
    args = parser.parse_args(argv)
    header("RPC latency and tensor throughput", "bench/rpc.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    sizes = [int(s) for s in args.sizes.split(",")]

    top = traversable_dir("grader-bench-rpc-")
    root = top / "submission"
    root.mkdir(mode=0o755)
    (root / "bench_mod.py").write_text(MODULE)
    (root / "bench_mod.py").chmod(0o644)
    limits = SandboxLimits().merged({"memory_bytes": 8 * 1024**3, "wall_seconds": 600})
    session = SandboxSession(BwrapLauncher(), SandboxSpec(root, (".",), limits), Timeouts(per_call=120))
    summary: dict[str, float] = {}
    try:
        module = Student(session).module("bench_mod")
        noop = module.noop
        module.call_method("noop", 0)
        rpc = []
        for i in range(args.calls):
            t = time.perf_counter()
            module.call_method("noop", i)
            rpc.append(time.perf_counter() - t)
        request_bytes = 80  # about the size of one encoded noop request frame
        pipe = pipe_pingpong(args.calls, request_bytes)

        def local(x: int) -> int:
            return x

        t = time.perf_counter()
        for i in range(args.calls):
            local(i)
        inproc = (time.perf_counter() - t) / args.calls
        print(f"\n{'round trip (trivial call)':36} {'p50 us':>9} {'p99 us':>9} {'vs pipe':>8}")
        print(
            f"{'RPC call_method(noop, i)':36} {quantile(rpc, 0.5) * 1e6:9.1f} {quantile(rpc, 0.99) * 1e6:9.1f} {quantile(rpc, 0.5) / quantile(pipe, 0.5):8.1f}"
        )
        print(
            f"{'bare pipe ping-pong, 80 bytes':36} {quantile(pipe, 0.5) * 1e6:9.1f} {quantile(pipe, 0.99) * 1e6:9.1f} {1:8.1f}"
        )
        print(f"{'in-process call':36} {inproc * 1e6:9.3f}")
        summary["rpc_p50_us"] = quantile(rpc, 0.5) * 1e6
        summary["pipe_p50_us"] = quantile(pipe, 0.5) * 1e6
        del noop

        print(f"\n{'tensor echo (float32, both ways)':36} {'MiB/s':>9} {'clone MiB/s':>12} {'ratio':>7}")
        for size in sizes:
            tensor = torch.randn(size // 4)
            echo, clone = [], []
            for _ in range(args.echoes):
                t = time.perf_counter()
                back = module.echo(tensor)
                echo.append(time.perf_counter() - t)
                t = time.perf_counter()
                tensor.clone()
                clone.append(time.perf_counter() - t)
            assert torch.equal(back, tensor)
            rate = 2 * size / 2**20 / statistics.median(echo)
            floor = 2 * size / 2**20 / statistics.median(clone)
            label = f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size / 1024:g} KiB"
            print(f"{label:36} {rate:9.0f} {floor:12.0f} {rate / floor:7.3f}")
            summary[f"echo_{size}_mib_s"] = rate
    finally:
        session.close()
        shutil.rmtree(top, ignore_errors=True)
    return summary


if __name__ == "__main__":
    main()
