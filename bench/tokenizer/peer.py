"""Peer of bench/tokenizer: times Hugging Face tokenizers' encode_batch on the same texts.

usage: RAYON_NUM_THREADS=N peer.py TOKENIZER_JSON TEXTS_JSONL MAX_LENGTH CHUNK REPS
prints {"times": [seconds per pass], "tokens": tokens produced in a pass}.
"""
import json
import sys
import time

from tokenizers import Tokenizer

path, texts_path = sys.argv[1], sys.argv[2]
max_length, chunk, reps = map(int, sys.argv[3:6])
tok = Tokenizer.from_file(path)
tok.enable_truncation(max_length)
tok.no_padding()
with open(texts_path, encoding="utf-8") as f:
    texts = [json.loads(line) for line in f]
times, tokens = [], 0
for rep in range(reps + 1):
    start = time.perf_counter()
    tokens = 0
    for lo in range(0, len(texts), chunk):
        for enc in tok.encode_batch(texts[lo : lo + chunk]):
            tokens += len(enc.ids)
    if rep > 0:
        times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "tokens": tokens}))
