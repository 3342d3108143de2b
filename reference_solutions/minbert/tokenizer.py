"""A WordPiece tokenizer for BERT (given starter file), reading ``vocab.txt`` from a file or a folder."""

import os
import unicodedata

import torch

VOCAB_NAME = "vocab.txt"


def load_vocab(vocab_file):
    vocab = {}
    with open(vocab_file, "r", encoding="utf-8") as f:
        for index, token in enumerate(f):
            vocab[token.rstrip("\n")] = index
    return vocab


def _is_punctuation(char):
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def basic_tokenize(text, do_lower_case=True):
    """Whitespace split, lower-casing and accent stripping, punctuation as separate tokens."""
    if do_lower_case:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    tokens = []
    for word in text.split():
        current = ""
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append(current)
                tokens.append(char)
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


class BertTokenizer(object):
    def __init__(self, vocab_file, do_lower_case=True, unk_token="[UNK]", sep_token="[SEP]",
                 pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", model_max_length=512):
        self.vocab = load_vocab(vocab_file)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.model_max_length = model_max_length
        self.specials = {unk_token, sep_token, pad_token, cls_token, mask_token}

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        path = pretrained_model_name_or_path
        if os.path.isdir(path):
            path = os.path.join(path, VOCAB_NAME)
        if not os.path.isfile(path):
            raise OSError(f"no vocabulary at {pretrained_model_name_or_path}; download vocab.txt into that folder first")
        return cls(path, **kwargs)

    @property
    def pad_token_id(self):
        return self.vocab[self.pad_token]

    def _wordpiece(self, word):
        if word in self.vocab:
            return [word]
        pieces, start = [], 0
        while start < len(word):
            end, piece = len(word), None
            while start < end:
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                if candidate in self.vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text):
        tokens = []
        for chunk in text.split():
            if chunk in self.specials:
                tokens.append(chunk)
                continue
            for word in basic_tokenize(chunk, self.do_lower_case):
                tokens.extend(self._wordpiece(word))
        return tokens

    def convert_tokens_to_ids(self, tokens):
        unk = self.vocab[self.unk_token]
        return [self.vocab.get(t, unk) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        return [self.ids_to_tokens.get(int(i), self.unk_token) for i in ids]

    def encode_one(self, text, text_pair=None, truncation=False, max_length=None):
        ids = [self.vocab[self.cls_token]] + self.convert_tokens_to_ids(self.tokenize(text)) + [self.vocab[self.sep_token]]
        types = [0] * len(ids)
        if text_pair is not None:
            pair = self.convert_tokens_to_ids(self.tokenize(text_pair)) + [self.vocab[self.sep_token]]
            ids, types = ids + pair, types + [1] * len(pair)
        limit = max_length or self.model_max_length
        if truncation and len(ids) > limit:
            ids, types = ids[: limit - 1] + [self.vocab[self.sep_token]], types[:limit]
        return ids, types

    def __call__(self, text, text_pair=None, return_tensors=None, padding=False, truncation=False, max_length=None):
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        pairs = [text_pair] if single else (list(text_pair) if text_pair is not None else [None] * len(texts))
        encoded = [self.encode_one(t, p, truncation, max_length) for t, p in zip(texts, pairs)]
        width = max(len(ids) for ids, _ in encoded) if padding else None
        out = {"input_ids": [], "token_type_ids": [], "attention_mask": []}
        for ids, types in encoded:
            pad = (width - len(ids)) if width else 0
            out["input_ids"].append(ids + [self.pad_token_id] * pad)
            out["token_type_ids"].append(types + [0] * pad)
            out["attention_mask"].append([1] * len(ids) + [0] * pad)
        if return_tensors == "pt":
            return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}
        return {k: v[0] for k, v in out.items()} if single else out
