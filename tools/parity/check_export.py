"""Strict-loads a `nasiam export` state dict into PyTorch modules built to the reference's structure.

Usage:
  python3 tools/parity/check_export.py MODEL.pt --framework simsiam|moco|simclr --form search|final|standard
      [--backbone resnet-tiny|resnet18|resnet50] [--stem cifar|imagenet] [--genotype "Genotype(encoder=[...], ...)"]
      [--dim N] [--pred-dim N] [--encoder-layers N] [--predictor-layers N] [--queue-size K]
      [--moco-reference-bn]

Replaces tools/check_pytorch_export.py (SimSiam standard heads only). The modules are those of
tools/parity/reference.py (method doc 2-4); the CI parity suite (tests/NASiam.Core.Tests/Parity)
additionally compares outputs and gradients. For a search export, MODEL.alphas.pt (written next to
it by `nasiam export`) is loaded into the cells' alphas. Exits 0 when load_state_dict(strict=True)
succeeds, 1 otherwise, and prints the missing / unexpected keys.
"""
import argparse
import ast
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def parse_genotype(text):
    """The reference's one-line genotype text (method doc 5.7), read without evaluating code."""
    node = ast.parse(text.strip(), mode="eval").body
    if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Genotype" and not node.args):
        raise ValueError(f"not a Genotype(...) text: {text!r}")
    return {k.arg: ast.literal_eval(k.value) for k in node.keywords}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--framework", required=True, choices=["simsiam", "moco", "simclr"])
    p.add_argument("--form", required=True, choices=["search", "final", "standard"])
    p.add_argument("--backbone", default=None, choices=sorted(reference.RESNETS),
                   help="the run's backbone (resnet-tiny: the quick demo's); default resnet50 for simclr, else resnet18")
    p.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"])
    p.add_argument("--genotype")
    p.add_argument("--dim", type=int)
    p.add_argument("--pred-dim", type=int, default=512)
    p.add_argument("--encoder-layers", type=int)
    p.add_argument("--predictor-layers", type=int)
    p.add_argument("--queue-size", type=int, default=4096)
    p.add_argument("--moco-reference-bn", action="store_true", help="MoCo ops as the reference (D1)")
    a = p.parse_args()
    manifest = {
        "framework": a.framework, "form": a.form, "stem": a.stem,
        "backbone": a.backbone or ("resnet50" if a.framework == "simclr" else "resnet18"),
        "dim": a.dim or (2048 if a.framework == "simsiam" else 128), "pred_dim": a.pred_dim,
        "queue_size": a.queue_size, "momentum": 0.999, "temperature": 0.5 if a.framework == "simclr" else 0.1,
        "moco_reference_bn": a.moco_reference_bn, "train_final_cell": False,
    }
    if a.encoder_layers:
        manifest["encoder_layers"] = a.encoder_layers
    if a.predictor_layers:
        manifest["predictor_layers"] = a.predictor_layers
    if a.form == "final":
        if not a.genotype:
            p.error("--form final needs --genotype")
        text = open(a.genotype, encoding="utf-8").read() if os.path.exists(a.genotype) else a.genotype
        manifest["genotype"] = parse_genotype(text)
    state = torch.load(a.model, map_location="cpu")
    print(f"torch {torch.__version__}: {a.model} holds {len(state)} tensors")
    model = reference.build(manifest)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        print(f"load_state_dict(strict=True) FAILED: {e}")
        return 1
    print(f"load_state_dict(strict=True) into the reference {type(model).__name__} ({a.form}) structure: OK")
    alphas_file = os.path.splitext(a.model)[0] + ".alphas.pt"
    if a.form == "search" and os.path.exists(alphas_file):
        alphas = torch.load(alphas_file, map_location="cpu")
        for cell, t in model.arch_parameters().items():
            with torch.no_grad():
                t.copy_(alphas["alphas." + cell])
            print(f"alphas.{cell}: {tuple(t.shape)} loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
