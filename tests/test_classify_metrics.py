"""Metrics of the classifier study against scikit-learn and the ISIC 2024 definition."""
import numpy as np
import pytest
from sklearn.metrics import (average_precision_score, balanced_accuracy_score,
                             precision_recall_fscore_support, roc_auc_score)

from isicgan.classify.metrics import (BOOTSTRAP_METRICS, bootstrap, bootstrap_indices,
                                      compute_metrics, interval, partial_auc)


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
    assert m["benign_precision"] == pytest.approx(p[0]) and m["malignant_precision"] == pytest.approx(p[1])
    assert m["benign_recall"] == pytest.approx(r[0]) and m["malignant_recall"] == pytest.approx(r[1])
    assert m["benign_f1"] == pytest.approx(f[0]) and m["malignant_f1"] == pytest.approx(f[1])
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, score))


def test_partial_auc_follows_the_isic_2024_definition(scored):
    y, score = scored
    assert partial_auc(y, score) == pytest.approx(_isic_reference_pauc(y, score))
    assert partial_auc(y, y.astype(float)) == pytest.approx(0.2)        # perfect ranking
    assert partial_auc(y, 1.0 - y) == pytest.approx(0.0)                # inverted ranking
    # constant scores: the diagonal, area between TPR 0.8 and 1 of a random classifier
    assert partial_auc(y, np.full(50, 0.5)) == pytest.approx(0.02)


def test_a_prediction_on_the_threshold_counts_as_benign_like_sklearn_predict():
    m = compute_metrics([0, 1], [0.5, 0.9], threshold=0.5)
    assert m["benign_recall"] == 1.0 and m["malignant_recall"] == 1.0


def test_bootstrap_intervals_hold_the_point_estimate_and_vectorised_auc_matches(scored):
    y, score = scored
    idx = bootstrap_indices(y, 200, seed=1)
    assert idx.shape == (200, 50)
    assert (y[idx].sum(axis=1) == 20).all()           # stratified: class counts kept
    dist = bootstrap(y, np.stack([score, score[::-1]]), idx)
    assert set(dist) == set(BOOTSTRAP_METRICS)
    row = idx[7]
    expected = (roc_auc_score(y[row], score[row]) + roc_auc_score(y[row], score[::-1][row])) / 2
    assert dist["roc_auc"][7] == pytest.approx(expected)
    point = (compute_metrics(y, score)["malignant_recall"]
             + compute_metrics(y, score[::-1])["malignant_recall"]) / 2
    lo, hi = interval(dist["malignant_recall"])
    assert lo <= point <= hi and lo < hi


def test_mismatched_labels_and_scores_are_refused():
    with pytest.raises(ValueError, match="equal-length"):
        compute_metrics([0, 1, 1], [0.2, 0.3])
