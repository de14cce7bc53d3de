#!/usr/bin/env bash
# Measures the peak RSS of short real runs (the CLI, 4 steps each) and prints it beside RunMemoryEstimate's figure,
# so the estimate can be re-fitted on another host or after an engine change (docs/memory.md).
# Usage, from the project root, nothing else running: bash bench/engine/memory-estimate.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
dotnet build -c Release src/NASiam.Cli -v q -nologo >/dev/null
N=src/NASiam.Cli/bin/Release/net10.0/nasiam
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
printf '%-20s %12s %12s %7s\n' run estimated_mib measured_mib ratio
run() {
  local name=$1; shift
  local est
  est=$("$N" "$@" --print-memory 2>/dev/null | awk "/estimated peak/ {print \$NF}" | tail -1)
  rm -rf "$OUT/$name"
  "$N" "$@" --out "$OUT/$name" --max-steps 4 > "$OUT/$name.log" 2>&1 || { echo "$name: run failed, see $OUT/$name.log"; return; }
  local peak
  peak=$(grep -o '"peak_rss_mib":[0-9.]*' "$OUT/$name/metrics.jsonl" | cut -d: -f2 | sort -n | tail -1)
  awk -v n="$name" -v e="$est" -v p="$peak" 'BEGIN { printf "%-20s %12.0f %12.0f %7.2f\n", n, e, p, e / p }'
}
run r18-32-pre-b32   pretrain --framework simsiam --backbone resnet18 --synthetic-size 1024 --batch-size 32 --epochs 1 --pretrain-knn-every-epochs 0
run r18-32-pre-b128  pretrain --framework simsiam --backbone resnet18 --synthetic-size 1024 --batch-size 128 --epochs 1 --pretrain-knn-every-epochs 0
run r18-64-pre-b32   pretrain --framework simsiam --backbone resnet18 --synthetic-size 1024 --batch-size 32 --epochs 1 --pretrain-knn-every-epochs 0 --data-image-size 64
run tiny-32-pre-b32  pretrain --framework simsiam --backbone resnet-tiny --synthetic-size 1024 --batch-size 32 --epochs 1 --pretrain-knn-every-epochs 0
run r18-32-srch-b32  search --framework simsiam --backbone resnet18 --synthetic-size 2048 --batch-size 32 --epochs 1
run r18-32-srch-b128 search --framework simsiam --backbone resnet18 --synthetic-size 2048 --batch-size 128 --epochs 1
run moco-r18-srch-b64 search --framework moco --backbone resnet18 --synthetic-size 2048 --batch-size 64 --epochs 1
run clr-r18-pre-b128 pretrain --framework simclr --backbone resnet18 --synthetic-size 1024 --batch-size 128 --epochs 1 --pretrain-knn-every-epochs 0
run r50-32-pre-b32   pretrain --framework simsiam --backbone resnet50 --synthetic-size 1024 --batch-size 32 --epochs 1 --pretrain-knn-every-epochs 0
run r50-224-pre-b8   pretrain --framework simsiam --backbone resnet50 --synthetic-size 256 --batch-size 8 --epochs 1 --pretrain-knn-every-epochs 0 --data-image-size 224 --compat-resnet50-imagenet-stem-on-cifar
run r50-224-pre-b24  pretrain --framework simsiam --backbone resnet50 --synthetic-size 256 --batch-size 24 --epochs 1 --pretrain-knn-every-epochs 0 --data-image-size 224 --compat-resnet50-imagenet-stem-on-cifar
run r18-32-lin-b256  lincls --framework simsiam --backbone resnet18 --synthetic-size 1024 --batch-size 256 --epochs 1
