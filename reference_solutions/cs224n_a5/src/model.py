"""A small character-level GPT, plus the Perceiver blocks of part (g).

CS224N 2022-23 assignment 5. GPTConfig, Block and GPT are given code (a fork
of minGPT); DownProjectBlock and UpProjectBlock are part (g): they squeeze the
length-T input into m = bottleneck_dim learned slots, run ordinary blocks on
the m slots, and expand back to length T. Everything stays causal.
"""
import torch
import torch.nn as nn
from torch.nn import functional as F

import attention

torch.manual_seed(1)


class GPTConfig:
    """Hyperparameters; any extra keyword argument becomes an attribute."""
    n_layer = 4
    n_head = 8
    n_embd = 256
    embd_pdrop = 0.1
    resid_pdrop = 0.1
    attn_pdrop = 0.1
    perceiver = False
    bottleneck_dim = None

    def __init__(self, vocab_size, block_size, **kwargs):
        self.vocab_size = vocab_size
        self.block_size = block_size
        for k, v in kwargs.items():
            setattr(self, k, v)


def make_mlp(config):
    """Position-wise feed-forward network: d -> 4d -> d."""
    return nn.Sequential(
        nn.Linear(config.n_embd, 4 * config.n_embd),
        nn.GELU(),
        nn.Linear(4 * config.n_embd, config.n_embd),
        nn.Dropout(config.resid_pdrop),
    )


class Block(nn.Module):
    """Pre-LayerNorm transformer block: self-attention then MLP, each with a residual."""

    def __init__(self, config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.attn = attention.CausalSelfAttention(config)
        self.mlp = make_mlp(config)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))  # (B, T, d)
        x = x + self.mlp(self.ln2(x))   # (B, T, d)
        return x


class DownProjectBlock(nn.Module):
    """Part (g), first layer: m learned queries C read the length-T input.

    Y = softmax((C Q)(X K)^T / sqrt(d/h)) (X V), with C a learned (1, m, d) basis.
    """

    def __init__(self, config):
        super().__init__()
        self.C = nn.Parameter(torch.empty(1, config.bottleneck_dim, config.n_embd))
        nn.init.xavier_uniform_(self.C)
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.attn = attention.CausalCrossAttention(config)
        self.mlp = make_mlp(config)

    def forward(self, x_input):
        """x_input: (B, T, d) -> (B, m, d)."""
        y = self.C + self.attn(x_input, self.ln1(self.C))  # (B, m, d): slot i reads inputs <= i
        y = y + self.mlp(self.ln2(y))                      # (B, m, d)
        return y


class UpProjectBlock(nn.Module):
    """Part (g), last layer: every input position reads the m bottleneck slots.

    Y = softmax((X Q)(Y_prev K)^T / sqrt(d/h)) (Y_prev V), X the original input.
    """

    def __init__(self, config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.attn = attention.CausalCrossAttention(config)
        self.mlp = make_mlp(config)

    def forward(self, y, x_input):
        """y: (B, m, d), x_input: (B, T, d) -> (B, T, d)."""
        x = x_input + self.attn(self.ln1(y), x_input)  # (B, T, d): position t reads slots <= t
        x = x + self.mlp(self.ln2(x))                  # (B, T, d)
        return x


class GPT(nn.Module):
    """Token + position embeddings, a stack of blocks, a final LayerNorm and a linear head."""

    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, config.block_size, config.n_embd))
        self.drop = nn.Dropout(config.embd_pdrop)
        self.perceiver = config.perceiver
        if config.perceiver:
            input_block_size = config.block_size
            self.down_block = DownProjectBlock(config)
            config.block_size = config.bottleneck_dim  # the middle blocks see m positions
            self.blocks = nn.Sequential(*[Block(config) for _ in range(config.n_layer - 2)])
            config.block_size = input_block_size
            self.up_block = UpProjectBlock(config)
        else:
            self.blocks = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.block_size = config.block_size
        self.apply(self._init_weights)
        print("number of parameters: %d" % sum(p.numel() for p in self.parameters()))

    def _init_weights(self, module):
        # only Linear, Embedding and LayerNorm; pos_emb stays zero and C keeps its Xavier init
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def get_block_size(self):
        return self.block_size

    def forward(self, idx, targets=None):
        """idx, targets: (B, T) token ids. Returns (logits (B, T, vocab), loss or None)."""
        B, T = idx.size()
        assert T <= self.block_size, "Cannot forward, model block size is exhausted."
        x_input = self.drop(self.tok_emb(idx) + self.pos_emb[:, :T, :])  # (B, T, d)
        if self.perceiver:
            x = self.down_block(x_input)   # (B, m, d)
            x = self.blocks(x)             # (B, m, d)
            x = self.up_block(x, x_input)  # (B, T, d)
        else:
            x = self.blocks(x_input)       # (B, T, d)
        logits = self.head(self.ln_f(x))   # (B, T, vocab)

        loss = None
        if targets is not None:  # PAD (id 0) positions carry no loss
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=0)
        return logits, loss
