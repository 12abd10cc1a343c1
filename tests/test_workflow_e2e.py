"""The whole study on tiny synthetic demo data, through the real Snakefile: the session's shared
tiny study (tests/conftest.py ``tiny_study``), read here; the report is built in a copy.

Protects: every table/figure of DESIGN.md is made; the phase tables have the thesis layout;
a finished run reruns nothing; a changed setting reruns only the jobs that depend on it;
the HTML report builds; the study never lets test tiles into training or gating.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.workflow import SNAKEMAKE, TINY_CONFIG, copy_workflow, run_workflow

pytestmark = pytest.mark.slow

ALGORITHMS = [
    "Logistic Regression",
    "Support Vector Machine",
    "Random Forest",
    "Convolutional Neural Network",
    "Inception V3",
    "EfficientNetB5",
]
LEADING = [
    "algorithm",
    "benign_precision",
    "benign_recall",
    "benign_f1",
    "malignant_precision",
    "malignant_recall",
    "malignant_f1",
]
BATCHES = 2  # tests/tiny.yaml
REPLICATES = 2  # tests/tiny.yaml
GENERATORS = ["cyclegan", "wgan_gp", "dcgan", "ddpm", "placebo"]  # config.yaml gans


@pytest.fixture
def study(tiny_study):
    """The finished tiny study, shared by the session: the tests here only read it (dry runs)."""
    return tiny_study


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
    for name in [
        "baseline.csv",
        *[f"phase{k}.csv" for k in range(1, BATCHES + 1)],
        "arms.csv",
        "thesis_comparison.csv",
        "synthesis_quality.csv",
        "contrasts.csv",
        "worth.csv",
    ]:
        assert (tables / name).is_file(), name
    for name in ["learning_curve.png", "worth.png"]:  # worth in real tiles (docs/worth.md)
        assert (study / "results" / "figures" / "classify" / name).is_file(), name
    for gan in GENERATORS:
        for rep in range(1, REPLICATES + 1):
            history = pd.read_csv(study / "results" / "gan" / gan / f"rep{rep}" / "history.csv")
            epochs = 1 if gan == "placebo" else 2  # tiny.yaml; the placebo stores tiles once
            assert len(history) == epochs and history.filter(like="loss").notna().all().all()
            for k in range(1, BATCHES + 1):
                batch = study / "results" / "synthetic" / gan / f"rep{rep}" / f"batch{k}"
                assert len(list(batch.glob("*.png"))) == 8
    # every generator, the diffusion model included, is an arm of every phase and has its
    # quality rows (and contrasts, where the study makes them)
    arms = pd.read_csv(tables / "arms.csv")
    for gan in GENERATORS:
        assert set(arms.loc[arms["arm"] == gan, "phase"]) == set(range(1, BATCHES + 1)), gan
    quality = pd.read_csv(tables / "synthesis_quality.csv")
    assert sorted(zip(quality["gan"], quality["replicate"], quality["batch"])) == sorted(
        (g, r, k)
        for g in GENERATORS
        for r in range(1, REPLICATES + 1)
        for k in range(1, BATCHES + 1)
    )
    if (tables / "contrasts.csv").is_file():
        assert set(GENERATORS) <= set(pd.read_csv(tables / "contrasts.csv")["gan"]), "contrasts"
    figures = list((study / "results" / "figures").rglob("*.png"))
    assert len(figures) >= 10


def test_quality_table_and_histories_carry_fidelity_faithfulness_and_equal_size_fid(study):
    quality = pd.read_csv(study / "results" / "tables" / "synthesis_quality.csv")
    assert len(quality) == len(GENERATORS) * REPLICATES * BATCHES
    for column in [
        "fid_indomain_eq",
        "fid_indomain_eq_real",
        "fid_indomain_eq_std",
        "class_fidelity",
        "class_fidelity_real_malignant",
        "class_fidelity_real_benign",
        "copy_threshold",
        "selected_epoch",
        "utility_roc_auc",
        "utility_baseline_roc_auc",
    ]:
        assert quality[column].notna().all(), column
    translated = quality["gan"] == "cyclegan"
    for column in [
        "source_feature_distance",
        "source_msssim",
        "score_change",
        "share_near_identity",
    ]:
        assert (
            quality.loc[translated, column].notna().all()
            and quality.loc[~translated, column].isna().all()
        )
    # tests/tiny.yaml: dcgan selects best_val (lowest val KID of its history), the others the last epoch
    for gan, rep in [(g, r) for g in GENERATORS for r in range(1, REPLICATES + 1)]:
        history = pd.read_csv(study / "results" / "gan" / gan / f"rep{rep}" / "history.csv")
        assert history["kid_indomain_val"].notna().all() and history["class_fidelity"].notna().all()
        chosen = quality.loc[
            (quality["gan"] == gan) & (quality["replicate"] == rep), "selected_epoch"
        ]
        best = int(history.loc[history["kid_indomain_val"].idxmin(), "epoch"])
        assert (
            len(chosen) == BATCHES
            and (chosen == (best if gan == "dcgan" else len(history) - 1)).all()
        ), gan


def test_phase_tables_have_the_thesis_layout(study):
    for name in ["baseline.csv", *[f"phase{k}.csv" for k in range(1, BATCHES + 1)]]:
        table = pd.read_csv(study / "results" / "tables" / name)
        assert list(table.columns[:7]) == LEADING, name
        # one block of the six algorithms per test set: test, then the held-out institution
        assert list(table["test_set"]) == ["test"] * 6 + ["external"] * 6, name
        assert list(table["algorithm"]) == ALGORITHMS * 2, name
        assert any(c.endswith("_std") for c in table.columns), name
        values = table[LEADING[1:]].to_numpy()
        assert ((values >= 0) & (values <= 1)).all(), name


def test_synthetic_tiles_enter_training_only(study):
    manifest = pd.read_csv(study / "results" / "data" / "manifest.csv")
    held_out = {
        s: set(manifest.loc[manifest["split"] == s, "isic_id"]) for s in ("test", "external")
    }
    predictions = pd.read_csv(study / "results" / "classifiers" / "logreg" / "predictions.csv.gz")
    # every configuration is scored on exactly the real tiles of each test set (tiny.yaml has the
    # held-out institution's set too), whatever the phase or arm
    configurations = predictions.groupby(["phase", "arm", "seed", "replicate"])
    for key, group in configurations:
        assert set(group["test_set"]) == set(held_out), key
        for test_set, ids in held_out.items():
            assert set(group.loc[group["test_set"] == test_set, "isic_id"]) == ids, (key, test_set)
    runs = pd.read_csv(study / "results" / "classifiers" / "logreg" / "runs.csv")
    base = runs.loc[(runs["phase"] == 0), "n_train"].iloc[0]
    gan_rows = runs[runs["arm"] == "cyclegan"]
    # phase k adds k batches of 8 to the training part, nothing else, for every replicate
    assert (gan_rows["n_train"] == base + 8 * gan_rows["phase"]).all()
    assert (gan_rows["n_added"] == 8 * gan_rows["phase"]).all()
    assert set(gan_rows["replicate"]) == set(range(1, REPLICATES + 1))
    assert set(runs.loc[runs["arm"] == "oversample", "replicate"]) == {0}


def test_finished_study_reruns_nothing(study):
    assert planned_jobs(study) == {}


def test_changing_one_classifier_reruns_only_that_classifier_and_tables(study, tmp_path):
    changed = tmp_path / "rf.yaml"
    changed.write_text(yaml.safe_dump({"classifiers": {"rf": {"n_estimators": 7}}}))
    jobs = planned_jobs(study, changed)
    assert jobs.pop("classify") == 1
    # run_info records the run's config for the report, so it follows any config change
    # (synthesis_quality.csv carries each batch's utility, read from the classifiers' runs)
    assert set(jobs) <= {
        "classify_tables",
        "classify_figures",
        "quality_table",
        "run_info",
        "all",
    }, jobs


def test_changing_one_gan_leaves_data_and_other_gans_alone(study, tmp_path):
    changed = tmp_path / "dcgan.yaml"
    changed.write_text(yaml.safe_dump({"gan": {"dcgan": {"epochs": 3}}}))
    jobs = planned_jobs(study, changed)
    assert jobs.get("train_gan") == REPLICATES
    assert jobs.get("synthesize") == REPLICATES  # only the dcgan replicates (all their batches)
    assert "ingest" not in jobs and "demo_data" not in jobs and "train_encoder" not in jobs


def test_report_builds_with_tables_and_figures(tiny_study_copy):
    run_workflow(tiny_study_copy, "--report", "results/report.html", timeout=600)
    html = (tiny_study_copy / "results" / "report.html").read_text(errors="replace")
    assert "Classifiers" in html and "GAN training" in html


def rerun_reasons(work: Path, snakefile: Path) -> dict[str, str]:
    """'rule[wildcards]' -> reason, for every job a dry run of ``snakefile`` plans in ``work``."""
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(snakefile),
        "--configfile",
        str(snakefile.parent / "config.yaml"),
        str(TINY_CONFIG),
        "--directory",
        str(work),
        "--cores",
        "1",
        "-n",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        reason = re.search(r"^\s+reason: (.*)$", block, re.M)
        if rule and reason:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
            key = rule.group(1) + (f"[{wildcards.group(1)}]" if wildcards else "")
            jobs[key] = reason.group(1)
    return jobs


def code_reruns(reasons: dict[str, str]) -> set[str]:
    """The jobs planned because their own code changed (not because an input will change)."""
    return {
        job
        for job, why in reasons.items()
        if "Params have changed" in why and not job.startswith("run_info")
    }


def test_editing_a_package_module_reruns_exactly_the_rules_that_run_it(study, tmp_path):
    src = copy_workflow(tmp_path / "src")
    assert code_reruns(rerun_reasons(study, src / "Snakefile")) == set()

    # a comment and a docstring change no code: nothing reruns
    backbones = src / "isicgan" / "classify" / "backbones.py"
    text = backbones.read_text()
    backbones.write_text(
        text.replace('"""Frozen ImageNet backbones', '"""Frozen backbones', 1) + "\n# a comment\n"
    )
    assert code_reruns(rerun_reasons(study, src / "Snakefile")) == set()

    # a code change reruns the feature jobs (the heads follow as their input changes)
    backbones.write_text(text + "\nEDITED = True\n")
    assert code_reruns(rerun_reasons(study, src / "Snakefile")) == {
        "backbone_features[backbone=inception_v3]",
        "backbone_features[backbone=efficientnet_b5]",
    }
    backbones.write_text(text)

    # a generator's module reruns that generator's training and batches only
    dcgan = src / "isicgan" / "gan" / "models" / "dcgan.py"
    dcgan.write_text(dcgan.read_text() + "\nEDITED = True\n")
    reasons = rerun_reasons(study, src / "Snakefile")
    trainings = {f"train_gan[gan=dcgan, rep={r}]" for r in range(1, REPLICATES + 1)}
    assert code_reruns(reasons) == trainings
    # the batches follow (new checkpoints); no other generator's job is planned
    assert {job for job in reasons if job.startswith(("train_gan", "synthesize"))} == trainings | {
        f"synthesize[gan=dcgan, rep={r}]" for r in range(1, REPLICATES + 1)
    }
