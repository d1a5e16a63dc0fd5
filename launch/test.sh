#!/usr/bin/env bash
# The test suite: installs what is missing, builds, and runs every test,
# including the multi-rank tests under real mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."

launch/setup.sh debug
swift build --build-tests
swift test --skip-build "$@"
