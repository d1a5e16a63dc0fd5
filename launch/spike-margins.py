#!/usr/bin/env python3
"""The largest spike scores a run would have had: how close its noise comes to training.spike_sigmas.

Reads RUN_DIR/metrics.jsonl of a run trained with training.log_every=1 (one train record per step; with
spike detection on, each carries grad_norm) and scores every step as the detector does: the logarithm of
its loss (and gradient norm) against the mean and standard deviation of the logarithms of the previous
WINDOW steps, from a quarter of the window on. Prints the four highest scores of each.

  mpirun -np 2 ddp train --config configs/mnist-mlp.yaml --run-dir runs/margins \
      --set training.log_every=1 --set training.spike_sigmas=1000000
  launch/spike-margins.py runs/margins [WINDOW]
"""
import json
import math
import sys

if len(sys.argv) < 2:
    sys.exit(__doc__)
window = int(sys.argv[2]) if len(sys.argv) > 2 else 100
records = [json.loads(line) for line in open(f"{sys.argv[1]}/metrics.jsonl") if '"kind":"train"' in line]
for key in ["loss", "grad_norm"]:
    history, scored = [], []
    for record in records:
        if record.get(key) is None:
            continue
        x = math.log(max(record[key], 1e-30))
        if len(history) >= max(window // 4, 2):
            mean = sum(history) / len(history)
            deviation = math.sqrt(sum((h - mean) ** 2 for h in history) / len(history))
            scored.append(((x - mean) / max(deviation, 1e-30), record["step"], record[key], math.exp(mean)))
        history = (history + [x])[-window:]
    scored.sort(reverse=True)
    print(f"{key}: {len(scored)} steps scored; highest:",
          ", ".join(f"{z:.1f} sigmas at step {s} ({v:.4g}, typical {m:.4g})" for z, s, v, m in scored[:4]))
