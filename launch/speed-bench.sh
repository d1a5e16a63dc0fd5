#!/usr/bin/env bash
# Issue 14's figures: MFU and step-to-matmul ratios of the bench configs,
# medians over JOBS jobs each, every job with its own same-run sgemm
# reference, the benches taken in turn so that all see the same drift of
# this shared host.
#   launch/speed-bench.sh            JOBS=5, results in runs/speed-bench
#   JOBS=7 OUT=/tmp/s launch/speed-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-5}"
out="${OUT:-runs/speed-bench}"
ddp="${DDP:-.build/release/ddp}"
[ -x "$ddp" ] || bash launch/setup.sh release
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe -np 2)

for job in $(seq 1 "$jobs"); do
    "$ddp" bench train --config configs/bench-gpt.yaml --steps 10 --profile > "$out/gpt-1rank-$job.json"
    "${mpi[@]}" "$ddp" bench train --config configs/bench-gpt.yaml --steps 10 --profile > "$out/gpt-2ranks-$job.json"
    "${mpi[@]}" "$ddp" bench train --config configs/bench-gpt-wide.yaml --steps 4 --warmup 2 --profile --profile-steps 2 \
        > "$out/gpt-wide-2ranks-$job.json"
    "$ddp" bench train --config configs/bench-mlp.yaml --set training.batch_size=128 --profile > "$out/mlp-1rank-$job.json"
done

python3 - "$out" "$jobs" <<'PY'
import json, statistics, sys
out, jobs = sys.argv[1], int(sys.argv[2])
for bench in ["gpt-1rank", "gpt-2ranks", "gpt-wide-2ranks", "mlp-1rank"]:
    reports = [json.load(open(f"{out}/{bench}-{j}.json")) for j in range(1, jobs + 1)]
    mfu = [r["modelFlopUtilization"] for r in reports]
    shares = [r["profile"]["sharesSum"] for r in reports]
    line = f"{bench:16} MFU median {statistics.median(mfu):.3f} (min {min(mfu):.3f}, max {max(mfu):.3f})"
    ratio = [r["stepToMatmulThroughputRatio"] for r in reports if r.get("stepToMatmulThroughputRatio")]
    if ratio:
        line += f"; step/matmuls median {statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f})"
    line += f"; profile shares sum {min(shares):.3f}-{max(shares):.3f}"
    print(line)
PY
