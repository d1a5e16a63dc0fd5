#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of files and requests with libFuzzer,
# under AddressSanitizer: safetensors, trainer.json, IDX (and PGM), PNG, CSV,
# the YAML config with --set overrides, and the serving request decoder.
#
#   launch/fuzz.sh                 every target for 30 s (what CI runs)
#   launch/fuzz.sh --seconds 600   longer, on demand
#   launch/fuzz.sh png csv         some targets only
#
# Each target starts from its committed seeds in Fuzz/corpus/<target> and
# grows a working corpus in .build/fuzz-corpus/<target> (kept between runs,
# never committed). A crash (a trap, or a memory error AddressSanitizer
# catches), a timeout or memory beyond the limit writes the input to
# .build/fuzz-artifacts/<target>/ and fails the script. (Leak checking is
# off: the Swift runtime's caches read as leaks.)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds)
            [ $# -ge 2 ] && [ "$2" -gt 0 ] 2>/dev/null || { echo "fuzz: --seconds takes a positive number" >&2; exit 2; }
            seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(safetensors trainer-json idx png csv config predict-request manifest jpeg)

launch/setup.sh debug >/dev/null
echo "fuzz: building ddp-fuzz (libFuzzer + AddressSanitizer)"
DDP_FUZZ=1 swift build --build-path .build/fuzz --product ddp-fuzz \
    --sanitize=fuzzer --sanitize=address -Xswiftc -enable-testing 2>&1 | tail -3
binary=.build/fuzz/debug/ddp-fuzz

status=0
for target in "${targets[@]}"; do
    seeds="Fuzz/corpus/$target"
    [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; exit 2; }
    work=".build/fuzz-corpus/$target"
    artifacts=".build/fuzz-artifacts/$target"
    mkdir -p "$work" "$artifacts"
    log=".build/fuzz-artifacts/$target.log"
    # 4 GB of RSS would be an allocation sized by the input: a finding, not the machine's limit.
    # The Swift runtime's own backtracer would run inside AddressSanitizer after
    # a trap; libFuzzer reports the crash and keeps the input instead.
    if DDP_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$binary" "$work" "$seeds" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
        result="ok"
    else
        result="FAILED (see $log and $artifacts/)"
        status=1
    fi
    rm -rf /dev/shm/ddp-fuzz-* 2>/dev/null || true
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    corpus=$(ls "$work" | wc -l)
    echo "fuzz: $target: $result: $runs executions in ${seconds} s, coverage $coverage edges, corpus $corpus inputs"
    [ "$result" = ok ] || tail -30 "$log" >&2
done
exit $status
