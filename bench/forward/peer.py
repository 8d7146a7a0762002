"""Peer of bench/forward: times transformers' BertForSequenceClassification forward pass.

usage: peer.py MODEL_DIR BATCH SEQ REPS THREADS -> prints a JSON list of seconds per repetition.
"""
import json
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification

model_dir, batch, seq, reps, threads = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(threads)
model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2).eval()
gen = torch.Generator().manual_seed(1)
ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=gen)
mask = torch.ones_like(ids)
times = []
with torch.inference_mode():
    for i in range(reps + 1):
        start = time.perf_counter()
        model(input_ids=ids, attention_mask=mask)
        if i > 0:
            times.append(time.perf_counter() - start)
print(json.dumps(times))
