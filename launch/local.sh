#!/usr/bin/env bash
# Trains on this machine with N ranks through `ddp launch`: mpirun with the
# flags a workstation needs (root, oversubscription and no binding when ranks
# outnumber cores, plain progress lines when output is not a terminal),
# resuming from the newest checkpoint of the run directory, and restarting the
# job after a failure (a rank killed, the collective watchdog firing).
#
#   launch/local.sh -n 2 --config configs/mnist-mlp.yaml [--set key=value ...] [--run-dir runs/x]
#                   [--max-restarts R] [-- extra mpirun arguments]
#
# Arguments after -n go to `ddp launch` (`ddp launch --help`). Ctrl-C stops the
# job; `kill -USR1 <pid of ddp launch>` (or SIGTERM) makes the ranks checkpoint
# and exit with code 75; running the same command again resumes. Start a fresh
# run with another --run-dir (or delete the old one).
# change: DDP_BIN for another ddp binary; DDP_BLAS_THREADS for BLAS threads per rank.
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=2
if [ "${1:-}" = "-n" ]; then ranks="$2"; shift 2; fi
ddp="${DDP_BIN:-.build/release/ddp}"
[ -x "$ddp" ] || ddp=".build/debug/ddp"
[ -x "$ddp" ] || { echo "local.sh: build first (launch/setup.sh release)" >&2; exit 1; }

exec "$ddp" launch -n "$ranks" "$@"
