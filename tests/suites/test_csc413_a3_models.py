"""CSC413 A3's cache-gated checks with a fake operator model cache: they run for real and grade correctly.

The cache holds tiny random models saved by ``transformers`` (``save_pretrained``) under the layout an
operator's ``HF_HOME`` has (``hub/models--org--name/snapshots/<rev>/`` + ``refs/main``): a BERT saved as
``tbs17/MathBERT`` with a word-level tokenizer, and a CLIP saved as ``openai/clip-vit-base-patch32`` with a
character-level tokenizer and a small image processor. The suite is copied with synthetic images and the
target chosen by ranking them here with the same tiny CLIP. Nothing touches the network.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_suite
from tests.utils.builders import settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

REFERENCE = PROJECT_ROOT / "reference_solutions" / "csc413_a3"
REVISION = "0123456789abcdef0123456789abcdef01234567"
WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty plus minus"
).split()
CANDIDATES = ["a photo of a dog", "zzz", "green", "blue sky", "a b c", "orange", "fish", "a lake"]


def _snapshot(hf_home: Path, model_id: str) -> Path:
    base = hf_home / "hub" / ("models--" + model_id.replace("/", "--"))
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(REVISION)
    snapshot = base / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    return snapshot


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values (the base of a byte-level BPE vocabulary)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(extra))]


def build_cache(hf_home: Path) -> None:
    """Tiny random MathBERT and CLIP, saved as an operator's offline cache would hold them."""
    import transformers as tr

    torch.manual_seed(0)
    bert = _snapshot(hf_home, "tbs17/MathBERT")
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tr.BertTokenizer(vocab=vocab).save_pretrained(bert)
    tr.BertModel(
        tr.BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=16,
        )
    ).save_pretrained(bert)
    clip = _snapshot(hf_home, "openai/clip-vit-base-patch32")
    chars = _byte_chars()
    bpe = {c: i for i, c in enumerate(chars)} | {c + "</w>": len(chars) + i for i, c in enumerate(chars)}
    bpe |= {"<|startoftext|>": len(bpe), "<|endoftext|>": len(bpe) + 1}
    tokenizer = tr.CLIPTokenizer(vocab=bpe, merges=[])
    images = tr.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    tr.CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(clip)
    end = bpe["<|endoftext|>"]
    config = tr.CLIPConfig(
        text_config={
            "vocab_size": len(bpe),
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 77,
            "bos_token_id": bpe["<|startoftext|>"],
            "eos_token_id": end,
            "pad_token_id": end,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        projection_dim=16,
    )
    tr.CLIPModel(config).save_pretrained(clip)
    for path in [hf_home, *hf_home.rglob("*")]:  # the sandbox's own uid reads it (read-only)
        path.chmod(0o755 if path.is_dir() else 0o644)


def top_image(hf_home: Path, caption: str, images: list[Path]) -> str:
    """The file the tiny CLIP ranks first for ``caption``, computed independently of the suite."""
    from transformers import CLIPModel, CLIPProcessor

    snapshot = hf_home / "hub" / "models--openai--clip-vit-base-patch32" / "snapshots" / REVISION
    model = CLIPModel.from_pretrained(snapshot, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(snapshot, local_files_only=True)
    with torch.no_grad():
        inputs = processor(
            text=[caption], images=[Image.open(p).convert("RGB") for p in images], return_tensors="pt", padding=True
        )
        return images[int(model(**inputs).logits_per_text.argmax())].name


def reference_caption() -> str:
    nb = json.loads((REFERENCE / "clip.ipynb").read_text())
    source = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    found = re.search(r'^caption = "(.*)"$', source, re.MULTILINE)
    assert found
    return found.group(1)


def submission_with_caption(dest: Path, caption: str) -> Path:
    shutil.copytree(REFERENCE, dest, ignore=shutil.ignore_patterns("mutants", "_source", "__pycache__", "README.md"))
    nb = json.loads((dest / "clip.ipynb").read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if text.find("caption = ") >= 0 and cell["cell_type"] == "code":
            cell["source"] = re.sub(r'^caption = ".*"$', f"caption = {caption!r}", text, flags=re.MULTILINE)
    (dest / "clip.ipynb").write_text(json.dumps(nb))
    dest.chmod(0o755)
    return dest


def only(suite: Suite, numbers: set[str]) -> Suite:
    return dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in numbers))


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-csc413-cache-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cache(workspace: Path) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        build_cache(workspace / "hf")
    return workspace / "hf"


@pytest.fixture(scope="module")
def suite_with_images(workspace: Path, cache: Path) -> tuple[Suite, list[Path]]:
    """The suite, copied with synthetic images; the target is the one CLIP ranks first for our caption."""
    folder = workspace / "suite"
    shutil.copytree(PROJECT_ROOT / "test_suites" / "csc413_a3", folder, ignore=shutil.ignore_patterns("__pycache__"))
    images = folder / "data" / "clip" / "images"
    images.mkdir()
    for i in range(8):
        pixels = np.random.default_rng(i).integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"n09256479_{i}.png")
    paths = sorted(images.iterdir())
    (folder / "data" / "clip" / "target.txt").write_text(top_image(cache, reference_caption(), paths) + "\n")
    return load_suite(folder), paths


def test_gated_checks_run_and_grade_with_the_cache(
    workspace: Path, cache: Path, suite_with_images: tuple[Suite, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    suite, images = suite_with_images
    settings = settings_for(workspace / "var", hf_home=cache)
    report = grade(only(suite, {"3.2", "4.2.2"}), REFERENCE, settings)
    results = {t.number: t for t in report.tests}
    assert results["4.2.2"].result == "passed", results["4.2.2"].output
    # The real fine-tune procedure ran on the cached (tiny, random) MathBERT and was judged by the threshold.
    mathbert = results["3.2"]
    assert mathbert.result in ("passed", "failed"), mathbert.output
    accuracies = re.search(r"validation accuracy per epoch: ([\d.]+), ([\d.]+), ([\d.]+)", mathbert.output)
    assert accuracies, mathbert.output
    assert (mathbert.result == "passed") == (float(accuracies.group(3)) >= 0.80)

    target = (suite.path / "data" / "clip" / "target.txt").read_text().strip()
    other = next(c for c in CANDIDATES if top_image(cache, c, images) != target)
    report = grade(only(suite, {"4.2.2"}), submission_with_caption(workspace / "other", other), settings)
    assert report.tests[0].result == "failed"
    assert f"the target image is {target}" in report.tests[0].output


def test_with_the_model_but_without_the_images_the_check_is_pending(
    workspace: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    suite = load_suite(PROJECT_ROOT / "test_suites" / "csc413_a3")
    report = grade(only(suite, {"4.2.1", "4.2.2"}), REFERENCE, settings_for(workspace / "var", hf_home=cache))
    assert [t.result for t in report.tests] == ["passed", "not_run"]
    assert "not gradable on this worker: needs the assignment's images" in report.tests[1].output
    assert reference_caption() in report.tests[1].output
