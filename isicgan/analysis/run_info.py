"""The run-information page of the report: code version, package versions, the config."""

from __future__ import annotations

import html
import importlib.metadata
import platform
from pathlib import Path
from typing import Any

import yaml

from isicgan.io import write_text

PACKAGES = [
    "snakemake",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "tensorflow",
    "keras",
    "torch",
    "torchvision",
    "clean-fid",
    "prdc",
    "matplotlib",
    "seaborn",
    "pillow",
    "h5py",
]


def package_versions(names: list[str] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_run_info(out: str | Path, config: dict[str, Any], code_version: str) -> None:
    """A small HTML page for the report: code version, package versions, the run's config."""
    versions = package_versions()
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in {
            "code version (git describe)": code_version,
            "python": platform.python_version(),
            "platform": platform.platform(),
            **versions,
        }.items()
    )
    config_text = html.escape(yaml.safe_dump(config, sort_keys=False))
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Run information</title>"
        "</head><body><h1>Run information</h1><table border='1'>"
        f"<tr><th>item</th><th>version</th></tr>{rows}</table>"
        f"<h2>Configuration of this run</h2><pre>{config_text}</pre></body></html>\n"
    )
    write_text(out, page)
