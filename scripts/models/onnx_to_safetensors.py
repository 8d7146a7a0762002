#!/usr/bin/env python3
"""Convert a BERT ONNX export (as made by transformers/optimum from a BertModel) into the
Hugging Face checkpoint layout tunelab reads: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, vocab.txt.

Usage: onnx_to_safetensors.py MODEL.onnx TOKENIZER.json OUT_DIR --config JSON

--config holds what the ONNX weights cannot tell (num_attention_heads, layer_norm_eps,
hidden_act, ...); the sizes (vocab, hidden, intermediate, layers, positions, token types) are
read from the weights and must agree with it.

Why a graph walk: torch.onnx.export keeps the names of parameters it stores as-is
(embeddings, biases, LayerNorm) but stores every nn.Linear weight transposed, as an anonymous
"onnx::MatMul_N" initializer. Each such weight W feeds a MatMul whose output goes into an Add
with the layer's named bias, so the bias name gives the weight's name, and W.T its value.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import save_file

# Parameters of an ONNX export that BertModel's checkpoints do not need: position_ids is a
# buffer that transformers rebuilds (and newer versions no longer save).
IGNORED = {"embeddings.position_ids"}


# BertModel's pooler: ONNX exports of last_hidden_state alone leave it out.
POOLER = ("pooler.dense.weight", "pooler.dense.bias")


def bert_parameter_shapes(cfg):
    """BertModel's parameters and their shapes, as in transformers."""
    h, i = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = {
        "embeddings.word_embeddings.weight": (cfg["vocab_size"], h),
        "embeddings.position_embeddings.weight": (cfg["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": (cfg["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for n in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[p + name + ".weight"] = (h, h)
            shapes[p + name + ".bias"] = (h,)
        shapes[p + "intermediate.dense.weight"] = (i, h)
        shapes[p + "intermediate.dense.bias"] = (i,)
        shapes[p + "output.dense.weight"] = (h, i)
        shapes[p + "output.dense.bias"] = (h,)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + ln + ".weight"] = (h,)
            shapes[p + ln + ".bias"] = (h,)
    shapes[POOLER[0]], shapes[POOLER[1]] = (h, h), (h,)
    return shapes


def extract_parameters(graph):
    """Maps the graph's initializers to BERT parameter names (see the module doc)."""
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    params = {name: value for name, value in inits.items() if not name.startswith("onnx::") and name not in IGNORED}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits or not node.input[1].startswith("onnx::"):
            continue
        weight = node.input[1]
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        biases = [x for n in adds for x in n.input if x in inits and x.endswith(".bias")]
        if len(biases) != 1:
            sys.exit(f"onnx_to_safetensors: MatMul {node.name!r} (weight {weight}) is followed by biases {biases}, "
                     "want exactly one named bias")
        name = biases[0][: -len(".bias")] + ".weight"
        if name in params:
            sys.exit(f"onnx_to_safetensors: {name} is produced by two MatMuls (second: {node.name!r})")
        params[name] = np.ascontiguousarray(inits[weight].T)  # ONNX x@W, nn.Linear x@W.T

    used = set(params) | IGNORED
    mapped = {n.input[1] for n in graph.node if n.op_type == "MatMul" and n.input[1] in inits}
    left = sorted(set(inits) - used - mapped)
    if left:
        sys.exit(f"onnx_to_safetensors: initializers not mapped to BERT parameters: {left}")
    return params


def derive_config(params, given):
    layers = sorted({int(k.split(".")[2]) for k in params if k.startswith("encoder.layer.")})
    derived = {
        "vocab_size": params["embeddings.word_embeddings.weight"].shape[0],
        "hidden_size": params["embeddings.word_embeddings.weight"].shape[1],
        "max_position_embeddings": params["embeddings.position_embeddings.weight"].shape[0],
        "type_vocab_size": params["embeddings.token_type_embeddings.weight"].shape[0],
        "intermediate_size": params["encoder.layer.0.intermediate.dense.weight"].shape[0],
        "num_hidden_layers": len(layers),
    }
    if layers != list(range(len(layers))):
        sys.exit(f"onnx_to_safetensors: encoder layers {layers} are not numbered 0..{len(layers) - 1}")
    for key, value in derived.items():
        if key in given and given[key] != value:
            sys.exit(f"onnx_to_safetensors: --config says {key}={given[key]}, the weights say {value}")
    cfg = {"architectures": ["BertModel"], "model_type": "bert", **given, **derived}
    if cfg["hidden_size"] % cfg["num_attention_heads"]:
        sys.exit(f"onnx_to_safetensors: hidden_size {cfg['hidden_size']} is not a multiple of "
                 f"num_attention_heads {cfg['num_attention_heads']}")
    return dict(sorted(cfg.items()))


def check_parameters(params, cfg):
    want = bert_parameter_shapes(cfg)
    missing = sorted(set(want) - set(params) - set(POOLER))
    if (POOLER[0] in params) != (POOLER[1] in params):
        missing += [p for p in POOLER if p not in params]
    extra = sorted(set(params) - set(want))
    wrong = [f"{k}: {params[k].shape} want {want[k]}" for k in want if k in params and params[k].shape != want[k]]
    if missing or extra or wrong:
        sys.exit(f"onnx_to_safetensors: parameters do not form a BertModel: missing {missing}, "
                 f"unexpected {extra}, wrong shapes {wrong}")
    for k, v in params.items():
        if v.dtype != np.float32:
            sys.exit(f"onnx_to_safetensors: {k} is {v.dtype}, want float32 (quantized exports are not supported)")


def tokenizer_files(tokenizer_path, cfg):
    """The slow-tokenizer files Transformers writes for an uncased BERT WordPiece tokenizer."""
    with open(tokenizer_path, encoding="utf-8") as f:
        tok = json.load(f)
    model = tok["model"]
    if model["type"] != "WordPiece":
        sys.exit(f"onnx_to_safetensors: {tokenizer_path}: model type {model['type']}, want WordPiece")
    vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    if [i for _, i in vocab] != list(range(len(vocab))) or len(vocab) != cfg["vocab_size"]:
        sys.exit(f"onnx_to_safetensors: {tokenizer_path}: vocabulary ids are not 0..{cfg['vocab_size'] - 1}")
    lowercase = bool(tok["normalizer"].get("lowercase"))
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    for token in special.values():
        if token not in model["vocab"]:
            sys.exit(f"onnx_to_safetensors: {tokenizer_path}: no {token} in the vocabulary")
    tokenizer_config = {"do_lower_case": lowercase, "model_max_length": cfg["max_position_embeddings"],
                        "strip_accents": None, "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer",
                        **special}
    return {
        "vocab.txt": "".join(t + "\n" for t, _ in vocab).encode("utf-8"),
        "tokenizer_config.json": json_bytes(tokenizer_config),
        "special_tokens_map.json": json_bytes(special),
    }


def json_bytes(obj):
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnx_model")
    ap.add_argument("tokenizer_json")
    ap.add_argument("out_dir")
    ap.add_argument("--config", required=True, help="JSON object of config.json fields the weights cannot tell")
    args = ap.parse_args()

    graph = onnx.load(args.onnx_model).graph
    params = extract_parameters(graph)
    cfg = derive_config(params, json.loads(args.config))
    check_parameters(params, cfg)

    os.makedirs(args.out_dir, exist_ok=True)
    save_file(dict(sorted(params.items())), os.path.join(args.out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(args.tokenizer_json, "rb") as f:
        files = {"config.json": json_bytes(cfg), "tokenizer.json": f.read(), **tokenizer_files(args.tokenizer_json, cfg)}
    for name, data in files.items():
        with open(os.path.join(args.out_dir, name), "wb") as f:
            f.write(data)
    pooler = "with" if POOLER[0] in params else "without"
    print(f"onnx_to_safetensors: {len(params)} BertModel parameters ({cfg['num_hidden_layers']} layers, "
          f"hidden {cfg['hidden_size']}, {pooler} pooler) written to {args.out_dir}")


if __name__ == "__main__":
    main()
