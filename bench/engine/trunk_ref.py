#!/usr/bin/env python3
"""Times the official NASiam SimSiam trunk alone in PyTorch: the CIFAR ResNet the official code builds
(convert_cifar(torchvision resnet18), classifier replaced by an identity), forward and backward on two
views of random 32x32 images, as a pre-training step runs them, without heads, loss or optimizer; the
counterpart of `nasiam bench --only trunk`. Timing the same work on both sides shows whether the
convolutions themselves cost the same (no implementation of the step can be faster than its trunk).

Usage: /usr/bin/python3 bench/engine/trunk_ref.py --ref "$NASIAM_REF" [--batch-size 32] [--threads 2]
       [--steps 8] [--warmup 2] [--arch resnet18]
Prints one JSON line: median seconds of forward, backward and both per step (two views), plus foreign CPU load.
"""
import argparse, json, os, statistics, sys, time

p = argparse.ArgumentParser()
p.add_argument("--ref", required=True)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=8)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--arch", default="resnet18")
a = p.parse_args()
os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
from cpu_load import busy_s, own_s  # noqa: E402  (bench/engine/cpu_load.py)
import torch, torch.nn as nn, torchvision.models as tv  # noqa: E402

torch.set_num_threads(a.threads)
sys.path.insert(0, os.path.join(os.path.abspath(a.ref), "SimSiam"))
import simsiam.builder as builder  # noqa: E402
torch.manual_seed(0)
trunk = builder.convert_cifar(tv.__dict__[a.arch], 2048)
trunk.fc = nn.Identity()  # SimSiamSearch puts its heads here; the trunk alone ends at the pooled, flattened feature
trunk.train()
g = torch.Generator().manual_seed(1)
views = [(torch.randn(a.batch_size, 3, 32, 32, generator=g), torch.randn(a.batch_size, 3, 32, 32, generator=g)) for _ in range(2)]


fw, bw = [], []
s0 = o0 = w0 = None
for i in range(a.warmup + a.steps):
    if i == a.warmup:
        s0, o0, w0 = busy_s(), own_s(), time.perf_counter()
    x1, x2 = views[i % 2]
    trunk.zero_grad(set_to_none=False)
    t0 = time.perf_counter()
    loss = trunk(x1).square().sum() + trunk(x2).square().sum()
    t1 = time.perf_counter()
    loss.backward()
    loss.item()
    t2 = time.perf_counter()
    if i >= a.warmup:
        fw.append(t1 - t0); bw.append(t2 - t1)
wall = time.perf_counter() - w0
foreign = ((busy_s() - s0) - (own_s() - o0)) / wall
m = statistics.median
print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "arch": a.arch, "batch_size": a.batch_size, "threads": torch.get_num_threads(),
                  "forward_s": round(m(fw), 5), "backward_s": round(m(bw), 5), "trunk_step_s": round(m([x + y for x, y in zip(fw, bw)]), 5),
                  "foreign_cpu_cores": round(foreign, 2), "loadavg1": os.getloadavg()[0]}))
