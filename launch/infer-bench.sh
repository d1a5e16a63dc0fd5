#!/usr/bin/env bash
# Issue 15's figures: Float32 against compressed checkpoints of the same
# runs, each comparison from one `ddp bench infer` job (the checkpoints timed
# in turn, batch by batch, so both see the same drift of this shared host).
# Trains the three recipes on 2 ranks and compresses them if their
# directories are missing.
#   launch/infer-bench.sh            JOBS=3, runs and results in runs/infer-bench
#   JOBS=5 OUT=/tmp/i launch/infer-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-3}"
out="${OUT:-runs/infer-bench}"
ddp="${DDP:-.build/release/ddp}"
[ -x "$ddp" ] || bash launch/setup.sh release
mkdir -p "$out"
"$ddp" env | grep -o "blas_core=[A-Za-z]*" || true

for recipe in mnist-mlp mnist-cnn shakespeare-gpt; do
    [ -d "$out/$recipe/checkpoints" ] || launch/local.sh -n 2 --config "configs/$recipe.yaml" --run-dir "$out/$recipe" --plain >"$out/$recipe.log"
    [ -d "$out/$recipe-int8" ] || "$ddp" compress --checkpoint "$out/$recipe" --out "$out/$recipe-int8" --quantize int8 | tee "$out/$recipe-int8.txt"
done
[ -d "$out/mnist-mlp-p50" ] || "$ddp" compress --checkpoint "$out/mnist-mlp" --out "$out/mnist-mlp-p50" --prune 0.5 >"$out/mnist-mlp-p50.txt"
[ -d "$out/mnist-mlp-p50-int8" ] || "$ddp" compress --checkpoint "$out/mnist-mlp" --out "$out/mnist-mlp-p50-int8" --prune 0.5 --quantize int8 >"$out/mnist-mlp-p50-int8.txt"

for job in $(seq 1 "$jobs"); do
    "$ddp" bench infer --checkpoint "$out/mnist-mlp" --checkpoint "$out/mnist-mlp-int8" --checkpoint "$out/mnist-mlp-p50" \
        --checkpoint "$out/mnist-mlp-p50-int8" --rounds 1000 --eval >"$out/mlp-$job.json"
    "$ddp" bench infer --checkpoint "$out/mnist-cnn" --checkpoint "$out/mnist-cnn-int8" --rounds 300 --eval >"$out/cnn-$job.json"
    "$ddp" bench infer --checkpoint "$out/shakespeare-gpt" --checkpoint "$out/shakespeare-gpt-int8" --batches 1 16 \
        --rounds 50 --eval >"$out/gpt-$job.json"
done

python3 - "$out" "$jobs" <<'PY'
import json, statistics, sys
out, jobs = sys.argv[1], int(sys.argv[2])
for bench in ["mlp", "cnn", "gpt"]:
    reports = [json.load(open(f"{out}/{bench}-{j}.json")) for j in range(1, jobs + 1)]
    for i, comparison in enumerate(reports[0]["comparisons"]):
        name = comparison["checkpoint"].split("/")[-1]
        def median(key, sub):
            values = [r["comparisons"][i][key][sub] for r in reports if sub in r["comparisons"][i].get(key, {})]
            return statistics.median(values) if values else None
        line = [f"{bench} {name}: file {comparison['fileSizeRatio']:.3f}x"]
        for b in ["batch1", "batch16", "batch256"]:
            t, l = median("throughputRatios", b), median("latencyRatios", b)
            if t is not None:
                line.append(f"{b} throughput {t:.2f}x latency {l:.2f}x")
        speeds = [r["comparisons"][i].get("generationSpeedRatio") for r in reports]
        if speeds[0] is not None:
            line.append(f"generation {statistics.median(speeds):.2f}x")
        print(", ".join(line))
    for checkpoint in reports[0]["checkpoints"]:
        name = checkpoint["checkpoint"].split("/")[-1]
        runs = [c for r in reports for c in r["checkpoints"] if c["checkpoint"] == checkpoint["checkpoint"]]
        extra = []
        if "evaluation" in checkpoint:
            e = checkpoint["evaluation"]
            extra.append(f"loss {e.get('loss'):.4f}" + (f" accuracy {e['accuracy'] * 100:.2f}%" if e.get("accuracy") is not None else ""))
        if "generation" in checkpoint:
            g = [c["generation"] for c in runs]
            extra.append(f"cached {statistics.median(x['cachedTokensPerSecond'] for x in g):.0f} tok/s, uncached "
                         f"{statistics.median(x['uncachedTokensPerSecond'] for x in g):.0f} tok/s, cache "
                         f"{statistics.median(x['cacheSpeedup'] for x in g):.1f}x, same tokens {all(x['sameTokens'] for x in g)}")
        print(f"  {name}: bytes {checkpoint['modelBytes']}; " + "; ".join(extra))
PY
