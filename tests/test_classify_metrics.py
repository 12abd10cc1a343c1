"""Metrics of the classifier study against scikit-learn and the ISIC 2024 definition."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from isicgan.analysis.contrasts import (
    ContrastDesign,
    PrimarySpec,
    benjamini_hochberg,
    contrasts_table,
    difference,
    holm,
)
from isicgan.analysis.resampling import configuration_distributions, resample_configurations
from isicgan.classify.metrics import (
    METRICS,
    THRESHOLD_METRICS,
    choose_threshold,
    compute_metrics,
    interval,
    patient_resamples,
    weighted_metrics,
)


def _isic_reference_pauc(y, score, min_tpr=0.8):
    """Partial AUC written out from the competition's recipe, with sklearn's roc_curve/auc."""
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(1 - np.asarray(y), 1 - np.asarray(score))
    max_fpr = 1 - min_tpr
    stop = np.searchsorted(fpr, max_fpr, "right")
    x_interp = [fpr[stop - 1], fpr[stop]]
    y_interp = [tpr[stop - 1], tpr[stop]]
    tpr = np.append(tpr[:stop], np.interp(max_fpr, x_interp, y_interp))
    fpr = np.append(fpr[:stop], max_fpr)
    return auc(fpr, tpr)


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    y = np.array([0] * 30 + [1] * 20)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, size=50), 0, 1)
    return y, score


def test_threshold_metrics_equal_sklearn_per_class_report(scored):
    y, score = scored
    m = compute_metrics(y, score, threshold=0.5)
    pred = (score > 0.5).astype(int)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    assert m["benign_precision"] == pytest.approx(p[0]) and m[
        "malignant_precision"
    ] == pytest.approx(p[1])
    assert m["benign_recall"] == pytest.approx(r[0]) and m["malignant_recall"] == pytest.approx(
        r[1]
    )
    assert m["benign_f1"] == pytest.approx(f[0]) and m["malignant_f1"] == pytest.approx(f[1])
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, score))
    tied = np.round(score, 1)
    m = compute_metrics(y, tied)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, tied))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, tied))


def partial_auc(y, score):
    return compute_metrics(y, score)["pauc_80"]


def test_partial_auc_follows_the_isic_2024_definition(scored):
    y, score = scored
    assert partial_auc(y, score) == pytest.approx(_isic_reference_pauc(y, score))
    tied = np.round(score, 1)  # tied scores: one straight step per tie group, as roc_curve
    assert partial_auc(y, tied) == pytest.approx(_isic_reference_pauc(y, tied))
    assert partial_auc(y, y.astype(float)) == pytest.approx(0.2)  # perfect ranking
    assert partial_auc(y, 1.0 - y) == pytest.approx(0.0)  # inverted ranking
    # constant scores: the diagonal, area between TPR 0.8 and 1 of a random classifier
    assert partial_auc(y, np.full(50, 0.5)) == pytest.approx(0.02)


def test_ranking_metrics_of_one_class_are_nan():
    m = compute_metrics([0, 0, 0], [0.2, 0.3, 0.9])
    assert all(np.isnan(m[k]) for k in ("roc_auc", "average_precision", "pauc_80"))


def test_a_prediction_on_the_threshold_counts_as_benign_like_sklearn_predict():
    m = compute_metrics([0, 1], [0.5, 0.9], threshold=0.5)
    assert m["benign_recall"] == 1.0 and m["malignant_recall"] == 1.0


def test_weighted_metrics_of_a_resample_equal_the_metrics_of_its_repeated_tiles():
    """Every metric, ties and the val threshold included, on resampled patients = by hand."""
    rng = np.random.default_rng(5)
    n = 45
    y = np.array([0] * 25 + [1] * 20)
    scores = np.stack(
        [
            np.round(np.clip(0.3 * y + rng.normal(0.35, 0.25, n), 0, 1), 1),  # ties
            rng.random(n),
        ]
    )
    patients = rng.integers(0, 15, n)
    weights = patient_resamples(patients, y, 30, seed=2)
    val_t = np.array([0.42, 0.61])
    dist = weighted_metrics(y, scores, weights, {"": 0.5, "_valthr": val_t})
    assert set(dist) == set(METRICS) | {f"{m}_valthr" for m in THRESHOLD_METRICS}
    for b in range(len(weights)):
        rows = np.repeat(np.arange(n), weights[b].astype(int))
        for r in range(2):
            want = compute_metrics(y[rows], scores[r, rows])
            at_val = compute_metrics(y[rows], scores[r, rows], threshold=val_t[r])
            for m in METRICS:
                assert dist[m][r, b] == pytest.approx(want[m], abs=1e-6, nan_ok=True), (m, b)
            for m in THRESHOLD_METRICS:
                assert dist[f"{m}_valthr"][r, b] == pytest.approx(at_val[m], abs=1e-6), (m, b)
    # weights of one: the metrics of the test split itself
    ones = weighted_metrics(y, scores[1], np.ones((1, n)), {"": 0.5})
    assert ones["average_precision"][0] == pytest.approx(average_precision_score(y, scores[1]))


def test_resampling_patients_keeps_their_tiles_together():
    patients = np.array(["a", "a", "a", "b", "b", "c"])
    y = np.array([1, 0, 0, 0, 0, 1])
    weights = patient_resamples(patients, y, 200, seed=1)
    assert weights.shape == (200, 6)
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 1] == weights[:, 2]).all()
    # strata: patients with a malignant tile (a, c) and without (b) keep their numbers
    assert (weights[:, 3] == 1).all()
    assert (weights[:, 0] + weights[:, 5] == 2).all()


def test_two_patients_with_many_tiles_give_a_wider_interval_than_independent_tiles():
    """Patient A's 20 tiles are all scored right, patient B's 20 all wrong: two patients."""
    y = np.array([0] * 10 + [1] * 10 + [0] * 10 + [1] * 10)
    score = np.concatenate(
        [
            np.full(10, 0.2),
            np.full(10, 0.8),  # A: right
            np.full(10, 0.8),
            np.full(10, 0.2),
        ]
    )  # B: wrong
    two = np.array(["A"] * 20 + ["B"] * 20)
    independent = np.array([f"T{i}" for i in range(40)])
    widths = {}
    for name, patients in (("two", two), ("independent", independent)):
        dist = weighted_metrics(y, score, patient_resamples(patients, y, 500, seed=3), {"": 0.5})
        lo, hi = interval(dist["balanced_accuracy"])
        assert lo <= 0.5 <= hi
        widths[name] = hi - lo
    assert widths["two"] >= 0.9  # all right, half right or all wrong
    assert widths["independent"] < 0.4
    assert widths["two"] > 2 * widths["independent"]


def _arm_frames(scores: dict[str, np.ndarray], ids: list[str], y: np.ndarray):
    """Predictions and test runs of one classifier: phase 0 baseline and phase 1 arms; a GAN
    arm's score rows are its replicates (one seed each), a control arm's its seeds."""
    preds, runs = [], []
    for arm, per_run in scores.items():
        phase = 0 if arm == "baseline" else 1
        gan = arm not in ("baseline", "oversample")
        for i, s in enumerate(per_run):
            seed, rep = (0, i + 1) if gan else (i, 0)
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
                        "score": s,
                    }
                )
            )
            runs.append(
                {
                    "classifier": "logreg",
                    "algorithm": "Logistic Regression",
                    "phase": phase,
                    "arm": arm,
                    "seed": seed,
                    "replicate": rep,
                    "split": "test",
                    "val_threshold": 0.5,
                }
            )
    return pd.concat(preds, ignore_index=True), pd.DataFrame(runs)


def test_a_paired_contrast_whose_true_difference_is_zero_covers_zero():
    """GAN arm = oversample arm with scores swapped among tiles of one class and one level.

    Every metric on the whole test split is then equal (difference exactly 0) while the
    resamples differ; a GAN arm shifted up, in contrast, is found better.
    """
    rng = np.random.default_rng(11)
    n = 60
    y = np.array([0, 1] * (n // 2))
    ids = [f"ISIC_{i:07d}" for i in range(n)]
    patients = np.array([f"P{i // 3}" for i in range(n)])
    base = np.clip(0.25 * y + rng.normal(0.4, 0.2, size=(3, n)), 0.001, 0.999)
    control = np.clip(0.3 * y + rng.normal(0.4, 0.2, size=(3, n)), 0.001, 0.999)
    swapped = control.copy()
    for cls in (0, 1):  # same multiset of scores within each class
        members = np.flatnonzero(y == cls)
        swapped[:, members] = control[:, rng.permutation(members)]
    better = np.where(y == 1, 0.95, 0.05) + rng.normal(0, 0.01, size=(3, n))
    preds, runs = _arm_frames(
        {"baseline": base, "oversample": control, "cyclegan": swapped, "dcgan": better}, ids, y
    )
    res = resample_configurations(
        preds, runs, {"test": patients}, n_boot=400, seed=4, threshold=0.5, pauc_min_tpr=0.8
    )
    design = ContrastDesign(
        gans=("cyclegan", "dcgan"),
        controls=("oversample",),
        placebos=(),
        primary=PrimarySpec(references=("oversample",)),
        last_phase=1,
        threshold=0.5,
    )
    con = contrasts_table(
        res, configuration_distributions(res), {"logreg": ("Logistic Regression", "n/a")}, design
    )
    con = con[con.level == "method"]
    null = con[(con.gan == "cyclegan") & (con.reference == "oversample")]
    assert len(null) == 9 and (null["difference"].abs() < 1e-9).all()
    assert ((null["ci_low"] < 0) & (null["ci_high"] > 0)).all()  # covers 0, not degenerate
    assert not null["verdict"].isin(["better", "worse"]).any()
    real = con[(con.gan == "dcgan") & (con.reference == "oversample") & (con.metric == "roc_auc")]
    assert real["ci_low"].iloc[0] > 0 and real["verdict"].iloc[0] == "better"


def test_holm_and_benjamini_hochberg():
    adjusted = holm(np.array([0.01, 0.04, 0.03, np.nan, 0.5]))
    # sorted 0.01, 0.03, 0.04, 0.5 with m = 4: 0.04, 0.09, 0.09 (monotone), 0.5
    assert adjusted[[0, 2, 1, 4]] == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[3])
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, np.nan, 0.5]))
    # 0.01 * 4 / 1, 0.03 * 4 / 2, 0.04 * 4 / 3, 0.5: step-up 0.04, 0.0533, 0.0533, 0.5
    assert q[[0, 2, 1, 4]] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert np.isnan(q[3])


def test_a_zero_standard_error_gives_no_p_value_never_zero():
    """A head that flips from all benign to all malignant: recall difference 1 in every
    resample, standard error 0: no p-value, no interval (it can never pass a correction)."""
    ones, zeros = np.ones((2, 51)), np.zeros((2, 51))
    out = difference(ones, zeros, small_sample=1.0, n_patients=30)
    assert out["difference"] == 1.0 and out["se"] == 0
    assert np.isnan(out["p_value"]) and np.isnan(out["ci_low"]) and np.isnan(out["ci_high"])
    # with any spread the p-value is a number in (0, 1]
    spread = ones + np.random.default_rng(0).normal(0, 0.1, ones.shape)
    p = difference(spread, zeros, small_sample=1.0, n_patients=30)["p_value"]
    assert 0 < p <= 1


def test_the_val_threshold_maximises_balanced_accuracy_and_prefers_the_nearest_to_half():
    y = np.array([0, 0, 0, 1, 1, 1])
    t = choose_threshold(y, np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.9]))
    assert t == pytest.approx(0.325)  # midway between the classes: accuracy 1
    # scores that cannot separate the classes: every cut is as good, 0.5 is kept
    assert choose_threshold(y, np.full(6, 0.7)) in (0.35, 0.85)
    assert choose_threshold(np.zeros(4), np.arange(4) / 4) == 0.5  # one class only
    # the chosen cut separates val exactly as counted, also at scores of 0 and 1
    y2, s2 = np.array([0, 1, 0, 1]), np.array([0.0, 0.0, 1.0, 1.0])
    t2 = choose_threshold(y2, s2)
    assert balanced_accuracy_score(y2, s2 > t2) == 0.5


def test_mismatched_labels_and_scores_are_refused():
    with pytest.raises(ValueError, match="equal-length"):
        compute_metrics([0, 1, 1], [0.2, 0.3])
