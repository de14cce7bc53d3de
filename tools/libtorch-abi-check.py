#!/usr/bin/env python3
"""Does TorchSharp's native wrapper (libLibTorchSharp.so) link against a given libtorch?

Reads the dynamic symbol tables directly (pure Python ELF64 parsing: no binutils needed, so it
runs on a GPU host that only has Python and PyTorch). Every symbol the wrapper imports (undefined,
GLOBAL) must be exported by one of the libraries it will be loaded with: the libtorch libraries of
the target directory (libtorch.so, libtorch_cpu.so, libc10.so, plus the CUDA ones when present)
and the system C/C++ runtime (libstdc++, libc, libm, libgcc_s). A missing strong symbol makes
dlopen fail ("undefined symbol"), so "missing = 0" is the necessary condition for the system
libtorch backend (docs/gpu.md). It is not sufficient: a C++ signature that is unchanged by name
but changed in layout (a struct gaining a field) is not visible here; the test run is the proof.

Usage:
  tools/libtorch-abi-check.py --libtorch DIR [--wrapper libLibTorchSharp.so] [--top N] [--json]
  tools/libtorch-abi-check.py --python /usr/bin/python3      # DIR = that python's torch/lib

Prints a summary line that tests and tools/gpu-check.sh parse:
  ABI-CHECK required=<n> missing=<n> weak_missing=<n> system_missing=<n> torch=<version> libtorch=<dir> wrapper=<path>
then the missing symbols (demangled with c++filt when it exists) grouped by namespace.
Exit code: 0 = every required libtorch symbol resolves, 1 = some are missing, 2 = usage/IO error.
"""

import argparse
import glob
import json
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
from collections import OrderedDict

TORCH_LIBS = ["libc10.so", "libtorch_cpu.so", "libtorch.so", "libc10_cuda.so", "libtorch_cuda.so"]
SYSTEM_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
               "/lib", "/usr/lib", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]


# Symbols of the last object read_dynamic parsed that a relocation other than a PLT jump slot refers to
# (GLOB_DAT, 64-bit absolute: data, vtable entries, function addresses). The loader binds those when the
# object is loaded, so a missing one makes dlopen itself fail; symbols reached only through PLT jump
# slots bind lazily at their first call (the wrapper is not linked with -z now).
EAGER_SYMBOLS = set()
JUMP_SLOT = {62: 7, 183: 1026}  # e_machine -> R_*_JUMP_SLOT (x86-64, AArch64)


class ElfError(Exception):
    pass


def read_dynamic(path):
    """(undefined, defined, needed, soname) from an ELF64 little-endian shared object.

    undefined: {name: bind} for GLOBAL/WEAK undefined symbols; defined: set of exported names
    (GLOBAL, WEAK or GNU_UNIQUE; default or protected visibility)."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # libtorch_cpu.so is ~0.5 GB: read only the tables
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError(f"{path}: not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        base = shoff + i * shentsize
        name, stype, flags, addr, off, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", data, base)
        sections.append((stype, off, size, link, entsize))
    undefined, defined, needed, soname = {}, set(), [], None
    machine, = struct.unpack_from("<H", data, 0x12)
    symnames, dynsym_index = {}, None
    for index, (stype, off, size, link, entsize) in enumerate(sections):
        if stype == 11:  # SHT_DYNSYM
            dynsym_index = index
            str_off = sections[link][1]
            for k in range(1, size // 24):
                st_name, st_info, st_other, st_shndx, _, _ = struct.unpack_from("<IBBHQQ", data, off + k * 24)
                if st_name == 0:
                    continue
                end0 = data.find(b"\0", str_off + st_name)
                symnames[k] = data[str_off + st_name:end0].decode("ascii", "replace")
                end = data.find(b"\0", str_off + st_name)
                name = data[str_off + st_name:end].decode("ascii", "replace")
                bind = st_info >> 4
                if st_shndx == 0:
                    if bind in (1, 2):
                        undefined[name] = "weak" if bind == 2 else "global"
                elif bind in (1, 2, 10) and (st_other & 3) in (0, 3):
                    defined.add(name)
        elif stype == 4 and entsize == 24:  # SHT_RELA (read below, once the dynsym names are known)
            pass
        elif stype == 6:  # SHT_DYNAMIC
            str_off = sections[link][1]
            for k in range(size // 16):
                tag, val = struct.unpack_from("<qQ", data, off + k * 16)
                if tag == 0:
                    break
                if tag in (1, 14):  # DT_NEEDED, DT_SONAME
                    end = data.find(b"\0", str_off + val)
                    s = data[str_off + val:end].decode("ascii", "replace")
                    if tag == 1:
                        needed.append(s)
                    else:
                        soname = s
    EAGER_SYMBOLS.clear()
    slot = JUMP_SLOT.get(machine)
    for stype, off, size, link, entsize in sections:
        if stype == 4 and entsize == 24 and link == dynsym_index:
            for k in range(size // 24):
                _, r_info, _ = struct.unpack_from("<QQq", data, off + k * 24)
                sym, rtype = r_info >> 32, r_info & 0xFFFFFFFF
                if sym and rtype != slot and sym in symnames:
                    EAGER_SYMBOLS.add(symnames[sym])
    return undefined, defined, needed, soname


def find_lib(directory, name):
    """name in directory, or a versioned file of it (Debian: libtorch.so.1.13)."""
    exact = os.path.join(directory, name)
    if os.path.exists(exact):
        return exact
    versioned = sorted(glob.glob(exact + ".*"), key=len)
    return versioned[0] if versioned else None


def find_system_lib(name):
    for d in SYSTEM_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def torch_version(libdir):
    """torch/version.py next to torch/lib (pip, Debian), else build-version (libtorch zips)."""
    for candidate in (os.path.join(libdir, "..", "version.py"),):
        try:
            with open(candidate) as f:
                m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)", f.read(), re.M)
                if m:
                    return m.group(1)
        except OSError:
            pass
    for candidate in (os.path.join(libdir, "..", "build-version"), os.path.join(libdir, "build-version")):
        try:
            with open(candidate) as f:
                return f.read().strip()
        except OSError:
            pass
    for lib in glob.glob(os.path.join(libdir, "libtorch_cpu.so.*")):
        return "soname " + os.path.basename(lib)[len("libtorch_cpu.so."):]
    m = re.search(r"/(\d+\.\d+\.\d+)/", libdir + "/")  # NuGet cache: .../libtorch-cpu-linux-x64/2.10.0/...
    return m.group(1) if m else "unknown"


PY_PROBE = r"""
import os, torch
lib = os.path.join(torch.__path__[0], "lib")
if not os.path.exists(os.path.join(lib, "libtorch_cpu.so")):
    # Debian/Ubuntu python3-torch: torch/lib is empty, the libraries are in the multiarch dir
    for line in open("/proc/self/maps"):
        if "libtorch_cpu.so" in line:
            lib = os.path.dirname(line.split()[-1]); break
print(torch.__version__)
print(lib)
"""


def python_torch(python):
    """(libdir, version) of the torch that `python` imports."""
    out = subprocess.run([python, "-c", PY_PROBE], capture_output=True, text=True, check=True).stdout.strip().splitlines()
    return out[-1], out[-2]


def demangle(names):
    tool = shutil.which("c++filt")
    if not tool or not names:
        return {n: n for n in names}
    out = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return dict(zip(names, out)) if len(out) == len(names) else {n: n for n in names}


def namespace_of(demangled, mangled):
    """A grouping key: the first two namespace levels of a demangled name (at::native, torch::jit, c10)."""
    s = re.sub(r"^(typeinfo name for|typeinfo for|vtable for|VTT for|construction vtable for|guard variable for) ", "", demangled)
    if s == mangled:  # not demangled: use the mangled prefix (_ZN2at6native...)
        m = re.match(r"_ZN?K?(\d+)", s)
        if not m:
            return "(C or unmangled)"
        n = int(m.group(1))
        return s[m.end():m.end() + n]
    s = re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", s))  # drop (nested) template arguments
    head = s.split("(")[0]
    head = head.split(" ")[-1] if " " in head else head
    comps = [c for c in head.split("::") if c]
    if len(comps) <= 1:
        return "(global)"
    ns = comps[:-1][:2]
    return "::".join(ns)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--libtorch", help="directory holding libtorch.so, libtorch_cpu.so, libc10.so (torch/lib)")
    p.add_argument("--python", help="ask this python where torch is: DIR = torch.__path__[0]/lib")
    p.add_argument("--wrapper", help="libLibTorchSharp.so to check (default: TorchSharp 0.107.0's from the NuGet cache)")
    p.add_argument("--top", type=int, default=40, help="missing symbols to print per run (default 40)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    a = p.parse_args(argv)

    libdir, version = a.libtorch, None
    if not libdir and a.python:
        try:
            libdir, version = python_torch(a.python)
        except (OSError, subprocess.CalledProcessError, IndexError) as e:
            print(f"abi-check: {a.python} could not import torch: {e}", file=sys.stderr)
            return 2
    if not libdir:
        print("abi-check: give --libtorch DIR or --python PYTHON", file=sys.stderr)
        return 2
    libdir = os.path.abspath(libdir)
    wrapper = a.wrapper or os.path.expanduser("~/.nuget/packages/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so")
    if not os.path.isfile(wrapper):
        print(f"abi-check: wrapper {wrapper} not found (give --wrapper)", file=sys.stderr)
        return 2

    try:
        undefined, _, needed, _ = read_dynamic(wrapper)
        eager = set(EAGER_SYMBOLS)
    except (OSError, ElfError) as e:
        print(f"abi-check: {e}", file=sys.stderr)
        return 2

    torch_defined, torch_files, soname_mismatch = set(), [], []
    for name in TORCH_LIBS:
        path = find_lib(libdir, name)
        if path is None:
            continue
        _, d, _, soname = read_dynamic(path)
        torch_defined |= d
        torch_files.append(path)
        if name in needed and soname != name:
            soname_mismatch.append(f"{name} (file {os.path.basename(path)}, SONAME {soname})")
    if not any(os.path.basename(f).startswith("libtorch_cpu.so") for f in torch_files):
        print(f"abi-check: no libtorch_cpu.so in {libdir}", file=sys.stderr)
        return 2

    system_defined, system_files = set(), []
    for name in needed:
        if name in TORCH_LIBS:
            continue
        path = find_system_lib(name)
        if path:
            system_defined |= read_dynamic(path)[1]
            system_files.append(path)

    required = {n for n, b in undefined.items() if b == "global"}
    missing = sorted(n for n in required if n not in torch_defined and n not in system_defined)
    weak_missing = sorted(n for n, b in undefined.items() if b == "weak" and n not in torch_defined and n not in system_defined)
    # A symbol that no torch library exports but the C/C++ runtime should: report apart
    # (libstdc++ too old, e.g. _ZSt21ios_base_library_initv needs GLIBCXX_3.4.32).
    torchish = re.compile(r"^_Z(N|NK|TV|TI|TS)?K?\d*(at|c10|torch|caffe2)")
    system_missing = [n for n in missing if not torchish.match(n)]
    torch_missing = [n for n in missing if torchish.match(n)]

    names = demangle(torch_missing + system_missing)
    groups = OrderedDict()
    for n in torch_missing:
        groups.setdefault(namespace_of(names[n], n), []).append(n)
    groups = OrderedDict(sorted(groups.items(), key=lambda kv: -len(kv[1])))

    version = version or torch_version(libdir)
    data_missing = [n for n in torch_missing if n in eager]
    summary = (f"ABI-CHECK required={len(required)} missing={len(torch_missing)} weak_missing={len(weak_missing)} "
               f"system_missing={len(system_missing)} load_time_missing={len(data_missing)} torch={version.replace(' ', '_')} libtorch={libdir} wrapper={wrapper}")
    if a.json:
        print(json.dumps({
            "wrapper": wrapper, "libtorch": libdir, "torch": version, "torch_files": torch_files,
            "system_files": system_files, "required": len(required), "missing": len(torch_missing),
            "weak_missing": len(weak_missing), "system_missing": len(system_missing),
            "load_time_missing": [names[n] for n in data_missing],
            "soname_mismatch": soname_mismatch,
            "missing_by_namespace": {k: [names[n] for n in v] for k, v in groups.items()},
            "system_missing_symbols": [names[n] for n in system_missing],
        }))
    else:
        print(summary)
        print(f"  torch libraries: {', '.join(os.path.basename(f) for f in torch_files)}")
        print(f"  system libraries: {', '.join(system_files) or '(none found)'}")
        if soname_mismatch:
            print(f"  NEEDED names without a matching SONAME (the loader will not find them by name): {'; '.join(soname_mismatch)}")
        if torch_missing:
            print(f"  missing libtorch symbols by namespace ({len(groups)} namespaces):")
            for ns, syms in groups.items():
                print(f"    {ns}: {len(syms)}")
            print(f"  first {min(a.top, len(torch_missing))} missing:")
            shown = 0
            for ns, syms in groups.items():
                for n in syms:
                    if shown >= a.top:
                        break
                    print(f"    [{ns}] {names[n]}")
                    shown += 1
        if torch_missing:
            print(f"  of these, bound at load time (data relocations: dlopen fails on them): {len(data_missing)}"
                  + (": " + "; ".join(names[n] for n in data_missing[:8]) if data_missing else
                     " -- the wrapper may load (lazy binding) and fail only when a missing function is first called"))
        if system_missing:
            print(f"  missing from the C/C++ runtime ({len(system_missing)}): " + ", ".join(names[n] for n in system_missing[:10]))
        if not torch_missing:
            print("  every libtorch symbol the wrapper imports is exported: the wrapper can link (run the tests to prove it runs).")
    return 1 if torch_missing else 0


if __name__ == "__main__":
    sys.exit(main())
