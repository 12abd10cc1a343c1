"""Shared fixtures: the repository paths and a runner for the real workflow."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The suite runs TensorFlow (classifiers) and PyTorch (GANs) in one process; workflow jobs never
# load both. With the pinned wheels (tensorflow 2.21.0, torch 2.14.1, triton 3.8.0), importing
# torchvision, or Triton (which torch imports on its first optimiser, through torch._dynamo),
# after TensorFlow segfaults: test_gan_*.py crashed after test_classify_models.py. Both are
# fine when loaded first.
import torch  # noqa: F401

try:
    import triton  # noqa: F401
except ImportError:     # no Triton (CPU-only torch): nothing to order
    pass

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY_CONFIG = REPO / "tests" / "tiny.yaml"


def run_workflow(workdir: Path, *args: str, configfiles=(), cores: int = 2,
                 timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in ``workdir`` with config.yaml + tests/tiny.yaml (+ extra files)."""
    # --configfile takes every word up to the next flag, so it comes first and the
    # caller's arguments (targets included) come after a single-valued flag.
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"),
           "--configfile", str(REPO / "config.yaml"), str(TINY_CONFIG), *map(str, configfiles),
           "--directory", str(workdir), "--cores", str(cores), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def copy_workflow(dest: Path) -> Path:
    """The workflow's source, as a developer's checkout would hold it, without results or venv."""
    shutil.copytree(REPO, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".snakemake", "results", "logs", "benchmarks", "__pycache__", "tests",
        "bench", "docs", "demo", "weights", "data", ".pytest_cache", "*.egg-info"))
    return dest


def tree_digest(root: Path, *relative: str) -> dict[str, str]:
    """sha256 of every file under the given paths (relative to ``root``), keyed by relative path."""
    out = {}
    for rel in relative:
        base = root / rel
        files = [base] if base.is_file() else sorted(
            p for p in base.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp")
        for f in files:
            out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture
def torch_one_thread():
    """torch on one thread for the test, as the workflow's training jobs run (bit-exact runs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def workflow(tmp_path):
    """Call as ``workflow(*snakemake_args)`` to run the real workflow in a temporary folder."""
    def _run(*args, **kwargs):
        return run_workflow(tmp_path, *args, **kwargs)
    _run.workdir = tmp_path
    return _run
