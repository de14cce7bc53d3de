"""Parity check of NASiam (C#/TorchSharp) against PyTorch modules built to the reference's structure.

Usage: python3 tools/parity/compare.py CASES_DIR [--tolerance 1e-4]

CASES_DIR holds one folder per case, written by the C# parity test
(tests/NASiam.Core.Tests/Parity/ParityTests.cs):
  manifest.json  what model it is (framework, form, backbone, stem, head sizes, genotype, ...)
  weights.pt     the product's reference-key export (ReferenceStateDict, via PyTorchExport) BEFORE the step
  alphas.pt      search form: "alphas.<cell>" (the reference keeps alphas outside the state dict)
  inputs.pt      x1, x2: the two views, [N, 3, H, W]
  forward.pt     what the product computed forward: "feature" and "embedding" (x1, train mode, no
                 grad, before the loss), "loss" (one weight step's loss on x1, x2) and "buffer.<key>"
                 (buffers after that forward: BN running statistics, MoCo queue and pointer)
  backward.pt    the loss's gradients: "grad.<key>" (weights, under reference keys) and "alphagrad.<cell>"
  error.txt      when the C# side failed (e.g. a native crash): what is there is still compared

For each case this script builds the reference module (tools/parity/reference.py), loads weights.pt
with load_state_dict(strict=True) (a key or shape mismatch fails the case), sets the alphas, replays
the same sequence in train mode (features, embedding, loss, backward) and compares in fp32.

Error measure, per tensor: max|product - reference| / max(max|reference|, floor), where floor is
1e-6 x the largest |reference| value in the same column of the same case (so gradients that are
analytically zero, e.g. a bias followed by BatchNorm, are compared absolutely at rounding level
instead of dividing noise by noise). A column's value is the worst tensor's; the case passes when
every column is <= tolerance (default 1e-4). Buffers named in the manifest's "known_divergences"
are printed but do not fail the case (each comes with the reason, see the product's issue list).

Prints a table and exits 1 if any case fails, 2 on usage errors.
"""
import argparse
import json
import os
import re
import sys
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


#: A tensor's error is measured against max(its own scale, FLOOR x the largest scale in its column).
FLOOR = 1e-3


def rel_errors(pairs, floor=None):
    """pairs: {name: (product, reference)} -> ({name: err}, worst name)."""
    if not pairs:
        return {}, None
    if floor is None:
        scale = max(float(r.detach().abs().max()) if r.numel() else 0.0 for _, r in pairs.values())
        floor = max(scale * FLOOR, 1e-30)
    errs = {}
    for name, (p, r) in pairs.items():
        p, r = p.detach().to(torch.float64), r.detach().to(torch.float64)
        if p.shape != r.shape:
            errs[name] = float("inf")
            continue
        if not r.numel():
            errs[name] = 0.0
            continue
        errs[name] = float((p - r).abs().max()) / max(float(r.abs().max()), floor)
    worst = max(errs, key=errs.get)
    return errs, worst


class Case:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.cols = {}        # column -> (err, worst tensor name)
        self.problems = []    # reasons the case fails
        self.notes = []       # printed, not failing

    def fail(self, message):
        self.problems.append(message)


def run_case(path, tolerance, verbose):
    case = Case(path)
    err_file = os.path.join(path, "error.txt")
    manifest_file = os.path.join(path, "manifest.json")
    if os.path.exists(manifest_file):
        with open(manifest_file, encoding="utf-8") as f:
            manifest = json.load(f)
        case.name = manifest.get("name", case.name)
    if os.path.exists(err_file):
        with open(err_file, encoding="utf-8") as f:
            case.fail("C# side failed: " + f.read().strip())
    files = {}
    for name in ("weights", "inputs", "forward", "backward"):
        file = os.path.join(path, name + ".pt")
        if os.path.exists(file):
            files[name] = torch.load(file, map_location="cpu")
    if not os.path.exists(manifest_file) or not {"weights", "inputs"} <= files.keys():
        if not case.problems:
            case.fail("the C# side wrote no results")
        return case
    state, inputs = files["weights"], files["inputs"]
    product = dict(files.get("forward", {}))
    product.update(files.get("backward", {}))
    has_backward = "backward" in files

    torch.manual_seed(0)
    model = reference.build(manifest)
    try:
        model.load_state_dict(state, strict=True)
        case.cols["load"] = ("strict", None)
    except RuntimeError as e:
        case.cols["load"] = ("FAILED", None)
        case.fail("load_state_dict(strict=True): " + " ".join(str(e).split())[:2000])
        return case
    if "forward" not in files:
        if not case.problems:
            case.fail("the C# side wrote no forward results")
        return case
    alphas = {}
    if manifest["form"] == "search":
        saved = torch.load(os.path.join(path, "alphas.pt"), map_location="cpu")
        for cell, a in model.arch_parameters().items():
            with torch.no_grad():
                a.copy_(saved["alphas." + cell])
            alphas[cell] = a

    x1, x2 = inputs["x1"], inputs["x2"]
    model.train()
    with torch.no_grad():
        feature = model.features(x1)
        embedding = model.embedding(x1)
    loss = model.loss(x1, x2)
    if has_backward:
        loss.backward()

    def column(col, pairs, known=(), floor=None):
        errs, worst = rel_errors(pairs, floor)
        if worst is None:
            case.cols[col] = (None, None)
            return
        counted = {k: v for k, v in errs.items() if not any(re.search(p, k) for p, _ in known)}
        ignored = {k: v for k, v in errs.items() if k not in counted}
        if counted:
            w = max(counted, key=counted.get)
            case.cols[col] = (counted[w], w)
            if counted[w] > tolerance:
                first = next(k for k, v in counted.items() if v > tolerance)  # in module order
                case.fail(f"{col}: {w} differs by {counted[w]:.3e}"
                          + (f"; first over tolerance in module order: {first} {counted[first]:.3e}" if first != w else ""))
        else:
            case.cols[col] = (0.0, None)
        if ignored:
            w = max(ignored, key=ignored.get)
            reasons = sorted({r for p, r in known if any(re.search(p, k) for k in ignored)})
            case.notes.append(f"{col}: {len(ignored)} tensors under known divergences, worst {w} {ignored[w]:.2e} "
                              f"({'; '.join(reasons)})")
        if verbose:
            for k in sorted(errs, key=errs.get, reverse=True)[:5]:
                print(f"    {case.name} {col} {k}: {errs[k]:.3e}")

    column("feature", {"feature": (product["feature"], feature)})
    column("embedding", {"embedding": (product["embedding"], embedding)})
    column("loss", {"loss": (product["loss"].reshape(()), loss.detach())}, floor=1.0)

    if has_backward:
        # A shared module (the reference's cell_* aliases) holds one parameter under several keys;
        # the product writes its gradient under one of them.
        aliases = {}
        for key, value in model.state_dict(keep_vars=True).items():
            aliases.setdefault(id(value), []).append(key)
        grads = {}
        for name, p in model.named_parameters():
            key = next((k for k in ("grad." + a for a in aliases[id(p)]) if k in product), "grad." + name)
            if p.requires_grad:
                if p.grad is None:
                    case.fail(f"reference parameter {name} got no gradient")
                elif key not in product:
                    case.fail(f"product has no gradient for {name} (the reference trains it)")
                else:
                    grads[name] = (product[key], p.grad)
            elif key in product:
                case.fail(f"product has a gradient for {name}, which the reference freezes")
        column("weight grads", grads)
        column("alpha grads", {c: (product["alphagrad." + c], a.grad) for c, a in alphas.items()})

    known = [(d["pattern"], d["reason"]) for d in manifest.get("known_divergences", [])]
    buffers = {}
    ref_state = model.state_dict()
    for key, value in product.items():
        if key.startswith("buffer."):
            name = key[len("buffer."):]
            if name not in ref_state:
                case.fail(f"product buffer {name} is not in the reference state dict")
            else:
                buffers[name] = (value.to(ref_state[name].dtype), ref_state[name])
    column("buffers", buffers, known)
    return case


def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.2e}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cases")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    dirs = sorted(os.path.join(args.cases, d) for d in os.listdir(args.cases)
                  if os.path.isdir(os.path.join(args.cases, d)))
    if not dirs:
        print(f"no cases under {args.cases}")
        return 2
    print(f"torch {torch.__version__}; tolerance {args.tolerance:g} (max |product - reference| / max |reference|)")
    cols = ["load", "feature", "embedding", "loss", "weight grads", "alpha grads", "buffers"]
    cases = []
    for d in dirs:
        try:
            cases.append(run_case(d, args.tolerance, args.verbose))
        except Exception as e:  # a broken case must show in the table, not hide the others
            c = Case(d)
            c.fail(f"{type(e).__name__}: {e}")
            if args.verbose:
                traceback.print_exc()
            cases.append(c)
    width = max(len("model"), *(len(c.name) for c in cases))
    header = f"{'model':<{width}} | " + " | ".join(f"{c:>12}" for c in cols) + " | result"
    print(header)
    print("-" * len(header))
    for c in cases:
        row = " | ".join(f"{fmt(c.cols.get(col, ('-', None))[0]):>12}" for col in cols)
        print(f"{c.name:<{width}} | {row} | {'ok' if not c.problems else 'FAIL'}")
    failed = [c for c in cases if c.problems]
    for c in cases:
        for n in c.notes:
            print(f"note {c.name}: {n}")
        for p in c.problems:
            print(f"FAIL {c.name}: {p}")
    print(f"{len(cases) - len(failed)} of {len(cases)} cases within {args.tolerance:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
