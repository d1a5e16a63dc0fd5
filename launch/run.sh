#!/usr/bin/env bash
# The main job: installs what is missing, builds, fetches the data, and trains
# the MNIST MLP on 2 ranks. Extra arguments go to `ddp train` (e.g. --set training.epochs=1).
set -euo pipefail
cd "$(dirname "$0")/.."

launch/setup.sh release
launch/fetch-data.sh mnist
exec launch/local.sh -n 2 --config "${DDP_CONFIG:-configs/mnist-mlp.yaml}" "$@"
