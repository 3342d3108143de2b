"""Helpers (given code, CS224N 2022-23 assignment 5): seeding, sampling, scoring."""
import random

import numpy as np
import torch
from torch.nn import functional as F


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def top_k_logits(logits, k):
    """Keep the k largest logits of each row, set the rest to -inf."""
    v, _ = torch.topk(logits, k)                     # (B, k)
    out = logits.clone()
    out[out < v[:, [-1]]] = -float("inf")
    return out


@torch.no_grad()
def sample(model, x, steps, temperature=1.0, sample=False, top_k=None):
    """Extend the token ids x (B, T) by `steps` tokens, feeding each prediction back in.

    Greedy (argmax) unless sample=True. The context is cropped to the model's block size.
    Returns (B, T + steps).
    """
    block_size = model.get_block_size()
    model.eval()
    for _ in range(steps):
        x_cond = x if x.size(1) <= block_size else x[:, -block_size:]  # (B, <= block_size)
        logits, _ = model(x_cond)
        logits = logits[:, -1, :] / temperature                         # (B, vocab)
        if top_k is not None:
            logits = top_k_logits(logits, top_k)
        probs = F.softmax(logits, dim=-1)
        if sample:
            ix = torch.multinomial(probs, num_samples=1)                # (B, 1)
        else:
            _, ix = torch.topk(probs, k=1, dim=-1)                      # (B, 1)
        x = torch.cat((x, ix), dim=1)
    return x


def evaluate_places(filepath, predicted_places):
    """Compare predictions with the places of a "question<TAB>place" file.

    Returns (total, correct); (0, 0) when the file has no gold places.
    """
    with open(filepath, encoding="utf-8") as fin:
        lines = [line.strip().split("\t") for line in fin]
    if len(lines[0]) == 1:
        print("No gold birth places provided; returning (0,0)")
        return (0, 0)
    true_places = [line[1] for line in lines]
    assert len(true_places) == len(predicted_places)
    correct = sum(t == p for t, p in zip(true_places, predicted_places))
    return (len(true_places), correct)
