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


def test_the_noop_bench_refuses_a_folder_of_another_config(tmp_path):
    """bench/noop.py --workdir brings the folder up to date with the tiny config first; on a
    folder of another run (here: nothing run yet, so the data would be made) it stops instead
    of overwriting it, naming the jobs a dry run plans."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "noop.py"), "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "not a run of the tiny config" in proc.stderr and "'ingest': 1" in proc.stderr
    assert not (tmp_path / "results").exists()  # nothing was run
