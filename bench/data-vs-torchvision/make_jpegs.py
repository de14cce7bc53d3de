"""Generates an ImageNet-style folder of JPEGs (about 500x375, quality 90) for the data benchmark.

usage: make_jpegs.py OUT [--images 2000] [--classes 10] [--seed 0]
Writes OUT/train/class_XX/*.JPEG (all images) and OUT/val/class_XX/*.JPEG (a tenth, at least one
per class). Images are smooth gradients with random ellipses and a little noise, so their JPEG
sizes (~30-60 KB) resemble photographs rather than flat colour.
"""
import argparse, os, random
import numpy as np
from PIL import Image, ImageDraw

p = argparse.ArgumentParser()
p.add_argument("out"); p.add_argument("--images", type=int, default=2000)
p.add_argument("--classes", type=int, default=10); p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
rng = random.Random(a.seed); nrng = np.random.default_rng(a.seed)

def image():
    w, h = rng.choice([(500, 375), (375, 500), (500, 333), (480, 360), (500, 400)])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([(xx / w) * rng.uniform(50, 255), (yy / h) * rng.uniform(50, 255),
                     np.full_like(xx, rng.uniform(0, 255))], -1)
    im = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(5, 15)):
        x0, y0 = rng.randint(0, w), rng.randint(0, h)
        d.ellipse([x0, y0, x0 + rng.randint(20, 200), y0 + rng.randint(20, 200)],
                  fill=tuple(rng.randint(0, 255) for _ in range(3)))
    arr = np.asarray(im).astype(np.int16) + nrng.integers(-12, 13, (h, w, 3), dtype=np.int16)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))

val_every = 10
for i in range(a.images):
    c = i % a.classes
    for split in (["train"] + (["val"] if (i // a.classes) % val_every == 0 else [])):
        d = os.path.join(a.out, split, f"class_{c:02d}")
        os.makedirs(d, exist_ok=True)
        image().save(os.path.join(d, f"img_{i:06d}.JPEG"), quality=90)
print(f"wrote {a.images} train images in {a.classes} classes under {a.out}")
