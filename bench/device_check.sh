#!/usr/bin/env bash
# The device check (README, "GPU, TPU and several hosts"): run from the repository root on a machine with an NVIDIA
# GPU. Installs the GPU build of JAX, runs the double-descent and learning-rate sweeps at --full size, writes
# bench/RESULTS-gpu.md (+ .json). About 10-20 minutes on one modern GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[cuda12]"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python -c "import jax; print(jax.devices())"
export NNDL_PROGRESS=0
python bench/device_check.py --out bench/RESULTS-gpu.md "$@"
