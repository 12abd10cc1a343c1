"""configs/thesis.yaml cannot rot: a dry run of the real Snakefile with config.yaml +
configs/thesis.yaml over placeholder raw data in the Kaggle layout plans the whole thesis
study: the expected jobs per rule, the real-data ingest, and the pretrained weights it names.

Building the DAG reads no raw data: ``ingest_input`` (rules/common.smk) only asks
``locate_raw`` whether ``data.raw_dir`` holds train-metadata.csv and an image store
(train-image.hdf5, or the folder train-image/image). So the placeholders are a header-only
metadata file and an empty store; whether the real files hold enough tiles per class and
patient for the thesis counts is ingest's job at run time (tests/test_ingest.py).

The weight files thesis.yaml names (resources/weights/...) are not in a fresh clone. The DAG
does not fail on them: each becomes a ``fetch_weights`` job (a file already present would be
checked against its checksums instead). The dry run asserts exactly that, and that every
fetched file is an input of the jobs that use it, rather than faking the weight files.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import h5py
import pytest

from helpers.workflow import REPO, SNAKEMAKE
from isicgan.config import load_config

THESIS = REPO / "configs" / "thesis.yaml"


def dry_run_jobs(workdir: Path) -> list[tuple[str, dict[str, str]]]:
    """(rule, {input, output, wildcards, ...}) of every job a dry run of the thesis plans."""
    proc = subprocess.run(
        [
            str(SNAKEMAKE),
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(REPO / "config.yaml"),
            str(THESIS),
            "--cores",
            "4",
            "-n",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    jobs = []
    for block in re.split(r"^(?:rule|checkpoint) ", out, flags=re.M)[1:]:
        name, _, body = block.partition(":\n")
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        jobs.append((name, fields))
    return jobs


def _files(field: str) -> set[str]:
    return {f.strip() for f in field.split(",") if f.strip()}


def _kaggle_layout(raw: Path) -> None:
    """train-metadata.csv (header only) and an empty train-image.hdf5 (which store ingest picks
    when the JPEG folder is there too, or alone, is tested on locate_raw in test_ingest.py)."""
    raw.mkdir(parents=True)
    (raw / "train-metadata.csv").write_text("isic_id,patient_id,target\n")
    with h5py.File(raw / "train-image.hdf5", "w"):
        pass


@pytest.fixture(scope="module")
def thesis():
    return load_config([REPO / "config.yaml", THESIS])


def test_thesis_dry_run_plans_the_whole_study_on_kaggle_data(thesis, tmp_path):
    _kaggle_layout(tmp_path / thesis["data"]["raw_dir"])
    jobs = dry_run_jobs(tmp_path)
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1

    # the thesis set-up itself: five phases of synthetic batches, six classifiers,
    # two of them on frozen ImageNet backbones, every pretrained weight from its file; each
    # generator trained three times (replicates)
    assert thesis["data"]["source"] == "isic2024" and thesis["synthesis"]["batches"] == 5
    names = thesis["classifiers"]["names"]
    assert names == ["logreg", "svm", "rf", "cnn", "inception_v3", "efficientnet_b5"]
    weights = {k: v for k, v in thesis["weights"].items() if v}
    assert set(weights) == {"fid_inception", "vgg19", "keras_inception_v3", "keras_efficientnet_b5"}
    gans, replicates = thesis["gans"], thesis["gan"]["replicates"]
    assert replicates == 3
    assert counts == {
        "ingest": 1,  # real data: no demo_data job
        "fetch_weights": len(weights),  # absent in a fresh clone: fetched
        "train_gan": len(gans) * replicates,
        "synthesize": len(gans) * replicates,  # one job per replicate, all its batches
        "quality_reference": 1,
        "train_encoder": 1,
        "reference_classifier": 1,
        "quality_table": 1,
        "backbone_features": 2,  # inception_v3, efficientnet_b5
        # classifiers.split: phase_seed: one job per classifier x phase x seed, gathered
        "classify": len(names) * (thesis["synthesis"]["batches"] + 1) * len(thesis["seeds"]),
        "classify_gather": len(names),
        "classify_tables": 1,
        "classify_figures": 1,
        "run_info": 1,
        "all": 1,
    }

    ingest = next(fields for rule, fields in jobs if rule == "ingest")
    raw = thesis["data"]["raw_dir"]
    assert _files(ingest["input"]) == {f"{raw}/train-metadata.csv", f"{raw}/train-image.hdf5"}

    fetched = {
        f for rule, fields in jobs if rule == "fetch_weights" for f in _files(fields["output"])
    }
    assert fetched == set(weights.values())
    used = {
        f
        for rule, fields in jobs
        if rule != "fetch_weights"
        for f in _files(fields.get("input", ""))
    }
    assert fetched <= used, f"weights fetched but used by no job: {sorted(fetched - used)}"
    # the VGG19 weights go to WGAN-GP training (the thesis perceptual term), to no other GAN
    vgg_users = sorted(
        fields["wildcards"]
        for rule, fields in jobs
        if rule == "train_gan" and weights["vgg19"] in _files(fields.get("input", ""))
    )
    assert vgg_users == [f"gan=wgan_gp, rep={r}" for r in range(1, replicates + 1)]
