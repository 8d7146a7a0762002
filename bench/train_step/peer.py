"""Peer of bench/train_step: times one training step of transformers' *ForSequenceClassification
with torch.optim.AdamW as the Trainer runs it (fused, transformers 5's default): train mode, cross-entropy, backward, gradient
clipping at 1.0, optimizer step, zero_grad (weight decay on every parameter: the Trainer's decay
groups do not change the cost).

usage: peer.py MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS DEVICE [--check] [--autocast] -> prints
benchkit.measure's JSON (seconds per step, peak resident memory). PRETRAINED is 1 to load
MODEL_DIR's weights, 0 to initialise randomly from its config.json; DEVICE is cpu or cuda.
--autocast runs the forward pass under torch.autocast in bfloat16, as the Trainer's bf16=True
does (float32 weights and optimizer; on a CPU with AMX its products run on the matrix units).

Data parallel, as the Trainer runs on several devices when launched by torchrun:

    python -m torch.distributed.run --standalone --nproc_per_node=N peer.py ...

starts N processes, one per device (the GPU of its LOCAL_RANK on cuda; on cpu each has THREADS/N
threads). Each one takes its share of the BATCH rows, the global batch (BATCH/N rows, as the
Trainer's per_device_train_batch_size; the first BATCH mod N processes get one row more), and
DistributedDataParallel (nccl on cuda, gloo on cpu) averages the gradients across them during the
backward pass; every process then clips and steps AdamW on the same gradients. Rank 0 prints the
JSON: a step's seconds are from every process ready to every process done (benchkit.measure), so
they are the slowest process's; the peak resident memory is rank 0's alone.

--check times nothing: it checks that the data-parallel step is the one-process step on the
whole batch. Every process also trains a copy of the model on all BATCH rows without DDP, REPS
steps each, with dropout off (each process draws its own dropout masks, so with dropout on no
two runs agree); rank 0 prints the losses, gradient norms and weights' differences as JSON and
the exit status is 1 when they disagree beyond float32 rounding. BATCH must divide by N: the
average of the processes' mean losses is the whole batch's mean only for equal shares. E.g. on
the CPU, 2 processes:

    python -m torch.distributed.run --standalone --nproc_per_node=2 bench/train_step/peer.py \
        models/all-MiniLM-L6-v2 1 8 32 3 2 cpu --check
"""
import copy
import json
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

# benchkit.py is in bench/forward/benchkit, or beside this file where bench/gpu.sh build put both.
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forward", "benchkit"))
import benchkit  # noqa: E402

LR = 5e-5


AUTOCAST = "--autocast" in sys.argv


def step(model, opt, ids, mask, labels):
    """One training step; returns the loss and the gradient norm before clipping."""
    with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=AUTOCAST):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    return loss.detach(), norm


def check(ref, ddp, opt, batch, share, reps, dev):
    """Trains ref, a copy of ddp's model before any step, on the whole batch beside ddp on its
    share, reps steps, and returns what rank 0 prints, "ok" saying whether both agree. Both
    models must be in eval mode."""
    processes = dist.get_world_size()
    if batch[0].shape[0] % processes:
        raise SystemExit(f"peer: --check needs a batch that divides by the {processes} processes")
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=LR, weight_decay=0.01, fused=True)
    report = {"processes": processes, "steps": []}
    ok = True
    for _ in range(reps):
        loss, norm = step(ddp, opt, *share)
        # The processes' mean losses average to the batch's mean over equal shares (gloo has
        # no AVG).
        dist.all_reduce(loss)
        loss /= processes
        ref_loss, ref_norm = step(ref, ref_opt, *batch)
        s = {"loss": loss.item(), "one_process_loss": ref_loss.item(),
             "grad_norm": norm.item(), "one_process_grad_norm": ref_norm.item()}
        ok &= abs(s["loss"] - s["one_process_loss"]) <= 1e-5 * abs(s["one_process_loss"])
        ok &= abs(s["grad_norm"] - s["one_process_grad_norm"]) <= 1e-4 * s["one_process_grad_norm"]
        report["steps"].append(s)
    # The attention key biases' gradient is 0 in exact arithmetic (a bias on every key adds the
    # same score to a query's whole row, which softmax ignores), so what they get is rounding
    # noise that AdamW divides by its own tiny root mean square: each step moves them by up to
    # LR either way, on each side independently.
    diff = {"weights": torch.zeros((), device=dev), "key_biases": torch.zeros((), device=dev)}
    for (name, p), q in zip(ddp.module.named_parameters(), ref.parameters()):
        kind = "key_biases" if name.endswith("attention.self.key.bias") else "weights"
        diff[kind] = torch.maximum(diff[kind], (p.detach() - q.detach()).abs().max())
    for d in diff.values():  # the worst process's
        dist.all_reduce(d, op=dist.ReduceOp.MAX)
    report["max_weight_difference"] = diff["weights"].item()
    report["max_key_bias_difference"] = diff["key_biases"].item()
    ok &= report["max_weight_difference"] <= 1e-5 and report["max_key_bias_difference"] <= 2 * LR * reps
    report["ok"] = bool(ok)
    return report


def main():
    checking = "--check" in sys.argv
    args = [a for a in sys.argv[1:] if a not in ("--check", "--autocast")]
    model, ids, mask, gen, reps, dev = benchkit.classifier_workload(args)
    labels = torch.randint(0, 2, (ids.shape[0],), generator=gen).to(dev)
    rank, processes = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if checking and processes == 1:
        raise SystemExit("peer: --check compares processes with one: run it under torch.distributed.run "
                         "with --nproc_per_node above 1")
    model.train(not checking)
    # Copied before DDP hooks into the model's parameters.
    ref = copy.deepcopy(model) if checking else None
    train, share = model, (ids, mask, labels)
    if processes > 1:
        # device_id binds the process group to this process's GPU, which nccl's barrier in
        # benchkit.measure then waits on.
        cuda = dev.type == "cuda"
        dist.init_process_group("nccl" if cuda else "gloo", device_id=dev if cuda else None)
        share = tuple(t.tensor_split(processes)[rank] for t in share)
        # The Trainer asks DDP to look for unused parameters on every step (a PreTrainedModel
        # without gradient checkpointing: Trainer._build_accelerator_args), at a small cost.
        train = DistributedDataParallel(model, device_ids=[dev.index] if cuda else None, find_unused_parameters=True)
    # fused=True: the Trainer's default optimizer (optim="adamw_torch_fused" in transformers 5).
    opt = torch.optim.AdamW(train.parameters(), lr=LR, weight_decay=0.01, fused=True)
    if checking:
        result = check(ref, train, opt, (ids, mask, labels), share, reps, dev)
    else:
        result = benchkit.measure(lambda: step(train, opt, *share), reps, dev)
    if rank == 0:
        print(json.dumps(result))
    if dist.is_initialized():
        dist.destroy_process_group()
    if not result.get("ok", True):  # only a check says ok
        sys.exit(1)


main()
