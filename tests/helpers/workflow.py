"""The repository's paths, and running the real workflow on the tiny test config."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY_CONFIG = REPO / "tests" / "tiny.yaml"


def workflow_command(workdir: Path, *args: str, configfiles=(), cores: int = 2) -> list[str]:
    """The command line that runs the project's Snakefile in ``workdir`` with config.yaml +
    tests/tiny.yaml (+ extra files)."""
    # --configfile takes every word up to the next flag, so it comes first and the
    # caller's arguments (targets included) come after a single-valued flag.
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(REPO / "config.yaml"),
        str(TINY_CONFIG),
        *map(str, configfiles),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        *args,
    ]


def run_workflow(
    workdir: Path,
    *args: str,
    configfiles=(),
    cores: int = 2,
    timeout: int = 900,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in ``workdir`` with config.yaml + tests/tiny.yaml (+ extra
    files)."""
    cmd = workflow_command(workdir, *args, configfiles=configfiles, cores=cores)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


#: top-level folders of a checkout that are not the workflow's source (run outputs, tests, docs)
_NOT_SOURCE = {
    ".git",
    ".venv",
    ".snakemake",
    "results",
    "logs",
    "benchmarks",
    "tests",
    "bench",
    "docs",
    "demo",
    "weights",
    "data",
    ".pytest_cache",
}


def copy_workflow(dest: Path) -> Path:
    """The workflow's source, as a developer's checkout would hold it, without results or venv."""
    ignore_anywhere = shutil.ignore_patterns("__pycache__", "*.egg-info")

    def ignore(folder: str, names: list[str]) -> set[str]:
        # only at the top: the package has folders of these names too (isicgan/data)
        top = set(names) & _NOT_SOURCE if Path(folder) == REPO else set()
        return top | ignore_anywhere(folder, names)

    shutil.copytree(REPO, dest, symlinks=True, ignore=ignore)
    return dest


def tree_digest(root: Path, *relative: str) -> dict[str, str]:
    """sha256 of every file under the given paths (relative to ``root``), keyed by relative
    path."""
    out = {}
    for rel in relative:
        base = root / rel
        files = (
            [base]
            if base.is_file()
            else sorted(
                p for p in base.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp"
            )
        )
        for f in files:
            out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out
