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

# benchkit.py is in bench/forward/benchkit, or beside this file where bench/gpu.sh build put both.
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forward", "benchkit"))
import benchkit  # noqa: E402

model, ids, mask, gen, reps, dev = benchkit.classifier_workload(sys.argv[1:])
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
labels = torch.randint(0, 2, (ids.shape[0],), generator=gen).to(dev)


def step():
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()


print(json.dumps(benchkit.measure(step, reps, dev)))
