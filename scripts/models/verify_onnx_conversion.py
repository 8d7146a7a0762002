#!/usr/bin/env python3
"""Check a checkpoint made by onnx_to_safetensors.py against the ONNX model it came from.

Usage: verify_onnx_conversion.py CHECKPOINT_DIR MODEL.onnx [--reference REF.safetensors]

It tokenizes a padded batch of texts with CHECKPOINT_DIR/tokenizer.json, runs the ONNX model
with onnxruntime, runs an independent BertModel forward pass in numpy (float64) on
CHECKPOINT_DIR's config.json and model.safetensors, and fails unless the last_hidden_state
values of the real (not padding) tokens agree within --tolerance (default 1e-4). With --reference, every tensor of the
conversion must also equal the same-named tensor of REF.safetensors exactly (used to check the
converter on a model published in both forms).
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import onnxruntime
from safetensors.numpy import load_file
from tokenizers import Tokenizer

TEXTS = [
    "The movie was absolutely wonderful, I loved every minute of it!",
    "Forest fire near La Ronge Sask. Canada",
    "Wall St. rallies as oil prices fall; tech stocks lead the Nasdaq higher.",
    "naïve café résumé — 100% ÜBER déjà-vu #hashtag @user http://t.co/xyz",
    "short",
    " ".join(["A long sentence that repeats itself to exercise positions beyond the first few."] * 4),
]

_erf = np.frompyfunc(math.erf, 1, 1)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def activation(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))
    if name == "relu":
        return np.maximum(x, 0)
    sys.exit(f"verify_onnx_conversion: hidden_act {name!r} is not implemented here")


def bert_forward(w, cfg, ids, mask, token_types):
    """BertModel's last_hidden_state [batch, seq, hidden], as transformers computes it."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    eps, heads = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    batch, seq = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][np.arange(seq)]
         + w["embeddings.token_type_embeddings.weight"][token_types])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    key_bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
    head_dim = cfg["hidden_size"] // heads

    def linear(name, v):
        return v @ w[name + ".weight"].T + w[name + ".bias"]

    def split(v):
        return v.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

    for n in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        q, k, v = (split(linear(p + "attention.self." + m, x)) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + key_bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, cfg["hidden_size"])
        x = layer_norm(linear(p + "attention.output.dense", context) + x,
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        inner = activation(cfg["hidden_act"], linear(p + "intermediate.dense", x))
        x = layer_norm(linear(p + "output.dense", inner) + x,
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint_dir")
    ap.add_argument("onnx_model")
    ap.add_argument("--reference")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    with open(os.path.join(args.checkpoint_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = load_file(os.path.join(args.checkpoint_dir, "model.safetensors"))

    if args.reference:
        ref = load_file(args.reference)
        common = sorted(set(ref) & set(weights))
        differ = [k for k in common if ref[k].shape != weights[k].shape or not np.array_equal(ref[k], weights[k])]
        print(f"verify_onnx_conversion: {len(common)} tensors shared with {args.reference}; "
              f"only in the reference: {sorted(set(ref) - set(weights))}; only in the conversion: "
              f"{sorted(set(weights) - set(ref))}")
        if differ or set(weights) - set(ref):
            sys.exit(f"verify_onnx_conversion: tensors differ from the reference: {differ}")

    tokenizer = Tokenizer.from_file(os.path.join(args.checkpoint_dir, "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    encodings = tokenizer.encode_batch(TEXTS)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    token_types = np.array([e.type_ids for e in encodings], dtype=np.int64)

    session = onnxruntime.InferenceSession(args.onnx_model, providers=["CPUExecutionProvider"])
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types}
    feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
    # Exports name the hidden states "last_hidden_state" or, in older ones, just output 0.
    names = [o.name for o in session.get_outputs()]
    output = "last_hidden_state" if "last_hidden_state" in names else names[0]
    want = session.run([output], feeds)[0]
    got = bert_forward(weights, cfg, ids, mask.astype(np.float64), token_types)
    # Only real tokens count: the states at padding positions are never used, and float32
    # rounding grows there (up to ~2e-4 for e5-small-v2, against ~5e-6 on real tokens).
    diff = float(np.abs(got - want)[mask == 1].max())
    print(f"verify_onnx_conversion: last_hidden_state {list(want.shape)}, {int(mask.sum())} real tokens, "
          f"max |numpy - onnxruntime| = {diff:.3g} (tolerance {args.tolerance:g})")
    if not diff < args.tolerance:
        sys.exit(f"verify_onnx_conversion: {args.checkpoint_dir} does not reproduce {args.onnx_model}")


if __name__ == "__main__":
    main()
