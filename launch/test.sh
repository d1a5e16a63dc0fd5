#!/usr/bin/env bash
# The test suite: installs what is missing, builds, and runs every test,
# including the multi-rank tests under real mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."

launch/setup.sh debug
# The TensorBoard tests read event files back with the Python tensorboard package.
if command -v python3 >/dev/null && ! python3 -c "import tensorboard" 2>/dev/null; then
    python3 -m pip install --quiet tensorboard \
        || echo "test: pip install tensorboard failed; the TensorBoard read-back tests will be skipped" >&2
fi
launch/fetch-data.sh all
# The checkpoint tests load model.safetensors with Python's reference reader.
if command -v python3 >/dev/null && ! python3 -c "import safetensors.numpy, numpy" 2>/dev/null; then
    python3 -m pip install --quiet safetensors numpy \
        || echo "test: pip install safetensors numpy failed; the Python checkpoint test will be skipped" >&2
fi
# The protocol tests drive `ddp serve` with the official clients: OpenAI's and Triton's.
if command -v python3 >/dev/null && ! python3 -c "import openai, tritonclient.http" 2>/dev/null; then
    python3 -m pip install --quiet openai "tritonclient[http]" numpy \
        || echo "test: pip install openai tritonclient failed; the protocol client tests will fail" >&2
fi
# The ONNX export tests check the exported models with onnx's checker and run them in onnxruntime.
if command -v python3 >/dev/null && ! python3 -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
    python3 -m pip install --quiet onnx onnxruntime numpy \
        || echo "test: pip install onnx onnxruntime numpy failed; the ONNX export tests will fail" >&2
fi
# Every module a target imports is declared in its Package.swift entry, and every declared one is used.
python3 launch/check-imports.py
swift build --build-tests
# The multi-host tests need the namespace cluster: launch/cluster-test.sh runs them.
swift test --skip-build --skip 'MultiHostTests|MultiHostLaunchTests' "$@"
