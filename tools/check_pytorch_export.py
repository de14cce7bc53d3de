"""Checks a `nasiam export` of a SimSiam baseline (standard heads) checkpoint with PyTorch.

Usage: python3 tools/check_pytorch_export.py MODEL.pt [X.bin Z.bin P.bin DIM PRED_DIM BLOCKS WIDTHS]
Builds the reference StandardSimSiam structure (convert_cifar'd ResNet, 3-layer projector,
2-layer predictor) without torchvision, loads the exported state dict with strict=True and,
when the .bin files (float32 input [4,3,32,32] and NASiam's z and p outputs in eval mode) are
given, compares the outputs.
"""
import sys
from collections import OrderedDict
import numpy as np
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


def cifar_resnet(blocks, widths, dim):
    layers = [("conv1", nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)), ("bn1", nn.BatchNorm2d(widths[0])), ("relu", nn.ReLU(inplace=True))]
    cin = widths[0]
    for i, (n, w) in enumerate(zip(blocks, widths)):
        stage = []
        for b in range(n):
            stage.append(BasicBlock(cin, w, (1 if i == 0 else 2) if b == 0 else 1))
            cin = w
        layers.append((f"layer{i + 1}", nn.Sequential(*stage)))
    layers += [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten(1)), ("fc", nn.Linear(cin, dim))]
    return nn.Sequential(OrderedDict(layers)), cin


class StandardSimSiam(nn.Module):
    def __init__(self, blocks, widths, dim, pred_dim):
        super().__init__()
        self.encoder, prev = cifar_resnet(blocks, widths, dim)
        fc = self.encoder.fc
        self.encoder.fc = nn.Sequential(nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                                        nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                                        fc, nn.BatchNorm1d(dim, affine=False))
        self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim), nn.ReLU(inplace=True),
                                       nn.Linear(pred_dim, dim))


def main():
    state = torch.load(sys.argv[1], map_location="cpu")
    print(f"torch {torch.__version__}: torch.load read {len(state)} tensors, e.g. {list(state)[:3]}")
    dim = int(sys.argv[5]) if len(sys.argv) > 5 else state["encoder.fc.6.weight"].shape[0]
    pred_dim = int(sys.argv[6]) if len(sys.argv) > 6 else state["predictor.0.weight"].shape[0]
    blocks = [int(v) for v in sys.argv[7].split(",")] if len(sys.argv) > 7 else [2, 2, 2, 2]
    widths = [int(v) for v in sys.argv[8].split(",")] if len(sys.argv) > 8 else [64, 128, 256, 512]
    model = StandardSimSiam(blocks, widths, dim, pred_dim)
    model.load_state_dict(state, strict=True)
    print("load_state_dict(strict=True) into the reference StandardSimSiam structure: OK")
    if len(sys.argv) > 4:
        x = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 3, 32, 32))
        z_ref = torch.from_numpy(np.fromfile(sys.argv[3], dtype=np.float32).reshape(x.shape[0], dim))
        p_ref = torch.from_numpy(np.fromfile(sys.argv[4], dtype=np.float32).reshape(x.shape[0], dim))
        model.eval()
        with torch.no_grad():
            z = model.encoder(x)
            p = model.predictor(z)
        print(f"z max |diff| {float((z - z_ref).abs().max()):.3e}, p max |diff| {float((p - p_ref).abs().max()):.3e} "
              f"(|z| max {float(z.abs().max()):.3f})")
        assert torch.allclose(z, z_ref, atol=1e-4, rtol=1e-4) and torch.allclose(p, p_ref, atol=1e-4, rtol=1e-4)
        print("outputs match")


if __name__ == "__main__":
    main()
