"""Command-line driver for CS224N 2022-23 assignment 5, parts (c), (f) and (g).

    python src/run.py pretrain vanilla wiki.txt --writing_params_path vanilla.pretrain.params
    python src/run.py finetune vanilla wiki.txt --reading_params_path vanilla.pretrain.params \
        --writing_params_path vanilla.finetune.params --finetune_corpus_path birth_places_train.tsv
    python src/run.py evaluate vanilla wiki.txt --reading_params_path vanilla.finetune.params \
        --eval_corpus_path birth_dev.tsv --outputs_path vanilla.pretrain.dev.predictions

The pretraining corpus is always required: it defines the vocabulary.
"""
import argparse
import random

import torch

import dataset
import model
import trainer
import utils

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # tensorboard is optional: log nowhere
    class SummaryWriter:
        def __init__(self, *args, **kwargs):
            pass

        def add_scalar(self, *args, **kwargs):
            pass

random.seed(0)

argp = argparse.ArgumentParser()
argp.add_argument("function", help="Choose pretrain, finetune, or evaluate",
                  choices=["pretrain", "finetune", "evaluate"])
argp.add_argument("variant", help="Choose vanilla or perceiver", choices=["vanilla", "perceiver"])
argp.add_argument("pretrain_corpus_path", default=None)
argp.add_argument("--bottleneck_dim", type=int, default=32)
argp.add_argument("--reading_params_path", default=None)
argp.add_argument("--writing_params_path", default=None)
argp.add_argument("--finetune_corpus_path", default=None)
argp.add_argument("--eval_corpus_path", default=None)
argp.add_argument("--outputs_path", default=None)
argp.add_argument("--pretrain_lr", default=6e-3, type=float)
argp.add_argument("--finetune_lr", default=6e-4, type=float)
argp.add_argument("--tb_expt_name", help="debug string for tb log", default="run")
args = argp.parse_args()

device = torch.cuda.current_device() if torch.cuda.is_available() else "cpu"

writer = SummaryWriter(log_dir="expt/%s/%s_%s_%d_pt_lr_%f_ft_lr_%f" % (
    args.function, args.tb_expt_name, args.variant, args.bottleneck_dim, args.pretrain_lr, args.finetune_lr))

# the pretraining corpus fixes the vocabulary for every function
block_size = 128
text = open(args.pretrain_corpus_path, encoding="utf-8").read()
pretrain_dataset = dataset.CharCorruptionDataset(text, block_size)

mconf = model.GPTConfig(pretrain_dataset.vocab_size, pretrain_dataset.block_size,
                        n_layer=4, n_head=8, n_embd=256)

# parts (c) and (g): build the model
if args.variant == "perceiver":
    mconf.perceiver = True
    mconf.bottleneck_dim = args.bottleneck_dim
gpt = model.GPT(mconf).to(device)


def train_config(max_epochs, batch_size, learning_rate):
    """Trainer settings shared by pretraining and both finetuning runs."""
    return trainer.TrainerConfig(max_epochs=max_epochs, batch_size=batch_size,
                                 learning_rate=learning_rate, lr_decay=True,
                                 warmup_tokens=512 * 20,
                                 final_tokens=200 * len(pretrain_dataset) * block_size,
                                 num_workers=4, writer=writer)


if args.function == "pretrain":
    # parts (f) and (g): span-corruption pretraining on the wiki corpus
    assert args.writing_params_path is not None
    tconf = train_config(650, 128, args.pretrain_lr)
    trainer.Trainer(gpt, pretrain_dataset, None, tconf).train()
    torch.save(gpt.state_dict(), args.writing_params_path)

elif args.function == "finetune":
    # part (c): from scratch; parts (f) and (g): starting from pretrained parameters
    assert args.writing_params_path is not None
    assert args.finetune_corpus_path is not None
    if args.reading_params_path is not None:
        gpt.load_state_dict(torch.load(args.reading_params_path, map_location=device))
        tconf = train_config(10, 256, args.finetune_lr)
    else:
        tconf = train_config(75, 256, args.finetune_lr)
    finetune_text = open(args.finetune_corpus_path, encoding="utf-8").read()
    finetune_dataset = dataset.NameDataset(pretrain_dataset, finetune_text)
    trainer.Trainer(gpt, finetune_dataset, None, tconf).train()
    torch.save(gpt.state_dict(), args.writing_params_path)

elif args.function == "evaluate":
    assert args.outputs_path is not None
    assert args.reading_params_path is not None
    assert args.eval_corpus_path is not None
    gpt.load_state_dict(torch.load(args.reading_params_path, map_location=device))
    predictions = []
    with open(args.outputs_path, "w", encoding="utf-8") as fout:
        for line in open(args.eval_corpus_path, encoding="utf-8"):
            # the question (a test line without a tab keeps its newline, as in the starter)
            prompt = line.split("\t")[0] + pretrain_dataset.MASK_CHAR
            x = torch.tensor([pretrain_dataset.stoi[c] for c in prompt], dtype=torch.long)[None, ...].to(device)
            completion = "".join(pretrain_dataset.itos[int(i)] for i in utils.sample(gpt, x, 32, sample=False)[0])
            pred = completion.split(pretrain_dataset.MASK_CHAR)[1]  # text between the first and second MASK
            predictions.append(pred)
            fout.write(pred + "\n")
    total, correct = utils.evaluate_places(args.eval_corpus_path, predictions)
    if total > 0:
        print("Correct: {} out of {}: {}%".format(correct, total, correct / total * 100))
    else:
        print("Predictions written to {}; no targets provided".format(args.outputs_path))
