#!/usr/bin/env bash
# Runs `ddp train` on this machine with N ranks under mpirun.
#   launch/local.sh -n 2 --config configs/mnist-mlp.yaml [more ddp train arguments]
# The ddp binary sets its own BLAS kernel and thread count; this script only
# adds the mpirun flags a workstation needs (root, oversubscription, binding).
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=2
if [ "${1:-}" = "-n" ]; then ranks="$2"; shift 2; fi
ddp=".build/release/ddp"
[ -x "$ddp" ] || ddp=".build/debug/ddp"
[ -x "$ddp" ] || { echo "local.sh: build first (launch/setup.sh release)" >&2; exit 1; }

flags=(-np "$ranks")
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
cores=$(nproc)
if [ "$ranks" -gt "$cores" ]; then flags+=(--oversubscribe --bind-to none); fi
# A rank's stdout is a pseudo-terminal under mpirun; ask for plain lines when ours is not a terminal.
[ -t 1 ] || flags+=(-x DDP_PLAIN_PROGRESS=1)
exec mpirun "${flags[@]}" "$ddp" train "$@"
