import torch


def add(a, b):
    return a + b


def row_softmax(x):
    z = x - x.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
