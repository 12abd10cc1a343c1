"""Tables of the classifier study: thesis layout, arms with intervals, thesis comparison."""
import pandas as pd
import pytest
from classify_fixtures import make_study_data

from isicgan.classify.figures import write_figures
from isicgan.classify.models import DISPLAY_NAMES
from isicgan.classify.study import run_classifier
from isicgan.classify.tables import read_thesis_tables, write_run_info, write_tables

THESIS = __import__("pathlib").Path(__file__).resolve().parents[1] / "resources" / "thesis_tables.csv"
HEAD = ("algorithm,benign_precision,benign_recall,benign_f1,"
        "malignant_precision,malignant_recall,malignant_f1")


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables")
    study = make_study_data(root, gans=("cyclegan", "dcgan"), batches=2, batch_size=4)
    runs, preds = [], []
    for clf, params in (("svm", {"C": 1.0}), ("logreg", {"max_iter": 30})):
        runs.append(root / clf / "runs.csv")
        preds.append(root / clf / "predictions.csv.gz")
        run_classifier(clf, params, manifest=study["manifest"],
                       synthetic_files=study["synthetic_files"], gans=study["gans"],
                       arms=["oversample", "augment", "class_weight"], batches=2, batch_size=4,
                       seeds=[25, 26], evaluation={"threshold": 0.5, "pauc_min_tpr": 0.8},
                       runs_out=runs[-1], predictions_out=preds[-1])
    out = {name: root / "tables" / f"{name}.csv"
           for name in ("arms", "baseline", "phase1", "phase2", "comparison")}
    write_tables(runs, preds, THESIS, generator="dcgan", names=["logreg", "svm"], batches=2,
                 n_boot=100, seed=25, threshold=0.5, arms_out=out["arms"],
                 baseline_out=out["baseline"], phase_outs=[out["phase1"], out["phase2"]],
                 comparison_out=out["comparison"])
    out["runs"], out["preds"], out["root"] = runs, preds, root
    return out


def test_phase_tables_have_the_thesis_layout_rows_in_config_order(tables):
    for name in ("baseline", "phase1", "phase2"):
        text = tables[name].read_text()
        assert text.startswith(HEAD + ",")
        frame = pd.read_csv(tables[name])
        assert list(frame["algorithm"]) == ["Logistic Regression", "Support Vector Machine"]
        assert {"roc_auc", "pauc_80", "malignant_recall_std", "malignant_recall_ci_low",
                "backbone_weights", "n_seeds"} <= set(frame.columns)
    assert set(pd.read_csv(tables["phase2"])["arm"]) == {"dcgan"}
    assert set(pd.read_csv(tables["baseline"])["arm"]) == {"baseline"}


def test_table_means_and_stds_are_over_seeds_of_the_test_runs(tables):
    runs = pd.read_csv(tables["runs"][0])
    sel = runs[(runs.split == "test") & (runs.phase == 1) & (runs.arm == "dcgan")]
    row = pd.read_csv(tables["phase1"]).set_index("algorithm").loc["Support Vector Machine"]
    assert row["malignant_recall"] == pytest.approx(sel["malignant_recall"].mean(), abs=1e-4)
    assert row["malignant_recall_std"] == pytest.approx(sel["malignant_recall"].std(), abs=1e-4)
    assert row["n_seeds"] == 2


def test_arms_table_covers_every_phase_and_arm_with_intervals(tables):
    arms = pd.read_csv(tables["arms"])
    per_clf = arms.groupby("classifier").size()
    assert (per_clf == 1 + 2 * 5).all()          # baseline + 2 phases x 5 arms
    assert (arms["balanced_accuracy_ci_low"] <= arms["balanced_accuracy_ci_high"]).all()
    assert set(arms.loc[arms.phase == 2, "n_added"]) == {8}


def test_thesis_reference_file_holds_tables_6_1_to_6_6():
    thesis = read_thesis_tables(THESIS)
    assert "University of Galway" in THESIS.read_text().splitlines()[2]
    assert len(thesis) == 36
    assert set(thesis["algorithm"]) == set(DISPLAY_NAMES.values())
    lr = thesis[(thesis.table == 6.1) & (thesis.algorithm == "Logistic Regression")].iloc[0]
    assert (lr.benign_precision, lr.benign_recall, lr.malignant_precision, lr.malignant_recall) == \
        (0.94, 0.82, 0.34, 0.22)


def test_thesis_comparison_sets_published_values_beside_ours(tables):
    comp = pd.read_csv(tables["comparison"])
    assert len(comp) == 36 * 4
    ours = comp[(comp.phase == 1) & (comp.algorithm == "Support Vector Machine")]
    assert set(ours["metric"]) == {"benign_precision", "benign_recall", "malignant_precision",
                                   "malignant_recall"}
    assert ours["ours"].notna().all() and (ours["arm"] == "dcgan").all()
    # phases and classifiers this run did not make are empty, not invented
    assert comp[comp.phase == 5]["ours"].isna().all()
    assert comp[comp.algorithm == "Inception V3"]["ours"].isna().all()


def test_figures_and_run_info_are_written(tables):
    root = tables["root"]
    outs = {k: root / "fig" / f"{k}.png" for k in ("metrics_by_phase", "arms", "roc_curves",
                                                   "confusion_matrices")}
    write_figures(tables["arms"], tables["preds"], generator="dcgan", threshold=0.5, outs=outs)
    for path in outs.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_run_info(root / "info.html", {"seeds": [25]}, "v0-test")
    text = (root / "info.html").read_text()
    assert "v0-test" in text and "scikit-learn" in text and "seeds" in text
