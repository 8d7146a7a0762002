#!/usr/bin/env python3
"""The transformers Trainer side of bench/finetune: one seed of the recipe on the split tunelab made.

    python peer.py RECIPE.json SPLIT.json TRAIN_CSV SEED

RECIPE.json and SPLIT.json are written by bench/finetune/main.go; TRAIN_CSV is Kaggle's
disaster_tweets/train.csv. The split's ids are looked up in the CSV and their targets checked
against the split's labels, so both sides train and validate on the same examples. Prints one
JSON object: seed, f1_disaster, accuracy, train_seconds, eval_seconds (the validation
predictions), seconds_per_epoch, train_samples_per_second.
"""

import csv
import json
import sys
import tempfile
import time

import torch
from sklearn.metrics import accuracy_score, f1_score
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)


def main():
    recipe_path, split_path, train_csv, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    # The Trainer prints its metrics on stdout, which carries only this script's result.
    result_out, sys.stdout = sys.stdout, sys.stderr
    with open(recipe_path) as f:
        r = json.load(f)
    with open(split_path) as f:
        split = json.load(f)
    torch.set_num_threads(r["threads"])
    with open(train_csv, newline="", encoding="utf-8") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}

    def examples(ids, labels):
        texts = []
        for i, label in zip(ids, labels):
            row = rows.get(i)
            if row is None or int(row["target"]) != label:
                sys.exit(f"peer: id {i}: not in {train_csv} or target differs from the split's {label}")
            texts.append(row["text"])
        return texts

    tok = AutoTokenizer.from_pretrained(r["model"])

    class Tweets(torch.utils.data.Dataset):
        def __init__(self, ids, labels):
            self.enc = tok(examples(ids, labels), truncation=True, max_length=r["max_length"])
            self.labels = labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            item = {k: v[i] for k, v in self.enc.items()}
            item["labels"] = self.labels[i]
            return item

    train = Tweets(split["train_ids"], split["train_labels"])
    val = Tweets(split["validation_ids"], split["validation_labels"])

    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        r["model"], num_labels=2, id2label={0: "not disaster", 1: "disaster"}, label2id={"not disaster": 0, "disaster": 1}
    )
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            learning_rate=r["learning_rate"],
            per_device_train_batch_size=r["batch_size"],
            per_device_eval_batch_size=r["batch_size"],
            num_train_epochs=r["epochs"],
            weight_decay=r["weight_decay"],
            warmup_steps=r["warmup_ratio"],  # a float below 1 is a ratio of the steps (transformers 5)
            lr_scheduler_type="linear",
            train_sampling_strategy="group_by_length",
            eval_strategy="no",
            save_strategy="no",
            logging_steps=50,
            report_to=[],
            seed=seed,
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tok))
        start = time.perf_counter()
        trainer.train()
        secs = time.perf_counter() - start
        start = time.perf_counter()
        pred = trainer.predict(val)
        eval_secs = time.perf_counter() - start
    # transformers 5 also length-groups the evaluation batches under group_by_length, so the
    # predictions come in the sampler's order: score them against the labels returned with them.
    y = pred.label_ids
    p = pred.predictions.argmax(-1)
    if sorted(y.tolist()) != sorted(split["validation_labels"]):
        sys.exit("peer: the labels returned with the predictions are not the validation split's")
    json.dump(
        {
            "seed": seed,
            "f1_disaster": float(f1_score(y, p, pos_label=1)),
            "accuracy": float(accuracy_score(y, p)),
            "train_seconds": secs,
            "eval_seconds": eval_secs,
            "seconds_per_epoch": secs / r["epochs"],
            "train_samples_per_second": len(train) * r["epochs"] / secs,
        },
        result_out,
    )


if __name__ == "__main__":
    main()
