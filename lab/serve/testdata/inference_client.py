"""Classifies texts with huggingface_hub's InferenceClient, the client of the Hugging Face
Inference API and Inference Endpoints, pointed at a tunelab server.

    python3 inference_client.py URL TEXT...

Prints JSON: for each of the server's root URL and URL/api/predict, every text's
text_classification answer, and the first text's with top_k=1.
"""

import json
import sys

import huggingface_hub
from huggingface_hub import InferenceClient


def scores(elements):
    return [{"label": e.label, "score": e.score} for e in elements]


def main():
    url, texts = sys.argv[1], sys.argv[2:]
    out = {"version": huggingface_hub.__version__}
    for name, model in [("root", url), ("api_predict", url + "/api/predict")]:
        client = InferenceClient(model=model, timeout=30)
        out[name] = {
            "all": [scores(client.text_classification(text)) for text in texts],
            "top1": scores(client.text_classification(texts[0], top_k=1)),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
