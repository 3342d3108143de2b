"""A minimal training loop (given code, CS224N 2022-23 assignment 5, used by parts c, f, g).

AdamW with weight decay on the weight matrices only, gradient clipping and an
optional learning-rate schedule: linear warm-up, then cosine decay to 10% of
the base rate, both measured in tokens seen (pads included).
"""
import math

import torch
from torch.utils.data.dataloader import DataLoader


class TrainerConfig:
    """Training hyperparameters; any extra keyword argument becomes an attribute."""
    max_epochs = 10
    batch_size = 64
    learning_rate = 3e-4
    betas = (0.9, 0.95)
    grad_norm_clip = 1.0
    weight_decay = 0.1      # applied only to weight matrices and embeddings
    lr_decay = False
    warmup_tokens = 375e6   # tokens of linear warm-up
    final_tokens = 260e9    # tokens after which the rate stays at its 10% floor
    ckpt_path = None
    num_workers = 0
    writer = None           # optional TensorBoard SummaryWriter

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)


class Trainer:

    def __init__(self, model, train_dataset, test_dataset, config):
        self.model = model
        self.train_dataset = train_dataset
        self.test_dataset = test_dataset
        self.config = config
        self.device = "cpu"
        if torch.cuda.is_available():
            self.device = torch.cuda.current_device()
            self.model = torch.nn.DataParallel(self.model).to(self.device)

    def raw_model(self):
        return self.model.module if hasattr(self.model, "module") else self.model

    def save_checkpoint(self):
        if self.config.ckpt_path is not None:
            print("saving", self.config.ckpt_path)
            torch.save(self.raw_model().state_dict(), self.config.ckpt_path)

    def learning_rate(self, tokens):
        config = self.config
        if not config.lr_decay:
            return config.learning_rate
        if tokens < config.warmup_tokens:
            mult = tokens / max(1, config.warmup_tokens)  # linear warm-up
        else:
            progress = (tokens - config.warmup_tokens) / max(1, config.final_tokens - config.warmup_tokens)
            mult = max(0.1, 0.5 * (1.0 + math.cos(math.pi * progress)))  # cosine, 10% floor
        return config.learning_rate * mult

    def train(self):
        model, config = self.model, self.config

        # weight decay on matrices (dim >= 2: Linear weights, embeddings, pos_emb, C), not on biases/LayerNorm
        params = [p for p in self.raw_model().parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
            lr=config.learning_rate, betas=config.betas)

        tokens, step = 0, 0  # counters for the schedule and the log

        def run_epoch(split, epoch):
            nonlocal tokens, step
            is_train = split == "train"
            model.train(is_train)
            data = self.train_dataset if is_train else self.test_dataset
            loader = DataLoader(data, batch_size=config.batch_size, shuffle=False,
                                pin_memory=torch.cuda.is_available(), num_workers=config.num_workers)
            losses = []
            for it, (x, y) in enumerate(loader):
                x, y = x.to(self.device), y.to(self.device)  # (B, T), (B, T)
                with torch.set_grad_enabled(is_train):
                    _, loss = model(x, y)
                    loss = loss.mean()  # DataParallel returns one loss per GPU
                losses.append(loss.item())
                if not is_train:
                    continue
                model.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_norm_clip)
                tokens += y.numel()  # pads included
                lr = self.learning_rate(tokens)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.step()
                step += 1
                if config.writer is not None:
                    config.writer.add_scalar("train/loss", loss.item(), step)
                    config.writer.add_scalar("train/lr", lr, step)
                if it % 100 == 0:
                    print(f"epoch {epoch + 1} iter {it}: train loss {loss.item():.5f}, lr {lr:e}")
            return sum(losses) / max(1, len(losses))

        best_loss = float("inf")
        for epoch in range(config.max_epochs):
            train_loss = run_epoch("train", epoch)
            print(f"epoch {epoch + 1}/{config.max_epochs} done: mean train loss {train_loss:.5f}")
            if self.test_dataset is None:
                self.save_checkpoint()
                continue
            test_loss = run_epoch("test", epoch)
            print(f"test loss {test_loss:.5f}")
            if test_loss < best_loss:
                best_loss = test_loss
                self.save_checkpoint()
