"""The SLURM profile on a real (single-node) SLURM: the tiny data stage run through
``--executor slurm`` gives byte-identical outputs to a local run, and a classify stage split
per phase (one sbatch job per classifier x phase) gives the local one-job stage's files.

CI runs the tests as root on Debian 12: the fixture installs munge and SLURM with
apt-get (seconds) and starts the daemons by hand (no systemd). Anywhere else (not
root, no apt-get) the test is skipped with the reason shown in pytest's summary, except
under ``CI=true``: there a SLURM test that cannot run fails, so a CI that cannot run
SLURM is red, not green.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from slurm_cluster import ClusterUnavailable, SingleNodeSlurm, ensure_packages, why_not_runnable
from test_envs import parse_rules

from helpers.study import copy_study
from helpers.workflow import REPO, SNAKEMAKE, TINY_CONFIG, tree_digest

# A hung SLURM run (the plugin polling a status command that never answers) is
# killed after this many seconds instead of blocking CI forever.
SLURM_RUN_TIMEOUT = 300


def skip_unless_ci(reason: str) -> None:
    """Skip with ``reason``; under ``CI=true`` (set by GitHub Actions, GitLab CI and most
    others) fail instead: CI is where SLURM must run."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true but the SLURM test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = why_not_runnable()
    if reason:
        skip_unless_ci(reason)
    ensure_packages()
    started = time.monotonic()
    try:
        cluster = SingleNodeSlurm(tmp_path_factory.mktemp("slurm")).__enter__()
    except ClusterUnavailable as exc:
        skip_unless_ci(str(exc))
    cluster.startup_seconds = time.monotonic() - started
    try:
        yield cluster
    finally:  # stop every daemon we started, by PID, whatever the test did
        cluster.stop()


@pytest.mark.parametrize("ci", ["true", "TRUE", "", "false", None])
def test_a_slurm_test_that_cannot_run_fails_under_ci_and_skips_elsewhere(ci, monkeypatch):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci in ("true", "TRUE") else pytest.skip.Exception
    # both caught, so a skip where a failure is due fails this test instead of skipping it
    with pytest.raises(
        (pytest.fail.Exception, pytest.skip.Exception), match="no slurmctld here"
    ) as outcome:
        skip_unless_ci("no slurmctld here")
    assert outcome.type is expected


def run_with_slurm(
    cluster: SingleNodeSlurm,
    workdir: Path,
    *targets: str,
    snakefile: Path = REPO / "Snakefile",
    configfiles=(REPO / "config.yaml", TINY_CONFIG),
) -> subprocess.CompletedProcess:
    """Run ``snakefile`` in ``workdir`` with the repository's SLURM profile, every job an sbatch job."""
    cmd = [
        "timeout",
        "-s",
        "KILL",
        str(SLURM_RUN_TIMEOUT),
        str(SNAKEMAKE),
        "-s",
        str(snakefile),
        "--directory",
        str(workdir),
        *(["--configfile", *map(str, configfiles)] if configfiles else []),
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # no slurmdbd here, so no sacct: poll squeue (the cluster keeps jobs for MinJobAge)
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-no-account",
        "--slurm-keep-successful-logs",
        "--latency-wait",
        "5",
        *targets,
    ]
    proc = subprocess.run(cmd, env=cluster.env, capture_output=True, text=True)
    if proc.returncode != 0:
        job_logs = "\n".join(
            f"--- {p}\n{p.read_text(errors='replace')[-2000:]}"
            for p in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        )
        killed = (
            " (killed by the timeout: a hung status poll?)" if proc.returncode in (-9, 137) else ""
        )
        raise AssertionError(
            f"snakemake --profile profiles/slurm failed ({proc.returncode}){killed}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}\n{job_logs}\n{cluster.logs()}"
        )
    return proc


@pytest.mark.slow
def test_data_stage_through_slurm_matches_local_run(slurm_cluster, tiny_study, tmp_path):
    # the local run: the session's shared tiny study (same config files, profiles/default)
    local, cluster = tiny_study, tmp_path / "slurm"
    cluster.mkdir()

    started = time.monotonic()
    proc = run_with_slurm(slurm_cluster, cluster, "data")
    seconds = time.monotonic() - started
    print(
        f"SLURM cluster start: {slurm_cluster.startup_seconds:.1f} s; "
        f"data stage through SLURM: {seconds:.1f} s"
    )

    # every job really went through sbatch (the plugin logs one file per SLURM job)
    slurm_logs = list((cluster / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert slurm_logs, (
        "no SLURM job logs: the jobs did not go through sbatch\n" + proc.stderr[-3000:]
    )

    # the per-rule resources of profiles/default reached sbatch (SLURM keeps finished jobs
    # in squeue for MinJobAge): memory, CPUs (= the rule's threads) and time limit
    ingest = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    ingest_threads = int(parse_rules(REPO / "rules" / "data.smk")["ingest"].get("threads", 1))
    jobs = subprocess.run(
        ["squeue", "--states=all", "--noheader", "-o", "%k|%m|%C|%l"],
        env=slurm_cluster.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ingest_jobs = [line.split("|") for line in jobs.splitlines() if line.startswith("rule_ingest")]
    assert ingest_jobs, jobs
    mem, cpus, limit = ingest_jobs[0][1:]
    assert mem == f"{ingest['set-resources']['ingest']['mem_mb']}M", jobs
    assert int(cpus) == ingest_threads, jobs
    assert limit == f"{ingest['set-resources']['ingest']['runtime'] // 60}:00:00", jobs

    paths = ["results/data/manifest.csv"] + [
        f"results/data/{s}" for s in ("train", "val", "test", "source")
    ]
    expected = tree_digest(local, *paths)
    assert any(p.endswith(".png") for p in expected), "the local run wrote no class-folder PNGs"
    assert tree_digest(cluster, *paths) == expected


@pytest.mark.slow
def test_split_classify_stage_through_slurm_matches_the_local_one_job_stage(
    slurm_cluster, tiny_study, tmp_path
):
    """classifiers.split: phase: each classifier x phase is one sbatch job, gathered on the
    login node (classify_gather is a local rule) into the files of the local one-job stage
    (the session's shared tiny study)."""
    clfs = ["logreg", "cnn"]
    targets = [
        f"results/classifiers/{c}/{f}" for c in clfs for f in ("runs.csv", "predictions.csv.gz")
    ]
    # the fake node has no GPU: the classify jobs ask for none (a command-line
    # --set-resources replaces the profile's list, so memory and time are stated too)
    flags = [
        "--set-resources",
        "classify:gpu=0",
        "classify:mem_mb=2000",
        "classify:runtime=30",
        "--allowed-rules",
        "classify",
        "classify_gather",
        "--",
    ]
    # the stage's inputs only, copied from the shared study (mtimes kept, no .snakemake)
    root = copy_study(tiny_study, tmp_path / "slurm", "results/data", "results/synthetic")
    config = root / "split.yaml"
    config.write_text(yaml.safe_dump({"classifiers": {"names": clfs, "split": "phase"}}))
    run_with_slurm(
        slurm_cluster,
        root,
        *flags,
        *targets,
        configfiles=(REPO / "config.yaml", TINY_CONFIG, config),
    )
    jobs = subprocess.run(
        ["squeue", "--states=all", "--noheader", "-o", "%k"],
        env=slurm_cluster.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sum(j.startswith("rule_classify") and "gather" not in j for j in jobs) >= 2 * 3, (
        jobs
    )  # 2 classifiers x phases 0, 1, 2
    assert tree_digest(root, *targets) == tree_digest(tiny_study, *targets)
