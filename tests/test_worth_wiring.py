"""Worth in real tiles, wired into the tables stage: worth.csv, its two figures and the front
page's sentence, through the real ``write_tables`` on small real runs and predictions.

The runs are real (logistic regression on tiny tiles); their test scores are then replaced by
scores of known separation per arm, so the learning curve (``real_25`` .. ``baseline``) is
monotone and each control arm lands in a known place on it: ``oversample`` inside the curve,
``augment`` above it, ``class_weight`` below it.
"""

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.classify import make_study_data
from isicgan.analysis.tables import TablesSpec, write_tables
from isicgan.analysis.worth import front_page_line
from isicgan.classify.metrics import THRESHOLD_METRICS, VAL_SUFFIX, compute_metrics
from isicgan.classify.study import ClassifyDesign, ClassifyOutputs, run_classifier

THESIS = Path(__file__).resolve().parents[1] / "resources" / "thesis_tables.csv"
COUNTS = {"train": (12, 8), "val": (6, 3), "test": (30, 30)}
FRACTIONS = {"real_25": 0.25, "real_50": 0.5, "real_75": 0.75}
#: separation of malignant from benign scores per arm (larger: a better classifier)
SEPARATION = {
    "real_25": 0.4,
    "real_50": 1.0,
    "real_75": 1.6,
    "baseline": 2.2,
    "oversample": 1.3,
    "augment": 3.2,
    "class_weight": 0.05,
    "cyclegan": 1.9,
}
SPEC = {
    "generator": "cyclegan",
    "names": ["logreg"],
    "gans": ["cyclegan"],
    "controls": ["oversample", "augment", "class_weight"],
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
    "worth": {
        "metrics": ["pauc_80", "roc_auc"],
        "curve_arms": ["real_25", "real_50", "real_75", "baseline"],
        "curve_phase": 0,
        "cap_multiple": 10,
        "ci_level": 0.95,
    },
}


def _known_scores(runs: pd.DataFrame, preds: pd.DataFrame, train_malignant: int):
    """Learning-curve arms (copies of the baseline runs with fewer real malignant tiles) and
    test scores of known separation per arm; runs.csv's test metrics recomputed from them."""
    base_runs = runs[runs["arm"] == "baseline"]
    base_preds = preds[preds["arm"] == "baseline"]
    runs = runs.assign(n_real_malignant=train_malignant)
    extra_runs, extra_preds = [], []
    for arm, f in FRACTIONS.items():
        had = round(f * train_malignant)
        extra_runs.append(
            base_runs.assign(
                arm=arm, n_real_malignant=had, n_train=base_runs["n_train"] - train_malignant + had
            )
        )
        extra_preds.append(base_preds.assign(arm=arm))
    runs = pd.concat([runs, *extra_runs], ignore_index=True)
    preds = pd.concat([preds, *extra_preds], ignore_index=True)
    rng = np.random.default_rng(7)
    ids = sorted(preds["isic_id"].unique())
    difficulty = dict(zip(ids, rng.normal(0, 1, len(ids))))  # shared by every run
    for key, g in preds.groupby(["phase", "arm", "seed", "replicate"]):
        phase, arm, seed, rep = key
        sep = SEPARATION[arm]
        noise = np.random.default_rng([seed, rep, phase]).normal(0, 0.3, len(g))
        z = sep * (g["target"].to_numpy() - 0.5) + g["isic_id"].map(difficulty).to_numpy() + noise
        score = np.round(1 / (1 + np.exp(-z)), 6)
        preds.loc[g.index, "score"] = score
        test = (
            (runs["split"] == "test")
            & (runs["phase"] == phase)
            & (runs["arm"] == arm)
            & (runs["seed"] == seed)
            & (runs["replicate"] == rep)
        )
        y = g["target"].to_numpy()
        metrics = compute_metrics(y, score, 0.5, 0.8)
        at_val = compute_metrics(y, score, float(runs.loc[test, "val_threshold"].iloc[0]), 0.8)
        for m, v in metrics.items():
            runs.loc[test, m] = round(v, 6)
        for m in THRESHOLD_METRICS:
            runs.loc[test, f"{m}{VAL_SUFFIX}"] = round(at_val[m], 6)
    return runs, preds


def _outputs(folder) -> dict:
    out = {
        name: folder / f"{name}.csv"
        for name in ("arms", "baseline", "phase1", "phase2", "comparison", "contrasts", "worth")
    }
    out["summary"] = folder / "contrasts_summary.rst"
    out["learning_curve"] = folder / "learning_curve.png"
    out["worth_figure"] = folder / "worth.png"
    return out


def _write(root, name, runs, preds, manifest) -> dict:
    folder = root / name
    folder.mkdir()
    runs.to_csv(folder / "runs.csv", index=False)
    preds.to_csv(folder / "predictions.csv.gz", index=False, compression="gzip")
    out = _outputs(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the stage, figures included, warns about nothing
        write_tables(
            {
                "runs": [folder / "runs.csv"],
                "predictions": [folder / "predictions.csv.gz"],
                "thesis": THESIS,
                "manifest": manifest,
            },
            TablesSpec.from_dict(SPEC),
            {**out, "phases": [out["phase1"], out["phase2"]]},
        )
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("worth_wiring")
    data = make_study_data(
        root, gans=("cyclegan",), batches=2, batch_size=4, replicates=2, counts=COUNTS
    )
    manifest = pd.read_csv(data["manifest"], dtype=str)
    test = manifest["split"] == "test"
    manifest.loc[test, "patient_id"] = [f"IP_T{i // 3}" for i in range(int(test.sum()))]
    manifest.to_csv(data["manifest"], index=False)
    run_classifier(
        {"manifest": data["manifest"], "synthetic": data["synthetic_files"]},
        ClassifyDesign(
            "logreg",
            {"max_iter": 30},
            gans=tuple(data["gans"]),
            replicates=2,
            batches=2,
            batch_size=4,
            seeds=(25, 26),
        ),
        ClassifyOutputs(root / "runs.csv", root / "predictions.csv.gz"),
    )
    runs, preds = pd.read_csv(root / "runs.csv"), pd.read_csv(root / "predictions.csv.gz")
    curve_runs, curve_preds = _known_scores(runs, preds, COUNTS["train"][1])
    return {
        "curve": _write(root, "curve", curve_runs, curve_preds, data["manifest"]),
        "plain": _write(root, "plain", runs, preds, data["manifest"]),
    }


def _interpolated(arms: pd.DataFrame, phase: int, arm: str, metric: str) -> float:
    """The worth by hand: linear in log n between the two curve points around the arm."""
    test = arms[arms["test_set"] == "test"].set_index(["phase", "arm"])
    curve = sorted(
        (test.loc[(0, a), "n_real_malignant"], test.loc[(0, a), metric])
        for a in [*FRACTIONS, "baseline"]
    )
    value = test.loc[(phase, arm), metric]
    for (n0, y0), (n1, y1) in zip(curve, curve[1:]):
        if y0 <= value <= y1:
            t = (value - y0) / (y1 - y0)
            return math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))
    raise AssertionError(f"{arm} phase {phase} {metric} {value} is not inside {curve}")


def test_worth_csv_values_every_arm_that_is_not_on_the_curve(study):
    worth = pd.read_csv(study["curve"]["worth"], keep_default_na=False, na_values=[""])
    arms = pd.read_csv(study["curve"]["arms"])
    # 2 phases x (3 controls + the generator) x 2 metrics; curve arms are not rows
    assert len(worth) == 2 * 4 * 2
    assert set(worth["arm"]) == {"oversample", "augment", "class_weight", "cyclegan"}
    assert list(dict.fromkeys(worth["metric"])) == ["pauc_80", "roc_auc"]
    assert (worth["test_set"] == "test").all() and (worth["curve_max_n"] == 8).all()
    assert (worth["curve_min_n"] == 2).all() and (worth["n_real_malignant"] == 8).all()
    inside = worth[worth["arm"] == "oversample"]
    assert inside["reason"].isna().all() and not inside["extrapolated"].any()
    for r in inside.itertuples():
        assert 4 < r.worth_real_tiles < 6  # between real_50 and real_75
        assert r.worth_ci_low <= r.worth_real_tiles <= r.worth_ci_high
        assert r.worth_minus_had == pytest.approx(r.worth_real_tiles - 8, abs=1e-3)
        assert r.worth_real_tiles == pytest.approx(
            _interpolated(arms, r.phase, "oversample", r.metric), rel=2e-3
        )
    below = worth[worth["arm"] == "class_weight"]
    assert below["reason"].str.startswith("below the learning curve").all()
    assert below["worth_real_tiles"].isna().all() and (below["worth_ci_low"] == 0).all()
    above = worth[worth["arm"] == "augment"]
    assert above["extrapolated"].all()


def test_without_curve_arms_every_row_says_why(study):
    worth = pd.read_csv(study["plain"]["worth"], keep_default_na=False, na_values=[""])
    assert len(worth) == 2 * 4 * 2 and worth["worth_real_tiles"].isna().all()
    assert worth["reason"].str.startswith("no learning curve").all()
    assert worth["reason"].str.contains("not run: real_25, real_50, real_75").all()
    summary = study["plain"]["summary"].read_text()
    assert (
        "**What is a synthetic tile worth in real ones?** Phase 2, cyclegan, pAUC (TPR > 0.8), "
        "test set: not valued, no learning curve: 1 curve point(s)"
    ) in summary


def test_the_figures_are_written(study):
    for case in ("curve", "plain"):  # drawn with warnings as errors (see _write)
        for name in ("learning_curve", "worth_figure"):
            data = study[case][name].read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, (case, name)


def test_the_front_page_carries_the_primary_worth_sentence(study):
    summary = study["curve"]["summary"].read_text()
    assert summary.startswith("**Does a generator beat plain rebalancing?**")
    worth = pd.read_csv(study["curve"]["worth"], keep_default_na=False, na_values=[""])
    line = front_page_line(
        worth,
        arm="cyclegan",
        metric="pauc_80",
        phase=2,
        test_set="test",
        labels={"pauc_80": "pAUC (TPR > 0.8)"},
    )
    assert "**What is a synthetic tile worth in real ones?** " + line in summary
    assert line.startswith(
        "Phase 2, cyclegan, pAUC (TPR > 0.8), test set: with Logistic "
        "Regression, 8 synthetic tiles added to 8 real malignant ones are "
        "worth "
    )
