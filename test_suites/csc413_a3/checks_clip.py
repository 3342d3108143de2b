"""Part 4 Q2 (clip.ipynb): the caption that makes CLIP retrieve the handout's target image.

The caption is plain data, so it is read from the sandbox and ranked here, in the trusted process, with
CLIP loaded from the operator's read-only model cache (``openai/clip-vit-base-patch32``, the Hugging Face
copy of the handout's ``ViT-B/32``) over the images the operator placed under ``data/clip/`` (see the
README there). Without the model or the images the check is not run and stays pending for a TA.
"""

from __future__ import annotations

from pathlib import Path

import torch

from grader.authoring import Feedback, NotGradable, Student, StudentCodeError, check, fail, raised

CLIP_MODEL = "openai/clip-vit-base-patch32"
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
TAGS = ["clip.ipynb", "part 4"]


def _caption(student: Student) -> str:
    try:
        caption = student.module("clip_nb").caption
    except StudentCodeError as exc:
        fail(raised(exc))
    if not isinstance(caption, str):
        fail(f"`caption` should be a string, got {type(caption).__name__}")
    if not caption.strip():
        fail("`caption` is empty: write the caption that makes CLIP retrieve the target image.")
    return caption


@check(name="CLIP: a caption is given", number="4.2.1", points=0, tags=TAGS, timeout=60)
def caption_given(student: Student, feedback: Feedback) -> None:
    """``caption`` is a non-empty module-level string (the starter's is empty)."""
    caption = _caption(student)
    feedback.note(f"Your caption: {caption[:300]!r}")


def snapshot(model_cache: Path, model_id: str) -> Path:
    """The cached snapshot of ``model_id`` that ``refs/main`` names (or the only one)."""
    root = model_cache / "hub" / ("models--" + model_id.replace("/", "--"))
    ref = root / "refs" / "main"
    if ref.is_file() and (root / "snapshots" / ref.read_text().strip()).is_dir():
        return root / "snapshots" / ref.read_text().strip()
    found = sorted(p.parent for p in (root / "snapshots").glob("*/config.json"))
    if not found:
        raise NotGradable(f"needs model cache: {model_id} has no snapshot in the model cache")
    return found[-1]


@check(
    name="CLIP: the caption makes CLIP rank the target image first",
    number="4.2.2",
    points=8,
    tags=[*TAGS, "model cache"],
    timeout=300,
    models=[CLIP_MODEL],
)
def caption_retrieves(student: Student, data: Path, model_cache: Path | None, feedback: Feedback) -> None:
    """Softmax over the class folder's images of CLIP's caption-image similarity: the arg-max is the target file."""
    caption = _caption(student)
    folder = data / "clip"
    images = sorted(p for p in (folder / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    target_file = folder / "target.txt"
    if model_cache is None:
        raise NotGradable(f"needs model cache ({CLIP_MODEL}). Caption for a TA: {caption[:300]!r}")
    if not images or not target_file.is_file():
        raise NotGradable(
            "needs the assignment's images (Tiny-ImageNet class n09256479 and the target's name under "
            f"the suite's data/clip/). Caption for a TA: {caption[:300]!r}"
        )
    target = target_file.read_text(encoding="utf-8").strip()
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    path = snapshot(model_cache, CLIP_MODEL)
    model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(path, local_files_only=True)
    tokens = processor.tokenizer(caption)["input_ids"]
    limit = model.config.text_config.max_position_embeddings
    if len(tokens) > limit:
        fail(f"The caption is {len(tokens)} CLIP tokens long; CLIP reads at most {limit}. Shorten it.")
    pictures = []
    for p in images:
        with Image.open(p) as image:
            pictures.append(image.convert("RGB"))
    with torch.no_grad():
        inputs = processor(text=[caption], images=pictures, return_tensors="pt", padding=True)
        probs = model(**inputs).logits_per_text.softmax(dim=-1)[0]
    order = torch.argsort(probs, descending=True).tolist()
    best = images[order[0]].name
    feedback.note(f"CLIP's top image for your caption: {best} (probability {float(probs[order[0]]):.3f}).")
    if best != target:
        rank = next((r + 1 for r, i in enumerate(order) if images[i].name == target), None)
        where = f"ranks it {rank} of {len(images)}" if rank else "did not find it among the images"
        fail(
            f"CLIP ranks {best} first for your caption; the target image is {target} (CLIP {where}). "
            "Describe what distinguishes the target image."
        )
