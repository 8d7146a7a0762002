"""Python half of bench/forward/benchkit, for the peers: the same timed repetitions and peak
resident memory as benchkit.Measure, on a CPU or a CUDA device.
"""
import gc
import os
import resource
import time

import torch
import torch.distributed as dist


def reset_peak_rss():
    """Resets the kernel's high-water mark of this process's resident memory (VmHWM) to its
    current size, after a garbage collection, as benchkit.ResetPeakRSS does."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_bytes():
    """Returns VmHWM of this process in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def device(name, index=0):
    """Returns the torch device for "cpu" or "cuda" (GPU index, made the current one so that
    "cuda" alone means it too). On CUDA, float32 matrix products use TF32 as XLA's CUDA backend
    does by default (its tf32 option), so both sides do the same arithmetic."""
    if name == "cuda":
        if torch.cuda.device_count() <= index:
            raise SystemExit(f"peer: -device cuda needs GPU {index}, but torch sees {torch.cuda.device_count()} GPUs")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    if name != "cpu":
        raise SystemExit(f"peer: device {name!r}: want cpu or cuda")
    return torch.device(name)


def measure(step, reps, dev):
    """Runs step() reps+1 times, the first as a warm-up, and returns what benchkit.RunPeer reads:
    the seconds of the timed runs, the peak resident memory from the warm-up on, the warm-up's
    seconds and the cores the timed runs kept busy (CPU time over wall time). On CUDA each run is timed from an idle device to an idle device; in a process group
    (the data-parallel peer) from every process ready to every process done, so that a run takes
    as long as on the slowest process, which the others wait for at the next step's all-reduce.
    """

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if dist.is_initialized():
            dist.barrier()

    reset_peak_rss()
    times = []
    for i in range(reps + 1):
        if i == 1:
            cpu_start = cpu_seconds()
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    cores_busy = (cpu_seconds() - cpu_start) / sum(times[1:]) if reps > 0 else 0.0
    return {"seconds": times[1:], "peak_rss_bytes": peak_rss_bytes(), "first_seconds": times[0], "cores_busy": cores_busy}


def cpu_seconds():
    """The CPU time (user and system) of every thread of this process so far, as the Go side's
    benchkit.Measure counts it."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def classifier_workload(argv):
    """Reads a peer's arguments MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS DEVICE (as the Go side
    passes them), sets torch's threads and seed, and returns (model, ids, mask, gen, reps, dev): a
    two-label *ForSequenceClassification on dev, with MODEL_DIR's weights when PRETRAINED is 1 or
    initialised randomly from its config.json when 0, and BATCH x SEQ random token ids above the
    first 1000 with an all-ones mask (no padding), on dev. gen is the ids' generator, for more
    random inputs. Every process of a torchrun launch gets the same model and inputs, the GPU of
    its LOCAL_RANK, and an equal share of the THREADS, which are the machine's for the whole
    peer."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    model_dir, pretrained, batch, seq, reps, threads = argv[0], *map(int, argv[1:6])
    dev = device(argv[6], int(os.environ.get("LOCAL_RANK", 0)))
    torch.set_num_threads(max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
    torch.manual_seed(0)
    if pretrained:
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    else:
        model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(model_dir, num_labels=2))
    model.to(dev)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, model.config.vocab_size, (batch, seq), generator=gen)
    return model, ids.to(dev), torch.ones_like(ids).to(dev), gen, reps, dev
