"""bench/reexec.py and bench/sandbox_overhead.py run tiny, so the scripts cannot rot."""

from __future__ import annotations

import sys

import pytest

from bench import reexec, sandbox_overhead


def test_reexec_benchmark_decodes_both_models_and_the_handouts_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The script imports the handout's top-level `model` and `utils`: keep them out of later tests.
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        summary = reexec.main(["--questions", "3", "--repeat", "1", "--handout-questions", "1", "--threads", "1"])
    finally:
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(str(reexec.SRC)):
                del sys.modules[name]
    assert summary["vanilla"] > 0 and summary["perceiver"] > 0
    assert summary["both"] == summary["vanilla"] + summary["perceiver"]
    assert summary["vanilla_handout_projected"] > 0 and summary["perceiver_handout_projected"] > 0
    assert "3 questions" in capsys.readouterr().out
    assert not any(str(getattr(m, "__file__", None) or "").startswith(str(reexec.SRC)) for m in sys.modules.values())


@pytest.mark.bwrap
def test_sandbox_overhead_benchmark_starts_both_agents_and_echoes_a_tensor(capsys: pytest.CaptureFixture[str]) -> None:
    summary = sandbox_overhead.main(["--repeat", "1", "--calls", "20"])
    assert summary["sandbox_start_ms"] > 0 and summary["unsandboxed_start_ms"] > 0
    assert summary["rpc_us"] > 0 and summary["echo_mib_s"] > 0
    assert "bwrap sandbox vs same agent unsandboxed" in capsys.readouterr().out
