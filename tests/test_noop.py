"""The workflow's parse stays light: a dry run imports none of the heavy libraries.

Protects: the no-op rerun (issue 18: 2 s, bench/noop.py): every snakemake call parses the
workflow, so the Snakefile, rules/common.smk's input and param functions and the package modules
they import must not import torch, TensorFlow, scikit-learn or matplotlib.
"""

from __future__ import annotations

import subprocess
import sys

from helpers.workflow import REPO, SNAKEMAKE, TINY_CONFIG

HEAVY = ["torch", "tensorflow", "keras", "sklearn", "matplotlib", "h5py"]


def test_a_dry_run_imports_no_heavy_library(tmp_path):
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(REPO / "config.yaml"),
        str(TINY_CONFIG),
        "--directory",
        str(tmp_path),
        "--cores",
        "1",
        "-n",
        "-q",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
