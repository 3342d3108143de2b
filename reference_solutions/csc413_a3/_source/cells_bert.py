"""Cells of our reference bert.ipynb: setup, the graded classifier head, and the fine-tuning cells."""

BERT: list[tuple[str, str]] = [
    (
        "md",
        """
# CSC413/2516 Assignment 3, part 3: fine-tuning BERT on verbal arithmetic
""",
    ),
    (
        "code",
        """
!pip install -q transformers
""",
    ),
    (
        "code",
        """
import random
import urllib.request

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset
from transformers import BertModel, BertTokenizer, get_linear_schedule_with_warmup

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
""",
    ),
    (
        "code",
        """
urllib.request.urlretrieve("https://uoft-csc413.github.io/2022/assets/misc/PA03_data_20_train.csv", "PA03_data_20_train.csv")
urllib.request.urlretrieve("https://uoft-csc413.github.io/2022/assets/misc/PA03_data_20_test.csv", "PA03_data_20_test.csv")
""",
    ),
    (
        "code",
        """
MAX_LEN = 7
BATCH_SIZE = 32
EPOCHS = 3
LEARNING_RATE = 5e-5
SEED = 42


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def encode(tokenizer, texts, max_len=MAX_LEN):
    \"\"\"Token ids and attention masks, padded to max_len.\"\"\"
    batch = tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_len, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]
""",
    ),
    (
        "code",
        """
data = pd.read_csv("PA03_data_20_train.csv", skiprows=1, names=["index", "input", "label"])
train_df, val_df = train_test_split(data, test_size=0.3, stratify=data["label"], random_state=SEED)
print(len(train_df), len(val_df))
""",
    ),
    (
        "md",
        """
## Q1: a classification head on BERT
""",
    ),
    (
        "code",
        """
class BertForSentenceClassification(BertModel):
    def __init__(self, config):
        super().__init__(config)

        ##### START YOUR CODE HERE #####
        # Add a linear classifier that map BERTs [CLS] token representation to the unnormalized
        # output probabilities for each class (logits).
        # Notes:
        #  * See the documentation for torch.nn.Linear
        #  * You do not need to add a softmax, as this is included in the loss function
        #  * The size of BERTs token representation can be accessed at config.hidden_size
        #  * The number of output classes can be accessed at config.num_labels
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        ##### END YOUR CODE HERE #####
        self.loss = torch.nn.CrossEntropyLoss()

    def forward(self, labels=None, **kwargs):
        outputs = super().forward(**kwargs)
        ##### START YOUR CODE HERE #####
        # Pass BERTs [CLS] token representation to this new classifier to produce the logits.
        # Notes:
        #  * The [CLS] token representation can be accessed at outputs.pooler_output
        cls_token_repr = outputs.pooler_output
        logits = self.classifier(cls_token_repr)
        ##### END YOUR CODE HERE #####
        if labels is not None:
            outputs = (logits, self.loss(logits, labels))
        else:
            outputs = (logits,)
        return outputs
""",
    ),
    (
        "code",
        """
def train_model(model, tokenizer, train_df, val_df, epochs=EPOCHS, lr=LEARNING_RATE):
    \"\"\"The handout's fine-tuning loop: AdamW, linear schedule with 10% warm-up, gradient clipping at 1.0.\"\"\"
    set_seed(SEED)
    ids, mask = encode(tokenizer, train_df["input"])
    train_loader = DataLoader(TensorDataset(ids, mask, torch.tensor(train_df["label"].values)),
                              batch_size=BATCH_SIZE, shuffle=True)
    val_ids, val_mask = encode(tokenizer, val_df["input"])
    val_labels = torch.tensor(val_df["label"].values)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    total = len(train_loader) * epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    model.to(device)
    history = {"train_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        model.train()
        for batch_ids, batch_mask, batch_labels in train_loader:
            optimizer.zero_grad()
            _, loss = model(input_ids=batch_ids.to(device), attention_mask=batch_mask.to(device),
                            labels=batch_labels.to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            history["train_loss"].append(loss.item())
        model.eval()
        with torch.no_grad():
            (logits,) = model(input_ids=val_ids.to(device), attention_mask=val_mask.to(device))
        accuracy = (logits.argmax(-1).cpu() == val_labels).float().mean().item()
        history["val_accuracy"].append(accuracy)
        print(f"epoch {epoch + 1}: validation accuracy {accuracy:.3f}")
    return history
""",
    ),
    (
        "md",
        """
## Q2: fine-tune MathBERT
""",
    ),
    (
        "code",
        """
tokenizer = BertTokenizer.from_pretrained("tbs17/MathBERT")
model = BertForSentenceClassification.from_pretrained("tbs17/MathBERT", num_labels=3)
history = train_model(model, tokenizer, train_df, val_df)
""",
    ),
    (
        "md",
        """
## Q3: a frozen MathBERT
""",
    ),
    (
        "code",
        """
frozen = BertForSentenceClassification.from_pretrained("tbs17/MathBERT", num_labels=3)
for name, param in frozen.named_parameters():
    if "classifier" not in name:
        param.requires_grad = False
frozen_history = train_model(frozen, tokenizer, train_df, val_df)
""",
    ),
]
