"""Calls a running server through the real gradio_client, as a Hugging Face Spaces client would.

Usage: python3 gradio_client_predict.py URL TEXT...

Prints one JSON object: the gradio_client version, the /predict result of each TEXT, the
endpoint description from view_api, and the error raised for an empty text.
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio_client  # noqa: E402
from gradio_client import Client  # noqa: E402


def main() -> None:
    url, texts = sys.argv[1], sys.argv[2:]
    client = Client(url, verbose=False)
    try:
        results = [client.predict(t, api_name="/predict") for t in texts]
        # Several jobs in flight at once share one event stream.
        jobs = [client.submit(t, api_name="/predict") for t in texts]
        submitted = [j.result(timeout=30) for j in jobs]
        api = client.view_api(print_info=False, return_format="dict")
        try:
            client.predict("", api_name="/predict")
            empty_error = None
        except Exception as e:  # the client's ValidationError
            empty_error = f"{type(e).__name__}: {e}"
    finally:
        client.close()
    print(json.dumps({
        "version": gradio_client.__version__,
        "results": results,
        "submitted": submitted,
        "api": api,
        "empty_error": empty_error,
    }))


if __name__ == "__main__":
    main()
