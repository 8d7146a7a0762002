"""Serves a fine-tuned text classifier the Python way, for bench/serve to compare with tunelab.

A Gradio Interface (Textbox -> Label, api_name "predict", batched like tunelab's micro-batcher)
around a transformers text-classification pipeline. `go run ./bench/serve -compare` starts it
beside `tunelab serve` on the same saved model and loads both the same way (the Gradio REST
recipe); by hand:

    /opt/oracle-venv/bin/python bench/serve/gradio_peer.py --model MODEL_DIR --port 7861 &
    go run ./bench/serve -url http://127.0.0.1:7861 -api gradio -pid $! -duration 60s

Needs torch, transformers and gradio in the interpreter.
It listens on 127.0.0.1 only and sends no analytics.
"""

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from transformers import pipeline  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="Hugging Face model folder (config.json, weights, tokenizer)")
    ap.add_argument("--port", type=int, default=7861)
    ap.add_argument("--max-batch", type=int, default=16, help="like tunelab serve's MaxBatch")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument("--top-k", type=int, default=5)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    clf = pipeline("text-classification", model=args.model, tokenizer=args.model, device=-1, top_k=None)

    def predict(texts: list[str]) -> list[list[dict[str, float]]]:
        # batch=True: Gradio hands over up to max_batch queued texts and expects one list per
        # output component.
        with torch.inference_mode():
            scored = clf(list(texts), batch_size=len(texts), truncation=True)
        return [[{s["label"]: float(s["score"]) for s in row} for row in scored]]

    demo = gr.Interface(
        fn=predict,
        inputs=gr.Textbox(label="Text"),
        outputs=gr.Label(num_top_classes=args.top_k, label="Label"),
        title=os.path.basename(os.path.normpath(args.model)),
        batch=True,
        max_batch_size=args.max_batch,
        api_name="predict",
        flagging_mode="never",
    )
    demo.queue(default_concurrency_limit=1, max_size=256)
    demo.launch(server_name="127.0.0.1", server_port=args.port, share=False)


if __name__ == "__main__":
    main()
