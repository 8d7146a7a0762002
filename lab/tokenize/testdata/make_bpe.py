#!/usr/bin/env python3
"""Trains the small RoBERTa-style byte-level BPE tokenizer used as a test fixture.

No RoBERTa tokenizer can be downloaded where the tests run, so this script trains one with
Hugging Face `tokenizers` on a seeded sample of the real lab datasets and writes
roberta-bpe/{tokenizer.json,tokenizer_config.json,special_tokens_map.json} beside itself.

Usage: python3 make_bpe.py DATA_DIR   (DATA_DIR holds disaster_tweets/, imdb/, ag_news/)
"""
import csv
import json
import os
import random
import sys
import tarfile
import tempfile

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

VOCAB_SIZE = 4000  # including <mask>, which is added last as in RoBERTa
SEED = 20241128


def read_texts(data_dir):
    rng = random.Random(SEED)
    with open(os.path.join(data_dir, "disaster_tweets", "train.csv"), newline="", encoding="utf-8") as f:
        tweets = [row["text"] for row in csv.DictReader(f)]
    with open(os.path.join(data_dir, "ag_news", "test.csv"), newline="", encoding="utf-8") as f:
        news = [row[1] + " " + row[2] for row in csv.reader(f)]
    reviews = []
    with tarfile.open(os.path.join(data_dir, "imdb", "aclImdb_v1_labelled.tar.gz")) as tar:
        for member in tar:
            if member.isfile() and member.name.startswith("aclImdb/train/") and member.name.endswith(".txt"):
                reviews.append(tar.extractfile(member).read().decode("utf-8"))
    return rng.sample(tweets, 3000) + rng.sample(news, 3000) + rng.sample(reviews, 2000)


def atomic_write(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    texts = read_texts(sys.argv[1])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - 1,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],  # RoBERTa ids 0, 1, 2, 3
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # RoBERTa's <mask> is the last id and swallows the space before it.
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
        trim_offsets=True, add_prefix_space=False)
    assert [tok.token_to_id(t) for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
    assert tok.token_to_id("<mask>") == tok.get_vocab_size() - 1 == VOCAB_SIZE - 1

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "roberta-bpe")
    os.makedirs(out, exist_ok=True)
    atomic_write(os.path.join(out, "tokenizer.json"), tok.to_str(pretty=True) + "\n")
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    config = dict(specials, tokenizer_class="RobertaTokenizer", model_max_length=512,
                  add_prefix_space=False, errors="replace")
    atomic_write(os.path.join(out, "tokenizer_config.json"), json.dumps(config, indent=2) + "\n")
    atomic_write(os.path.join(out, "special_tokens_map.json"), json.dumps(specials, indent=2) + "\n")
    print(f"wrote {out}: vocab {tok.get_vocab_size()}, trained on {len(texts)} texts")


if __name__ == "__main__":
    main()
