"""bench/gpu_check.sh in its CPU mode: every section runs and prints what docs/gpu.md says.

Protects: the one-go GPU check (issue 18) keeps running while no GPU is at hand: the
CUDA-vs-CPU comparison, the CycleGAN and DDPM thesis slices with their projections and the
sampling speed, through the package alone (no Snakemake, no TensorFlow imported).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from helpers.workflow import REPO


def test_gpu_check_runs_every_section_in_cpu_mode(tmp_path):
    env = {
        **os.environ,
        "GPU_CHECK_DEVICE": "cpu",
        "GPU_CHECK_PYTHON": sys.executable,
        "GPU_CHECK_WHEELS": str(tmp_path),  # no wheels: this python has every package
    }
    proc = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for header in ["environment", "cuda_vs_cpu", "cyclegan", "ddpm", "summary"]:
        assert re.search(rf"^== {header} \[\d+ s\]$", out, re.M), (header, out[-4000:])
    for what in [
        "forward max|diff|",
        "training-step loss max rel diff",
        "weights after the step max|diff|",
    ]:
        assert re.search(rf"^PASS {re.escape(what)} \S+ \(tolerance \S+\)$", out, re.M), what
    assert re.search(r"^thesis CycleGAN \(.*\): [\d.]+ ms/batch, .* h projected$", out, re.M)
    assert re.search(r"^thesis DDPM \(.*\): [\d.]+ s per step .* h projected$", out, re.M)
    assert re.search(r"^thesis DDPM sampling \(.*\): [\d.]+ img/s", out, re.M)
    assert "not imported: tensorflow, keras, snakemake" in out
    assert re.search(r"^gpu_check PASS in \d+ s$", out, re.M), out[-3000:]
