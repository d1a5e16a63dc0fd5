#!/usr/bin/env bash
# Requests per second of `ddp serve` for two or more checkpoints of one
# classifier, measured alternately (a benchmark, not part of CI): each round
# serves every checkpoint in turn under `wrk -t1 -c64 -d10s`, each request one
# MNIST test image through /v1/predict. Prints requests/s and p99 per round
# and the medians, each checkpoint against the first.
#
#   launch/serve-compare.sh [--rounds 3] [--duration 10] CHECKPOINT CHECKPOINT...
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=10
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        -*) echo "usage: launch/serve-compare.sh [--rounds N] [--duration S] CHECKPOINT CHECKPOINT..." >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "serve-compare: give at least two checkpoints" >&2; exit 2; }
command -v wrk >/dev/null || { echo "serve-compare: installing wrk"; apt-get install -y -q wrk >/dev/null; }
[ -f data/mnist/t10k-images-idx3-ubyte ] || launch/fetch-data.sh mnist
launch/setup.sh release >/dev/null
ddp=.build/release/ddp
work=$(mktemp -d /tmp/ddp-serve-compare.XXXXXX)
serve_pid=
trap 'kill ${serve_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$work/image.lua" <<'PY'
import sys
pixels = open("data/mnist/t10k-images-idx3-ubyte", "rb").read()[16:16 + 784]
body = '{"inputs": [[' + ",".join(str(p) for p in pixels) + ']]}'
open(sys.argv[1], "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = \'' + body + "'\n")
PY

for round in $(seq 1 "$rounds"); do
    for checkpoint in "$@"; do
        "$ddp" serve --checkpoint "$checkpoint" --port 0 >"$work/serve.log" 2>&1 &
        serve_pid=$!
        for _ in $(seq 1 100); do grep -q "on http://" "$work/serve.log" && break; sleep 0.1; done
        address=$(grep -o "http://[0-9.:]*" "$work/serve.log" | head -1)
        wrk -t1 -c64 -d"${duration}s" --latency -s "$work/image.lua" "$address/v1/predict" >"$work/wrk.txt"
        kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
        rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
        p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
        non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
        echo "round $round  $checkpoint  requests/s $rps  p99 $p99  non-2xx ${non2xx:-0}" | tee -a "$work/results.txt"
    done
done

python3 - "$work/results.txt" "$@" <<'PY'
import statistics, sys
lines = open(sys.argv[1]).read().split("\n")
checkpoints = sys.argv[2:]
def ms(text):
    return float(text[:-2]) if text.endswith("ms") else float(text[:-2]) / 1000 if text.endswith("us") else float(text[:-1]) * 1000
medians = {}
for c in checkpoints:
    rows = [l.split() for l in lines if l.split()[2:3] == [c]]
    medians[c] = (statistics.median(float(r[4]) for r in rows), statistics.median(ms(r[6]) for r in rows))
base = medians[checkpoints[0]]
for c in checkpoints:
    rps, p99 = medians[c]
    print(f"{c}: median {rps:.0f} requests/s ({rps / base[0]:.2f}x), p99 {p99:.2f} ms ({p99 / base[1]:.2f}x)")
PY
