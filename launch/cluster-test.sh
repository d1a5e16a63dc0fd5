#!/usr/bin/env bash
# The multi-host tests: brings up a cluster of network-namespace hosts on this
# machine (launch/test-cluster.sh), runs the XCTest classes that train across
# them (MultiHostTests, MultiHostLaunchTests), and tears the cluster down on
# every exit, passed, failed or interrupted. CI runs it after launch/test.sh.
#
#   launch/cluster-test.sh [HOSTS]     # default 2 hosts; needs root
#
# The hosts get one core each (two on this machine); 2 ranks per host
# oversubscribe them, which the tests' small models tolerate.
set -euo pipefail
cd "$(dirname "$0")/.."

hosts="${1:-2}"
[ "$(id -u)" -eq 0 ] || { echo "cluster-test: needs root (network namespaces)" >&2; exit 1; }

export DDP_CLUSTER_DIR="${DDP_CLUSTER_DIR:-/run/ddp-test-cluster}"
export DDP_TEST_CLUSTER_DIR="$DDP_CLUSTER_DIR"
cleanup() { launch/test-cluster.sh down || echo "cluster-test: tearing the cluster down failed" >&2; }
trap cleanup EXIT
trap 'exit 130' INT TERM

launch/setup.sh debug
launch/fetch-data.sh mnist
swift build --build-tests
launch/test-cluster.sh up "$hosts"
launch/test-cluster.sh status
swift test --skip-build --filter 'MultiHostTests|MultiHostLaunchTests'
