"""The classify and report rules on tiny fixture files: outputs, incremental reruns, report.

Upstream stages (data, GANs, synthesis) are replaced by fixture files in their output layout;
``--allowed-rules`` keeps Snakemake from rebuilding them, so these tests exercise exactly the
rules of this stage.
"""
import re

import pandas as pd
import pytest
import yaml
from helpers.classify import make_study_data
from helpers.workflow import run_workflow

RULES = ["backbone_features", "classify", "classify_tables", "classify_figures", "run_info"]
TARGETS = ["results/tables/phase2.csv", "results/tables/arms.csv",
           "results/tables/thesis_comparison.csv", "results/figures/classify/arms.png",
           "results/tables/contrasts.csv", "results/figures/classify/contrasts.png",
           "results/tables/worth.csv", "results/figures/classify/learning_curve.png",
           "results/figures/classify/worth.png", "results/report/run_info.html"]
SETTINGS = {"classifiers": {"names": ["logreg", "cnn", "inception_v3"],
                            "cnn": {"epochs": 1, "filters": [4, 4, 4], "dense": 8},
                            "inception_v3": {"epochs": 1, "dense": 8}},
            "seeds": [25], "synthesis": {"batches": 2, "batch_size": 8},
            "gans": ["cyclegan", "wgan_gp", "dcgan"]}     # the generators make_study_data writes


def _jobs(proc) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run (empty when nothing to do)."""
    out = proc.stdout + proc.stderr
    if "Job stats" not in out:
        return {}
    table = out.split("Job stats:")[1].split("\n\n")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)
            if m.group(1) != "total"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify_wf")
    make_study_data(root, gans=("cyclegan", "wgan_gp", "dcgan"), batches=2, batch_size=8,
                    replicates=2)      # gan.replicates of config.yaml
    settings = root / "settings.yaml"
    settings.write_text(yaml.safe_dump(SETTINGS))
    def run(*flags, extra=()):
        # one thread per job (the profile asks 8 for cluster nodes): two jobs share the 2 cores
        return run_workflow(root, *flags, "--set-threads", "classify=1", "backbone_features=1",
                            "--allowed-rules", *RULES, "--", *TARGETS,
                            configfiles=(settings, *extra))
    run()
    return root, run


@pytest.mark.slow
def test_the_stage_writes_thesis_tables_with_weights_stated(finished):
    root, _ = finished
    phase2 = pd.read_csv(root / "results/tables/phase2.csv")
    assert list(phase2["algorithm"]) == ["Logistic Regression", "Convolutional Neural Network",
                                         "Inception V3"]
    weights = dict(zip(phase2["algorithm"], phase2["backbone_weights"]))
    assert weights["Inception V3"] == "random init (no ImageNet weights)"
    runs = pd.read_csv(root / "results/classifiers/inception_v3/runs.csv")
    assert set(runs["split"]) == {"val", "test"}
    # val+test x (baseline + 3 learning-curve arms + 3 GANs x 2 replicates train-on-synthetic
    # + 2 phases x (3 controls + 3 GANs x 2 replicates))
    assert len(runs) == 2 * (1 + 3 + 3 * 2 + 2 * (3 + 3 * 2))
    index = pd.read_csv(root / "results/features/inception_v3/index.csv")
    assert index.groupby("group").size()["augment/seed25"] == 16


@pytest.mark.slow
def test_a_finished_run_reruns_nothing(finished):
    _, run = finished
    assert _jobs(run("-n")) == {}


@pytest.mark.slow
def test_one_classifier_setting_reruns_only_that_classifier_and_the_tables(finished, tmp_path):
    _, run = finished
    change = tmp_path / "change.yaml"
    change.write_text(yaml.safe_dump({"classifiers": {"logreg": {"C": 0.5}}}))
    assert _jobs(run("-n", extra=(change,))) == {
        "classify": 1, "classify_tables": 1, "classify_figures": 1, "run_info": 1}
    head = tmp_path / "head.yaml"
    head.write_text(yaml.safe_dump({"classifiers": {"inception_v3": {"dropout": 0.25}}}))
    jobs = _jobs(run("-n", extra=(head,)))
    assert "backbone_features" not in jobs and jobs["classify"] == 1


@pytest.mark.slow
def test_the_html_report_builds(finished):
    root, run = finished
    run("--report", "report.html")
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
    assert worth.split("** ", 1)[1].split(" (")[0] in text      # "Phase 2, cyclegan, pAUC"


@pytest.mark.slow
def test_a_split_stage_writes_the_same_files_and_reruns_only_what_a_setting_touches(finished,
                                                                                    tmp_path):
    """classifiers.split: phase_seed: one job per phase x seed, gathered into the files the
    one-job stage wrote; a setting reruns only the parts it reaches."""
    unsplit, _ = finished
    root = tmp_path / "split"
    make_study_data(root, gans=("cyclegan", "wgan_gp", "dcgan"), batches=2, batch_size=8,
                    replicates=2)
    settings = root / "settings.yaml"
    settings.write_text(yaml.safe_dump({**SETTINGS, "classifiers": {
        **SETTINGS["classifiers"], "names": ["logreg"], "split": "phase_seed"}}))
    targets = ["results/classifiers/logreg/runs.csv",
               "results/classifiers/logreg/predictions.csv.gz"]

    def run(*flags, extra=()):
        return run_workflow(root, *flags, "--set-threads", "classify=1", "--allowed-rules",
                            "classify", "classify_gather", "--", *targets,
                            configfiles=(settings, *extra))
    assert _jobs(run("-n")) == {"classify": 3, "classify_gather": 1}      # phases 0, 1, 2
    run()
    for target in targets:
        assert (root / target).read_bytes() == (unsplit / target).read_bytes(), target
    for change, jobs in (({"classifiers": {"logreg": {"C": 0.5}}}, 3),
                         ({"arms_real_fractions": [0.5]}, 1),          # phase 0 only
                         ({"arms": ["oversample", "augment"]}, 2)):    # phases 1 and 2
        extra = tmp_path / "change.yaml"
        extra.write_text(yaml.safe_dump(change))
        assert _jobs(run("-n", extra=(extra,))) == {"classify": jobs, "classify_gather": 1}, change
