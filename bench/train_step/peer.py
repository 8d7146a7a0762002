"""Peer of bench/train_step: times one training step of transformers' *ForSequenceClassification
with torch.optim.AdamW as the Trainer runs it: train mode, cross-entropy, backward, gradient
clipping at 1.0, optimizer step, zero_grad (weight decay on every parameter: the Trainer's decay
groups do not change the cost).

usage: peer.py MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS -> prints a JSON list of seconds per step.
PRETRAINED is 1 to load MODEL_DIR's weights, 0 to initialise randomly from its config.json.
"""
import json
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

model_dir, pretrained, batch, seq, reps, threads = sys.argv[1], *map(int, sys.argv[2:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
if pretrained:
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
else:
    model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model_dir, num_labels=2))
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
gen = torch.Generator().manual_seed(1)
ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=gen)
mask = torch.ones_like(ids)
labels = torch.randint(0, 2, (batch,), generator=gen)
times = []
for i in range(reps + 1):
    start = time.perf_counter()
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    if i > 0:
        times.append(time.perf_counter() - start)
print(json.dumps(times))
