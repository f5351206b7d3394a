#!/usr/bin/env bash
# The device check of issue 21 in one command, on a machine with a CUDA GPU (<= 5 minutes on an
# H200): CuPy-vs-NumPy gradients in float64 for every model option, the bench table against cuDNN,
# every shipped config for one epoch on the GPU, and the GPU text config against its goal. Prints one
# table on stdout; exit 1 if any check failed, 2 if there is no GPU to check.
#
#   scripts/gpu_check.sh                   (python: $PYTHON, else python3)
#   RNN_GPU_CHECK_CPU=1 scripts/gpu_check.sh    the same checks on the host, through a test double
#   RNN_WHEELS=DIR scripts/gpu_check.sh     first install the wheels in DIR (no network is used)
#
# Nothing is fetched from the network. Options after the script name go to scripts/gpu_check.py
# (--text-seconds N, --parts grad,bench,config,text).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ -n "${RNN_WHEELS:-}" ]; then
    shopt -s nullglob
    wheels=("$RNN_WHEELS"/*.whl)
    if [ ${#wheels[@]} -gt 0 ]; then
        "$PYTHON" -m pip install --quiet --no-index --find-links "$RNN_WHEELS" "${wheels[@]}"
    fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 330 "$PYTHON" scripts/gpu_check.py "$@"
