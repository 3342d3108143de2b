"""The pretrained-model base class (given starter file): weight init and loading from a folder.

``from_pretrained`` accepts a folder holding ``config.json`` and ``pytorch_model.bin`` (Hugging Face
parameter names, renamed here onto this code base's names).
"""

import os

import torch
import torch.nn as nn

from config import BertConfig

WEIGHTS_NAME = "pytorch_model.bin"

# Hugging Face names -> the names used by bert.py (applied in this order).
RENAMES = [
    ("bert.", ""),
    ("embeddings.word_embeddings", "word_embedding"),
    ("embeddings.position_embeddings", "pos_embedding"),
    ("embeddings.token_type_embeddings", "tk_type_embedding"),
    ("embeddings.LayerNorm", "embed_layer_norm"),
    ("embeddings.position_ids", "position_ids"),
    ("encoder.layer", "bert_layers"),
    ("attention.self", "self_attention"),
    ("attention.output.dense", "attention_dense"),
    ("attention.output.LayerNorm", "attention_layer_norm"),
    ("intermediate.dense", "interm_dense"),
    ("output.dense", "out_dense"),
    ("output.LayerNorm", "out_layer_norm"),
    ("pooler.dense", "pooler_dense"),
    ("gamma", "weight"),
    ("beta", "bias"),
]


def rename_key(key):
    for old, new in RENAMES:
        if old == "bert.":
            key = key[len(old):] if key.startswith(old) else key
        else:
            key = key.replace(old, new)
    return key


class BertPreTrainedModel(nn.Module):
    config_class = BertConfig
    base_model_prefix = "bert"

    def __init__(self, config, *inputs, **kwargs):
        super().__init__()
        self.config = config
        self.name_or_path = config.name_or_path

    def init_weights(self):
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        if not os.path.isdir(pretrained_model_name_or_path):
            raise OSError(
                f"{pretrained_model_name_or_path} is not a folder with config.json and {WEIGHTS_NAME}; "
                "download the weights into such a folder first"
            )
        config = cls.config_class.from_pretrained(pretrained_model_name_or_path, name_or_path=pretrained_model_name_or_path)
        model = cls(config, *model_args, **kwargs)
        state = torch.load(os.path.join(pretrained_model_name_or_path, WEIGHTS_NAME), map_location="cpu")
        state = {rename_key(k): v for k, v in state.items() if not k.startswith("cls.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing:
            print(f"Weights of {cls.__name__} not initialized from the pretrained model: {missing}")
        if unexpected:
            print(f"Weights from the pretrained model not used in {cls.__name__}: {unexpected}")
        model.eval()
        return model
