#!/usr/bin/env python3
"""Times the official NASiam SimSiam search heads alone (forward + backward of the projector cell
SearchCell(512, 6 layers) and the predictor cell SearchCell(2048, hidden 512, 4 layers), as
SimSiamSearch builds them), on random features, in PyTorch; the counterpart of `nasiam bench heads`.

Usage: /usr/bin/python3 bench/engine/heads_ref.py --ref "$NASIAM_REF" [--batch-size 32] [--threads 2]
       [--steps 30] [--warmup 5] [--profile]
Prints one JSON line: median seconds of forward, backward, forward+backward, and of the SGD step over
the heads' parameters (momentum 0.9, wd 5e-4, as the weight step), plus foreign CPU load.
"""
import argparse, json, os, statistics, sys, time, types

p = argparse.ArgumentParser()
p.add_argument("--ref", required=True)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=30)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--feature-dim", type=int, default=512)
p.add_argument("--dim", type=int, default=2048)
p.add_argument("--pred-dim", type=int, default=512)
p.add_argument("--profile", action="store_true", help="print torch.profiler's op table (stderr)")
a = p.parse_args()
os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
from cpu_load import busy_s, own_s  # noqa: E402  (bench/engine/cpu_load.py)
import torch, torch.nn as nn  # noqa: E402

torch.set_num_threads(a.threads)
sys.path.insert(0, os.path.join(os.path.abspath(a.ref), "SimSiam"))
import simsiam.builder as builder  # noqa: E402
shim = types.ModuleType("torch"); shim.__dict__.update(torch.__dict__)
_zeros = torch.zeros
shim.zeros = lambda *x, **k: _zeros(*x, **{**k, "device": "cpu"})
builder.torch = shim
torch.manual_seed(0)
enc = builder.SearchCell(a.feature_dim, num_layers=6)
pred = builder.SearchCell(a.dim, hidden_dim=a.pred_dim, num_layers=4)
fc = nn.Linear(a.feature_dim, a.dim); bn = nn.BatchNorm1d(a.dim, affine=False)
params = list(enc.parameters()) + list(fc.parameters()) + list(pred.parameters())
opt = torch.optim.SGD(params, 0.06 * a.batch_size / 256, momentum=0.9, weight_decay=5e-4)
crit = nn.CosineSimilarity(dim=1)
g = torch.Generator().manual_seed(1)
feats = [(torch.randn(a.batch_size, a.feature_dim, generator=g), torch.randn(a.batch_size, a.feature_dim, generator=g)) for _ in range(4)]


fw, bw, st, cpu = [], [], [], []
s0, o0, w0 = None, None, None
for i in range(a.warmup + a.steps):
    if i == a.warmup:
        s0, o0, w0 = busy_s(), own_s(), time.perf_counter()
    h1, h2 = feats[i % 4]
    c0 = own_s()
    t0 = time.perf_counter()
    z1 = bn(fc(enc(h1))); z2 = bn(fc(enc(h2)))
    p1 = pred(z1); p2 = pred(z2)
    loss = -(crit(p1, z2.detach()).mean() + crit(p2, z1.detach()).mean()) * 0.5
    t1 = time.perf_counter()
    opt.zero_grad()
    loss.backward()
    t2 = time.perf_counter()
    c2 = own_s()
    opt.step()
    loss.item()
    t3 = time.perf_counter()
    if i >= a.warmup:
        fw.append(t1 - t0); bw.append(t2 - t1); st.append(t3 - t2); cpu.append(c2 - c0)
wall = time.perf_counter() - w0
foreign = ((busy_s() - s0) - (own_s() - o0)) / wall
if a.profile:
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(5):
            h1, h2 = feats[i % 4]
            z1 = bn(fc(enc(h1))); z2 = bn(fc(enc(h2)))
            p1 = pred(z1); p2 = pred(z2)
            loss = -(crit(p1, z2.detach()).mean() + crit(p2, z1.detach()).mean()) * 0.5
            opt.zero_grad(); loss.backward(); opt.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30), file=sys.stderr)
m = statistics.median
print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "batch_size": a.batch_size, "threads": torch.get_num_threads(),
                  "forward_s": round(m(fw), 5), "backward_s": round(m(bw), 5), "fwd_bwd_s": round(m([x + y for x, y in zip(fw, bw)]), 5),
                  "optimizer_s": round(m(st), 5), "fwd_bwd_cpu_s": round(m(cpu), 5), "n_params": sum(q.numel() for q in params), "foreign_cpu_cores": round(foreign, 2),
                  "loadavg1": os.getloadavg()[0]}))
