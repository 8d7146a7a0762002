#!/usr/bin/env python3
"""Writes the round-trip goldens: what Hugging Face transformers computes on models that
`tunelab train` fine-tuned and saved, one per problem type.

    /opt/oracle-venv/bin/python lab/train/testdata/make_roundtrip_golden.py [GOLDEN.json ...]

Run from the repository root (needs go, torch, transformers, models/all-MiniLM-L6-v2 and the
dataset mirror in $TUNELAB_DATA or ../shared/data). For each golden of RUNS (all, or those
named) it runs `tunelab train` with its train_args (a deterministic short fine-tune: dropout
off, fixed seed) into a temporary --out directory, loads that directory with AutoTokenizer and
AutoModelForSequenceClassification (reporting no missing, unexpected or mismatched weights),
and records for its texts the logits and the problem type transformers reads from config.json,
plus the file names and config.json that transformers' own save_pretrained writes for the
loaded model and tokenizer. cmd/tunelab/train_test.go repeats the same runs and compares.
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
# {model}, {data}, {testdata} and {out} are filled in by this script and by the Go test.
COMMON_ARGS = ["--model", "{model}", "--data", "{data}", "--max-steps", "3", "--batch-size", "8",
               "--max-length", str(MAX_LENGTH), "--dropout", "0", "--lr", "1e-3", "--seed", "7", "--out", "{out}"]
TWEETS = [
    "Forest fire near La Ronge Sask. Canada",
    "I love fruits",
    "Heard about #earthquake is different cities, stay safe everyone.",
    "Summer is lovely",
    "The flood waters rose overnight and hundreds of families were evacuated from the valley towns before dawn, officials said on Monday",
]
REVIEWS = [
    "One of the best films I have seen in years: moving, funny and beautifully shot.",
    "Dull, far too long, and the ending makes no sense at all.",
    "An average thriller with a couple of good scenes.",
    "I walked out after an hour. Avoid.",
]
TAGGED = [
    "Thunderstorms forced the cup final to be postponed.",
    "The prime minister resigned after the vote.",
    "A quiet evening with a good book.",
]
# Golden file -> the tunelab train arguments of its run and the texts whose logits it records.
RUNS = {
    "roundtrip_golden.json": {
        "train_args": ["--model", "{model}", "--task", "tweets", "--data", "{data}", "--limit", "24",
                       "--max-steps", "3", "--batch-size", "8", "--max-length", str(MAX_LENGTH), "--dropout", "0",
                       "--lr", "1e-3", "--seed", "7", "--out", "{out}"],
        "texts": TWEETS,
    },
    # IMDB star ratings: a regression head (num_labels 1, MSE).
    "roundtrip_regression_golden.json": {
        "train_args": ["--task", "imdb-rating", "--limit", "24"] + COMMON_ARGS,
        "texts": REVIEWS,
    },
    # tags.jsonl: sets of tags, a multi-label head (BCE with logits).
    "roundtrip_multilabel_golden.json": {
        "train_args": ["--task", "{testdata}/tags.jsonl", "--text", "text", "--label", "tags", "--problem", "multilabel",
                       "--validation", "0.25"] + COMMON_ARGS,
        "texts": TAGGED,
    },
}


def make(root, name, run):
    model = os.path.join(root, "models", "all-MiniLM-L6-v2")
    data = os.environ.get("TUNELAB_DATA") or os.path.join(root, "..", "shared", "data")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tuned")
        args = [a.format(model=model, data=data, testdata=HERE, out=out) for a in run["train_args"]]
        env = dict(os.environ, GOEXPERIMENT="simd")
        subprocess.run(["go", "run", "./cmd/tunelab", "train", *args], cwd=root, env=env, check=True)

        torch.use_deterministic_algorithms(True)
        tok = AutoTokenizer.from_pretrained(out)
        clf, info = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32, output_loading_info=True)
        problems = {k: v for k, v in info.items() if v}
        if problems:
            sys.exit(f"transformers reported {problems} loading {out}")
        clf.eval()
        enc = tok(run["texts"], padding="longest", truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
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
        "train_args": run["train_args"],
        "texts": run["texts"],
        "max_length": MAX_LENGTH,
        "input_ids": enc["input_ids"].tolist(),
        "logits": logits.tolist(),
        "transformers_files": files,
        "transformers_config": config,
    }
    if config.get("problem_type"):
        # The problem type the reloaded model trains and predicts with (None: transformers
        # chooses it from num_labels and the label type at the first labelled batch).
        golden["problem_type"] = clf.config.problem_type
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(HERE, name)}: logits {logits.tolist()}")


def main():
    root = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
    for name in sys.argv[1:] or RUNS:
        if name not in RUNS:
            sys.exit(f"unknown golden {name}: want one of {sorted(RUNS)}")
        make(root, name, RUNS[name])


if __name__ == "__main__":
    main()
