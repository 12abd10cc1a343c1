#!/usr/bin/env bash
# Fetch, on a machine that reaches a package registry, the wheels bench/gpu_check.sh installs
# on a GPU machine that has none: the packages the check needs that its image (Python 3.12,
# PyTorch, numpy, pandas, pillow, pyyaml, tqdm, huggingface-hub, safetensors, regex, ...) lacks.
# About 8 MB; bench/wheels/ is git-ignored, so name it in what travels to the GPU machine.
#
#   bench/gpu_wheels.sh            # then copy the tree with bench/wheels/ to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --abi cp312 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d bench/wheels \
    jsonschema==4.26.0 referencing==0.37.0 rpds-py==2026.9.1 jsonschema-specifications==2025.9.1 \
    attrs==26.1.0 diffusers==0.42.1 importlib-metadata==10.2.0 zipp==4.1.2
ls -l bench/wheels
