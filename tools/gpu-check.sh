#!/usr/bin/env bash
# GPU check of the NASiam engine against an installed PyTorch's libtorch (issue 15; docs/gpu.md).
#
#   tools/gpu-check.sh prepare      # on the dev machine: publish + stage everything under artifacts/gpu-check
#   tools/gpu-check.sh run          # on the GPU host (the device tool): all figures to $OUT
#   tools/gpu-check.sh run --cpu-only   # the CPU half (also what `run` does when no GPU is visible)
#
# prepare: a self-contained, trimmed publish of the CLI built with -p:TorchBackend=system (no libtorch
#   inside: the host's PyTorch provides it) to artifacts/gpu-check/publish; the official NASiam code
#   (NASIAM_REF, else the fetched mirror) to artifacts/gpu-check/ref; the reference bench harness to
#   artifacts/gpu-check/refbench. Prints the sizes (the device tool carries at most 64 MiB in all).
# run: ABI check of the wrapper against the host's libtorch, then with NASIAM_LIBTORCH_DIR set to it:
#   1. nasiam bench --device cuda, SimSiam/MoCo/SimCLR ResNet-18, B=256, fp32 (+ bf16 when the CLI has it)
#   2. the official PyTorch code on the same GPU, same settings (tools/gpu-ref-bench.py) -> ratio
#   3. one search step from the same seed on CPU and on CUDA, losses compared within tolerance
#   4. a quick-demo search on CUDA
#   $OUT gets at most 6 files (the device tool returns 8): summary.txt, summary.json, abi-check.txt,
#   build-libtorchsharp.log and libLibTorchSharp-built.so (if a wrapper was built) and raw.tar.gz
#   (every raw output, checkpoints left out).
#   Each step has a timeout (GPU_CHECK_STEP_TIMEOUT, 150 s) and the whole run a budget
#   (GPU_CHECK_BUDGET, 540 s): a step that no longer fits is skipped and named in summary.txt.
# Env: OUT (default artifacts/gpu-check/out), NASIAM_PYTHON (python with torch; default python3),
#   NASIAM_LIBTORCH_DIR (overrides the python's torch/lib), BENCH_STEPS (10), BENCH_WARMUP (3), BATCH (256),
#   LIBTORCHSHARP (a wrapper to use instead of the published one), AUTO_BUILD_WRAPPER (1), STRICT_ABI (0).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage="$root/artifacts/gpu-check"
mode=${1:-run}; shift || true
cpu_only=0
for a in "$@"; do
  case "$a" in
    --cpu-only) cpu_only=1 ;;
    *) echo "gpu-check: unknown argument '$a'" >&2; exit 2 ;;
  esac
done

size_mib() { du -sm "$1" 2>/dev/null | cut -f1; }

prepare() {
  set -e
  mkdir -p "$stage"
  rm -rf "$stage/publish"
  # TrimMode=partial trims only the framework's trimmable assemblies (the app, TorchSharp and the
  # engine keep everything they reach by reflection); JSON reflection stays on for --json and presets.
  dotnet publish "$root/src/NASiam.Cli" -c Release -r linux-x64 --self-contained true \
    -p:TorchBackend=system -p:TorchSharpGlibcxxFix=always \
    -p:PublishTrimmed=true -p:TrimMode=partial -p:SuppressTrimAnalysisWarnings=true \
    -p:JsonSerializerIsReflectionEnabledByDefault=true -p:TreatWarningsAsErrors=false \
    -p:DebugType=none -p:GenerateDocumentationFile=false \
    --artifacts-path "$stage/obj" -o "$stage/publish" >"$stage/publish.log" 2>&1 \
    || { tail -30 "$stage/publish.log"; echo "gpu-check: publish failed ($stage/publish.log)" >&2; exit 2; }
  rm -rf "$stage/obj"
  if ls "$stage/publish" | grep -q -E '^libtorch|^libc10'; then
    echo "gpu-check: the system publish contains libtorch; TorchBackend=system did not apply" >&2; exit 2
  fi
  # The official code: an extracted copy (never modified), for the reference bench on the GPU.
  rm -rf "$stage/ref" "$stage/refbench"; mkdir -p "$stage/ref" "$stage/refbench"
  if [ -n "${NASIAM_REF:-}" ] && [ -d "$NASIAM_REF/SimSiam" ]; then
    cp -r "$NASIAM_REF/." "$stage/ref/"
  elif [ -d /work/.mirror/aheuillet+NASiam/repo ]; then
    git --git-dir=/work/.mirror/aheuillet+NASiam/repo archive HEAD | tar -x -C "$stage/ref"
  else
    echo "gpu-check: no official code (set NASIAM_REF); the GPU run will skip the reference bench" >&2
  fi
  # TorchSharp 0.107.0's native sources, for tools/build-libtorchsharp.sh on the GPU host if the ABI check fails.
  rm -rf "$stage/torchsharp-src"; mkdir -p "$stage/torchsharp-src"
  if [ -d /work/.mirror/dotnet+TorchSharp/repo ]; then
    git --git-dir=/work/.mirror/dotnet+TorchSharp/repo archive HEAD src/Native | tar -x -C "$stage/torchsharp-src"
  fi
  for h in "$root/../shared/bench/reference/nasiam_ref_bench.py" "$root/shared/bench/reference/nasiam_ref_bench.py" /work/shared/bench/reference/nasiam_ref_bench.py; do
    [ -f "$h" ] && { cp "$h" "$stage/refbench/"; break; }
  done
  set +e
  local tracked staged
  tracked=$(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
  staged=$(du -scb "$stage/publish" "$stage/ref" "$stage/refbench" "$stage/torchsharp-src" | tail -1 | cut -f1)
  echo "publish: $(size_mib "$stage/publish") MiB ($(ls "$stage/publish" | wc -l) files); ref: $(size_mib "$stage/ref") MiB; torchsharp-src: $(size_mib "$stage/torchsharp-src") MiB"
  echo "carried: working tree (not ignored) $((tracked / 1024)) KiB + staged $((staged / 1024)) KiB = $(( (tracked + staged) / 1048576 )) MiB (limit 64)"
  echo "device call: carry=[\"artifacts/gpu-check/publish\",\"artifacts/gpu-check/ref\",\"artifacts/gpu-check/refbench\",\"artifacts/gpu-check/torchsharp-src\"], command: bash tools/gpu-check.sh run (timeout_s 590)"
}

# ---------------------------------------------------------------------------------------------
run_all() {
  OUT=${OUT:-$stage/out}; mkdir -p "$OUT"
  RAW=$(mktemp -d /tmp/gpu-check-raw.XXXXXX)
  local cli="$stage/publish/nasiam"
  local py=${NASIAM_PYTHON:-python3}
  local T=${GPU_CHECK_STEP_TIMEOUT:-150} B=${BATCH:-256} S=${BENCH_STEPS:-10} W=${BENCH_WARMUP:-3}
  # The CPU half is proof, not measurement: a shared 2-core machine needs longer steps.
  [ $cpu_only = 1 ] && [ -z "${GPU_CHECK_STEP_TIMEOUT:-}" ] && T=400
  local budget=${GPU_CHECK_BUDGET:-540} started=$SECONDS
  log="$RAW/summary.txt"; : >"$log"
  say() { echo "$*" | tee -a "$log"; }
  # step_timeout: min(T, budget left - 10 s); 0 when the step no longer fits.
  step_timeout() { local left=$((budget - (SECONDS - started) - 10)); [ $left -gt $T ] && left=$T; [ $left -lt 20 ] && left=0; echo $left; }
  # run_step NAME OUTFILE ERRFILE CMD...: runs within the budget, says the exit code (124 = its timeout).
  run_step() {
    local name=$1 o=$2 e=$3; shift 3
    local t; t=$(step_timeout)
    if [ "$t" = 0 ]; then say "$name: SKIPPED (time budget of ${budget}s spent)"; return 99; fi
    timeout "$t" "$@" >"$o" 2>"$e"; local rc=$?
    return $rc
  }
  [ -x "$cli" ] || { say "gpu-check: $cli missing: run 'tools/gpu-check.sh prepare' first and carry artifacts/gpu-check/publish"; finish; exit 2; }
  say "gpu-check $(date -u +%FT%TZ) on $(hostname); mode run$([ $cpu_only = 1 ] && echo ' --cpu-only'); budget ${budget}s"
  say "load: $(cat /proc/loadavg)  cpus: $(nproc)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader >"$RAW/nvidia-smi.txt" 2>&1 && say "gpu: $(cat "$RAW/nvidia-smi.txt")"

  # Which libtorch: the python's torch (pip wheel: torch/lib), or NASIAM_LIBTORCH_DIR.
  local probe torch_version torch_lib has_cuda=0
  probe=$("$py" - <<'PY' 2>"$RAW/python-probe.err"
import os, torch
lib = os.path.join(torch.__path__[0], "lib")
print(torch.__version__); print(lib); print(int(torch.cuda.is_available()))
PY
) || probe=""
  torch_version=$(sed -n 1p <<<"$probe"); torch_lib=$(sed -n 2p <<<"$probe"); [ "$(sed -n 3p <<<"$probe")" = 1 ] && has_cuda=1
  say "python torch: ${torch_version:-none} (${torch_lib:-no torch: $(tail -1 "$RAW/python-probe.err")}), cuda available: $has_cuda"
  [ $has_cuda = 1 ] || cpu_only=1

  # A wrapper built for this libtorch: LIBTORCHSHARP, or the one an earlier call built on this (warm) machine.
  local built="$stage/built/libLibTorchSharp.so"
  [ -z "${LIBTORCHSHARP:-}" ] && [ -f "$built" ] && LIBTORCHSHARP=$built
  if [ -n "${LIBTORCHSHARP:-}" ]; then
    cp "$LIBTORCHSHARP" "$stage/publish/libLibTorchSharp.so" && say "wrapper replaced by $LIBTORCHSHARP"
  fi
  # The ABI check decides which libtorch the system backend is pointed at.
  local dir=${NASIAM_LIBTORCH_DIR:-$torch_lib} fit=0 note=""
  if [ -n "$dir" ]; then
    "$py" "$root/tools/libtorch-abi-check.py" --libtorch "$dir" --wrapper "$stage/publish/libLibTorchSharp.so" --top 80 >"$RAW/abi-check.txt" 2>&1 && fit=1
    say "$(head -1 "$RAW/abi-check.txt")"
  fi
  if [ $fit = 0 ] && [ $cpu_only = 1 ]; then
    # CPU half on a machine whose PyTorch does not fit (e.g. Debian's 1.13): point the system backend at
    # the libtorch 2.10 of the NuGet cache instead (a directory outside the app: the same loading path).
    local nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native
    if [ -f "$nuget/libtorch_cpu.so" ]; then
      dir=$nuget; note="(the installed PyTorch does not fit the wrapper; CPU half uses NuGet's libtorch 2.10 as the system libtorch)"
      "$py" "$root/tools/libtorch-abi-check.py" --libtorch "$dir" --wrapper "$stage/publish/libLibTorchSharp.so" >"$RAW/abi-check-fallback.txt" 2>&1 && fit=1
      say "fallback: $(head -1 "$RAW/abi-check-fallback.txt")"
    fi
  fi
  if [ $fit = 0 ] && [ $cpu_only = 0 ] && [ "${AUTO_BUILD_WRAPPER:-1}" = 1 ] && command -v g++ >/dev/null && [ -d "$stage/torchsharp-src/src/Native" ]; then
    # The GPU host's PyTorch does not fit the NuGet wrapper: build one from TorchSharp 0.107.0's sources
    # against it (all cores; a few minutes on 16), then check again.
    say "building the wrapper against torch $torch_version (tools/build-libtorchsharp.sh, g++ $(g++ -dumpfullversion))..."
    local t0=$SECONDS
    if timeout "${WRAPPER_BUILD_TIMEOUT:-330}" bash "$root/tools/build-libtorchsharp.sh" --python "$py" --src "$stage/torchsharp-src" \
         --out "$built" >"$RAW/build-libtorchsharp.log" 2>&1; then
      cp "$built" "$stage/publish/libLibTorchSharp.so"
      "$py" "$root/tools/libtorch-abi-check.py" --libtorch "$dir" --wrapper "$stage/publish/libLibTorchSharp.so" >"$RAW/abi-check-built.txt" 2>&1 && fit=1
      say "built wrapper in $((SECONDS - t0)) s: $(head -1 "$RAW/abi-check-built.txt")"
      say "$(grep -m1 'THS exports' "$RAW/build-libtorchsharp.log")"
    else
      say "wrapper build failed after $((SECONDS - t0)) s: $(grep -E 'compiled|FAILED|error:' "$RAW/build-libtorchsharp.log" | head -6 | tr '\n' ' ' | cut -c1-600)"
    fi
  fi
  if [ $fit = 0 ]; then
    # Not every import is needed at once: functions reached through the PLT bind lazily at their first call
    # (the wrapper is not linked with -z now). With load_time_missing=0 the wrapper loads and only a call into
    # a missing function aborts (that one step). Run anyway unless STRICT_ABI=1; the summary says so.
    say "ABI: the wrapper imports symbols $dir lacks ($(grep -m1 'bound at load time' "$RAW/abi-check.txt" | sed 's/^ *//' | cut -c1-300)); see abi-check.txt"
    [ "${STRICT_ABI:-0}" = 1 ] && { say "STRICT_ABI=1: stopping"; finish; exit 1; }
    say "running anyway (lazy binding); a step that calls a missing function fails with 'symbol lookup error'"
  fi
  export NASIAM_LIBTORCH_DIR=$dir
  # The wheel's libtorch_cuda.so finds cuDNN/cuBLAS through its RPATH; LD_LIBRARY_PATH is the fallback for
  # the libraries cuDNN dlopens by name.
  local nv; nv=$(ls -d "$dir"/../../nvidia/*/lib "$dir"/../../nvidia/*/*/lib 2>/dev/null | tr '\n' ':')
  export LD_LIBRARY_PATH="$dir:${nv}${LD_LIBRARY_PATH:-}"
  say "system libtorch: $dir $note"

  local dev=cuda; [ $cpu_only = 1 ] && dev=cpu
  # 0. Load proof: the CLI says which libtorch it mapped.
  run_step load "$RAW/load-proof.json" "$RAW/load-proof.err" \
    "$cli" bench --framework simsiam --backbone resnet-tiny --batch-size 8 --steps 1 --warmup 0 --threads 2 --device "$dev" --json
  say "load: rc=$? $(grep -m1 'NASiam: system libtorch' "$RAW/load-proof.err") $(grep -m1 -iE 'error|exception|symbol lookup' "$RAW/load-proof.err" | cut -c1-300)"

  # 1. Engine bench, fp32 (the autocast option comes last, if this CLI has one).
  local help amp=""
  help=$("$cli" bench --help 2>&1)
  amp=$(grep -oE -- '--[a-z0-9-]+ <[^>]*bf16[^>]*>' <<<"$help" | head -1 | cut -d' ' -f1)
  [ -n "$amp" ] && amp="$amp bf16" || amp=$(grep -oE -- '--[a-z0-9-]*bf16[a-z0-9-]*' <<<"$help" | head -1)
  say "autocast option: ${amp:-none in this CLI}"
  local bb=resnet18 b=$B s=$S w=$W
  if [ $cpu_only = 1 ]; then b=${CPU_BATCH:-8}; s=1; w=1; fi  # the CPU half proves the path, it does not measure
  bench() {  # bench FRAMEWORK PRECISION [extra flags]
    local fw=$1 prec=$2; shift 2
    run_step "bench $fw $prec" "$RAW/bench-$fw-$prec.json" "$RAW/bench-$fw-$prec.err" \
      "$cli" bench --framework "$fw" --backbone $bb --batch-size $b --steps $s --warmup $w --device $dev "$@" --json
    local rc=$?
    [ $rc = 99 ] || say "bench $fw $prec B=$b: rc=$rc $(tail -1 "$RAW/bench-$fw-$prec.json" | cut -c1-260) $(grep -m1 -iE 'error|exception|symbol lookup' "$RAW/bench-$fw-$prec.err" | cut -c1-300)"
  }
  for fw in simsiam moco simclr; do bench $fw fp32; done

  # 2. The official PyTorch code, same model/settings, same device.
  if [ -f "$stage/refbench/nasiam_ref_bench.py" ] && [ -d "$stage/ref/SimSiam" ]; then
    for fw in simsiam moco; do  # SimCLR's official SearchModel hard-codes ResNet-50: not the same model
      run_step "reference $fw" "$RAW/ref-$fw.json" "$RAW/ref-$fw.err" \
        "$py" "$root/tools/gpu-ref-bench.py" --harness "$stage/refbench/nasiam_ref_bench.py" --ref "$stage/ref" \
        --framework $fw --batch-size $b --steps $s --warmup $w --device $dev --threads "$(nproc)"
      local rc=$?
      [ $rc = 99 ] || say "reference $fw B=$b: rc=$rc $(tail -1 "$RAW/ref-$fw.json" | cut -c1-260) $(tail -1 "$RAW/ref-$fw.err" | grep -iE 'error|exception' | cut -c1-300)"
    done
  else
    say "reference bench: skipped (no official code or harness staged)"
  fi

  # 3. One search step from the same seed on CPU and on the device. ResNet-18 on the GPU host (cuDNN's
  # kernels are what is compared); ResNet-tiny for the CPU half, which proves the comparison path.
  local step_bb=resnet18; [ $cpu_only = 1 ] && step_bb=resnet-tiny
  local common=(search --preset quick-demo --backbone "$step_bb" --seed 0 --max-steps-per-stage 1 --threads 0)
  run_step "step cpu" "$RAW/step-cpu.log" "$RAW/step-cpu.err" "$cli" "${common[@]}" --device cpu --out "$RAW/step-cpu"; say "step cpu: rc=$?"
  if [ $cpu_only = 0 ]; then
    run_step "step cuda" "$RAW/step-cuda.log" "$RAW/step-cuda.err" "$cli" "${common[@]}" --device cuda --out "$RAW/step-cuda"; say "step cuda: rc=$?"
  else
    # CPU half: the same comparison code on a second CPU run (must agree: same kernels, same order).
    run_step "step cpu2" "$RAW/step-cuda.log" "$RAW/step-cuda.err" "$cli" "${common[@]}" --device cpu --out "$RAW/step-cuda"; say "step cpu (2nd, stands in for cuda): rc=$?"
  fi
  "$py" - "$RAW/step-cpu/metrics.jsonl" "$RAW/step-cuda/metrics.jsonl" >"$RAW/step-compare.txt" 2>&1 <<'PY'
import json, sys
def first_step(path):
    for line in open(path):
        e = json.loads(line)
        if e.get("type") == "step":
            return e
    raise SystemExit(f"STEP-COMPARE no step event in {path}")
a, b = first_step(sys.argv[1]), first_step(sys.argv[2])
tol = 1e-2  # relative: cuDNN convolutions use TF32 by default and other kernels/orders than the CPU
worst = 0.0
for k in ("loss", "arch_loss"):
    x, y = a.get(k), b.get(k)
    if x is None or y is None:
        continue
    rel = abs(x - y) / max(abs(x), 1e-12)
    worst = max(worst, rel)
    print(f"{k}: cpu {x:.7g} device {y:.7g} rel {rel:.2e}")
print(f"STEP-COMPARE worst_rel={worst:.3e} tol={tol} {'ok' if worst <= tol else 'FAIL'}")
sys.exit(0 if worst <= tol else 1)
PY
  say "$(tail -1 "$RAW/step-compare.txt")"

  # 4. Quick-demo search on the device (the preset as users run it, only the device changed).
  local t0=$SECONDS
  local qd=(search --preset quick-demo --device "$dev" --out "$RAW/quick-demo")
  [ $cpu_only = 1 ] && qd+=(--max-steps-per-stage 2)
  run_step "quick-demo" "$RAW/quick-demo.log" "$RAW/quick-demo.err" "$cli" "${qd[@]}"; local rc=$?
  [ $rc = 99 ] || say "quick-demo search on $dev: rc=$rc in $((SECONDS - t0)) s; $(grep -m1 -E 'succeeded|failed' "$RAW/quick-demo.log" | cut -c1-200); genotype: $(cut -c1-200 "$RAW/quick-demo/genotype.txt" 2>/dev/null)"

  # 5. The autocast variants, last (they do not exist in every CLI).
  if [ -n "$amp" ]; then
    # shellcheck disable=SC2086
    for fw in simsiam moco simclr; do bench $fw bf16 $amp; done
  fi
  say "done in $((SECONDS - started)) s"
  finish
}

# At most 5 files to $OUT: the summaries, the ABI check, the wrapper build log, and the rest as one archive.
finish() {
  write_json
  cp "$RAW/summary.txt" "$RAW/summary.json" "$OUT/" 2>/dev/null
  [ -f "$RAW/abi-check.txt" ] && cp "$RAW/abi-check.txt" "$OUT/"
  [ -f "$RAW/build-libtorchsharp.log" ] && cp "$RAW/build-libtorchsharp.log" "$OUT/"
  # A wrapper built here comes back too (carry it as LIBTORCHSHARP next time; a few MB).
  [ -f "$stage/built/libLibTorchSharp.so" ] && cp "$stage/built/libLibTorchSharp.so" "$OUT/libLibTorchSharp-built.so"
  tar -czf "$OUT/raw.tar.gz" -C "$RAW" --exclude='*.ckpt' --exclude='*.so' . 2>/dev/null
  [ "${KEEP_RAW:-0}" = 1 ] || rm -rf "$RAW"
  echo "figures: $OUT/summary.json, raw outputs: $OUT/raw.tar.gz"
}

# Summary figures: images/s, fraction of the H200's bf16 peak, ratio to the reference.
write_json() {
  local py=${NASIAM_PYTHON:-python3}
  "$py" - "$RAW" >"$RAW/summary.json" 2>>"$RAW/summary.txt" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
PEAK_TFLOPS = 790.0   # the H200 bf16 peak as issue 15 states it (TFLOP/s); 769-798 measured there on 8192^3 bf16 GEMMs
FWD_GFLOP = 0.56      # ResNet-18 CIFAR stem, forward, one 32x32 image
TRAIN_FACTOR = 3.0    # forward + backward ~ 3x forward
def load(p):
    try:
        with open(p) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None
res = {"bench": {}, "reference": {}, "ratios": {}}
for p in sorted(glob.glob(os.path.join(out, "bench-*.json"))):
    name = os.path.basename(p)[6:-5]
    r = load(p)
    if not r:
        continue
    entry = {k: r.get(k) for k in ("batch_size", "pretrain_step_s", "search_step_s", "images_per_s", "search_images_per_s", "peak_rss_mib")}
    ips = r.get("images_per_s")  # pre-training step: B images, two views each
    if ips:
        tflops = ips * 2 * FWD_GFLOP * TRAIN_FACTOR / 1000.0
        entry["achieved_tflops_est"] = float(f"{tflops:.4g}")
        entry["fraction_of_bf16_peak"] = float(f"{tflops / PEAK_TFLOPS:.3g}")
    res["bench"][name] = entry
for p in sorted(glob.glob(os.path.join(out, "ref-*.json"))):
    fw = os.path.basename(p)[4:-5]
    r = load(p)
    if not r:
        continue
    res["reference"][fw] = {k: r.get(k) for k in ("median_s_per_step", "median_alpha_step_s", "median_weight_step_s", "search_images_per_s", "device", "gpu", "torch", "peak_gpu_mib")}
    ours = res["bench"].get(f"{fw}-fp32", {}).get("search_step_s")
    if ours:
        res["ratios"][fw] = {"reference_s": r["median_s_per_step"], "ours_s": ours, "reference_over_ours": round(r["median_s_per_step"] / ours, 3)}
try:  # the one-line facts of summary.txt
    for line in open(os.path.join(out, "summary.txt")):
        line = line.strip()
        for key, prefix in (("abi", "ABI-CHECK"), ("abi_fallback", "fallback: ABI-CHECK"), ("load", "load: rc="),
                            ("step_compare", "STEP-COMPARE"), ("quick_demo", "quick-demo search"), ("gpu", "gpu: "),
                            ("python_torch", "python torch:"), ("system_libtorch", "system libtorch:"),
                            ("wrapper_build", "built wrapper"), ("wrapper_build_failed", "wrapper build failed"), ("done", "done in")):
            if line.startswith(prefix):
                res.setdefault("facts", {})[key] = line
except OSError:
    pass
res["assumptions"] = {"bf16_peak_tflops": PEAK_TFLOPS, "resnet18_cifar_forward_gflop_per_image": FWD_GFLOP,
                      "train_over_forward_flops": TRAIN_FACTOR, "views_per_image": 2}
print(json.dumps(res, indent=1))
PY
}

case "$mode" in
  prepare) prepare ;;
  run) run_all ;;
  *) echo "usage: tools/gpu-check.sh prepare | run [--cpu-only]" >&2; exit 2 ;;
esac
