#!/usr/bin/env bash
# A/B of the heads' call pattern in full engine steps: `nasiam bench` with the default (heads once on
# both views stacked) and with --per-view-heads, alternately. Run from the project root on a quiet host.
# Env: FRAMEWORK (simsiam), BATCHES ("32 64"), ROUNDS (3), STEPS (6).
set -eu
out=$(mktemp -d)
dotnet build src/NASiam.Cli -c Release -o "$out/cli" >"$out/build.log" 2>&1 || { echo "build failed: $out/build.log"; exit 2; }
grep -m1 "model name" /proc/cpuinfo || true
for B in ${BATCHES:-32 64}; do
  for r in $(seq "${ROUNDS:-3}"); do
    for variant in batched per-view; do
      flag=(); [ "$variant" = per-view ] && flag=(--per-view-heads)
      json=$(dotnet "$out/cli/nasiam.dll" bench --framework "${FRAMEWORK:-simsiam}" --backbone resnet18 --batch-size "$B" \
        --steps "${STEPS:-6}" --warmup 2 --threads 2 "${flag[@]}" --json 2>/dev/null | tail -1)
      printf 'B=%s round %s %-8s ' "$B" "$r" "$variant"
      /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); print('search %.3f s (arch %.3f + weight %.3f), pretrain %.3f s' % (d['search_step_s'], d['arch_step_s'], d['weight_step_s'], d['pretrain_step_s']))" "$json"
    done
  done
done
