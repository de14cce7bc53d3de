#!/usr/bin/env bash
# Builds TorchSharp's native wrapper (libLibTorchSharp.so) from TorchSharp's own sources against a
# given libtorch: the fallback when the NuGet wrapper (built for libtorch 2.10) does not link against
# an installed PyTorch (tools/libtorch-abi-check.py says so). docs/gpu.md has the facts and timings.
#
#   tools/build-libtorchsharp.sh --python python3            # the torch that python imports (a pip wheel)
#   tools/build-libtorchsharp.sh --torch DIR                 # DIR/include, DIR/lib (a wheel's torch/ or a libtorch zip)
#   tools/build-libtorchsharp.sh --include DIR --lib DIR     # split layouts (Debian: /usr/include, /usr/lib/x86_64-linux-gnu)
# Options: --src DIR (a TorchSharp checkout, default artifacts/gpu-check/torchsharp-src or the fetched mirror,
#   which must be the 0.107.0 sources: the managed TorchSharp.dll's P/Invoke signatures must match),
#   --out FILE (default artifacts/libtorchsharp/libLibTorchSharp.so), --jobs N (default nproc),
#   --syntax-only (compile each file with -fsyntax-only: a quick "does it compile" answer, no .so),
#   --files "A.cpp B.c" (only these sources: for trying one file, or the script itself).
# Needs: g++ (C++17) and gcc; no cmake (TorchConfig.cmake of a CUDA wheel wants the CUDA toolkit, which the
#   wrapper does not use: it links libtorch, libtorch_cpu and libc10 only).
# Then: copy FILE over the published libLibTorchSharp.so (tools/gpu-check.sh does with LIBTORCHSHARP=FILE).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py="" torch="" inc="" lib="" src="" out="$root/artifacts/libtorchsharp/libLibTorchSharp.so" jobs=$(nproc) syntax=0 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) py=$2; shift 2 ;;
    --torch) torch=$2; shift 2 ;;
    --include) inc=$2; shift 2 ;;
    --lib) lib=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --syntax-only) syntax=1; shift ;;
    --files) only=$2; shift 2 ;;
    *) echo "build-libtorchsharp: unknown argument $1" >&2; exit 2 ;;
  esac
done
abi=1
if [ -n "$py" ]; then
  torch=$("$py" -c 'import torch, os; print(torch.__path__[0])')
  abi=$("$py" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  echo "torch $("$py" -c 'import torch; print(torch.__version__)') at $torch (cxx11 ABI $abi)"
fi
[ -n "$torch" ] && { inc=${inc:-$torch/include}; lib=${lib:-$torch/lib}; }
[ -n "$inc" ] && [ -n "$lib" ] || { echo "build-libtorchsharp: give --python, --torch or --include/--lib" >&2; exit 2; }
[ -f "$inc/torch/csrc/api/include/torch/torch.h" ] || { echo "build-libtorchsharp: no torch/csrc/api/include/torch/torch.h under $inc (the headers are part of pip wheels; Debian: libtorch-dev)" >&2; exit 2; }

if [ -z "$src" ]; then
  if [ -d "$root/artifacts/gpu-check/torchsharp-src/src/Native" ]; then src=$root/artifacts/gpu-check/torchsharp-src
  elif [ -d /work/.mirror/dotnet+TorchSharp/repo ]; then
    src=$(mktemp -d); git --git-dir=/work/.mirror/dotnet+TorchSharp/repo archive HEAD src/Native | tar -x -C "$src"
  else echo "build-libtorchsharp: give --src (a TorchSharp 0.107.0 checkout)" >&2; exit 2; fi
fi
native=$src/src/Native/LibTorchSharp
# The source list of TorchSharp's own CMakeLists.txt (THSConvolution.cpp, e.g., is in the folder but not built).
mapfile -t files < <(sed -n '/set(SOURCES/,/)/p' "$native/CMakeLists.txt" | grep -oE '[A-Za-z0-9_]+\.(cpp|c)\b')
[ -n "$only" ] && read -r -a files <<<"$only"
echo "${#files[@]} sources from $native; libtorch headers $inc, libraries $lib; $jobs jobs"

obj=$(mktemp -d)
flags=(-std=c++17 -O2 -fPIC -fvisibility=hidden -fstack-protector-strong -w -D_GLIBCXX_USE_CXX11_ABI="$abi" -D__LINUX__ -D_NO_ASYNCRTIMP -D_NO_PPLXIMP
       -I"$src/src/Native" -I"$native" -I"$inc" -I"$inc/torch/csrc/api/include")
[ $syntax = 1 ] && flags+=(-fsyntax-only)
export obj syntax
t0=$SECONDS
compile() {  # $1 = file; prints "file seconds status"
  local f=$1 s=$SECONDS cc=g++ std=()
  case "$f" in *.c) cc=gcc ;; esac
  if [ "$cc" = gcc ]; then
    gcc -O2 -fPIC -fvisibility=hidden -w -c "$native/$f" -o "$obj/$f.o" 2>"$obj/$f.err" && echo "$f $((SECONDS - s))s ok" || echo "$f $((SECONDS - s))s FAILED"
  else
    g++ "${flags[@]}" -c "$native/$f" -o "$obj/$f.o" 2>"$obj/$f.err" && echo "$f $((SECONDS - s))s ok" || echo "$f $((SECONDS - s))s FAILED"
  fi
}
export -f compile; export native
flags_q=$(printf '%q ' "${flags[@]}")
export flags_q
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} bash -c 'eval "flags=($flags_q)"; compile "$1"' _ {} | tee "$obj/results.txt"
failed=$(grep -c FAILED "$obj/results.txt" || true)
echo "compiled ${#files[@]} files in $((SECONDS - t0)) s; failed: $failed"
if [ "$failed" != 0 ]; then
  for f in $(grep FAILED "$obj/results.txt" | cut -d' ' -f1); do
    echo "--- $f: $(grep -c 'error:' "$obj/$f.err") errors, first:"; grep -m5 'error:' "$obj/$f.err"
  done
  exit 1
fi
[ $syntax = 1 ] && { echo "syntax-only: every file compiles against these headers"; exit 0; }

mkdir -p "$(dirname "$out")"
g++ -shared -o "$out" "$obj"/*.o -L"$lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 \
  -Wl,-soname,libLibTorchSharp.so -Wl,-rpath,'$ORIGIN/' -Wl,-Bsymbolic -Wl,-Bsymbolic-functions -Wl,--build-id=sha1
echo "linked $out ($(du -h "$out" | cut -f1)) in $((SECONDS - t0)) s"

# The managed TorchSharp.dll calls the wrapper by name: every THS* export of the NuGet 0.107.0 wrapper
# should exist in the new one (a missing one throws EntryPointNotFoundException when called).
ref=${REFERENCE_WRAPPER:-$root/artifacts/gpu-check/publish/libLibTorchSharp.so}
[ -f "$ref" ] || ref=$HOME/.nuget/packages/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so
if [ -f "$ref" ]; then
  python3 - "$root/tools/libtorch-abi-check.py" "$ref" "$out" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("abi", sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
ref = {s for s in m.read_dynamic(sys.argv[2])[1] if s.startswith("THS")}
new = {s for s in m.read_dynamic(sys.argv[3])[1] if s.startswith("THS")}
missing = sorted(ref - new)
print(f"THS exports: reference {len(ref)}, new {len(new)}, missing from the new wrapper {len(missing)}{': ' + ', '.join(missing[:10]) if missing else ''}")
PY
fi
python3 "$root/tools/libtorch-abi-check.py" --libtorch "$lib" --wrapper "$out" --top 10 || true
