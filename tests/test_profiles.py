"""The execution profiles: they parse, use real Snakemake options, name real rules, and
drive a dry run of the project (local and SLURM) with the per-rule resources."""

from __future__ import annotations

import functools
import subprocess
import tempfile

import pytest
import yaml

from helpers.workflow import REPO, SNAKEMAKE, TINY_CONFIG

PROFILES = REPO / "profiles"
GPU_RULES = ["train_gan", "classify", "backbone_features"]
PER_RULE_KEYS = ["set-resources", "set-threads"]


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


def _snakemake(*args: str) -> subprocess.CompletedProcess:
    """The project's workflow on the tiny config, in a scratch folder (the repo is not touched)."""
    with tempfile.TemporaryDirectory() as workdir:
        cmd = [
            str(SNAKEMAKE),
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            workdir,
            "--configfile",
            str(REPO / "config.yaml"),
            str(TINY_CONFIG),
            *args,
        ]
        return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)


@functools.lru_cache(maxsize=1)
def snakemake_options() -> str:
    return subprocess.run(
        [str(SNAKEMAKE), "--help"], capture_output=True, text=True, timeout=120
    ).stdout


@functools.lru_cache(maxsize=1)
def workflow_rules() -> frozenset[str]:
    proc = _snakemake("--list-rules")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return frozenset(line.strip() for line in proc.stdout.splitlines() if line.strip())


@pytest.mark.parametrize("name", ["default", "slurm"])
def test_profile_uses_only_real_snakemake_options(name):
    help_text = snakemake_options()
    unknown = [key for key in profile(name) if f"--{key}" not in help_text]
    assert not unknown, f"profiles/{name}: not Snakemake options: {unknown}"


def test_slurm_profile_sets_nothing_the_workflow_profile_overrides():
    # Snakemake applies profiles/default to every run and lets it win over --profile:
    # a key in both would silently lose its SLURM value.
    both = sorted(set(profile("default")) & set(profile("slurm")))
    assert not both, f"set only in profiles/default or only in profiles/slurm: {both}"


@pytest.mark.parametrize("key", PER_RULE_KEYS)
def test_per_rule_settings_name_rules_of_the_workflow(key):
    named = set(profile("default").get(key, {}))
    missing = sorted(named - workflow_rules())
    assert not missing, f"profiles/default {key} names rules the workflow lacks: {missing}"


def test_gpu_rules_ask_for_one_gpu_and_memory_and_time():
    resources = profile("default")["set-resources"]
    for rule in GPU_RULES:
        assert resources[rule]["gpu"] == 1, rule
        assert resources[rule]["mem_mb"] > 0 and resources[rule]["runtime"] > 0, rule


def test_dry_run_with_the_local_profile():
    proc = _snakemake("--profile", str(PROFILES / "default"), "-n")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def test_dry_run_with_the_slurm_profile_carries_the_per_rule_resources():
    proc = _snakemake("--profile", str(PROFILES / "slurm"), "-n")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "workflow specific profile" in out, out[-3000:]
    ingest = profile("default")["set-resources"]["ingest"]
    assert f"mem_mb={ingest['mem_mb']}" in out and f"runtime={ingest['runtime']}" in out, out[
        -3000:
    ]


def _planned_priorities() -> dict[tuple[str, str], int]:
    """(rule, first wildcard value) -> priority, from the job list a dry run prints."""
    proc = _snakemake("--profile", str(PROFILES / "default"), "-n")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    priority: dict[tuple[str, str], int] = {}
    for block in proc.stdout.split("\n\n"):
        rule = next((ln.split()[-1].rstrip(":") for ln in block.splitlines() if "rule " in ln), "")
        fields = dict(ln.strip().split(": ", 1) for ln in block.splitlines() if ": " in ln)
        if "wildcards" in fields:
            first = fields["wildcards"].split(",")[0].split("=", 1)[1]
            priority[rule, first] = int(fields.get("priority", 0))
    return priority


def test_local_runs_start_the_long_jobs_first_and_synthesize_as_soon_as_they_can():
    """With few cores the jobs queue; the priorities a dry run plans say in which order. Every
    synthesize job outranks every training (its batches are short and the classify stage waits
    for all of them), trainings start in the order of ``gans``; backbone features come before
    every classify job (two heads wait for them), classify jobs from the last of
    ``classifiers.names`` (the costliest) to the first."""
    priority = _planned_priorities()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    gans, names = config["gans"], config["classifiers"]["names"]
    training = [priority["train_gan", g] for g in gans]
    assert training == sorted(training, reverse=True) and len(set(training)) == len(gans)
    assert min(priority["synthesize", g] for g in gans) > max(training)
    classify = [priority["classify", c] for c in names]
    assert classify == sorted(classify) and len(set(classify)) == len(names)
    backbones = [priority[r, c] for (r, c) in priority if r == "backbone_features"]
    assert backbones and min(backbones) > max(classify)
