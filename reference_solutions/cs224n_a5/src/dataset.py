"""Datasets for CS224N 2022-23 assignment 5.

NameDataset (part b, given) turns "question<TAB>place" lines into finetuning
examples. CharCorruptionDataset (part e) turns wiki.txt into span-corruption
pretraining examples: a random prefix of each document with one span cut out
and moved to the end, e.g.

    "Khatchig Mouradian is a jour"  ->  "Khatchig ⁇ is a jour⁇Mouradian□□□..."

The model learns to predict the text after the second MASK (the missing span).
"""
import argparse
import random

import torch
from torch.utils.data import Dataset

PAD_CHAR = "\u25A1"   # □, id 0, ignored by the loss
MASK_CHAR = "\u2047"  # ⁇, id 1


class NameDataset(Dataset):
    """Finetuning data: x = "question⁇place⁇□□..." minus its last char, loss only on the answer."""

    def __init__(self, pretraining_dataset, data):
        self.MASK_CHAR = pretraining_dataset.MASK_CHAR
        self.PAD_CHAR = pretraining_dataset.PAD_CHAR
        self.itos = pretraining_dataset.itos
        self.stoi = pretraining_dataset.stoi
        self.block_size = pretraining_dataset.block_size
        # drop non-ASCII characters so every character is in the vocabulary
        self.data = data.encode("utf-8").decode("ascii", errors="ignore").split("\n")

    def __len__(self):
        return len(self.data) - 1  # the file ends with a newline

    def __getitem__(self, idx):
        question, place = self.data[idx].split("\t")
        s = question + self.MASK_CHAR + place + self.MASK_CHAR
        s = s + self.PAD_CHAR * (self.block_size - len(s))                    # length block_size
        y = self.PAD_CHAR * (len(question) - 1) + s[len(question):]           # no loss on the question
        x = s[:-1]                                                            # length block_size - 1
        x = torch.tensor([self.stoi[c] for c in x], dtype=torch.long)
        y = torch.tensor([self.stoi[c] for c in y], dtype=torch.long)
        return x, y


class CharCorruptionDataset(Dataset):
    """Pretraining data: one span-corruption example per line of the corpus."""

    PAD_CHAR = PAD_CHAR
    MASK_CHAR = MASK_CHAR

    def __init__(self, data, block_size):
        chars = sorted(set(data))
        assert self.PAD_CHAR not in chars and self.MASK_CHAR not in chars
        chars = [self.PAD_CHAR, self.MASK_CHAR] + chars  # PAD -> 0, MASK -> 1
        self.stoi = {ch: i for i, ch in enumerate(chars)}
        self.itos = {i: ch for i, ch in enumerate(chars)}
        print("data has %d characters, %d unique." % (len(data), len(chars)))
        self.block_size = block_size
        self.vocab_size = len(chars)
        self.data = data.split("\n")

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        document = self.data[idx]

        # 1. keep a random-length prefix of the document, 4 <= k <= 7/8 of the block
        max_len = int(self.block_size * 7 / 8)  # 112 at block 128, 43 at block 50
        k = random.randint(4, max_len)
        truncated = document[:k]  # a document shorter than k is kept whole

        # 2. cut out a span of length 1..n/2 (mean about n/4) at a random position
        n = len(truncated)
        span_len = random.randint(1, max(1, n // 2))
        start = random.randint(0, max(0, n - span_len))
        prefix = truncated[:start]
        masked = truncated[start:start + span_len]
        suffix = truncated[start + span_len:]

        # 3. prefix ⁇ suffix ⁇ masked, padded (and, for tiny blocks, cut) to block_size
        s = prefix + self.MASK_CHAR + suffix + self.MASK_CHAR + masked
        s = (s + self.PAD_CHAR * self.block_size)[:self.block_size]

        # 4. next-character prediction: y is x shifted by one
        x = torch.tensor([self.stoi[c] for c in s[:-1]], dtype=torch.long)  # (block_size - 1,)
        y = torch.tensor([self.stoi[c] for c in s[1:]], dtype=torch.long)   # (block_size - 1,)
        return x, y


if __name__ == "__main__":
    # debug helper: print a few decoded examples of either dataset
    argp = argparse.ArgumentParser()
    argp.add_argument("dataset_type", choices=["namedata", "charcorruption"])
    args = argp.parse_args()

    corruption_dataset = CharCorruptionDataset(open("wiki.txt", encoding="utf-8").read(), 128)
    if args.dataset_type == "namedata":
        ds = NameDataset(corruption_dataset, open("birth_places_train.tsv", encoding="utf-8").read())
    else:
        ds = corruption_dataset
    for i in range(4):
        x, y = ds[i]
        print("x:", "".join(ds.itos[int(c)] for c in x))
        print("y:", "".join(ds.itos[int(c)] for c in y))
