"""Produce the reference's run outputs offline: q2/result.log (gsds-a4) and the minbert output files.

Real ``bert-base-uncased`` weights cannot be downloaded here, so the run uses a randomly initialised
one-layer BERT (hidden size 768, as the classifier's config requires) and a word-level vocabulary
built from the training data, saved in a ``bert-base-uncased/`` folder that the starter's loaders
read. The accuracies are therefore far below a pretrained BERT's; the logs and files are genuine
outputs of the reference code. Usage (from the repository root):

    .venv/bin/python reference_solutions/gsds_a4/tools/make_outputs.py SCRATCH_DIR
"""

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
DATA = Path("/work/shared/datasets/minbert/txt")
SPECIALS = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}


def build_folder(folder: Path, code_dir: Path, size: int = 1500) -> None:
    sys.path.insert(0, str(code_dir))
    from tokenizer import basic_tokenize  # the reference's own tokenizer

    counts: collections.Counter[str] = collections.Counter()
    for name in ("sst-train.txt", "cfimdb-train.txt"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            counts.update(basic_tokenize(line.split(" ||| ", 1)[1]))
    vocab = [SPECIALS.get(i, f"[unused{i}]") for i in range(104)] + [w for w, _ in counts.most_common(size)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = {"vocab_size": len(vocab), "hidden_size": 768, "num_hidden_layers": 1, "num_attention_heads": 4,
              "intermediate_size": 64, "max_position_embeddings": 512, "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    import config as config_module
    from bert import BertModel

    torch.manual_seed(0)
    model = BertModel(config_module.BertConfig(**config))
    # Saved under Hugging Face's names, as the real checkpoint is.
    hf = {"bert.embeddings.word_embeddings": "word_embedding", "bert.embeddings.position_embeddings": "pos_embedding",
          "bert.embeddings.token_type_embeddings": "tk_type_embedding", "bert.embeddings.LayerNorm": "embed_layer_norm",
          "bert.encoder.layer": "bert_layers", "attention.self": "self_attention", "attention.output.dense": "attention_dense",
          "attention.output.LayerNorm": "attention_layer_norm", "intermediate.dense": "interm_dense",
          "output.dense": "out_dense", "output.LayerNorm": "out_layer_norm", "bert.pooler.dense": "pooler_dense"}
    state = {}
    for key, value in model.state_dict().items():
        if key == "position_ids":
            continue
        for h, ours in hf.items():
            key = key.replace(ours, h)
        state[key] = value
    torch.save(state, folder / "pytorch_model.bin")


def run(code_dir: Path, work: Path, args: list[str]) -> None:
    shutil.copytree(code_dir, work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.log"))
    build_folder(work / "bert-base-uncased", work)
    os.symlink(DATA, work / "data")
    subprocess.run([sys.executable, "classifier.py", *args], cwd=work, check=True)


def main() -> None:
    scratch = Path(sys.argv[1])
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    if what in ("all", "gsds"):
        q2 = ROOT / "reference_solutions" / "gsds_a4" / "q2"
        run(q2, scratch / "gsds", ["--option", "finetune", "--epochs", "3", "--lr", "1e-4"])
        shutil.copy(scratch / "gsds" / "result.log", q2 / "result.log")
    if what in ("all", "minbert"):
        ref = ROOT / "reference_solutions" / "minbert"
        for ds, epochs in (("sst", 1), ("cfimdb", 1)):
            run(ref, scratch / f"minbert-{ds}", ["--option", "pretrain", "--epochs", str(epochs), "--lr", "1e-3",
                "--train", f"data/{ds}-train.txt", "--dev", f"data/{ds}-dev.txt", "--test", f"data/{ds}-test.txt",
                "--dev_out", f"{ds}-dev-output.txt", "--test_out", f"{ds}-test-output.txt"])  # fmt: skip
            for part in ("dev", "test"):
                shutil.copy(scratch / f"minbert-{ds}" / f"{ds}-{part}-output.txt", ref / f"{ds}-{part}-output.txt")


if __name__ == "__main__":
    main()
