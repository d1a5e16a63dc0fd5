#!/usr/bin/env bash
# The prepared-data benchmark (issue 13), all in one run on the release build:
#   1. a generated text corpus of CORPUS_BYTES (default 2.1 GB), prepared with
#      a SentencePiece tokenizer (TOKENIZER=characters for the character one),
#      verified to decode back to the corpus exactly, and a 2-rank GPT trained
#      on it: memory per rank against the same model on Shakespeare;
#   2. Shakespeare prepared with characters (the loss curve equals the built-in
#      path's) and with SentencePiece: validation bits per character of both;
#   3. MNIST written as a PNG class folder, prepared, and the CNN trained on it
#      to its test accuracy;
#   4. `ddp bench train` on prepared data against the in-memory path on the
#      same data set, prefetch on and off, in alternating rounds.
# Usage: launch/prepared-data-bench.sh [corpus|shakespeare|mnist|bench|all]...
# Writes into ${DDP_BENCH_DIR:-/tmp/ddp-prepared-bench}; prints what it measures.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${DDP_BENCH_DIR:-/tmp/ddp-prepared-bench}"
corpus_bytes="${CORPUS_BYTES:-2.1e9}"
tokenizer="${TOKENIZER:-sentencepiece}"
rounds="${ROUNDS:-6}"
parts=("${@:-all}")
want() { [[ " ${parts[*]} " == *" all "* || " ${parts[*]} " == *" $1 "* ]]; }
say() { echo "prepared-bench: $*" >&2; }

launch/setup.sh release >/dev/null
launch/fetch-data.sh mnist shakespeare
ddp="$PWD/.build/release/ddp"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work"
mpi=(mpirun -np 2 --oversubscribe --bind-to none)
shakespeare="$PWD/data/shakespeare/shakespeare.txt"
gpt=(--config configs/shakespeare-gpt.yaml --plain --set training.eval_every=0 --set training.eval_batches=20)

if want corpus; then
    [ -s "$work/corpus.txt" ] || python3 launch/bench/make-corpus.py "$shakespeare" "$work/corpus.txt" "$corpus_bytes"
    # KEEP=1 reuses a corpus prepared (and verified) by an earlier run.
    if [ -z "${KEEP:-}" ] || [ ! -s "$work/corpus-prepared/manifest.json" ]; then
        rm -rf "$work/corpus-prepared" "$work/corpus-prepared.partial"
        say "preparing the corpus with the $tokenizer tokenizer"
        "$ddp" prepare text "$work/corpus.txt" -o "$work/corpus-prepared" --tokenizer "$tokenizer" --vocabulary-size 4000
        "$ddp" prepare verify "$work/corpus-prepared" --against "$work/corpus.txt"
    fi
    rm -rf "$work/small-prepared"
    "$ddp" prepare text "$shakespeare" -o "$work/small-prepared" --tokenizer "$tokenizer" --vocabulary-size 4000 --quiet
    for data in small corpus; do
        rm -rf "$work/run-$data"
        say "GPT on 2 ranks, $data corpus"
        "${mpi[@]}" "$ddp" train "${gpt[@]}" --set training.steps=60 --set data.dataset=prepared \
            --set data.path="$work/$data-prepared" --run-dir "$work/run-$data" | grep -E "^ddp: (done|memory)"
    done
fi

if want shakespeare; then
    rm -rf "$work"/shakespeare-{chars,spm}
    "$ddp" prepare text "$shakespeare" -o "$work/shakespeare-chars" --quiet
    "$ddp" prepare text "$shakespeare" -o "$work/shakespeare-spm" --tokenizer sentencepiece --vocabulary-size 4000 --quiet
    steps="${SHAKESPEARE_STEPS:-600}"
    for run in builtin chars spm; do
        rm -rf "$work/sp-$run"
        data=()
        [ "$run" = builtin ] || data=(--set data.dataset=prepared --set data.path="$work/shakespeare-$run")
        say "Shakespeare GPT, $run, $steps steps"
        "${mpi[@]}" "$ddp" train "${gpt[@]}" --set training.steps="$steps" --set schedule.warmup_steps=50 "${data[@]}" \
            --run-dir "$work/sp-$run" | grep -E "^(eval|ddp: done)"
    done
    if diff <(grep '"train"' "$work/sp-builtin/metrics.jsonl" | sed 's/"samples_per_second.*//') \
            <(grep '"train"' "$work/sp-chars/metrics.jsonl" | sed 's/"samples_per_second.*//') >/dev/null; then
        say "prepared characters: the training loss curve equals the built-in path's"
    else
        say "prepared characters: the training loss curve DIFFERS from the built-in path's"; exit 1
    fi
fi

if want mnist; then
    for split in train t10k; do
        [ -d "$work/mnist-png-$split" ] || python3 launch/bench/mnist-png.py data/mnist/$split-images-idx3-ubyte \
            data/mnist/$split-labels-idx1-ubyte "$work/mnist-png-$split"
        rm -rf "$work/mnist-$split"
        "$ddp" prepare images "$work/mnist-png-$split" -o "$work/mnist-$split"
    done
    rm -rf "$work/mnist-cnn"
    "${mpi[@]}" "$ddp" train --config configs/mnist-cnn.yaml --plain --set data.dataset=prepared \
        --set data.path="$work/mnist-train" --set data.validation_path="$work/mnist-t10k" --run-dir "$work/mnist-cnn" \
        | grep -E "^(eval|ddp: done)"
fi

if want bench; then
    [ -d "$work/mnist-train" ] || { say "run the mnist part first"; exit 1; }
    [ -d "$work/shakespeare-chars" ] || "$ddp" prepare text "$shakespeare" -o "$work/shakespeare-chars" --quiet
    # The same data set both ways: MNIST's training images (IDX in memory / PNG folder prepared), Shakespeare.
    mlp=(--config launch/bench/mlp-mnist.yaml)
    mlp_prepared=(--config launch/bench/mlp-mnist.yaml --set data.dataset=prepared --set data.path="$work/mnist-train")
    gptb=(--config launch/bench/gpt-shakespeare.yaml)
    gptb_prepared=(--config launch/bench/gpt-shakespeare.yaml --set data.dataset=prepared --set data.path="$work/shakespeare-chars")
    order=(mlp mlp_prepared gptb gptb_prepared)
    for round in $(seq "$rounds"); do
        # Odd rounds forward, even rounds backward, so that a drift of the machine's speed hits both sides alike.
        variants=("${order[@]}")
        ((round % 2)) || variants=(gptb_prepared gptb mlp_prepared mlp)
        for variant in "${variants[@]}"; do
            for prefetch in true false; do
                declare -n args="$variant"
                rate=$("${mpi[@]}" "$ddp" bench train "${args[@]}" --set data.prefetch=$prefetch \
                       | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["samplesPerSecond"])')
                echo "round $round $variant prefetch=$prefetch samples/s $rate"
            done
        done
    done | tee "$work/bench.txt"
    python3 - "$work/bench.txt" <<'PY'
import collections, statistics, sys
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, r, variant, prefetch, _, rate = line.split()
    rates[(int(r), variant, prefetch)].append(float(rate))
rounds = sorted({k[0] for k in rates})
def ratio(a, b):
    return statistics.median(rates[(r, a[0], a[1])][0] / rates[(r, b[0], b[1])][0] for r in rounds)
for model in ["mlp", "gptb"]:
    print("%s: prepared / in-memory (prefetch on) %.3f; prefetch on / off: in-memory %.3f, prepared %.3f" % (
        model, ratio((model + "_prepared", "prefetch=true"), (model, "prefetch=true")),
        ratio((model, "prefetch=true"), (model, "prefetch=false")),
        ratio((model + "_prepared", "prefetch=true"), (model + "_prepared", "prefetch=false"))))
PY
fi
