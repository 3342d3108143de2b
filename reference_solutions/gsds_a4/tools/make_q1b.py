"""Write reference_solutions/gsds_a4/q1/q1b.ipynb: the handout's cells with our (a), (b) and (c).

The notebook is kept as source here so that a diff of the reference stays readable. It has no
outputs: the 50-epoch run needs ``google/pix2struct-base``, the Pokémon captions and a GPU, none of
which exist offline (the hidden checks train a tiny random model instead). Usage (repository root):

    .venv/bin/python reference_solutions/gsds_a4/tools/make_q1b.py
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "q1" / "q1b.ipynb"

CELLS = [
    ("markdown", """# Q1b. Fine-tuning Pix2Struct for image captioning

Fill in (a) the dataset cell and the two TODO blocks of `Trainer.train`: (b) the training part and
(c) the validation part. Cells marked DO NOT modify are given."""),
    ("code", "!pip install transformers datasets"),
    ("code", """import numpy as np
import torch
import matplotlib.pyplot as plt
from tqdm import tqdm
from torch.utils.data import Dataset, DataLoader
from datasets import load_dataset
from transformers import Pix2StructProcessor, Pix2StructForConditionalGeneration"""),
    ("markdown", "## (a) Load the dataset and keep 10% of it for validation"),
    ("code", """data_path = "reach-vb/pokemon-blip-captions"
############## TODO (a) ##############
dataset = load_dataset(data_path, split="train")
splits = dataset.train_test_split(test_size=0.1, seed=0)
train_set = splits["train"]
valid_set = splits["test"]
######################################
print(len(train_set), len(valid_set))"""),
    ("code", """# DO NOT modify
MAX_PATCHES = 16
max_length = 20


class ICDataset(Dataset):
    def __init__(self, dataset, processor):
        self.dataset = dataset
        self.processor = processor

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, idx):
        item = self.dataset[idx]
        encoding = self.processor(images=item["image"], return_tensors="pt", add_special_tokens=True, max_patches=MAX_PATCHES)
        encoding = {k: v.squeeze() for k, v in encoding.items()}
        encoding["text"] = item["text"]
        return encoding


def my_collate(batch):
    new_batch = {"flattened_patches": [], "attention_mask": []}
    texts = [item["text"] for item in batch]
    text_inputs = processor(text=texts, padding="max_length", truncation=True, return_tensors="pt",
                            add_special_tokens=True, max_length=max_length)
    new_batch["labels"] = text_inputs.input_ids
    for item in batch:
        new_batch["flattened_patches"].append(item["flattened_patches"])
        new_batch["attention_mask"].append(item["attention_mask"])
    new_batch["flattened_patches"] = torch.stack(new_batch["flattened_patches"])
    new_batch["attention_mask"] = torch.stack(new_batch["attention_mask"])
    return new_batch"""),
    ("code", """# DO NOT modify
batch_size = 2
EPOCHS = 50
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

processor = Pix2StructProcessor.from_pretrained("google/pix2struct-base")
model = Pix2StructForConditionalGeneration.from_pretrained("google/pix2struct-base").to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

train_loader = DataLoader(ICDataset(train_set, processor), shuffle=True, batch_size=batch_size, collate_fn=my_collate)
valid_loader = DataLoader(ICDataset(valid_set, processor), shuffle=True, batch_size=batch_size, collate_fn=my_collate)"""),
    ("markdown", "## (b), (c) The trainer"),
    ("code", """class Trainer:
    def __init__(self, model, train_loader, valid_loader, optimizer):
        self.model = model
        self.train_loader = train_loader
        self.valid_loader = valid_loader
        self.optimizer = optimizer
        self.epoch_train_loss = []
        self.epoch_val_loss = []

    def train(self, epochs):
        self.epoch_train_loss = []
        self.epoch_val_loss = []
        device = self.model.device
        for epoch in range(epochs):
            print(f"Epoch {epoch + 1}")
            self.model.train()
            batch_train_loss = []
            for batch in tqdm(self.train_loader):
                ############## TODO (b) ##############
                flattened_patches = batch["flattened_patches"].to(device)
                attention_mask = batch["attention_mask"].to(device)
                labels = batch["labels"].to(device)
                outputs = self.model(flattened_patches=flattened_patches, attention_mask=attention_mask, labels=labels)
                loss = outputs.loss
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                train_loss = loss.item()
                ######################################
                batch_train_loss.append(train_loss)

            self.model.eval()
            batch_val_loss = []
            for batch in self.valid_loader:
                ############## TODO (c) ##############
                with torch.no_grad():
                    flattened_patches = batch["flattened_patches"].to(device)
                    attention_mask = batch["attention_mask"].to(device)
                    labels = batch["labels"].to(device)
                    outputs = self.model(flattened_patches=flattened_patches, attention_mask=attention_mask, labels=labels)
                    val_loss = outputs.loss.item()
                ######################################
                batch_val_loss.append(val_loss)

            self.epoch_train_loss.append(np.mean(batch_train_loss))
            self.epoch_val_loss.append(np.mean(batch_val_loss))
            print(f"train_loss : {self.epoch_train_loss[-1]} val_loss : {self.epoch_val_loss[-1]}")"""),
    ("code", """trainer = Trainer(model, train_loader, valid_loader, optimizer)
trainer.train(EPOCHS)"""),
    ("markdown", "## (d) Plot the losses (paste the figure into the write-up)"),
    ("code", """# DO NOT modify
def plot():
    plt.plot(range(1, len(trainer.epoch_train_loss) + 1), trainer.epoch_train_loss, label="train")
    plt.plot(range(1, len(trainer.epoch_val_loss) + 1), trainer.epoch_val_loss, label="validation")
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.legend()
    plt.show()


plot()"""),
    ("code", """# DO NOT modify
def inference(image, processor):
    model.eval()
    inputs = processor(images=image, return_tensors="pt", max_patches=MAX_PATCHES).to(device)
    with torch.no_grad():
        generated_ids = model.generate(flattened_patches=inputs.flattened_patches, attention_mask=inputs.attention_mask,
                                       max_length=max_length)
    return processor.batch_decode(generated_ids, skip_special_tokens=True)[0]


for row in valid_set.select(range(3)):
    plt.imshow(row["image"])
    plt.show()
    print(inference(row["image"], processor))"""),
]


def cell(index: int, kind: str, text: str) -> dict:
    lines = text.splitlines(keepends=True)
    out = {"cell_type": kind, "id": f"q1b-{index:02d}", "metadata": {}, "source": lines}
    if kind == "code":
        out = {"cell_type": kind, "execution_count": None, "id": out["id"], "metadata": {}, "outputs": [], "source": lines}
    return out


def main() -> None:
    notebook = {
        "cells": [cell(i, kind, text) for i, (kind, text) in enumerate(CELLS)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    OUT.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
