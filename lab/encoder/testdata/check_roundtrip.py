#!/usr/bin/env python3
"""Checks that a model directory written by tunelab loads in Hugging Face transformers and gives the
logits tunelab computed.

    /opt/oracle-venv/bin/python check_roundtrip.py MODEL_DIR EXPECTED.json [--atol 1e-4]

MODEL_DIR holds config.json, model.safetensors (or a sharded index) and tokenizer files. EXPECTED.json:

    {"texts": ["first text", ...], "logits": [[l0, l1, ...], ...], "max_length": 128}

max_length is optional (default 128). The texts are tokenized together with AutoTokenizer (padding to
the longest, truncation at max_length) and run through
AutoModelForSequenceClassification.from_pretrained in eval mode, float32.

Exit status: 0 when max |logits - expected| <= atol; 1 when it is larger; 2 when the directory or the
JSON cannot be used (missing or unexpected weights, shape mismatch, bad JSON).
"""

import argparse
import json
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def fail(status, msg):
    print(f"check_roundtrip: {msg}", file=sys.stderr)
    sys.exit(status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("expected_json")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()

    try:
        with open(args.expected_json, encoding="utf-8") as f:
            exp = json.load(f)
        texts, want = exp["texts"], torch.tensor(exp["logits"], dtype=torch.float32)
        max_length = int(exp.get("max_length", 128))
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(2, f"{args.expected_json}: {e!r}")
    if want.dim() != 2 or want.shape[0] != len(texts):
        fail(2, f"{args.expected_json}: logits shape {list(want.shape)}, want [{len(texts)}, num_labels]")

    torch.use_deterministic_algorithms(True)
    try:
        tok = AutoTokenizer.from_pretrained(args.model_dir)
        model, info = AutoModelForSequenceClassification.from_pretrained(
            args.model_dir, dtype=torch.float32, output_loading_info=True
        )
    except (OSError, ValueError, RuntimeError) as e:
        fail(2, f"{args.model_dir}: {e}")
    problems = {k: v for k, v in info.items() if v}
    if problems:
        fail(2, f"{args.model_dir}: transformers reported {problems}")

    model.eval()
    enc = tok(texts, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        got = model(**enc).logits.float()
    if got.shape != want.shape:
        fail(1, f"{args.model_dir}: logits shape {list(got.shape)}, expected {list(want.shape)}")
    diff = (got - want).abs()
    worst = diff.max().item()
    if worst > args.atol:
        row, col = divmod(int(diff.argmax()), diff.shape[1])
        fail(
            1,
            f"{args.model_dir}: max |logits - expected| = {worst:.3g} > {args.atol:g} "
            f"at text {row} label {col} (got {got[row, col].item():.6g}, expected {want[row, col].item():.6g})",
        )
    print(f"check_roundtrip: {args.model_dir}: {len(texts)} texts, max |logits - expected| = {worst:.3g} <= {args.atol:g}")


if __name__ == "__main__":
    main()
