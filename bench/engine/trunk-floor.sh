#!/usr/bin/env bash
# The pre-training and search steps against their floors, both sides, alternately in one run.
# standard: the official code's pre-training step (../shared/bench/reference/nasiam_ref_bench.py --mode
#   standard) and its trunk alone (bench/engine/trunk_ref.py), then ours (`nasiam bench --only trunk`,
#   `--only pretrain`). Prints the four medians, the trunks' ratio (same convolutions, same work: ~1.0x
#   when the kernels are equal) and the ceiling: reference step / our trunk, the largest ratio any
#   pre-training step of ours could reach with these convolutions on this host.
# search: the official search step (--mode search), our search step (`--only search`) and our search
#   floor (from the same `--only trunk` run: the trunk's forward + backward plus the forwards without
#   autograd a search step needs, `search_floor_s`); ceiling = reference search step / our floor.
# Needs NASIAM_REF and Debian's python3-torch (see the README).
# Env: FRAMEWORK (simsiam; search only for moco), MODES ("standard search"), BATCHES ("32 64"),
#      ROUNDS (2), STEPS (8), REF_BENCH (the reference step script).
set -eu
[ -n "${NASIAM_REF:-}" ] && [ -d "$NASIAM_REF/SimSiam" ] || { echo "set NASIAM_REF to an extracted copy of github aheuillet/NASiam"; exit 2; }
ref_bench=${REF_BENCH:-../shared/bench/reference/nasiam_ref_bench.py}
[ -f "$ref_bench" ] || { echo "reference step script not found: $ref_bench (set REF_BENCH)"; exit 2; }
fw=${FRAMEWORK:-simsiam}; modes=${MODES:-standard search}
[ "$fw" = simsiam ] || case " $modes " in *" standard "*) echo "the standard mode compares the SimSiam trunk (trunk_ref.py); use MODES=search for $fw"; exit 2;; esac
out=$(mktemp -d); steps=${STEPS:-8}
dotnet build src/NASiam.Cli -c Release -o "$out/cli" >"$out/build.log" 2>&1 || { echo "build failed: $out/build.log"; exit 2; }
grep -m1 "model name" /proc/cpuinfo || true
ours() { dotnet "$out/cli/nasiam.dll" bench --framework "$fw" --batch-size "$1" --threads 2 --steps "$steps" --warmup 2 --json --only "$2" 2>/dev/null | tail -1; }
ref() { /usr/bin/python3 "$ref_bench" --ref "$NASIAM_REF" --framework "$fw" --mode "$2" --batch-size "$1" --threads 2 --steps "$steps" --warmup 2 2>/dev/null | tail -1; }
for B in ${BATCHES:-32 64}; do
  for r in $(seq "${ROUNDS:-2}"); do
    ot=$(ours "$B" trunk)
    for mode in $modes; do
      if [ "$mode" = standard ]; then
        rs=$(ref "$B" standard)
        rt=$(/usr/bin/python3 bench/engine/trunk_ref.py --ref "$NASIAM_REF" --batch-size "$B" --threads 2 --steps "$steps" --warmup 2 2>/dev/null | tail -1)
        os=$(ours "$B" pretrain)
      else
        rs=$(ref "$B" search); rt='{}'; os=$(ours "$B" search)
      fi
      /usr/bin/python3 - "$rs" "$rt" "$ot" "$os" "$B" "$r" "$mode" <<'PY'
import json, sys
rs, rt, ot, os_ = (json.loads(a) for a in sys.argv[1:5])
B, rnd, mode = sys.argv[5:8]
ref_step, our_trunk, gflop = rs["median_s_per_step"], ot["trunk_step_s"], ot["trunk_gflop"]
if mode == "standard":
    ref_trunk, our_step = rt["trunk_step_s"], os_["pretrain_step_s"]
    print("standard B=%-3s round %s  reference step %.3f s, trunk %.3f s | ours step %.3f s, trunk %.3f s (%.0f GFLOP, %.0f GFLOP/s) | "
          "trunks ref/ours %.2fx, step ref/ours %.2fx, ceiling ref step/our trunk %.2fx | foreign CPU %.2f, %.2f" % (
          B, rnd, ref_step, ref_trunk, our_step, our_trunk, gflop, gflop / our_trunk,
          ref_trunk / our_trunk, ref_step / our_step, ref_step / our_trunk, rs.get("foreign_cpu_cores", 0), rt.get("foreign_cpu_cores", 0)))
else:
    our_step, floor = os_["search_step_s"], ot["search_floor_s"]
    print("search   B=%-3s round %s  reference step %.3f s (alpha %.2f + weight %.2f) | ours step %.3f s (arch %.2f + weight %.2f), "
          "floor %.3f s (trunk %.3f + forward without autograd %.3f) | step ref/ours %.2fx, ceiling ref step/our floor %.2fx, "
          "ours over the floor %.0f %% | foreign CPU %.2f" % (
          B, rnd, ref_step, rs["median_alpha_step_s"], rs["median_weight_step_s"], our_step, os_["arch_step_s"], os_["weight_step_s"],
          floor, our_trunk, ot["trunk_forward_s"], ref_step / our_step, ref_step / floor, 100 * (our_step / floor - 1), rs.get("foreign_cpu_cores", 0)))
PY
    done
  done
done
