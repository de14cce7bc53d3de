#!/usr/bin/env bash
# The pre-training step against its floor, both sides, alternately in one run: the official code's
# pre-training step (../shared/bench/reference/nasiam_ref_bench.py --mode standard) and its trunk alone
# (bench/engine/trunk_ref.py), then ours (`nasiam bench --only pretrain`, `--only trunk`). Prints per
# round the four medians, the trunks' ratio (same convolutions, same work: ~1.0x when the kernels are
# equal) and the ceiling: reference step / our trunk, the largest ratio any step of ours could reach
# with these convolutions on this host. Needs NASIAM_REF and Debian's python3-torch (see the README).
# Env: BATCHES ("32 64"), ROUNDS (2), STEPS (8), REF_BENCH (the reference step script).
set -eu
[ -n "${NASIAM_REF:-}" ] && [ -d "$NASIAM_REF/SimSiam" ] || { echo "set NASIAM_REF to an extracted copy of github aheuillet/NASiam"; exit 2; }
ref_bench=${REF_BENCH:-../shared/bench/reference/nasiam_ref_bench.py}
[ -f "$ref_bench" ] || { echo "reference step script not found: $ref_bench (set REF_BENCH)"; exit 2; }
out=$(mktemp -d); steps=${STEPS:-8}
dotnet build src/NASiam.Cli -c Release -o "$out/cli" >"$out/build.log" 2>&1 || { echo "build failed: $out/build.log"; exit 2; }
grep -m1 "model name" /proc/cpuinfo || true
for B in ${BATCHES:-32 64}; do
  for r in $(seq "${ROUNDS:-2}"); do
    rs=$(/usr/bin/python3 "$ref_bench" --ref "$NASIAM_REF" --framework simsiam --mode standard --batch-size "$B" --threads 2 --steps "$steps" --warmup 2 2>/dev/null | tail -1)
    rt=$(/usr/bin/python3 bench/engine/trunk_ref.py --ref "$NASIAM_REF" --batch-size "$B" --threads 2 --steps "$steps" --warmup 2 2>/dev/null | tail -1)
    ot=$(dotnet "$out/cli/nasiam.dll" bench --only trunk --batch-size "$B" --threads 2 --steps "$steps" --warmup 2 --json 2>/dev/null | tail -1)
    os=$(dotnet "$out/cli/nasiam.dll" bench --only pretrain --batch-size "$B" --threads 2 --steps "$steps" --warmup 2 --json 2>/dev/null | tail -1)
    /usr/bin/python3 - "$rs" "$rt" "$ot" "$os" "$B" "$r" <<'PY'
import json, sys
rs, rt, ot, os_ = (json.loads(a) for a in sys.argv[1:5])
ref_step, ref_trunk = rs["median_s_per_step"], rt["trunk_step_s"]
our_trunk, our_step, gflop = ot["trunk_step_s"], os_["pretrain_step_s"], ot["trunk_gflop"]
print("B=%-3s round %s  reference step %.3f s, trunk %.3f s | ours step %.3f s, trunk %.3f s (%.0f GFLOP, %.0f GFLOP/s) | "
      "trunks ref/ours %.2fx, step ref/ours %.2fx, ceiling ref step/our trunk %.2fx | foreign CPU %.2f, %.2f" % (
      sys.argv[5], sys.argv[6], ref_step, ref_trunk, our_step, our_trunk, gflop, gflop / our_trunk,
      ref_trunk / our_trunk, ref_step / our_step, ref_step / our_trunk, rs.get("foreign_cpu_cores", 0), rt.get("foreign_cpu_cores", 0)))
PY
  done
done
