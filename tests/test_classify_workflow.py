"""The classify and report rules on the session's finished tiny study (tests/conftest.py
``tiny_study``): outputs, incremental reruns, report, a split stage.

``--allowed-rules`` and the stage's targets keep every run and dry run here to exactly the rules
of this stage: Snakemake may not rebuild the upstream stages (data, GANs, synthesis).
"""

import re

import pandas as pd
import pytest
import yaml

from helpers.study import copy_study
from helpers.workflow import REPO, TINY_CONFIG, run_workflow
from isicgan.config import load_config

RULES = ["backbone_features", "classify", "classify_tables", "classify_figures", "run_info"]
TARGETS = [
    "results/tables/phase2.csv",
    "results/tables/arms.csv",
    "results/tables/thesis_comparison.csv",
    "results/figures/classify/arms.png",
    "results/tables/contrasts.csv",
    "results/figures/classify/contrasts.png",
    "results/tables/worth.csv",
    "results/figures/classify/learning_curve.png",
    "results/figures/classify/worth.png",
    "results/report/run_info.html",
]
ALGORITHMS = [
    "Logistic Regression",
    "Support Vector Machine",
    "Random Forest",
    "Convolutional Neural Network",
    "Inception V3",
    "EfficientNetB5",
]
TINY = load_config([REPO / "config.yaml", TINY_CONFIG])  # the shared study's settings


def _jobs(proc) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run (empty when nothing to do)."""
    out = proc.stdout + proc.stderr
    if "Job stats" not in out:
        return {}
    table = out.split("Job stats:")[1].split("\n\n")[0]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
        if m.group(1) != "total"
    }


def stage(root, *flags, extra=()):
    """Run (or dry-run) the classify stage's targets in ``root``, its rules only."""
    # one thread per job (the profile asks 8 for cluster nodes): two jobs share the 2 cores
    return run_workflow(
        root,
        *flags,
        "--set-threads",
        "classify=1",
        "backbone_features=1",
        "--allowed-rules",
        *RULES,
        "--",
        *TARGETS,
        configfiles=extra,
    )


@pytest.mark.slow
def test_the_stage_writes_thesis_tables_with_weights_stated(tiny_study):
    root = tiny_study
    phase2 = pd.read_csv(root / "results/tables/phase2.csv")
    # one block of the six algorithms per test set: test, then the held-out institution
    assert list(phase2["test_set"]) == ["test"] * 6 + ["external"] * 6
    assert list(phase2["algorithm"]) == ALGORITHMS * 2
    weights = dict(zip(phase2["algorithm"], phase2["backbone_weights"]))
    assert weights["Inception V3"] == "random init (no ImageNet weights)"
    runs = pd.read_csv(root / "results/classifiers/inception_v3/runs.csv")
    assert set(runs["split"]) == {"val", "test", "external"}  # tiny.yaml: external test set on
    # (val, test, external) x (baseline + 3 learning-curve arms + G GANs x R replicates
    # train-on-synthetic + 2 phases x (3 controls + G GANs x R replicates))
    assert (
        len(TINY["arms"]) == len(TINY["arms_real_fractions"]) == 3
        and TINY["synthesis"]["batches"] == 2
        and TINY["arms_synthetic_only"]
    )
    generators = len(TINY["gans"]) * TINY["gan"]["replicates"]
    assert len(runs) == 3 * (1 + 3 + generators + 2 * (3 + generators))
    index = pd.read_csv(root / "results/features/inception_v3/index.csv")
    assert index.groupby("group").size()["augment/seed25"] == 16


@pytest.mark.slow
def test_a_finished_run_reruns_nothing(tiny_study):
    assert _jobs(stage(tiny_study, "-n")) == {}


@pytest.mark.slow
def test_one_classifier_setting_reruns_only_that_classifier_and_the_tables(tiny_study, tmp_path):
    change = tmp_path / "change.yaml"
    change.write_text(yaml.safe_dump({"classifiers": {"logreg": {"C": 0.5}}}))
    assert _jobs(stage(tiny_study, "-n", extra=(change,))) == {
        "classify": 1,
        "classify_tables": 1,
        "classify_figures": 1,
        "run_info": 1,
    }
    head = tmp_path / "head.yaml"
    head.write_text(yaml.safe_dump({"classifiers": {"inception_v3": {"dropout": 0.25}}}))
    jobs = _jobs(stage(tiny_study, "-n", extra=(head,)))
    assert "backbone_features" not in jobs and jobs["classify"] == 1


@pytest.mark.slow
def test_the_html_report_builds(tiny_study_copy):
    root = tiny_study_copy
    stage(root, "--report", "report.html")
    text = (root / "report.html").read_text(errors="replace")
    assert "arms.png" in text and "run_info.html" in text
    assert "worth.csv" in text and "learning_curve.png" in text and "Worth in real tiles" in text
    # the headline leads (categories are sorted by name) and its caption includes the answer
    # generated from contrasts.csv
    assert "1. Headline" in text and "contrasts.png" in text
    summary = (root / "results/tables/contrasts_summary.rst").read_text()
    answer = summary.splitlines()[0].split("** ", 1)[1]
    assert answer.split(" (")[0] in text
    worth = next(line for line in summary.splitlines() if "synthetic tile worth" in line)
    assert worth.split("** ", 1)[1].split(" (")[0] in text  # "Phase 2, cyclegan, pAUC"


@pytest.mark.slow
def test_a_split_stage_writes_the_same_files_and_reruns_only_what_a_setting_touches(
    tiny_study, tmp_path
):
    """classifiers.split: phase_seed: one job per phase x seed, gathered into the files the
    one-job stage of the shared study wrote; a setting reruns only the parts it reaches."""
    unsplit = tiny_study
    # the stage's inputs only (no .snakemake: the copied data and batches are taken as they are)
    root = copy_study(tiny_study, tmp_path / "split", "results/data", "results/synthetic")
    settings = root / "settings.yaml"
    settings.write_text(
        yaml.safe_dump({"classifiers": {"names": ["logreg"], "split": "phase_seed"}})
    )
    targets = [
        "results/classifiers/logreg/runs.csv",
        "results/classifiers/logreg/predictions.csv.gz",
    ]

    def run(*flags, extra=()):
        return run_workflow(
            root,
            *flags,
            "--set-threads",
            "classify=1",
            "--allowed-rules",
            "classify",
            "classify_gather",
            "--",
            *targets,
            configfiles=(settings, *extra),
        )

    assert _jobs(run("-n")) == {"classify": 3, "classify_gather": 1}  # phases 0, 1, 2
    run()
    for target in targets:
        assert (root / target).read_bytes() == (unsplit / target).read_bytes(), target
    for change, jobs in (
        ({"classifiers": {"logreg": {"C": 0.5}}}, 3),
        ({"arms_real_fractions": [0.5]}, 1),  # phase 0 only
        ({"arms": ["oversample", "augment"]}, 2),
    ):  # phases 1 and 2
        extra = tmp_path / "change.yaml"
        extra.write_text(yaml.safe_dump(change))
        assert _jobs(run("-n", extra=(extra,))) == {"classify": jobs, "classify_gather": 1}, change
