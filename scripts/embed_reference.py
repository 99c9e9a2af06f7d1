#!/usr/bin/env python3
"""Reference sentence embeddings for tests/fixtures/embed_reference.json.

An independent all-MiniLM-L6-v2 forward pass in plain numpy (float64), so the
Rust embedder (src/embed/) is checked against arithmetic that shares nothing
with candle: exact erf GELU, LayerNorm with the eps from config.json, mean
pooling over the tokens, L2 normalisation. Only the tokenizer is shared (the
same tokenizer.json through the `tokenizers` package), with the same 128-token
cap as the Rust side (sentence-transformers' own default is 256; the two agree
on every text of 128 tokens or fewer).

    python3 -m venv /tmp/embref && /tmp/embref/bin/pip install numpy safetensors tokenizers
    eval "$(scripts/embed-model.sh | sed 's/^/export /')"
    /tmp/embref/bin/python scripts/embed_reference.py > tests/fixtures/embed_reference.json
"""

import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 128

SENTENCES = [
    "I want to die",
    "I want to kill myself",
    "this homework is killing me",
    "I love pizza",
    "ok",
    "feeling so alone tonight 😔💔 nobody texts back anymore 🙃",
    "Je suis épuisée, VRAIMENT épuisée... I can't keep doing this!!!",
    "so idk where to even start lol. its been a rough few months, i lost my job in "
    "march and then my gf left and honestly i havent really been sleeping, like "
    "maybe 3 or 4 hours a night if im lucky. my freinds keep saying it gets better "
    "but they dont really get it tbh. i know i wont do anything stupid but sometimes "
    "i think everyone would be better off without me around, like i'm just a burden "
    "to my mom and my sister. anyway my dog is the only reason i get out of bed some "
    "days. sorry for the wall of text i just needed to tell someone who doesnt know "
    "me. thanks for reading if you got this far, it means alot",
]


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu_erf(x):
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)).astype(np.float64))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def linear(w, prefix, x):
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def encoder_layer(w, cfg, i, x):
    p = f"encoder.layer.{i}."
    heads = cfg["num_attention_heads"]
    n, hidden = x.shape
    size = hidden // heads

    def split(t):
        return t.reshape(n, heads, size).transpose(1, 0, 2)

    q = split(linear(w, p + "attention.self.query", x))
    k = split(linear(w, p + "attention.self.key", x))
    v = split(linear(w, p + "attention.self.value", x))
    probs = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(size))
    ctx = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
    eps = cfg["layer_norm_eps"]
    x = layer_norm(
        linear(w, p + "attention.output.dense", ctx) + x,
        w[p + "attention.output.LayerNorm.weight"],
        w[p + "attention.output.LayerNorm.bias"],
        eps,
    )
    inter = gelu_erf(linear(w, p + "intermediate.dense", x))
    return layer_norm(
        linear(w, p + "output.dense", inter) + x,
        w[p + "output.LayerNorm.weight"],
        w[p + "output.LayerNorm.bias"],
        eps,
    )


def embed(w, cfg, ids):
    """One unpadded sequence, so every token counts in the mean."""
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][: len(ids)]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(
        x,
        w["embeddings.LayerNorm.weight"],
        w["embeddings.LayerNorm.bias"],
        cfg["layer_norm_eps"],
    )
    for i in range(cfg["num_hidden_layers"]):
        x = encoder_layer(w, cfg, i, x)
    pooled = x.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


# Cosines sentence-transformers gives for this model: a wrong forward pass
# rarely lands within 0.02 of all three.
SANITY = {
    "I want to kill myself": 0.82,
    "this homework is killing me": 0.19,
    "I love pizza": 0.24,
}


def check_sanity(vectors):
    anchor = vectors["I want to die"]
    for other, expected in SANITY.items():
        cos = float(anchor @ vectors[other])
        print(f"cos('I want to die', {other!r}) = {cos:.4f}", file=sys.stderr)
        if abs(cos - expected) > 0.02:
            sys.exit(f"sanity cosine off for {other!r}: {cos:.4f}, expected ~{expected}")


def main():
    model_dir = os.environ.get("COE_EMBED_MODEL_DIR")
    if not model_dir:
        sys.exit("COE_EMBED_MODEL_DIR is not set: run scripts/embed-model.sh")
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = {
        k: v.astype(np.float64)
        for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()
        if v.dtype == np.float32
    }
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)

    items = []
    for text in SENTENCES:
        ids = tokenizer.encode(text).ids
        vector = [round(float(v), 6) for v in embed(weights, cfg, np.array(ids))]
        items.append({"text": text, "tokens": len(ids), "vector": vector})
    check_sanity({it["text"]: np.array(it["vector"]) for it in items})
    # One item per line: small diffs when the fixture is regenerated.
    lines = ",\n  ".join(json.dumps(it, ensure_ascii=False) for it in items)
    print(f'{{"model": "all-MiniLM-L6-v2", "max_tokens": {MAX_TOKENS}, "items": [\n  {lines}\n]}}')


if __name__ == "__main__":
    main()
