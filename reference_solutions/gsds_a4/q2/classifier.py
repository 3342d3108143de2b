import argparse
import random
import sys
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from bert import BertModel
from torch.optim import AdamW
from tokenizer import BertTokenizer
from logger import Logger

sys.stdout = Logger()

TQDM_DISABLE = True


# fix the random seed
def seed_everything(seed=11711):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


class BertSentClassifier(torch.nn.Module):
    def __init__(self, config):
        super(BertSentClassifier, self).__init__()
        self.num_labels = config.num_labels
        self.bert = BertModel.from_pretrained("bert-base-uncased")

        # pretrain mode does not require updating bert paramters.
        for param in self.bert.parameters():
            if config.option == "pretrain":
                param.requires_grad = False
            elif config.option == "finetune":
                param.requires_grad = True

        # linear layer to obtain the class logits
        self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
        self.classifier = torch.nn.Linear(config.hidden_size, self.num_labels)

    def forward(self, input_ids, attention_mask):
        # the final bert contextualized embedding is the hidden state of [CLS] token (the first token)
        pooled = self.bert(input_ids, attention_mask)["pooler_output"]
        pooled = self.dropout(pooled)
        logits = self.classifier(pooled)
        return F.log_softmax(logits, dim=-1)


# create a custom Dataset Class to be used for the dataloader
class BertDataset(Dataset):
    def __init__(self, dataset, args):
        self.dataset = dataset
        self.p = args
        self.tokenizer = BertTokenizer.from_pretrained("bert-base-uncased")

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, idx):
        return self.dataset[idx]

    def pad_data(self, data):
        sents = [x[0] for x in data]
        labels = [x[1] for x in data]
        encoding = self.tokenizer(sents, return_tensors="pt", padding=True, truncation=True)
        token_ids = torch.LongTensor(encoding["input_ids"])
        attention_mask = torch.LongTensor(encoding["attention_mask"])
        token_type_ids = torch.LongTensor(encoding["token_type_ids"])
        labels = torch.LongTensor(labels)
        return token_ids, token_type_ids, attention_mask, labels, sents

    def collate_fn(self, all_data):
        token_ids, token_type_ids, attention_mask, labels, sents = self.pad_data(all_data)
        return {
            "token_ids": token_ids,
            "token_type_ids": token_type_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "sents": sents,
        }


# create the data which is a list of (sentence, label, token for the labels)
def create_data(filename, flag="train"):
    num_labels = set()
    data = []
    with open(filename, "r", encoding="utf-8") as fp:
        for line in fp:
            label, org_sent = line.split(" ||| ")
            sent = org_sent.lower().strip()
            label = int(label.strip())
            num_labels.add(label)
            data.append((sent, label))
    print(f"load {len(data)} data from {filename}")
    if flag == "train":
        return data, len(num_labels)
    return data


# perform model evaluation in terms of the accuracy
def model_eval(dataloader, model, device):
    model.eval()  # switch to eval model, will turn off randomness like dropout
    y_true, y_pred, sents = [], [], []
    for step, batch in enumerate(tqdm(dataloader, desc="eval", disable=TQDM_DISABLE)):
        b_ids, b_mask, b_labels, b_sents = batch["token_ids"], batch["attention_mask"], batch["labels"], batch["sents"]
        b_ids = b_ids.to(device)
        b_mask = b_mask.to(device)
        with torch.no_grad():
            logits = model(b_ids, b_mask)
        preds = logits.argmax(dim=-1).flatten().cpu().numpy()
        y_true.extend(b_labels.flatten().numpy())
        y_pred.extend(preds)
        sents.extend(b_sents)
    acc = float(np.mean(np.array(y_true) == np.array(y_pred)))
    return acc, y_pred, y_true, sents


def save_model(model, optimizer, args, config, filepath):
    save_info = {
        "model": model.state_dict(),
        "optim": optimizer.state_dict(),
        "args": args,
        "model_config": config,
        "system_rng": random.getstate(),
        "numpy_rng": np.random.get_state(),
        "torch_rng": torch.random.get_rng_state(),
    }
    torch.save(save_info, filepath)
    print(f"save the model to {filepath}")


def train(args):
    device = torch.device("cuda") if args.use_gpu else torch.device("cpu")
    #### Load data
    # create the data and its corresponding datasets and dataloader
    train_data, num_labels = create_data(args.train, "train")
    dev_data = create_data(args.dev, "valid")

    train_dataset = BertDataset(train_data, args)
    dev_dataset = BertDataset(dev_data, args)

    train_dataloader = DataLoader(train_dataset, shuffle=True, batch_size=args.batch_size, collate_fn=train_dataset.collate_fn)
    dev_dataloader = DataLoader(dev_dataset, shuffle=False, batch_size=args.batch_size, collate_fn=dev_dataset.collate_fn)

    #### Init model
    config = {
        "hidden_dropout_prob": args.hidden_dropout_prob,
        "num_labels": num_labels,
        "hidden_size": 768,
        "data_dir": ".",
        "option": args.option,
    }
    config = SimpleNamespace(**config)

    model = BertSentClassifier(config)
    model = model.to(device)

    lr = args.lr
    ## specify the optimizer
    optimizer = AdamW(model.parameters(), lr=lr)
    best_dev_acc = 0

    ## run for the specified number of epochs
    for epoch in range(args.epochs):
        model.train()
        train_loss = 0
        num_batches = 0
        for step, batch in enumerate(tqdm(train_dataloader, desc=f"train-{epoch}", disable=TQDM_DISABLE)):
            b_ids, b_mask, b_labels = batch["token_ids"], batch["attention_mask"], batch["labels"]
            b_ids = b_ids.to(device)
            b_mask = b_mask.to(device)
            b_labels = b_labels.to(device)

            optimizer.zero_grad()
            logits = model(b_ids, b_mask)
            loss = F.nll_loss(logits, b_labels.view(-1), reduction="sum") / args.batch_size

            loss.backward()
            optimizer.step()

            train_loss += loss.item()
            num_batches += 1
            if step % 50 == 0:
                print(f"step loss : {loss.item():.5f}")

        train_loss = train_loss / (num_batches)

        train_acc, *_ = model_eval(train_dataloader, model, device)
        dev_acc, *_ = model_eval(dev_dataloader, model, device)

        if dev_acc > best_dev_acc:
            best_dev_acc = dev_acc
            save_model(model, optimizer, args, config, args.filepath)

        print(f"Epoch {epoch + 1}: train loss :: {train_loss :.3f}, train acc :: {train_acc :.3f}, dev acc :: {dev_acc :.3f}")


def test(args):
    with torch.no_grad():
        device = torch.device("cuda") if args.use_gpu else torch.device("cpu")
        saved = torch.load(args.filepath, weights_only=False)
        config = saved["model_config"]
        model = BertSentClassifier(config)
        model.load_state_dict(saved["model"])
        model = model.to(device)
        print(f"load model from {args.filepath}")
        dev_data = create_data(args.dev, "valid")
        dev_dataset = BertDataset(dev_data, args)
        dev_dataloader = DataLoader(dev_dataset, shuffle=False, batch_size=args.batch_size, collate_fn=dev_dataset.collate_fn)

        test_data = create_data(args.test, "test")
        test_dataset = BertDataset(test_data, args)
        test_dataloader = DataLoader(test_dataset, shuffle=False, batch_size=args.batch_size, collate_fn=test_dataset.collate_fn)

        dev_acc, dev_pred, dev_true, dev_sents = model_eval(dev_dataloader, model, device)
        test_acc, test_pred, test_true, test_sents = model_eval(test_dataloader, model, device)

        with open(args.dev_out, "w+", encoding="utf-8") as f:
            print(f"dev acc :: {dev_acc :.3f}")
            for s, p in zip(dev_sents, dev_pred):
                f.write(f"{p} ||| {s}\n")

        with open(args.test_out, "w+", encoding="utf-8") as f:
            print(f"test acc :: {test_acc :.3f}")
            for s, p in zip(test_sents, test_pred):
                f.write(f"{p} ||| {s}\n")


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=str, default="data/sst-train.txt")
    parser.add_argument("--dev", type=str, default="data/sst-dev.txt")
    parser.add_argument("--test", type=str, default="data/sst-test.txt")
    parser.add_argument("--seed", type=int, default=11711)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--option", type=str, help="pretrain: the BERT parameters are frozen; finetune: BERT parameters are updated",
                        choices=("pretrain", "finetune"), default="pretrain")
    parser.add_argument("--use_gpu", action="store_true")
    parser.add_argument("--dev_out", type=str, default="dev-output.txt")
    parser.add_argument("--test_out", type=str, default="test-output.txt")

    # hyper parameters
    parser.add_argument("--batch_size", help="sst: 64, cfimdb: 8 can fit a 12GB GPU", type=int, default=8)
    parser.add_argument("--hidden_dropout_prob", type=float, default=0.3)
    parser.add_argument("--lr", type=float, help="learning rate, default lr for 'pretrain': 1e-3, 'finetune': 1e-5",
                        default=1e-5)

    args = parser.parse_args()
    print(f"args: {vars(args)}")
    print(f"check if your code is running on GPU: {'cuda' if args.use_gpu and torch.cuda.is_available() else 'cpu'}")
    return args


if __name__ == "__main__":
    args = get_args()
    dataset = args.train.split("/")[-1].split("-")[0]
    args.filepath = f"{dataset}-{args.option}-{args.epochs}-{args.lr}.pt"  # save path
    seed_everything(args.seed)  # fix the seed for reproducibility
    train(args)
    test(args)
