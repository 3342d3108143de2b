"""The CS224N re-execution's trusted decoding: all 437 test questions, both models, at the handout's sizes.

    .venv/bin/python bench/reexec.py [--questions 437] [--repeat 3] [--threads N]

Builds the handout's vanilla GPT (3,323,392 parameters) and Perceiver (bottleneck 64) with weights drawn
here, and times ``decoding.predict`` over the test questions of test_suites/cs224n_a5/data (greedy, 32
characters each, as the given evaluate branch decodes). For comparison it also times the handout's own
way (``utils.sample``: the whole prefix re-run for every character, one question at a time) on a few
questions and projects it to the same count. Prints the median seconds of each.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.authoring import trusted_weights  # noqa: E402
from grader.engine.suites import load_assignment  # noqa: E402

SUITE = ROOT / "test_suites"
DATA = SUITE / "cs224n_a5" / "data"
SRC = ROOT / "reference_solutions" / "cs224n_a5" / "src"


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=437)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--handout-questions", type=int, default=4, help="questions decoded the handout's way (0: skip)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    assert load_assignment(SUITE, "cs224n-a5").checks
    decoding = importlib.import_module("grader_suite_cs224n_a5.decoding")
    reexec = importlib.import_module("grader_suite_cs224n_a5.checks_reexec")
    sys.path.insert(0, str(SRC))
    model, utils = importlib.import_module("model"), importlib.import_module("utils")
    stoi, itos = decoding.vocabulary((DATA / "wiki.txt").read_text(encoding="utf-8"))
    questions = (DATA / "birth_test_inputs.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    prompts = [q.split("\t")[0] + decoding.MASK for q in questions][: args.questions]
    summary: dict[str, float] = {}
    print(f"torch threads: {torch.get_num_threads()}; {len(prompts)} questions")
    for variant, perceiver in (("vanilla", False), ("perceiver", True)):
        config = model.GPTConfig(
            len(itos), 128, n_layer=4, n_head=8, n_embd=256, perceiver=perceiver, bottleneck_dim=64
        )
        gpt = model.GPT(config).eval()
        shapes = {k: tuple(v.shape) for k, v in gpt.state_dict().items() if not k.endswith("attn.mask")}
        gains = [k for k in shapes if k.endswith("weight") and (".ln" in k or k.startswith("ln_f"))]
        gpt.load_state_dict(trusted_weights(shapes, seed=1, around_one=gains), strict=False)
        state = dict(gpt.state_dict())
        arch = decoding.architecture(state, len(itos), perceiver)
        forms = reexec.DEFAULT_FORMULATIONS if perceiver else None
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            decoding.predict(state, arch, prompts, stoi, itos, forms)
            times.append(time.perf_counter() - started)
        summary[variant] = statistics.median(times)
        line = f"{variant:9s} trusted decoding, {len(prompts)} questions: {summary[variant]:6.2f} s (median of {args.repeat})"
        if args.handout_questions:
            started = time.perf_counter()
            for prompt in prompts[: args.handout_questions]:
                x = torch.tensor([stoi[c] for c in prompt])[None]
                utils.sample(gpt, x, decoding.STEPS, sample=False)
            per = (time.perf_counter() - started) / args.handout_questions
            summary[f"{variant}_handout_projected"] = per * len(prompts)
            line += f"; the handout's utils.sample: {per:.2f} s per question, {per * len(prompts):.0f} s projected"
        print(line, flush=True)
    summary["both"] = summary["vanilla"] + summary["perceiver"]
    print(f"both models: {summary['both']:.2f} s (target <= 20 s on 2 cores)")
    return summary


if __name__ == "__main__":
    main()
