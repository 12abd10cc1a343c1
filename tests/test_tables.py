"""Tables of the classifier study: thesis layout, arms with intervals, thesis comparison."""

import pandas as pd
import pytest

from helpers.classify import make_study_data
from isicgan.analysis.figures import FIGURES, FiguresSpec, write_figures
from isicgan.analysis.run_info import write_run_info
from isicgan.analysis.tables import TablesSpec, write_tables
from isicgan.analysis.thesis_audit import read_thesis_tables
from isicgan.classify.models import DISPLAY_NAMES
from isicgan.classify.study import ClassifyDesign, ClassifyOutputs, run_classifier

THESIS = (
    __import__("pathlib").Path(__file__).resolve().parents[1] / "resources" / "thesis_tables.csv"
)
HEAD = (
    "algorithm,benign_precision,benign_recall,benign_f1,"
    "malignant_precision,malignant_recall,malignant_f1"
)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables")
    study = make_study_data(root, gans=("cyclegan", "dcgan"), batches=2, batch_size=4, replicates=2)
    # three test tiles per patient: the intervals resample patients, not tiles
    manifest = pd.read_csv(study["manifest"], dtype=str)
    test = manifest["split"] == "test"
    manifest.loc[test, "patient_id"] = [f"IP_T{i // 3}" for i in range(int(test.sum()))]
    manifest.to_csv(study["manifest"], index=False)
    runs, preds = [], []
    for clf, params in (("svm", {"C": 1.0}), ("logreg", {"max_iter": 30})):
        runs.append(root / clf / "runs.csv")
        preds.append(root / clf / "predictions.csv.gz")
        run_classifier(
            {"manifest": study["manifest"], "synthetic": study["synthetic_files"]},
            ClassifyDesign(
                clf,
                params,
                gans=tuple(study["gans"]),
                replicates=2,
                batches=2,
                batch_size=4,
                seeds=(25, 26),
            ),
            ClassifyOutputs(runs[-1], preds[-1]),
        )
    out = {
        name: root / "tables" / f"{name}.csv"
        for name in ("arms", "baseline", "phase1", "phase2", "comparison", "contrasts")
    }
    out["summary"] = root / "tables" / "contrasts_summary.rst"
    spec = TablesSpec.from_dict(
        {
            "generator": "dcgan",
            "names": ["logreg", "svm"],
            "gans": ["cyclegan", "dcgan"],
            "controls": ["oversample", "augment", "class_weight"],
            "placebos": ["cyclegan"],
            "batches": 2,
            "n_boot": 100,
            "seed": 25,
            "threshold": 0.5,
            "pauc_min_tpr": 0.8,
            "primary": {
                "phase": None,
                "metrics": ["pauc_80", "roc_auc"],
                "references": ["oversample", "augment", "class_weight"],
                "margins": {"roc_auc": 0.02, "pauc_80": 0.01},
                "test_set": "test",
                "min_replicates": 2,
            },
        }
    )
    write_tables(
        {"runs": runs, "predictions": preds, "thesis": THESIS, "manifest": study["manifest"]},
        spec,
        {
            "arms": out["arms"],
            "baseline": out["baseline"],
            "phases": [out["phase1"], out["phase2"]],
            "comparison": out["comparison"],
            "contrasts": out["contrasts"],
            "summary": out["summary"],
            "worth": root / "tables" / "worth.csv",
            "learning_curve": root / "tables" / "learning_curve.png",
            "worth_figure": root / "tables" / "worth.png",
        },
    )
    out["runs"], out["preds"], out["root"] = runs, preds, root
    out["manifest"], out["synthetic"] = study["manifest"], study["synthetic_files"]
    return out


def test_phase_tables_have_the_thesis_layout_rows_in_config_order(tables):
    for name in ("baseline", "phase1", "phase2"):
        text = tables[name].read_text()
        assert text.startswith(HEAD + ",")
        frame = pd.read_csv(tables[name])
        assert list(frame["algorithm"]) == ["Logistic Regression", "Support Vector Machine"]
        assert {
            "roc_auc",
            "pauc_80",
            "malignant_recall_std",
            "malignant_recall_ci_low",
            "backbone_weights",
            "n_seeds",
        } <= set(frame.columns)
    assert set(pd.read_csv(tables["phase2"])["arm"]) == {"dcgan"}
    assert set(pd.read_csv(tables["baseline"])["arm"]) == {"baseline"}


def test_table_means_and_stds_are_over_seeds_of_the_test_runs(tables):
    runs = pd.read_csv(tables["runs"][0])
    sel = runs[(runs.split == "test") & (runs.phase == 1) & (runs.arm == "oversample")]
    arms = pd.read_csv(tables["arms"])
    row = arms[(arms.classifier == "svm") & (arms.phase == 1) & (arms.arm == "oversample")].iloc[0]
    assert not row["deterministic"] and row["spread_over"] == "seeds"  # copies drawn per seed
    assert row["malignant_recall"] == pytest.approx(sel["malignant_recall"].mean(), abs=1e-4)
    assert row["malignant_recall_std"] == pytest.approx(sel["malignant_recall"].std(), abs=1e-4)
    phase1 = pd.read_csv(tables["phase1"]).set_index("algorithm").loc["Support Vector Machine"]
    assert phase1["n_seeds"] == 2


def test_configurations_identical_for_every_seed_are_marked_deterministic_without_a_std(tables):
    preds = pd.read_csv(tables["preds"][1])  # logreg: lbfgs, no random draw
    base = preds[(preds.phase == 0)].pivot(index="seed", columns="isic_id", values="score")
    assert (base.max() - base.min()).max() == 0  # really identical across seeds
    arms = pd.read_csv(tables["arms"])
    row = arms[(arms.classifier == "logreg") & (arms.phase == 0)].iloc[0]
    assert row["deterministic"] and row["spread_over"] == "none (deterministic)"
    assert pd.isna(row["malignant_recall_std"]) and pd.isna(row["roc_auc_std"])
    assert row["roc_auc_ci_low"] <= row["roc_auc"] <= row["roc_auc_ci_high"]
    baseline = pd.read_csv(tables["baseline"]).set_index("algorithm")
    assert baseline.loc["Logistic Regression", "deterministic"]
    # the mark follows the data: identical test scores for every seed, and nothing else
    preds = pd.concat(pd.read_csv(p) for p in tables["preds"])
    for key, g in preds.groupby(["classifier", "phase", "arm"]):
        same = all(
            (w.max() - w.min()).max() == 0
            for _, w in g.pivot(
                index=["replicate", "seed"], columns="isic_id", values="score"
            ).groupby(level="replicate")
        )
        row = arms.set_index(["classifier", "phase", "arm"]).loc[key]
        assert row["deterministic"] == same, key
    assert not arms["deterministic"].all()


def test_arms_table_covers_every_phase_and_arm_with_intervals(tables):
    arms = pd.read_csv(tables["arms"])
    per_clf = arms.groupby("classifier").size()
    assert (per_clf == 1 + 2 * 5).all()  # baseline + 2 phases x 5 arms
    assert (arms["balanced_accuracy_ci_low"] <= arms["balanced_accuracy_ci_high"]).all()
    assert set(arms.loc[arms.phase == 2, "n_added"]) == {8}
    # every metric is a share or an area: no interval leaves [0, 1], however few the df
    bounds = arms.filter(regex="_ci_(low|high)$")
    assert ((bounds >= 0) & (bounds <= 1)).all().all()


def test_thesis_reference_file_holds_tables_6_1_to_6_6():
    thesis = read_thesis_tables(THESIS)
    assert "University of Galway" in THESIS.read_text().splitlines()[2]
    assert len(thesis) == 36
    assert set(thesis["algorithm"]) == set(DISPLAY_NAMES.values())
    lr = thesis[(thesis.table == 6.1) & (thesis.algorithm == "Logistic Regression")].iloc[0]
    assert (lr.benign_precision, lr.benign_recall, lr.malignant_precision, lr.malignant_recall) == (
        0.94,
        0.82,
        0.34,
        0.22,
    )


def test_thesis_comparison_sets_published_values_beside_ours(tables):
    comp = pd.read_csv(tables["comparison"])
    assert len(comp) == 36 * 4
    ours = comp[(comp.phase == 1) & (comp.algorithm == "Support Vector Machine")]
    assert set(ours["metric"]) == {
        "benign_precision",
        "benign_recall",
        "malignant_precision",
        "malignant_recall",
    }
    assert ours["ours"].notna().all() and (ours["arm"] == "dcgan").all()
    # phases and classifiers this run did not make are empty, not invented
    assert comp[comp.phase == 5]["ours"].isna().all()
    assert comp[comp.algorithm == "Inception V3"]["ours"].isna().all()


def test_figures_and_run_info_are_written(tables):
    root = tables["root"]
    outs = {k: root / "fig" / f"{k}.png" for k in FIGURES}
    write_figures(
        {"arms": tables["arms"], "predictions": tables["preds"], "contrasts": tables["contrasts"]},
        FiguresSpec(generator="dcgan", threshold=0.5),
        outs,
    )
    for path in outs.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_run_info(root / "info.html", {"seeds": [25]}, "v0-test")
    text = (root / "info.html").read_text()
    assert "v0-test" in text and "scikit-learn" in text and "seeds" in text


def test_contrasts_pair_every_gan_arm_with_the_baseline_and_each_control(tables):
    con = pd.read_csv(tables["contrasts"], dtype={"threshold": str})
    arms = pd.read_csv(tables["arms"]).set_index(["classifier", "phase", "arm"])
    method = con[con.level == "method"]
    # 2 classifiers x 2 phases x 2 GANs x 4 references x 9 metrics (recalls in pairs)
    assert len(method) == 2 * 2 * 2 * 4 * 9
    # per-replicate rows: the 3 threshold-free metrics x 2 replicates of each method row
    reps = con[con.level == "replicate"]
    assert len(reps) == 2 * 2 * 2 * 4 * 3 * 2 and set(reps["replicate"]) == {1, 2}
    assert (reps["verdict"] == "exploratory").all() and (reps["family"] == "exploratory").all()
    assert (con["test_set"] == "test").all()
    assert (con["ci_resampled"] == "test patients, generator replicates, classifier seeds").all()
    # GAN arms average 2 seeds x 2 generator replicates, the references 2 seeds
    assert set(method["gan_runs"]) == {4} and set(method["reference_runs"]) == {2}
    assert set(arms.loc[(slice(None), slice(None), "dcgan"), "n_replicates"]) == {2}
    block = method[(method.classifier == "svm") & (method.phase == 2) & (method.gan == "dcgan")]
    assert list(dict.fromkeys(block["reference"])) == [
        "baseline",
        "oversample",
        "augment",
        "class_weight",
    ]
    first = block[block.reference == "baseline"]
    assert list(zip(first["metric"], first["threshold"])) == [
        ("roc_auc", "none"),
        ("pauc_80", "none"),
        ("average_precision", "none"),
        ("balanced_accuracy", "0.5"),
        ("balanced_accuracy", "val"),
        ("malignant_recall", "0.5"),
        ("benign_recall", "0.5"),
        ("malignant_recall", "val"),
        ("benign_recall", "val"),
    ]
    # the GAN and reference means are the arms table's means (phase 0 for the baseline)
    for _, c in method[method.threshold != "val"].iterrows():
        ref_key = (
            c["classifier"],
            0 if c["reference"] == "baseline" else c["phase"],
            c["reference"],
        )
        gan = arms.loc[(c["classifier"], c["phase"], c["gan"]), c["metric"]]
        assert c["gan_mean"] == pytest.approx(gan, abs=2e-4)
        assert c["reference_mean"] == pytest.approx(arms.loc[ref_key, c["metric"]], abs=2e-4)
    assert (con["difference"] - (con["gan_mean"] - con["reference_mean"])).abs().max() < 2e-4
    # the primary family: last phase, threshold-free primary metrics, control references
    primary = method[method.family == "primary"]
    assert set(primary["phase"]) == {2} and set(primary["metric"]) == {"roc_auc", "pauc_80"}
    assert set(primary["reference"]) == {"oversample", "augment", "class_weight"}
    assert len(primary) == 2 * 2 * 3 * 2
    assert set(primary["verdict"]) <= {"better", "worse", "equivalent", "inconclusive"}
    assert (
        method.loc[method.family == "exploratory", "verdict"].isin(
            ["exploratory", "left out: one-class predictions"]
        )
    ).all()
    assert primary["placebo"].eq(primary["gan"] == "cyclegan").all()
    summary = tables["summary"].read_text()
    assert summary.startswith("**Does a generator beat plain rebalancing?**")
    assert "1 generators, placebo apart" in summary and "false positives in" in summary


def test_the_val_threshold_does_not_move_when_only_test_labels_change(tables, tmp_path):
    """The threshold is chosen on val: relabelling test tiles leaves it where it was."""
    import shutil

    root = tables["root"]
    copy = tmp_path / "data"
    shutil.copytree(root / "results" / "data", copy)
    manifest = pd.read_csv(copy / "manifest.csv", dtype=str)
    test = manifest[manifest.split == "test"]
    for i in test.index:  # every test label inverted
        old = manifest.at[i, "target"]
        new = "1" if old == "0" else "0"
        shutil.move(
            copy / "test" / old / f"{manifest.at[i, 'isic_id']}.png",
            copy / "test" / new / f"{manifest.at[i, 'isic_id']}.png",
        )
        manifest.at[i, "target"] = new
    manifest.to_csv(copy / "manifest.csv", index=False)
    synthetic = tables["synthetic"]
    runs = {}
    for name, where in (("original", tables["manifest"]), ("relabelled", copy / "manifest.csv")):
        runs[name] = run_classifier(
            {"manifest": where, "synthetic": synthetic},
            ClassifyDesign(
                "logreg",
                {"max_iter": 30},
                gans=("cyclegan", "dcgan"),
                arms=("oversample",),
                batches=1,
                batch_size=4,
                seeds=(25,),
            ),
            ClassifyOutputs(tmp_path / name / "runs.csv", tmp_path / name / "p.csv.gz"),
        )
    before, after = (runs[k][runs[k].split == "test"].reset_index(drop=True) for k in runs)
    assert (before["malignant_recall"] != after["malignant_recall"]).any()  # labels did change
    assert before["val_threshold"].tolist() == after["val_threshold"].tolist()
    assert (before["val_threshold"] != 0.5).any()  # and it was chosen


def test_generator_replicates_are_one_more_run_dimension():
    """A GAN arm with 2 replicates x 2 seeds: means over all four runs; a classifier that
    ignores its seed is deterministic, and its spread is over the replicates only."""
    import numpy as np

    from isicgan.analysis.resampling import resample_configurations
    from isicgan.analysis.tables import arms_table
    from isicgan.classify.metrics import THRESHOLD_METRICS, compute_metrics
    from isicgan.classify.study import RUN_KEYS, RUN_METRICS

    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 10)
    ids = [f"ISIC_{i:07d}" for i in range(20)]
    preds, runs = [], []
    for arm, phase, reps in (("baseline", 0, [0]), ("cyclegan", 1, [1, 2])):
        for rep in reps:
            score = np.clip(0.3 * y + rng.normal(0.35, 0.2, 20), 0, 1).round(6)
            for seed in (25, 26):  # the seed changes nothing
                m = compute_metrics(y, score)
                runs.append(
                    dict(
                        classifier="logreg",
                        algorithm="Logistic Regression",
                        phase=phase,
                        arm=arm,
                        seed=seed,
                        replicate=rep,
                        split="test",
                        n_train=100,
                        n_added=10 * phase,
                        malignant_weight=1.0,
                        backbone_weights="n/a",
                        val_threshold=0.5,
                        **{k: m[k] for k in RUN_METRICS if k in m},
                        **{f"{k}_valthr": m[k] for k in THRESHOLD_METRICS},
                    )
                )
                preds.append(
                    pd.DataFrame(
                        {
                            "classifier": "logreg",
                            "phase": phase,
                            "arm": arm,
                            "seed": seed,
                            "replicate": rep,
                            "isic_id": ids,
                            "target": y,
                            "score": score,
                        }
                    )
                )
    runs, preds = pd.DataFrame(runs)[RUN_KEYS + RUN_METRICS], pd.concat(preds, ignore_index=True)
    settings = dict(n_boot=50, seed=0, threshold=0.5, pauc_min_tpr=0.8)
    res = resample_configurations(preds, runs, {"test": np.array(ids)}, **settings)
    arms = arms_table(runs, res, 0.5).set_index("arm")
    gan = arms.loc["cyclegan"]
    assert gan["n_seeds"] == 2 and gan["n_replicates"] == 2 and gan["deterministic"]
    assert gan["spread_over"] == "replicates"
    per_rep = runs[runs.arm == "cyclegan"].groupby("replicate")["roc_auc"].mean()
    assert gan["roc_auc_std"] == pytest.approx(per_rep.std(), abs=1e-4)
    assert gan["roc_auc"] == pytest.approx(
        runs.loc[runs.arm == "cyclegan", "roc_auc"].mean(), abs=1e-4
    )
    assert arms.loc["baseline", "spread_over"] == "none (deterministic)"
    assert arms["test_set"].eq("test").all()
    with pytest.raises(ValueError, match="different versions"):
        resample_configurations(
            preds.drop(columns="replicate"), runs, {"test": np.array(ids)}, **settings
        )
