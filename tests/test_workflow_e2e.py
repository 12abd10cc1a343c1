"""The whole study on tiny synthetic demo data, through the real Snakefile, once per module.

Protects: every table/figure of DESIGN.md is made; the phase tables have the thesis layout;
a finished run reruns nothing; a changed setting reruns only the jobs that depend on it;
the HTML report builds; the study never lets test tiles into training or gating.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from conftest import run_workflow

pytestmark = pytest.mark.slow

ALGORITHMS = ["Logistic Regression", "Support Vector Machine", "Random Forest",
              "Convolutional Neural Network", "Inception V3", "EfficientNetB5"]
LEADING = ["algorithm", "benign_precision", "benign_recall", "benign_f1",
           "malignant_precision", "malignant_recall", "malignant_f1"]
BATCHES = 2   # tests/tiny.yaml
GENERATORS = ["cyclegan", "wgan_gp", "dcgan", "ddpm"]   # config.yaml gans


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    work = tmp_path_factory.mktemp("study")
    run_workflow(work, timeout=1800)
    return work


def planned_jobs(work, *extra_configs) -> dict[str, int]:
    """Job counts per rule of a dry run (empty when nothing is to be done)."""
    proc = run_workflow(work, "-n", configfiles=extra_configs)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def test_study_makes_every_table_and_figure(study):
    tables = study / "results" / "tables"
    for name in ["baseline.csv", *[f"phase{k}.csv" for k in range(1, BATCHES + 1)],
                 "arms.csv", "thesis_comparison.csv", "synthesis_quality.csv"]:
        assert (tables / name).is_file(), name
    for gan in GENERATORS:
        history = pd.read_csv(study / "results" / "gan" / gan / "history.csv")
        assert len(history) == 2 and history.filter(like="loss").notna().all().all()
        for k in range(1, BATCHES + 1):
            assert len(list((study / "results" / "synthetic" / gan / f"batch{k}").glob("*.png"))) == 8
    # every generator, the diffusion model included, is an arm of every phase and has its
    # quality rows (and contrasts, where the study makes them)
    arms = pd.read_csv(tables / "arms.csv")
    for gan in GENERATORS:
        assert set(arms.loc[arms["arm"] == gan, "phase"]) == set(range(1, BATCHES + 1)), gan
    quality = pd.read_csv(tables / "synthesis_quality.csv")
    assert sorted(quality["gan"]) == sorted(g for g in GENERATORS for _ in range(BATCHES))
    if (tables / "contrasts.csv").is_file():
        assert set(GENERATORS) <= set(pd.read_csv(tables / "contrasts.csv")["arm"]), "contrasts"
    figures = list((study / "results" / "figures").rglob("*.png"))
    assert len(figures) >= 10


def test_phase_tables_have_the_thesis_layout(study):
    for name in ["baseline.csv", *[f"phase{k}.csv" for k in range(1, BATCHES + 1)]]:
        table = pd.read_csv(study / "results" / "tables" / name)
        assert list(table.columns[:7]) == LEADING, name
        assert list(table["algorithm"]) == ALGORITHMS, name
        assert any(c.endswith("_std") for c in table.columns), name
        values = table[LEADING[1:]].to_numpy()
        assert ((values >= 0) & (values <= 1)).all(), name


def test_synthetic_tiles_enter_training_only(study):
    manifest = pd.read_csv(study / "results" / "data" / "manifest.csv")
    test_ids = set(manifest.loc[manifest["split"] == "test", "isic_id"])
    predictions = pd.read_csv(study / "results" / "classifiers" / "logreg" / "predictions.csv.gz")
    # every configuration is scored on exactly the real test tiles, whatever the phase or arm
    for key, group in predictions.groupby(["phase", "arm", "seed"]):
        assert set(group["isic_id"]) == test_ids, key
    runs = pd.read_csv(study / "results" / "classifiers" / "logreg" / "runs.csv")
    base = runs.loc[(runs["phase"] == 0), "n_train"].iloc[0]
    gan_rows = runs[runs["arm"] == "cyclegan"]
    # phase k adds k batches of 8 to the training part, nothing else
    assert (gan_rows["n_train"] == base + 8 * gan_rows["phase"]).all()
    assert (gan_rows["n_added"] == 8 * gan_rows["phase"]).all()


def test_finished_study_reruns_nothing(study):
    assert planned_jobs(study) == {}


def test_changing_one_classifier_reruns_only_that_classifier_and_tables(study, tmp_path):
    changed = tmp_path / "rf.yaml"
    changed.write_text(yaml.safe_dump({"classifiers": {"rf": {"n_estimators": 7}}}))
    jobs = planned_jobs(study, changed)
    assert jobs.pop("classify") == 1
    # run_info records the run's config for the report, so it follows any config change
    assert set(jobs) <= {"classify_tables", "classify_figures", "run_info", "all"}, jobs


def test_changing_one_gan_leaves_data_and_other_gans_alone(study, tmp_path):
    changed = tmp_path / "dcgan.yaml"
    changed.write_text(yaml.safe_dump({"gan": {"dcgan": {"epochs": 3}}}))
    jobs = planned_jobs(study, changed)
    assert jobs.get("train_gan") == 1
    assert jobs.get("synthesize") == BATCHES            # only the dcgan batches
    assert "ingest" not in jobs and "demo_data" not in jobs and "train_encoder" not in jobs


def test_report_builds_with_tables_and_figures(study):
    run_workflow(study, "--report", "results/report.html", timeout=600)
    html = (study / "results" / "report.html").read_text(errors="replace")
    assert "Classifiers" in html and "GAN training" in html
