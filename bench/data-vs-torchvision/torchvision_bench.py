"""torchvision ImageFolder + DataLoader with the SimSiam/MoCo v2 ImageNet two-view recipe (method doc 6.2).

usage: torchvision_bench.py FOLDER [--workers 2] [--batch 64] [--size 224] [--epochs 1]
Prints images/s and the RSS (main process + DataLoader workers) over time.
"""
import argparse, os, random, time
import torch
import torchvision.datasets as datasets
import torchvision.transforms as T
from PIL import ImageFilter

p = argparse.ArgumentParser()
p.add_argument("folder"); p.add_argument("--workers", type=int, default=2); p.add_argument("--batch", type=int, default=64)
p.add_argument("--size", type=int, default=224); p.add_argument("--epochs", type=int, default=1)
p.add_argument("--batches", type=int, default=0, help="stop after N timed batches (0 = whole epochs)")
a = p.parse_args()

class GaussianBlur:
    """SimSiam's (and MoCo v2's) PIL blur, sigma ~ U[0.1, 2]."""
    def __init__(self, sigma=(.1, 2.)): self.sigma = sigma
    def __call__(self, x): return x.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))

class TwoCropsTransform:
    def __init__(self, t): self.t = t
    def __call__(self, x): return [self.t(x), self.t(x)]

augmentation = T.Compose([
    T.RandomResizedCrop(a.size, scale=(0.2, 1.)),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.RandomApply([GaussianBlur([.1, 2.])], p=0.5),
    T.RandomHorizontalFlip(),
    T.ToTensor(),
    T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])
ds = datasets.ImageFolder(os.path.join(a.folder, "train"), TwoCropsTransform(augmentation))
loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=True,
                                     persistent_workers=a.workers > 0)

def rss_mb():
    total = 0
    pids = [os.getpid()]
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f: pids += [int(x) for x in f.read().split()]
    except OSError: pass
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration): pass
    return total // 1024

def load(): return " ".join(open("/proc/loadavg").read().split()[:3])

def jiffies():
    """Busy jiffies of the host, and of this process plus its DataLoader workers (to tell ours from foreign CPU)."""
    cpu = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    host = sum(cpu) - cpu[3] - cpu[4]
    own = 0
    pids = [os.getpid()]
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f: pids += [int(x) for x in f.read().split()]
    except OSError: pass
    for pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            own += int(f[11]) + int(f[12])
        except (OSError, IndexError): pass
    return host, own

it = iter(loader); next(it)  # warm-up: workers started, first batch not timed
load_before, j0 = load(), jiffies()
images, rss, t0, last = 0, ["0.0s:%dMB" % rss_mb()], time.perf_counter(), 0.0
for epoch in range(a.epochs):
    batches = it if epoch == 0 else iter(loader)
    for (v1, v2), _ in batches:
        float(v1.sum()) + float(v2.sum())
        images += v1.shape[0]
        now = time.perf_counter() - t0
        if now - last >= 2: last = now; rss.append("%.1fs:%dMB" % (now, rss_mb()))
        if a.batches and images >= a.batches * a.batch: break
    if a.batches and images >= a.batches * a.batch: break
dt = time.perf_counter() - t0
j1 = jiffies()
hz = os.sysconf("SC_CLK_TCK")
ours, foreign = (j1[1] - j0[1]) / hz / dt, max(0.0, ((j1[0] - j0[0]) - (j1[1] - j0[1])) / hz / dt)
rss.append("%.1fs:%dMB" % (dt, rss_mb()))
print(f"torchvision {__import__('torchvision').__version__}: {images / dt:.1f} images/s (two views of {a.size} px each, batch {a.batch}, "
      f"{a.workers} DataLoader workers, torch threads {torch.get_num_threads()}), {images} images in {dt:.1f} s; "
      f"load before {load_before}, after {load()}; CPU: ours {ours:.2f} cores, foreign {foreign:.2f} cores of {os.cpu_count()}")
print("torchvision RSS (main + workers): " + " ".join(rss))
