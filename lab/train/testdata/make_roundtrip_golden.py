#!/usr/bin/env python3
"""Writes roundtrip_golden.json: what Hugging Face transformers computes on a model that
`tunelab train` fine-tuned and saved.

    /opt/oracle-venv/bin/python lab/train/testdata/make_roundtrip_golden.py

Run from the repository root (needs go, torch, transformers, models/all-MiniLM-L6-v2 and the
dataset mirror in $TUNELAB_DATA or ../shared/data). It runs `tunelab train` with TRAIN_ARGS (a
deterministic short fine-tune: dropout off, fixed seed) into a temporary --out directory, loads
that directory with AutoTokenizer and AutoModelForSequenceClassification (reporting no missing,
unexpected or mismatched weights), and records for TEXTS the logits, plus the file names and
config.json that transformers' own save_pretrained writes for the loaded model and tokenizer.
cmd/tunelab/train_test.go repeats the same run and compares.
"""

import json
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_LENGTH = 32
# {model}, {data} and {out} are filled in by this script and by the Go test.
TRAIN_ARGS = ["--model", "{model}", "--task", "tweets", "--data", "{data}", "--limit", "24",
              "--max-steps", "3", "--batch-size", "8", "--max-length", str(MAX_LENGTH), "--dropout", "0",
              "--lr", "1e-3", "--seed", "7", "--out", "{out}"]
TEXTS = [
    "Forest fire near La Ronge Sask. Canada",
    "I love fruits",
    "Heard about #earthquake is different cities, stay safe everyone.",
    "Summer is lovely",
    "The flood waters rose overnight and hundreds of families were evacuated from the valley towns before dawn, officials said on Monday",
]


def main():
    root = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
    model = os.path.join(root, "models", "all-MiniLM-L6-v2")
    data = os.environ.get("TUNELAB_DATA") or os.path.join(root, "..", "shared", "data")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tuned")
        args = [a.format(model=model, data=data, out=out) for a in TRAIN_ARGS]
        env = dict(os.environ, GOEXPERIMENT="simd")
        subprocess.run(["go", "run", "./cmd/tunelab", "train", *args], cwd=root, env=env, check=True)

        torch.use_deterministic_algorithms(True)
        tok = AutoTokenizer.from_pretrained(out)
        clf, info = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32, output_loading_info=True)
        problems = {k: v for k, v in info.items() if v}
        if problems:
            sys.exit(f"transformers reported {problems} loading {out}")
        clf.eval()
        enc = tok(TEXTS, padding="longest", truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
        with torch.no_grad():
            logits = clf(**enc).logits.float()

        resaved = os.path.join(tmp, "resaved")
        clf.save_pretrained(resaved)
        tok.save_pretrained(resaved)
        with open(os.path.join(resaved, "config.json")) as f:
            config = json.load(f)
        files = sorted(os.listdir(resaved))

    golden = {
        "made_with": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "train_args": TRAIN_ARGS,
        "texts": TEXTS,
        "max_length": MAX_LENGTH,
        "input_ids": enc["input_ids"].tolist(),
        "logits": logits.tolist(),
        "transformers_files": files,
        "transformers_config": config,
    }
    with open(os.path.join(HERE, "roundtrip_golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(HERE, 'roundtrip_golden.json')}: logits {logits.tolist()}")


if __name__ == "__main__":
    main()
