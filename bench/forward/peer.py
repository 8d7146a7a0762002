"""Peer of bench/forward: times transformers' *ForSequenceClassification forward pass.

usage: peer.py MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS DEVICE -> prints benchkit.measure's JSON
(seconds per repetition, peak resident memory). PRETRAINED is 1 to load MODEL_DIR's weights, 0 to
initialise randomly from its config.json; DEVICE is cpu or cuda.
"""
import json
import os
import sys

import torch

sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchkit"))
import benchkit  # noqa: E402

model, ids, mask, _, reps, dev = benchkit.classifier_workload(sys.argv[1:])
model.eval()
with torch.inference_mode():
    result = benchkit.measure(lambda: model(input_ids=ids, attention_mask=mask), reps, dev)
print(json.dumps(result))
