#!/usr/bin/env bash
# The sanitizer runs of CI:
#   ThreadSanitizer over the multi-threaded parts: the gradient reducer and
#     its communication thread (multi-rank runs of a TSan-built ddp under
#     mpirun), the collective watchdog, and the serving batcher (ddp serve
#     under concurrent clients);
#   AddressSanitizer over the parsers: data files, configs, checkpoints,
#     images, requests.
# Each builds into its own .build/<sanitizer> and fails on the first report.
#
#   launch/sanitize.sh            both
#   launch/sanitize.sh thread     one of them
set -euo pipefail
cd "$(dirname "$0")/.."

kinds=(thread address)
[ $# -eq 0 ] || kinds=("$@")
launch/setup.sh debug >/dev/null

thread_tests='ReducerTests|WatchdogTests|ServeCommandTests|EquivalenceTests.testMLPWithSGDMomentum|EquivalenceTests.testMPITransport|EquivalenceTests.testHierarchicalTransportOnSimulatedHosts|ExchangeTests.testNonFiniteGradientOnOneRankStopsEveryRank|BenchTests.testTransportFollowsTheConfig'
address_tests='DataPipelineTests|RunConfigTests|CheckpointTests|InspectCommandTests|PredictCommandTests|EvalCommandTests|TensorCoreTests|NeuralNetTests'

status=0
for kind in "${kinds[@]}"; do
    case "$kind" in
        thread) filter="$thread_tests" ;;
        address) filter="$address_tests" ;;
        *) echo "sanitize: unknown sanitizer $kind (thread or address)" >&2; exit 2 ;;
    esac
    echo "sanitize: building with --sanitize=$kind"
    mkdir -p ".build/$kind"
    if ! swift build --build-tests --sanitize="$kind" --build-path ".build/$kind" >".build/$kind-build.log" 2>&1; then
        echo "sanitize: $kind: the build failed" >&2
        grep -E "error:" ".build/$kind-build.log" | head -20 >&2 || true
        status=1
        continue
    fi
    echo "sanitize: running $filter"
    # Reports fail the run (and the child processes the tests start, which
    # inherit these options). The Swift runtime's backtracer stays out of
    # the sanitizers' way; leaks of the runtime's metadata are not findings.
    if TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
       ASAN_OPTIONS="detect_leaks=0 halt_on_error=1" SWIFT_BACKTRACE=enable=no \
       swift test --skip-build --sanitize="$kind" --build-path ".build/$kind" --filter "$filter" \
           >".build/$kind/sanitize.log" 2>&1; then
        echo "sanitize: $kind: $(grep -E 'Executed [0-9]+ tests' ".build/$kind/sanitize.log" | tail -1 | sed 's/^[[:space:]]*//'), no reports"
    else
        status=1
        echo "sanitize: $kind: FAILED" >&2
        grep -E "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|SUMMARY|error:|failed \(" ".build/$kind/sanitize.log" | head -40 >&2 || true
    fi
done
exit $status
