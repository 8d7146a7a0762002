"""Peer of bench/forward: times transformers' *ForSequenceClassification forward pass.

usage: peer.py MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS DEVICE -> prints benchkit.measure's JSON
(seconds per repetition, peak resident memory). PRETRAINED is 1 to load MODEL_DIR's weights, 0 to
initialise randomly from its config.json; DEVICE is cpu or cuda.
"""
import json
import os
import sys

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchkit"))
import benchkit  # noqa: E402

model_dir, pretrained, batch, seq, reps, threads = sys.argv[1], *map(int, sys.argv[2:7])
dev = benchkit.device(sys.argv[7])
torch.set_num_threads(threads)
torch.manual_seed(0)
if pretrained:
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
else:
    model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model_dir, num_labels=2))
model.eval().to(dev)
gen = torch.Generator().manual_seed(1)
ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=gen)
mask = torch.ones_like(ids)
ids, mask = ids.to(dev), mask.to(dev)
with torch.inference_mode():
    result = benchkit.measure(lambda: model(input_ids=ids, attention_mask=mask), reps, dev)
print(json.dumps(result))
