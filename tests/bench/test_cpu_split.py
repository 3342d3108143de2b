"""bench/cpu_split.py: CPU time is found in the kernel's accounting and given to the right part."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time

from bench.cpu_split import CpuWindow

_SPIN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {seconds}: pass\n"


def _spin(seconds: float) -> None:
    started = time.process_time()
    while time.process_time() - started < seconds:
        pass


def test_a_process_named_as_the_api_counts_as_the_api_and_the_benchmark_as_clients() -> None:
    window = CpuWindow()
    window.start()
    # "grader api" in its command line, alive when the window closes: its threads are read directly.
    code = _SPIN.format(seconds=0.3) + "print('done', flush=True)\ntime.sleep(60)\n"
    with subprocess.Popen([sys.executable, "-c", code, "grader api"], stdout=subprocess.PIPE, text=True) as api:
        try:
            assert api.stdout is not None and api.stdout.readline().strip() == "done"
            # A client process that ends inside the window: counted through its parent, this process.
            client = multiprocessing.get_context("fork").Process(target=_spin, args=(0.3,))
            client.start()
            client.join()
            split = window.stop()
        finally:
            api.kill()
    cores = os.cpu_count() or 1
    api_seconds = split.shares["api"] * split.seconds * cores
    client_seconds = split.shares["clients"] * split.seconds * cores
    # No upper bound for the API: any other process on the machine running `grader api` counts there too.
    assert api_seconds >= 0.25  # the 0.3 s it spun, and its start-up
    assert 0.25 <= client_seconds <= 0.8  # to the clock tick; only this process and its children are clients
    # No bound on the sum either: a process reaped inside the window counts its whole life through its
    # parent (other tests' sandboxes, on a busy machine), so "other" and "grading" can exceed the window.
    assert all(share >= 0 for share in split.shares.values())
    assert 0.0 <= split.api_waiting <= 1.0
    assert set(split.as_dict()) >= {"cpu_api", "cpu_grading", "cpu_clients", "api_waiting_for_cpu"}
