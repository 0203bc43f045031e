#!/bin/sh
# On a GPU machine (offline too): install the wheels brought along (.whl/, see docs/gpu.md), then run the GPU benchmark.
# Writes ${OUT:-.}/bench-gpu.json and prints the table; budgeted to finish in about 7 minutes on an H100/H200.
set -e
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
PYTHONUNBUFFERED=1 exec python3 bench/gpu.py --out "${OUT:-.}/bench-gpu.json" "$@"
