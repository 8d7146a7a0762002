"""Peer of bench/train_step: times one training step of transformers' *ForSequenceClassification
with torch.optim.AdamW as the Trainer runs it: train mode, cross-entropy, backward, gradient
clipping at 1.0, optimizer step, zero_grad (weight decay on every parameter: the Trainer's decay
groups do not change the cost).

usage: peer.py MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS DEVICE -> prints benchkit.measure's
JSON (seconds per step, peak resident memory). PRETRAINED is 1 to load MODEL_DIR's weights, 0 to
initialise randomly from its config.json; DEVICE is cpu or cuda.
"""
import json
import os
import sys

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

# benchkit.py is in bench/forward/benchkit, or beside this file where bench/gpu.sh build put both.
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forward", "benchkit"))
import benchkit  # noqa: E402

model_dir, pretrained, batch, seq, reps, threads = sys.argv[1], *map(int, sys.argv[2:7])
dev = benchkit.device(sys.argv[7])
torch.set_num_threads(threads)
torch.manual_seed(0)
if pretrained:
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
else:
    model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model_dir, num_labels=2))
model.train().to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
gen = torch.Generator().manual_seed(1)
ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=gen)
mask = torch.ones_like(ids)
labels = torch.randint(0, 2, (batch,), generator=gen)
ids, mask, labels = ids.to(dev), mask.to(dev), labels.to(dev)


def step():
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()


print(json.dumps(benchkit.measure(step, reps, dev)))
