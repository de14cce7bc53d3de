#!/usr/bin/env python3
"""The official NASiam search step on a GPU (or the CPU), timed like `nasiam bench`.

Companion of tools/gpu-check.sh. It reuses the CPU harness ../shared/bench/reference/nasiam_ref_bench.py
(passed with --harness) for what it does right, the official model, optimizers and loss built
exactly as the official main_search.py builds them (its `import_official` and `build`), but
not its CPU redirection: the official code is CUDA-first, so on --device cuda its own
.cuda()/device="cuda" calls are left alone and the model and the random inputs are moved to the
GPU. The timing loop is the harness's (alpha step on a "validation" batch, then a weight step on
a "training" batch, loss.item()), with torch.cuda.synchronize() closing each phase so the step
time is the GPU's, like `nasiam bench`, whose loss.item() after the optimizer step waits for it.

Prints one JSON line: median_s_per_step, median_alpha_step_s, median_weight_step_s, images_per_s,
device, torch (the keys tools/gpu-check.sh reads).
"""

import argparse
import importlib.util
import json
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--harness", required=True, help="path of nasiam_ref_bench.py")
    p.add_argument("--ref", required=True, help="extracted official NASiam repository")
    p.add_argument("--framework", default="simsiam", choices=["simsiam", "moco", "simclr"])
    p.add_argument("--mode", default="search", choices=["search", "standard"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    a = p.parse_args()

    # The harness parses its own argv at import: give it the equivalent settings.
    sys.argv = ["nasiam_ref_bench.py", "--ref", a.ref, "--framework", a.framework, "--mode", a.mode,
                "--batch-size", str(a.batch_size), "--steps", str(a.steps), "--warmup", str(a.warmup),
                "--threads", str(a.threads if a.threads > 0 else 1)]
    spec = importlib.util.spec_from_file_location("nasiam_ref_bench", a.harness)
    h = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(h)
    torch = h.torch
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    on_gpu = dev.type == "cuda"
    if on_gpu:
        h.patch_module_torch = lambda *modules: None  # keep the official code's own device="cuda"
    else:
        h.patch_cuda_calls_to_noop()
    torch.manual_seed(0)
    root, builder, operations = h.import_official(a.ref, a.framework)
    model, optimizer, search_optimizer, loss_fn, info = h.build(h.ARGS, root, builder, operations)
    model.to(dev)  # parameters keep their identity, so the optimizers built above stay valid
    model.train()
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)

    g = torch.Generator().manual_seed(1)
    B = a.batch_size
    pool = [tuple(torch.randn(B, 3, 32, 32, generator=g).to(dev) for _ in range(2)) for _ in range(4)]
    alpha_t, weight_t, total_t, losses = [], [], [], []
    for i in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        if search_optimizer is not None:
            v1, v2 = pool[(2 * i) % 4]
            loss_s = loss_fn(v1, v2)
            search_optimizer.zero_grad()
            loss_s.backward()
            search_optimizer.step()
            sync()
        t1 = time.perf_counter()
        x1, x2 = pool[(2 * i + 1) % 4]
        loss = loss_fn(x1, x2)
        lv = loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sync()
        t2 = time.perf_counter()
        losses.append(lv)
        print(f"[{'warmup' if i < a.warmup else 'step'} {i + 1}] {t2 - t0:.4f}s loss {lv:.4f}", file=sys.stderr)
        if i >= a.warmup:
            alpha_t.append(t1 - t0); weight_t.append(t2 - t1); total_t.append(t2 - t0)
    med = statistics.median(total_t)
    print(json.dumps({
        "framework": a.framework, "mode": a.mode, "batch_size": B, "device": str(dev),
        "gpu": torch.cuda.get_device_name(dev) if on_gpu else None, "torch": torch.__version__,
        "median_s_per_step": round(med, 6), "median_alpha_step_s": round(statistics.median(alpha_t), 6),
        "median_weight_step_s": round(statistics.median(weight_t), 6),
        "search_images_per_s": round(B / med, 2),
        "loss_first": losses[0], "loss_last": losses[-1],
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if on_gpu else None,
        **info,
    }), flush=True)


if __name__ == "__main__":
    main()
