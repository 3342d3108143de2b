"""The grader's own corpora and the decoding of span-corruption items (trusted side only).

The handout says the autograder uses staff data: the checks build ``CharCorruptionDataset`` from these
texts inside the sandbox, then decode and judge every item here, outside it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

PAD = "\u25a1"
MASK = "\u2047"
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,.'-"


def long_documents(rng: random.Random, count: int = 64, low: int = 300, high: int = 520) -> list[str]:
    """Random-letter documents long enough that truncation, not the document, bounds every span."""
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high))) for _ in range(count)]


def short_documents() -> list[str]:
    """Documents of length 0..5 plus a few normal ones, to exercise the edge cases of the spec."""
    return ["", "a", "ab", "abc", "abcd", "abcde", "The quick brown fox jumps over the lazy dog.", ""]


def wiki_text(data: Path) -> str:
    return (data / "wiki.txt").read_text(encoding="utf-8")


def vocabulary(text: str) -> list[str]:
    """itos of the handout: PAD, MASK, then the corpus's sorted distinct characters."""
    return [PAD, MASK, *sorted(set(text))]


@dataclass(frozen=True)
class Item:
    """One decoded draw: the three parts, and what was wrong with the layout (empty when fine)."""

    prefix: str
    masked: str
    suffix: str
    problem: str = ""

    @property
    def kept(self) -> str:
        return self.prefix + self.masked + self.suffix


def decode(x: object, y: object, itos: list[str], block_size: int) -> tuple[str, str]:
    """``masked_string = x + last(y)`` as text, or a problem description and an empty string."""
    import torch

    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        return "", f"expected (x, y) tensors, got ({type(x).__name__}, {type(y).__name__})"
    if x.dtype != torch.long or y.dtype != torch.long:
        return "", f"expected torch.long tensors, got {x.dtype} and {y.dtype}"
    if x.dim() != 1 or y.dim() != 1 or len(x) != len(y) or len(x) not in (block_size - 1, block_size):
        return "", (
            f"expected 1-D x and y of equal length {block_size - 1} (or {block_size}), "
            f"got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if len(x) and not torch.equal(x[1:], y[:-1]):
        return "", "y is not x shifted by one position (x[1:] != y[:-1])"
    ids = torch.cat([x, y[-1:]]).tolist()
    if min(ids) < 0 or max(ids) >= len(itos):
        return "", f"token ids outside the vocabulary [0, {len(itos)})"
    return "".join(itos[i] for i in ids), ""


def split_layout(masked_string: str) -> Item:
    """Split ``prefix MASK suffix MASK masked [MASK] PAD...`` into its parts (§7 of the spec)."""
    body = masked_string.rstrip(PAD)
    if PAD in body:
        return Item("", "", "", "PAD characters appear before the end of the string (padding must be one trailing run)")
    parts = body.split(MASK)
    if len(parts) == 4 and parts[3] == "":
        parts = parts[:3]
    if len(parts) != 3:
        return Item("", "", "", f"expected 2 MASK characters (or a third right after the masked content), found {body.count(MASK)}")
    prefix, suffix, masked = parts
    return Item(prefix, masked, suffix)


def draw(ds: object, indices: list[int], batch: int = 2000) -> list[object]:
    """``ds[i]`` for every index, in batches (one round trip per batch)."""
    out: list[object] = []
    for start in range(0, len(indices), batch):
        out.extend(ds.getitems(indices[start : start + batch]))  # type: ignore[attr-defined]
    return out


def draws_as_items(ds: object, docs: list[str], n: int, block_size: int, itos: list[str]) -> list[tuple[int, Item]]:
    """``n`` draws cycling over ``docs``; each decoded and split, problems recorded per item."""
    indices = [i % len(docs) for i in range(n)]
    items: list[tuple[int, Item]] = []
    for idx, pair in zip(indices, draw(ds, indices), strict=True):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            items.append((idx, Item("", "", "", f"ds[{idx}] should return a pair (x, y), got {type(pair).__name__}")))
            continue
        text, problem = decode(pair[0], pair[1], itos, block_size)
        items.append((idx, Item("", "", "", problem) if problem else split_layout(text)))
    return items


def longest_piece(masked_string: str) -> str:
    """The longest run of text between MASK/PAD characters: a piece of the document in any honest item."""
    return max(masked_string.replace(PAD, MASK).split(MASK), key=len)


def share_from_documents(pieces: list[tuple[str, str]], least: int = 3) -> float:
    """Share of (piece, document) pairs whose piece has ``least`` characters or more and occurs in the
    document: items built without the document (a constant, a memorised string) score near 0 on the
    grader's random-letter corpora, honest ones near 1, whatever their other bugs."""
    if not pieces:
        return 0.0
    return sum(len(piece) >= least and piece in doc for piece, doc in pieces) / len(pieces)


def share_masked(items: list[Item]) -> float:
    """Share of items with k ≥ 8 whose masked content is non-empty (0 when there are none)."""
    eligible = [it for it in items if len(it.kept) >= 8]
    return sum(it.masked != "" for it in eligible) / len(eligible) if eligible else 0.0
