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
    return ["".join(rng.choices(ALPHABET, k=rng.randint(low, high))) for _ in range(count)]


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


def decode_all(pairs: list[tuple[object, object]], itos: list[str], block_size: int) -> list[tuple[str, str]]:
    """``[decode(x, y, itos, block_size) for x, y in pairs]``, with the well-formed pairs decoded together.

    Tens of thousands of draws per grading: the shift and vocabulary tests run as one tensor operation per
    length, and the text comes from one lookup of every id's code point. A pair any test fails goes through
    :func:`decode` itself, so each result (a problem's wording included) is exactly decode's.
    """
    import torch

    out: list[tuple[str, str] | None] = [None] * len(pairs)
    by_length: dict[int, list[int]] = {}
    lengths = {n for n in (block_size - 1, block_size) if n > 0}
    for i, (x, y) in enumerate(pairs):
        # x.shape, not len(x): Tensor.__len__ is Python, and this runs for every draw
        if (
            isinstance(x, torch.Tensor)
            and isinstance(y, torch.Tensor)
            and x.dtype == torch.long
            and y.dtype == torch.long
            and x.dim() == 1
            and x.shape == y.shape
            and x.shape[0] in lengths
        ):
            by_length.setdefault(x.shape[0], []).append(i)
        else:
            out[i] = decode(x, y, itos, block_size)
    code_points = torch.tensor([ord(c) for c in itos], dtype=torch.int64)
    for length, rows in by_length.items():
        xs = torch.stack([pairs[i][0] for i in rows])  # type: ignore[misc]
        ys = torch.stack([pairs[i][1] for i in rows])  # type: ignore[misc]
        ids = torch.cat([xs, ys[:, -1:]], dim=1)
        ok = (
            (xs[:, 1:] == ys[:, :-1]).all(dim=1) & (ids.min(dim=1).values >= 0) & (ids.max(dim=1).values < len(itos))
        ).tolist()
        text = code_points[ids.clamp(0, len(itos) - 1)].to(torch.int32).numpy().tobytes().decode("utf-32-le")
        width = length + 1
        for j, i in enumerate(rows):
            out[i] = (
                (text[j * width : (j + 1) * width], "") if ok[j] else decode(pairs[i][0], pairs[i][1], itos, block_size)
            )
    return [r for r in out if r is not None]


def split_layout(masked_string: str) -> Item:
    """Split ``prefix MASK suffix MASK masked [MASK] PAD...`` into its parts (§7 of the spec)."""
    body = masked_string.rstrip(PAD)
    if PAD in body:
        return Item("", "", "", "PAD characters appear before the end of the string (padding must be one trailing run)")
    parts = body.split(MASK)
    if len(parts) == 4 and parts[3] == "":
        parts = parts[:3]
    if len(parts) != 3:
        return Item(
            "",
            "",
            "",
            f"expected 2 MASK characters (or a third right after the masked content), found {body.count(MASK)}",
        )
    prefix, suffix, masked = parts
    return Item(prefix, masked, suffix)


def draw(ds: object, indices: list[int], batch: int = 2000) -> list[object]:
    """``ds[i]`` for every index, in batches (one round trip per batch, pairs of tensors sent stacked)."""
    out: list[object] = []
    for start in range(0, len(indices), batch):
        out.extend(ds.getitems(indices[start : start + batch], stack=True))  # type: ignore[attr-defined]
    return out


def items_of(indices: list[int], draws: list[object], block_size: int, itos: list[str]) -> list[tuple[int, Item]]:
    """``(index, item)`` for each draw ``ds[index]``: decoded and split, a problem recorded per item."""
    pairs = [(k, (p[0], p[1])) for k, p in enumerate(draws) if isinstance(p, tuple | list) and len(p) == 2]
    decoded = dict(zip((k for k, _ in pairs), decode_all([p for _, p in pairs], itos, block_size), strict=True))
    items: list[tuple[int, Item]] = []
    for k, (idx, pair) in enumerate(zip(indices, draws, strict=True)):
        if k not in decoded:
            items.append((idx, Item("", "", "", f"ds[{idx}] should return a pair (x, y), got {type(pair).__name__}")))
            continue
        text, problem = decoded[k]
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
