#!/usr/bin/env python3
"""Reference encodings from Hugging Face `tokenizers`, for the Go parity tests.

Usage: python3 hf_oracle.py TOKENIZER_DIR TEXTS_JSON OUT_JSON SETTING...

TOKENIZER_DIR holds tokenizer.json, or BERT's vocab.txt and tokenizer_config.json (built as
transformers builds BertTokenizerFast from them, see bert_from_vocab), and
special_tokens_map.json; TEXTS_JSON a JSON list of
strings. Each SETTING is MAX_LENGTH:PADDING. MAX_LENGTH 0 means no truncation, otherwise HF
`truncation=True, max_length=MAX_LENGTH`. PADDING is "none", "longest", "max_length" or
"multiple:N" (longest, rounded up to a multiple of N), padding with special_tokens_map.json's
pad_token. OUT_JSON receives, for each SETTING, {"ids", "mask", "type_ids": one list per text,
"tokens": the tokens of the unpadded part, "decoded": decode(ids, skip_special_tokens=True),
only without padding}.
"""
import json
import os
import sys

from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer


def encode(tok, pad, texts, setting):
    max_length, padding = setting.split(":", 1)
    max_length = int(max_length)
    tok.no_truncation()
    tok.no_padding()  # tokenizer.json may carry its own defaults
    if max_length > 0:
        tok.enable_truncation(max_length)
    pad_id = tok.token_to_id(pad)
    if padding == "longest":
        tok.enable_padding(pad_id=pad_id, pad_token=pad)
    elif padding == "max_length":
        tok.enable_padding(pad_id=pad_id, pad_token=pad, length=max_length)
    elif padding.startswith("multiple:"):
        tok.enable_padding(pad_id=pad_id, pad_token=pad, pad_to_multiple_of=int(padding.split(":", 1)[1]))
    elif padding != "none":
        sys.exit(f"hf_oracle.py: unknown padding mode {padding!r}")
    encs = tok.encode_batch(texts)
    out = {
        "ids": [e.ids for e in encs],
        "mask": [e.attention_mask for e in encs],
        "type_ids": [e.type_ids for e in encs],
        "tokens": [e.tokens[:sum(e.attention_mask)] for e in encs],
    }
    if padding == "none":
        out["decoded"] = tok.decode_batch(out["ids"], skip_special_tokens=True)
    return out


def bert_from_vocab(tok_dir):
    """The tokenizer transformers makes of a checkpoint with only vocab.txt: BertTokenizer's
    load_vocab (a token a line, rstrip("\\n"), the last of a repeated token wins) and defaults
    (do_lower_case and tokenize_chinese_chars true, strip_accents following lowercase), turned
    into BertNormalizer, BertPreTokenizer, WordPiece and [CLS] A [SEP] by BertConverter, which
    tokenizers' BertWordPieceTokenizer builds alike."""
    config = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = os.path.join(tok_dir, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                config.update(json.load(f))

    def special(key, default):
        value = config.get(key, default)
        return value["content"] if isinstance(value, dict) else value

    vocab = {}
    with open(os.path.join(tok_dir, "vocab.txt"), encoding="utf-8") as f:
        for index, line in enumerate(f.readlines()):
            vocab[line.rstrip("\n")] = index
    tok = BertWordPieceTokenizer(
        vocab,
        unk_token=special("unk_token", "[UNK]"), sep_token=special("sep_token", "[SEP]"),
        cls_token=special("cls_token", "[CLS]"), pad_token=special("pad_token", "[PAD]"),
        mask_token=special("mask_token", "[MASK]"), clean_text=True,
        handle_chinese_chars=config.get("tokenize_chinese_chars", True),
        strip_accents=config.get("strip_accents"), lowercase=config.get("do_lower_case", True),
    )._tokenizer
    return tok, special("pad_token", "[PAD]")


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    tok_dir, texts_path, out_path = sys.argv[1:4]
    if os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
        with open(os.path.join(tok_dir, "special_tokens_map.json"), encoding="utf-8") as f:
            pad = json.load(f)["pad_token"]
        pad = pad["content"] if isinstance(pad, dict) else pad
    else:
        tok, pad = bert_from_vocab(tok_dir)
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    out = {setting: encode(tok, pad, texts, setting) for setting in sys.argv[4:]}
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
