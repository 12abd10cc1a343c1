#!/usr/bin/env bash
# The GPU check in one go, for a GPU machine with Python 3.12 and its own PyTorch, no
# TensorFlow and no network, working from a copy of the repository (docs/gpu.md):
#
#   bench/gpu_check.sh                      # on the GPU machine, from the repository root
#   GPU_CHECK_DEVICE=cpu bench/gpu_check.sh # CPU mode, tiny sizes (tests/test_gpu_check.py)
#
# It calls the package with python directly (no Snakemake, no TensorFlow). Packages the
# machine lacks (jsonschema, diffusers, ...) come from wheels that travel with the tree in
# bench/wheels/ (fetched beforehand, on a machine with a registry, by bench/gpu_wheels.sh);
# they are installed into a temporary folder that python looks in after its own packages.
# Settings: GPU_CHECK_PYTHON (python3), GPU_CHECK_WHEELS (bench/wheels), GPU_CHECK_LIMIT
# (540 s for the sections; the whole script stops after that plus 60 s), GPU_CHECK_DEVICE.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${GPU_CHECK_PYTHON:-python3}
WHEELS=${GPU_CHECK_WHEELS:-bench/wheels}
LIMIT=${GPU_CHECK_LIMIT:-540}
export GPU_CHECK_LIMIT=$LIMIT PYTHONUNBUFFERED=1

shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if ((${#wheels[@]})); then
    site=$(mktemp -d -t gpu-check-site-XXXXXX)
    trap 'rm -rf "$site"' EXIT
    if "$PY" -m pip install --quiet --no-index --no-deps --disable-pip-version-check \
            --target "$site" "${wheels[@]}"; then
        export GPU_CHECK_SITE=$site
        echo "gpu_check.sh: ${#wheels[@]} wheels from $WHEELS installed into $site (after the python's own packages)"
    else
        echo "gpu_check.sh: installing the wheels in $WHEELS failed; going on without them"
    fi
else
    echo "gpu_check.sh: no wheels in $WHEELS: only the python's own packages"
fi
timeout $((LIMIT + 60)) "$PY" bench/gpu_check.py
rc=$?
[ $rc -eq 124 ] && echo "gpu_check.sh: stopped after $((LIMIT + 60)) s"
exit $rc
