"""Cells of our reference nmt.ipynb: given code, our answers to the graded parts, and the run cells."""

NMT: list[tuple[str, str]] = [
    (
        "md",
        """
# CSC413/2516 Assignment 3, programming part: neural machine translation (Pig Latin)

Parts 1 to 3: attention for an encoder-decoder Transformer, a decoder-only Transformer, and an IsoFLOP
scaling-law study. Run the setup cells first.
""",
    ),
    (
        "code",
        """
######################################################################
# Setup: data
######################################################################
import os
import urllib.request

DATA_URL = "https://www.cs.toronto.edu/~course/csc413/data/"
os.makedirs("data", exist_ok=True)
for name in ["pig_latin_small.txt", "pig_latin_large.txt"]:
    if not os.path.exists(os.path.join("data", name)):
        urllib.request.urlretrieve(DATA_URL + name, os.path.join("data", name))
""",
    ),
    (
        "code",
        """
!nvidia-smi
""",
    ),
    (
        "code",
        """
import math
import pickle
import collections

import numpy as np
import matplotlib.pyplot as plt

import torch
import torch.nn as nn
import torch.nn.functional as F

%matplotlib inline
""",
    ),
    (
        "md",
        """
## Helper code (given)
""",
    ),
    (
        "code",
        """
def to_var(tensor, cuda):
    \"\"\"Wraps a tensor in a Variable, moving it to the GPU when cuda is True.\"\"\"
    if cuda:
        return tensor.cuda()
    return tensor


class AttrDict(dict):
    def __init__(self, *args, **kwargs):
        super(AttrDict, self).__init__(*args, **kwargs)
        self.__dict__ = self


def read_lines(filename):
    \"\"\"Read a file and split it into lines.\"\"\"
    with open(filename) as f:
        return f.read().strip().lower().split("\\n")


def read_pairs(filename):
    \"\"\"Reads lines that consist of two words, separated by a space; returns a list of (source, target) pairs.\"\"\"
    lines = read_lines(filename)
    return [tuple(line.split(" ")[:2]) for line in lines]


def all_alpha_or_dash(s):
    \"\"\"True when every character of s is a letter or a dash.\"\"\"
    return all(c.isalpha() or c == "-" for c in s)


def filter_lines(lines):
    \"\"\"Keep the pairs whose two words have only letters and dashes.\"\"\"
    return [line for line in lines if all_alpha_or_dash(line[0]) and all_alpha_or_dash(line[1])]


def load_data(file_name):
    \"\"\"Loads (English, Pig-Latin) word pairs and builds the character vocabularies.\"\"\"
    path = "./data/{}.txt".format(file_name)
    pairs = filter_lines(read_pairs(path))
    source_lines, target_lines = zip(*pairs)
    all_characters = set("".join(source_lines)) | set("".join(target_lines))
    char_to_index = {char: index for (index, char) in enumerate(sorted(list(all_characters)))}
    start_token = len(char_to_index)
    end_token = len(char_to_index) + 1
    eop_token = len(char_to_index) + 2
    char_to_index["SOS"] = start_token
    char_to_index["EOS"] = end_token
    char_to_index["EOP"] = eop_token
    index_to_char = {index: char for (char, index) in char_to_index.items()}
    idx_dict = {"char_to_index": char_to_index, "index_to_char": index_to_char,
                "start_token": start_token, "end_token": end_token, "eop_token": eop_token}
    return pairs, len(char_to_index), idx_dict


def create_dict(pairs):
    \"\"\"Groups the pairs by (source length, target length) so a batch has words of one size.\"\"\"
    d = collections.defaultdict(list)
    for (s, t) in pairs:
        d[(len(s), len(t))].append((s, t))
    return d


def string_to_index_list(s, char_to_index, end_token):
    \"\"\"Converts a sentence into a list of indexes (for each character).\"\"\"
    return [char_to_index[char] for char in s] + [end_token]
""",
    ),
    (
        "code",
        """
def compute_loss(data_dict, encoder, decoder, idx_dict, criterion, optimizer, opts):
    \"\"\"Train/evaluate the encoder-decoder on the batches of data_dict; returns the mean loss.\"\"\"
    start_token = idx_dict["start_token"]
    end_token = idx_dict["end_token"]
    char_to_index = idx_dict["char_to_index"]
    losses = []
    for key in data_dict:
        input_strings, target_strings = zip(*data_dict[key])
        input_tensors = [torch.LongTensor(string_to_index_list(s, char_to_index, end_token)) for s in input_strings]
        target_tensors = [torch.LongTensor(string_to_index_list(s, char_to_index, end_token)) for s in target_strings]
        num_tensors = len(input_tensors)
        num_batches = int(np.ceil(num_tensors / float(opts.batch_size)))
        for i in range(num_batches):
            start = i * opts.batch_size
            end = start + opts.batch_size
            inputs = to_var(torch.stack(input_tensors[start:end]), opts.cuda)
            targets = to_var(torch.stack(target_tensors[start:end]), opts.cuda)
            BS = inputs.size(0)
            encoder_annotations, encoder_hidden = encoder(inputs)
            start_vector = torch.ones(BS).long().unsqueeze(1) * start_token
            decoder_input = to_var(start_vector, opts.cuda)
            decoder_inputs = torch.cat([decoder_input, targets[:, 0:-1]], dim=1)
            decoder_outputs, attention_weights = decoder(decoder_inputs, encoder_annotations, encoder_hidden)
            decoder_outputs_flatten = decoder_outputs.view(-1, decoder_outputs.size(2))
            loss = criterion(decoder_outputs_flatten, targets.contiguous().view(-1))
            losses.append(loss.item())
            if optimizer:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return np.mean(losses)


def training_loop(train_dict, val_dict, idx_dict, encoder, decoder, criterion, optimizer, opts):
    \"\"\"Runs the epochs with learning-rate decay and early stopping; returns the losses.\"\"\"
    best_val_loss = 1e6
    train_losses, val_losses = [], []
    early_stopping_counter = 0
    for epoch in range(opts.nepochs):
        optimizer.param_groups[0]["lr"] *= opts.lr_decay
        train_loss = compute_loss(train_dict, encoder, decoder, idx_dict, criterion, optimizer, opts)
        val_loss = compute_loss(val_dict, encoder, decoder, idx_dict, criterion, None, opts)
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            early_stopping_counter = 0
        else:
            early_stopping_counter += 1
        if early_stopping_counter > opts.early_stopping_patience:
            print("Validation loss has not improved in {} epochs, stopping early".format(opts.early_stopping_patience))
            print("Obtained lowest validation loss of: {}".format(best_val_loss))
            return (train_losses, val_losses)
        train_losses.append(train_loss)
        val_losses.append(val_loss)
        print("Epoch: {:3d} | Train loss: {:.3f} | Val loss: {:.3f}".format(epoch, train_loss, val_loss))
    print("Obtained lowest validation loss of: {}".format(best_val_loss))
    return (train_losses, val_losses)
""",
    ),
    (
        "md",
        """
# Part 1: Transformers for NMT

## Q1: scaled dot-product attention
""",
    ),
    (
        "code",
        """
class ScaledDotAttention(nn.Module):
    def __init__(self, hidden_size):
        super(ScaledDotAttention, self).__init__()

        self.hidden_size = hidden_size

        self.Q = nn.Linear(hidden_size, hidden_size)
        self.K = nn.Linear(hidden_size, hidden_size)
        self.V = nn.Linear(hidden_size, hidden_size)
        self.softmax = nn.Softmax(dim=2)
        self.scaling_factor = torch.rsqrt(torch.tensor(self.hidden_size, dtype=torch.float))

    def forward(self, queries, keys, values):
        \"\"\"The forward pass of the scaled dot attention mechanism.

        Arguments:
            queries: The current decoder hidden state, 2D or 3D tensor. (batch_size x (k) x hidden_size)
            keys: The encoder hidden states for each step of the input sequence. (batch_size x seq_len x hidden_size)
            values: The encoder hidden states for each step of the input sequence. (batch_size x seq_len x hidden_size)

        Returns:
            context: weighted average of the values (batch_size x k x hidden_size)
            attention_weights: Normalized attention weights for each encoder hidden state. (batch_size x seq_len x k)
        \"\"\"
        # ------------
        # FILL THIS IN
        # ------------
        batch_size = keys.size(0)
        if queries.dim() == 2:
            queries = queries.unsqueeze(1)
        q = self.Q(queries)
        k = self.K(keys)
        v = self.V(values)
        unnormalized_attention = torch.bmm(q, k.transpose(1, 2)) * self.scaling_factor
        attention_weights = self.softmax(unnormalized_attention)
        context = torch.bmm(attention_weights, v)
        return context, attention_weights.transpose(1, 2)
""",
    ),
    (
        "md",
        """
## Q2: causal scaled dot-product attention
""",
    ),
    (
        "code",
        """
class CausalScaledDotAttention(nn.Module):
    def __init__(self, hidden_size):
        super(CausalScaledDotAttention, self).__init__()

        self.hidden_size = hidden_size
        self.neg_inf = torch.tensor(-1e7)

        self.Q = nn.Linear(hidden_size, hidden_size)
        self.K = nn.Linear(hidden_size, hidden_size)
        self.V = nn.Linear(hidden_size, hidden_size)
        self.softmax = nn.Softmax(dim=2)
        self.scaling_factor = torch.rsqrt(torch.tensor(self.hidden_size, dtype=torch.float))

    def forward(self, queries, keys, values):
        \"\"\"The forward pass of the causal scaled dot attention mechanism (shapes as in ScaledDotAttention).\"\"\"
        # ------------
        # FILL THIS IN
        # ------------
        if queries.dim() == 2:
            queries = queries.unsqueeze(1)
        q = self.Q(queries)
        k = self.K(keys)
        v = self.V(values)
        unnormalized_attention = torch.bmm(q, k.transpose(1, 2)) * self.scaling_factor
        mask = torch.tril(torch.ones(q.size(1), k.size(1), dtype=torch.bool, device=q.device))
        future = (~mask).to(unnormalized_attention.dtype) * self.neg_inf.to(q.device)
        attention_weights = self.softmax(unnormalized_attention + future)
        context = torch.bmm(attention_weights, v)
        return context, attention_weights.transpose(1, 2)
""",
    ),
    (
        "md",
        """
## Encoder and decoder (given)
""",
    ),
    (
        "code",
        """
class TransformerEncoder(nn.Module):
    def __init__(self, vocab_size, hidden_size, num_layers, opts):
        super(TransformerEncoder, self).__init__()
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.opts = opts
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.self_attentions = nn.ModuleList([ScaledDotAttention(hidden_size=hidden_size) for i in range(self.num_layers)])
        self.attention_mlps = nn.ModuleList(
            [nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU()) for i in range(self.num_layers)])
        self.positional_encodings = self.create_positional_encodings()

    def forward(self, inputs):
        batch_size, seq_len = inputs.size()
        encoded = self.embedding(inputs)
        encoded = encoded + self.positional_encodings[:seq_len]
        annotations = encoded
        for i in range(self.num_layers):
            new_annotations, self_attention_weights = self.self_attentions[i](annotations, annotations, annotations)
            residual_annotations = annotations + new_annotations
            new_annotations = self.attention_mlps[i](residual_annotations)
            annotations = residual_annotations + new_annotations
        return annotations, None

    def create_positional_encodings(self, max_seq_len=1000):
        \"\"\"Creates positional encodings for the inputs (sinusoids, as in "Attention is all you need").\"\"\"
        pos_indices = torch.arange(max_seq_len)[..., None]
        dim_indices = torch.arange(self.hidden_size // 2)[None, ...]
        exponents = (2 * dim_indices).float() / (self.hidden_size)
        trig_args = pos_indices / (10000**exponents)
        sin_terms = torch.sin(trig_args)
        cos_terms = torch.cos(trig_args)
        pos_encodings = torch.zeros((max_seq_len, self.hidden_size))
        pos_encodings[:, 0::2] = sin_terms
        pos_encodings[:, 1::2] = cos_terms
        if self.opts.cuda:
            pos_encodings = pos_encodings.cuda()
        return pos_encodings


class TransformerDecoder(nn.Module):
    def __init__(self, vocab_size, hidden_size, num_layers):
        super(TransformerDecoder, self).__init__()
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.num_layers = num_layers
        self.self_attentions = nn.ModuleList(
            [CausalScaledDotAttention(hidden_size=hidden_size) for i in range(self.num_layers)])
        self.encoder_attentions = nn.ModuleList(
            [ScaledDotAttention(hidden_size=hidden_size) for i in range(self.num_layers)])
        self.attention_mlps = nn.ModuleList(
            [nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU()) for i in range(self.num_layers)])
        self.out = nn.Linear(hidden_size, vocab_size)
        self.positional_encodings = self.create_positional_encodings()

    def forward(self, inputs, annotations, hidden_init):
        batch_size, seq_len = inputs.size()
        embed = self.embedding(inputs)
        embed = embed + self.positional_encodings[:seq_len]
        encoder_attention_weights_list = []
        self_attention_weights_list = []
        contexts = embed
        for i in range(self.num_layers):
            new_contexts, self_attention_weights = self.self_attentions[i](contexts, contexts, contexts)
            residual_contexts = contexts + new_contexts
            new_contexts, encoder_attention_weights = self.encoder_attentions[i](residual_contexts, annotations, annotations)
            residual_contexts = residual_contexts + new_contexts
            new_contexts = self.attention_mlps[i](residual_contexts)
            contexts = residual_contexts + new_contexts
            encoder_attention_weights_list.append(encoder_attention_weights)
            self_attention_weights_list.append(self_attention_weights)
        output = self.out(contexts)
        encoder_attention_weights = torch.stack(encoder_attention_weights_list)
        self_attention_weights = torch.stack(self_attention_weights_list)
        return output, (encoder_attention_weights, self_attention_weights)

    def create_positional_encodings(self, max_seq_len=1000):
        pos_indices = torch.arange(max_seq_len)[..., None]
        dim_indices = torch.arange(self.hidden_size // 2)[None, ...]
        exponents = (2 * dim_indices).float() / (self.hidden_size)
        trig_args = pos_indices / (10000**exponents)
        pos_encodings = torch.zeros((max_seq_len, self.hidden_size))
        pos_encodings[:, 0::2] = torch.sin(trig_args)
        pos_encodings[:, 1::2] = torch.cos(trig_args)
        return pos_encodings.cuda()
""",
    ),
    (
        "md",
        """
## Q4: training runs
""",
    ),
    (
        "code",
        """
TEST_SENTENCE = "the air conditioning is working"

args = AttrDict()
args_dict = {
    "data_file_name": "pig_latin_small", "cuda": True, "nepochs": 100, "checkpoint_dir": "checkpoints",
    "learning_rate": 5e-4, "early_stopping_patience": 100, "lr_decay": 0.99, "batch_size": 64,
    "hidden_size": 32, "num_transformer_layers": 4,
}
args.update(args_dict)
pairs, vocab_size, idx_dict = load_data(args.data_file_name)
print("Loaded {} unique pairs, vocabulary of {} tokens".format(len(set(pairs)), vocab_size))
""",
    ),
    (
        "code",
        """
%%time
trans32_encoder, trans32_decoder, trans32_losses = train(args)
""",
    ),
    (
        "md",
        """
# Part 2: Decoder-only NMT

## Q1: training tensors
""",
    ),
    (
        "code",
        """
def generate_tensors_for_training_decoder_nmt(src_EOP, tgt_EOS, start_token, cuda):
    \"\"\"Builds the decoder-only model's input (SOS + source + EOP + target) and target (source + EOP + target + EOS).

    Arguments:
        src_EOP: source characters followed by EOP (batch_size x src_len)
        tgt_EOS: target characters followed by EOS (batch_size x tgt_len)
        start_token: the SOS index
        cuda: whether the tensors live on the GPU
    Returns:
        SOS_src_EOP_tgt, src_EOP_tgt_EOS: both (batch_size x (src_len + tgt_len))
    \"\"\"
    # ------------
    # FILL THIS IN
    # ------------
    src_EOP_tgt_EOS = torch.cat([src_EOP, tgt_EOS], dim=1)
    start_column = to_var(torch.full((src_EOP.size(0), 1), start_token, dtype=torch.long), cuda)
    SOS_src_EOP_tgt = torch.cat([start_column, src_EOP_tgt_EOS[:, :-1]], dim=1)
    return SOS_src_EOP_tgt, src_EOP_tgt_EOS


def compute_loss(data_dict, model, idx_dict, criterion, optimizer, opts):
    \"\"\"Part 2: the loss of the decoder-only model on the target positions only.\"\"\"
    start_token = idx_dict["start_token"]
    end_token = idx_dict["end_token"]
    eop_token = idx_dict["eop_token"]
    char_to_index = idx_dict["char_to_index"]
    losses = []
    for key in data_dict:
        input_strings, target_strings = zip(*data_dict[key])
        src = [torch.LongTensor(string_to_index_list(s, char_to_index, eop_token)) for s in input_strings]
        tgt = [torch.LongTensor(string_to_index_list(s, char_to_index, end_token)) for s in target_strings]
        for i in range(0, len(src), opts.batch_size):
            src_EOP = to_var(torch.stack(src[i:i + opts.batch_size]), opts.cuda)
            tgt_EOS = to_var(torch.stack(tgt[i:i + opts.batch_size]), opts.cuda)
            inputs, targets = generate_tensors_for_training_decoder_nmt(src_EOP, tgt_EOS, start_token, opts.cuda)
            outputs, _ = model(inputs)
            span = tgt_EOS.size(1)
            loss = criterion(outputs[:, -span:].reshape(-1, outputs.size(2)), tgt_EOS.reshape(-1))
            losses.append(loss.item())
            if optimizer:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return np.mean(losses)
""",
    ),
    (
        "md",
        """
## Q2: decoder-only forward
""",
    ),
    (
        "code",
        """
class TransformerDecoder(nn.Module):
    def __init__(self, vocab_size, hidden_size, num_layers, loss_seq_span):
        super(TransformerDecoder, self).__init__()
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.num_layers = num_layers
        self.loss_seq_span = loss_seq_span
        self.self_attentions = nn.ModuleList(
            [CausalScaledDotAttention(hidden_size=hidden_size) for i in range(self.num_layers)])
        self.attention_mlps = nn.ModuleList(
            [nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU()) for i in range(self.num_layers)])
        self.out = nn.Linear(hidden_size, vocab_size)
        self.positional_encodings = self.create_positional_encodings()

    def forward(self, inputs):
        \"\"\"Forward pass of the decoder-only Transformer.

        Arguments:
            inputs: Input token indexes across a batch for all the time step. (batch_size x decoder_seq_len)
        Returns:
            output: Un-normalized scores for each token in the vocabulary. (batch_size x decoder_seq_len x vocab_size)
            attentions: The stacked self-attention weights of every layer. (num_layers x batch_size x seq_len x seq_len)
        \"\"\"
        batch_size, seq_len = inputs.size()
        embed = self.embedding(inputs)
        embed = embed + self.positional_encodings[:seq_len]
        self_attention_weights_list = []
        contexts = embed
        for i in range(self.num_layers):
            # ------------
            # FILL THIS IN
            # ------------
            new_contexts, self_attention_weights = self.self_attentions[i](contexts, contexts, contexts)
            residual_contexts = contexts + new_contexts
            new_contexts = self.attention_mlps[i](residual_contexts)
            contexts = residual_contexts + new_contexts
            self_attention_weights_list.append(self_attention_weights)
        output = self.out(contexts)
        self_attention_weights = torch.stack(self_attention_weights_list)
        return output, self_attention_weights

    def create_positional_encodings(self, max_seq_len=1000):
        pos_indices = torch.arange(max_seq_len)[..., None]
        dim_indices = torch.arange(self.hidden_size // 2)[None, ...]
        exponents = (2 * dim_indices).float() / (self.hidden_size)
        trig_args = pos_indices / (10000**exponents)
        pos_encodings = torch.zeros((max_seq_len, self.hidden_size))
        pos_encodings[:, 0::2] = torch.sin(trig_args)
        pos_encodings[:, 1::2] = torch.cos(trig_args)
        if torch.cuda.is_available():
            pos_encodings = pos_encodings.cuda()
        return pos_encodings
""",
    ),
    (
        "code",
        """
args = AttrDict()
args.update({"data_file_name": "pig_latin_small", "cuda": torch.cuda.is_available(), "nepochs": 100,
             "learning_rate": 5e-4, "early_stopping_patience": 100, "lr_decay": 0.99, "batch_size": 64,
             "hidden_size": 128, "num_transformer_layers": 4, "vocab_size": 30})
decoder_only = train_decoder_only(args)
translate_sentence(TEST_SENTENCE, decoder_only, idx_dict, args)
""",
    ),
    (
        "md",
        """
# Part 3: Scaling law and IsoFLOP profiles
""",
    ),
    (
        "code",
        """
def transformer_params(vocab_size, hidden_size, num_layers):
    \"\"\"Parameters of the decoder-only model, embeddings excluded.\"\"\"
    return num_layers * (4 * hidden_size**2 + 4 * hidden_size) + hidden_size * vocab_size + vocab_size


def transformer_flops(vocab_size, hidden_size, num_layers, seq_len, num_tokens):
    \"\"\"Training FLOPs: two per multiply-accumulate in the forward pass, twice that again for the backward pass.\"\"\"
    per_token = 2 * transformer_params(vocab_size, hidden_size, num_layers) + 2 * num_layers * seq_len * hidden_size
    return 3 * per_token * num_tokens


def get_scatter_data(runs, flop_budget, vocab_size=30, num_layers=4):
    \"\"\"Each run whose FLOP range covers the budget: (parameters, validation loss interpolated at the budget).\"\"\"
    params, losses = [], []
    for hidden_size, run in runs.items():
        flops, val_losses = np.asarray(run["flops"]), np.asarray(run["val_losses"])
        if flops.min() <= flop_budget <= flops.max():
            coeffs = np.polyfit(flops, val_losses, 5)
            params.append(transformer_params(vocab_size, hidden_size, num_layers))
            losses.append(np.polyval(coeffs, flop_budget))
    return np.array(params), np.array(losses)
""",
    ),
    (
        "code",
        """
hidden_sizes = [16, 32, 48, 64, 96, 128]
isoflop_runs = {}
for hidden_size in hidden_sizes:
    args.hidden_size = hidden_size
    isoflop_runs[hidden_size] = train_decoder_only(args)
""",
    ),
    (
        "md",
        """
## Q2 and Q3: IsoFLOP fits
""",
    ),
    (
        "code",
        """
def find_optimal_params(x, y):
    \"\"\"Fits a parabola to validation loss against log10(parameters); returns its coefficients and the vertex.\"\"\"
    # ------------
    # FILL THIS IN
    # ------------
    p = np.polyfit(np.log10(x), y, 2)
    optimal_params = 10 ** (-p[1] / (2 * p[0]))
    return p, optimal_params


def fit_linear_log(x, y):
    \"\"\"Fits log10(y) = m * log10(x) + c; returns (m, c).\"\"\"
    # ------------
    # FILL THIS IN
    # ------------
    m, c = np.polyfit(np.log10(x), np.log10(y), 1)
    return m, c
""",
    ),
    (
        "code",
        """
flop_budgets = [8e10, 1.6e11, 3.2e11, 6.4e11, 1.28e12]
optimal = [find_optimal_params(*get_scatter_data(isoflop_runs, budget))[1] for budget in flop_budgets]
m, c = fit_linear_log(flop_budgets, optimal)
print("y = {}x + {}".format(m, c))
print("Optimal model size at 1e15 FLOPs: {:.3g} parameters".format(10 ** (15 * m + c)))
""",
    ),
]
