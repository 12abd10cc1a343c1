"""Crash safety of the real workflow (data stage and GAN training):

* a second run on the same directory is refused by Snakemake's lock, with a clear message;
* a run killed with SIGKILL while ingest writes its tiles (no clean-up possible, as in a
  power cut or an OOM kill) and started again finishes with outputs byte-identical to
  an uninterrupted run, and leaves no half-written file or temporary folder behind;
* a run killed during GAN training resumes from the last checkpoint (not epoch 0) and ends
  with the same weights and sample grids as an uninterrupted run.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers.study import copy_study
from helpers.workflow import REPO, SNAKEMAKE, TINY_CONFIG, run_workflow, tree_digest
from isicgan.config import load_config
from isicgan.data import splits_of

#: the demo data (rule demo_data): the smallest target whose run takes the workflow's lock
DEMO_DATA = "resources/demo/train-metadata.csv"
#: every data output of the tiny config, the held-out institution's split included
DATA_OUTPUTS = ["results/data/manifest.csv"] + [
    f"results/data/{s}" for s in splits_of(load_config([REPO / "config.yaml", TINY_CONFIG])["data"])
]


def _command(workdir: Path, *args: str) -> list[str]:
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config.yaml"),
        str(TINY_CONFIG),
        "--cores",
        "2",
        *args,
    ]


def _start(workdir: Path, *args: str) -> subprocess.Popen:
    """Start the workflow in its own process group, so the whole run (jobs too) can be killed."""
    return subprocess.Popen(
        _command(workdir, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _running_outputs(workdir: Path) -> list[str]:
    """Outputs of the jobs running now: Snakemake marks them in .snakemake/incomplete/."""
    folder = workdir / ".snakemake" / "incomplete"
    if not folder.is_dir():
        return []
    out = []
    for marker in folder.iterdir():
        try:
            out.append(base64.urlsafe_b64decode(marker.name.lstrip("@").encode()).decode())
        except (ValueError, UnicodeDecodeError):
            out.append(marker.name)
    return out


def _written_tiles(workdir: Path) -> list[Path]:
    """Tiles ingest has written so far into its temporary class folders (atomic_path puts
    results/data/train in results/data/.train.<random>.tmp/train until the job ends)."""
    return list((workdir / "results" / "data").glob(".*.tmp/*/[01]/*.png"))


def _wait_for(
    predicate, proc: subprocess.Popen, timeout: float, what: str, poll: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended ({proc.returncode}) before {what}:\n{proc.stdout.read()[-3000:]}"
            )
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def _kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def locked_run(tmp_path_factory):
    """A run (of the demo data, the smallest target) that a second run tried to join while it
    held the lock.

    The first run is frozen (SIGSTOP) once it holds the lock, so the second one is
    sure to meet the lock, not a race; then it resumes and finishes.
    """
    workdir = tmp_path_factory.mktemp("locked")
    first = _start(workdir, DEMO_DATA)
    try:
        _wait_for(
            lambda: any((workdir / ".snakemake" / "locks").glob("*.lock")),
            first,
            120,
            "the first run to take the lock",
        )
        _kill_group(first, signal.SIGSTOP)
        second = subprocess.run(
            _command(workdir, DEMO_DATA), capture_output=True, text=True, timeout=300
        )
    finally:
        _kill_group(first, signal.SIGCONT)
    first_rc = first.wait(timeout=300)
    with first.stdout:
        first_log = first.stdout.read()
    return workdir, second, first_rc, first_log


def test_second_concurrent_run_is_refused_by_the_lock(locked_run):
    workdir, second, first_rc, first_log = locked_run
    out = second.stdout + second.stderr
    assert second.returncode != 0, out
    assert "Directory cannot be locked" in out, out
    assert "--unlock" in out, out  # the message tells the user what to do if no run is active
    # the refused run did not disturb the first one
    assert first_rc == 0, first_log[-3000:]
    assert (workdir / DEMO_DATA).is_file()


@pytest.mark.slow
def test_run_killed_mid_job_and_restarted_matches_an_uninterrupted_run(tiny_study, tmp_path):
    reference = tiny_study  # the uninterrupted run: the session's shared tiny study
    crashed = tmp_path / "crashed"
    crashed.mkdir()

    run = _start(crashed, "data")
    try:
        # killed as soon as the first tile is on disk: ingest is then mid-write (its tiles take
        # tens of milliseconds, the poll one)
        _wait_for(
            lambda: _written_tiles(crashed), run, 300, "ingest to write its first tile", poll=0.001
        )
    finally:
        _kill_group(run)
        run.wait(timeout=60)
        run.stdout.close()
    data = crashed / "results" / "data"
    half = sorted(str(p.relative_to(data)) for p in data.glob(".*.tmp"))
    assert half and not (data / "manifest.csv").exists(), (
        f"the kill did not land mid-write: temporaries {half}, outputs {sorted(os.listdir(data))}"
    )
    assert len(_written_tiles(crashed)) < sum(
        1 for _ in (reference / "results" / "data").rglob("*.png")
    )
    print(
        f"killed with SIGKILL while writing: {half}, {len(_written_tiles(crashed))} tiles written"
    )

    # the lock of the killed run is stale: unlock, then rerun the incomplete jobs
    run_workflow(crashed, "--unlock", "data")
    run_workflow(crashed, "--rerun-incomplete", "data")

    assert tree_digest(crashed, *DATA_OUTPUTS) == tree_digest(reference, *DATA_OUTPUTS)
    leftovers = [
        str(p.relative_to(crashed))
        for p in (crashed / "results").rglob(".*")
        if p.name != ".snakemake_timestamp"
    ]  # Snakemake's own marker in directory outputs
    assert not leftovers, f"temporary files survived the crash and the rerun: {leftovers}"
    assert not _running_outputs(crashed)


def _planned(workdir: Path, target: str, cfg: Path) -> list[str]:
    """The rules of the jobs a dry run of ``target`` plans."""
    out = run_workflow(workdir, "-n", target, configfiles=[cfg]).stdout
    return [
        line.split()[-1].rstrip(":")
        for line in out.splitlines()
        if line.startswith(("rule ", "localrule "))
    ]


#: DCGAN epochs of the kill test: the kill lands at the first checkpoint (epoch 1), which leaves
#: the rest to resume
GAN_EPOCHS = 8


def _gan_config(tmp_path: Path) -> Path:
    """DCGAN for GAN_EPOCHS tiny epochs with a checkpoint after each, so a kill lands
    mid-training."""
    cfg = tmp_path / "gan_kill.yaml"
    cfg.write_text(
        "gans: [dcgan]\nsynthesis: {generator: dcgan}\n"
        f"gan: {{dcgan: {{epochs: {GAN_EPOCHS}, checkpoint_every: 1, "
        "sample_epochs: [0, 4, -1]}}\n"
    )
    return cfg


def _study_without(tiny_study: Path, dest: Path, *paths: str) -> Path:
    """A copy of the shared tiny study with ``paths`` (one job's outputs, checkpoints and log)
    removed: the data, quality references and other generators stay finished, so only that job
    runs again."""
    copy_study(tiny_study, dest)
    subprocess.run(["rm", "-rf", *(str(dest / p) for p in paths)], check=True)
    return dest


@pytest.mark.slow
def test_gan_training_killed_mid_run_resumes_and_matches_an_uninterrupted_run(tiny_study, tmp_path):
    import torch

    from isicgan.gan import load_checkpoint

    cfg = _gan_config(tmp_path)
    target = "results/gan/dcgan/rep1/final.pt"
    reference, crashed = (
        _study_without(
            tiny_study, tmp_path / name, "results/gan/dcgan/rep1", "logs/gan/dcgan_rep1.log"
        )
        for name in ("reference", "crashed")
    )
    # upstream of the training (data, encoder, reference classifier) is finished in the copies
    assert set(_planned(crashed, target, cfg)) == {"train_gan"}

    def start(workdir: Path) -> subprocess.Popen:
        return subprocess.Popen(
            _command(
                workdir,
                "--configfile",
                str(REPO / "config.yaml"),
                str(TINY_CONFIG),
                str(cfg),
                "--",
                target,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    # the uninterrupted run goes on beside the interrupted one (train_gan is a one-thread job)
    uninterrupted = start(reference)
    try:
        run = start(crashed)
        checkpoints = crashed / "results" / "gan" / "dcgan" / "rep1" / "checkpoints"
        try:
            _wait_for(lambda: any(checkpoints.glob("*.pt")), run, 300, "a first GAN checkpoint")
        finally:
            _kill_group(run)
            run.wait(timeout=60)
            run.stdout.close()
        assert not (crashed / target).exists(), "training finished before it could be killed"

        run_workflow(crashed, "--unlock", target, configfiles=[cfg])
        run_workflow(crashed, "--rerun-incomplete", target, configfiles=[cfg])
        reference_rc = uninterrupted.wait(timeout=900)
    finally:
        if uninterrupted.poll() is None:  # the test failed while it ran
            _kill_group(uninterrupted)
        uninterrupted.wait(timeout=60)
        with uninterrupted.stdout:
            reference_log = uninterrupted.stdout.read()
    assert reference_rc == 0, reference_log[-3000:]

    log = (crashed / "logs" / "gan" / "dcgan_rep1.log").read_text()
    assert "resuming from checkpoint" in log, log[-2000:]
    assert f"0 of {GAN_EPOCHS} epochs done" not in log
    # both trained every epoch, with the same losses and quality history (timings aside)...
    history = "results/gan/dcgan/rep1/history.csv"
    ours_h, theirs_h = (
        pd.read_csv(w / history).drop(columns=["seconds", "images_per_s"])
        for w in (crashed, reference)
    )
    assert theirs_h["epoch"].tolist() == list(range(GAN_EPOCHS))
    pd.testing.assert_frame_equal(ours_h, theirs_h)
    # ...and final.pt is the same checkpoint (tiny.yaml: dcgan selects its best val epoch)
    ours, theirs = load_checkpoint(crashed / target), load_checkpoint(reference / target)
    assert ours["epoch"] == theirs["epoch"]
    for net, state in theirs["nets"].items():
        for name, tensor in state.items():
            assert torch.equal(ours["nets"][net][name], tensor), (
                f"{net}.{name} differs after resume"
            )
    grids = "results/figures/gan/dcgan_rep1_samples"
    assert tree_digest(crashed, grids) == tree_digest(reference, grids)
