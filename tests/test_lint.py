"""The tree stays formatted and lint-clean: the lines of ``make lint``, run one by one.

Protects: ruff (lint and format, pyproject.toml ``[tool.ruff]``), snakefmt (the Snakefile and
rules/*.smk) and ``snakemake --lint`` (every rule has a log and a conda env, no functions in
rule files, ...) pass; the Makefile's ``lint`` recipe is what this test runs, so the two cannot
drift; the project's settings (line length 100) are the ones in effect.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def lint_recipe() -> list[str]:
    """The command lines of the Makefile's ``lint`` target."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("lint:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def run(command: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        shlex.split(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_recipe_runs_every_tool():
    assert [line.split()[0] for line in lint_recipe()] == ["ruff", "ruff", "snakefmt", "snakemake"]


@pytest.mark.parametrize("command", lint_recipe())
def test_make_lint_line_passes(command):
    proc = run(command)
    assert proc.returncode == 0, (
        f"`{command}` failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    )


def test_the_projects_settings_are_in_effect(tmp_path):
    """A file in the tree is checked with pyproject.toml's settings: the formatter wraps code
    at 100 columns, a line it cannot wrap may reach 120 and 121 fail; an unsorted import and an
    unused one are found; a misformatted rule file is found."""
    probe = REPO / "tests" / f"_lint_probe_{os.getpid()}.py"
    try:
        probe.write_text(f'X = "{"x" * 114}"\n')  # 120 columns
        assert run(f"ruff check --no-cache {probe}").returncode == 0
        probe.write_text(f'X = "{"x" * 115}"\n')  # 121 columns
        proc = run(f"ruff check --no-cache {probe}")
        assert proc.returncode == 1 and "E501" in proc.stdout
        probe.write_text(f"X = f({', '.join(['argument'] * 10)})\n")  # 101 columns of code
        assert run(f"ruff format --check --no-cache {probe}").returncode == 1
        probe.write_text("import sys\nimport os\n\nprint(os.sep)\n")
        proc = run(f"ruff check --no-cache {probe}")
        assert "I001" in proc.stdout and "F401" in proc.stdout
        probe.write_text("from conftest import REPO\n\nprint(REPO)\n")
        assert "TID251" in run(f"ruff check --no-cache {probe}").stdout
    finally:
        probe.unlink(missing_ok=True)
    rules = tmp_path / "bad.smk"
    rules.write_text('rule a:\n    output: "a"\n    shell:   "touch a"\n')
    assert run(f"snakefmt --check {rules}").returncode != 0
