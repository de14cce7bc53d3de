#!/usr/bin/env bash
# Streamed two-view ImageNet-recipe batches: NASiam (ImageFolderDataSet + BatchPrefetcher + batched
# augmentation on the CPU) against torchvision ImageFolder + DataLoader with the same transforms and
# workers, ALTERNATELY in one run (issue 10's benchmark). Prints the host, the load before each
# round, images/s and RSS over time; then the per-image decoder measurements.
#   usage: bench/data-vs-torchvision/run.sh [DATA_DIR=/tmp/nasiam-jpegs] [ROUNDS=2] [WORKERS=2] [BATCH=64] [BATCHES=0 (whole epoch)]
#   PATHS="fused batched" (env) picks NASiam's paths per round: fused = what a CPU run does (whole recipe
#   in the decode workers), batched = the batched tensor operators on the main thread (the GPU path, and
#   the CPU path before the fused kernel). LONG_EPOCHS=N (env, default 0) adds a final fused run of N
#   whole epochs for the RSS series.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${1:-/tmp/nasiam-jpegs}"; rounds="${2:-2}"; workers="${3:-2}"; batch="${4:-64}"; nb="${5:-0}"
py=/usr/bin/python3   # Debian's python with torch + python3-torchvision (plain python3 may lack them)
[ -d "$data/train" ] || "$py" "$here/make_jpegs.py" "$data" --images 2000 --classes 10
dotnet build "$here/DataBench" -c Release -v q -nologo >/dev/null
dotnet build "$here/DecoderBench" -c Release -v q -nologo >/dev/null
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; dotnet $(dotnet --version); $("$py" -c 'import torch, torchvision, PIL; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, PIL {PIL.__version__}")')"
echo "data: $(find "$data/train" -name '*.JPEG' | wc -l) JPEGs, $(du -sh "$data/train" | cut -f1), batch $batch, workers $workers"
for r in $(seq 1 "$rounds"); do
  echo "--- round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for path in ${PATHS:-fused batched}; do
    dotnet "$here/DataBench/bin/Release/net10.0/DataBench.dll" "$data" --path "$path" --workers "$workers" --batch "$batch" --batches "$nb"
    echo "--- round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  "$py" "$here/torchvision_bench.py" "$data" --workers "$workers" --batch "$batch" --batches "$nb"
done
if [ "${LONG_EPOCHS:-0}" -gt 0 ]; then
  echo "--- RSS over $LONG_EPOCHS whole epochs (fused), load $(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet "$here/DataBench/bin/Release/net10.0/DataBench.dll" "$data" --path fused --workers "$workers" --batch "$batch" --epochs "$LONG_EPOCHS"
  echo "--- RSS over $LONG_EPOCHS whole epochs (torchvision), load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$py" "$here/torchvision_bench.py" "$data" --workers "$workers" --batch "$batch" --epochs "$LONG_EPOCHS"
fi
echo "--- decoders, load $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet "$here/DecoderBench/bin/Release/net10.0/DecoderBench.dll" "$data/train" 300 224
