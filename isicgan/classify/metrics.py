"""Classification metrics on test/val scores, and bootstrap intervals.

Every metric takes ``y`` (0 = benign, 1 = malignant) and ``score`` (higher = more malignant,
in [0, 1]; a prediction is malignant when ``score > threshold``, as
scikit-learn's ``predict`` and the thesis's Keras ``pred > 0.5``).

The ISIC 2024 score is the competition's partial AUC above a true-positive rate of
``min_tpr`` (0.8): labels and scores are flipped (1 - y, 1 - score), the ROC curve is cut at
false-positive rate ``1 - min_tpr`` (linearly interpolated there) and the area under that part
is returned, so the score lies in [0, 1 - min_tpr] (0.2 for a perfect classifier).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import auc, average_precision_score, roc_curve

#: the per-class metrics at the threshold, in table order
CLASS_METRICS = ["benign_precision", "benign_recall", "benign_f1",
                 "malignant_precision", "malignant_recall", "malignant_f1"]
#: every metric of runs.csv, in column order
METRICS = CLASS_METRICS + ["balanced_accuracy", "accuracy", "roc_auc", "average_precision",
                           "pauc_80"]
#: metrics with a vectorised bootstrap (see :func:`bootstrap`)
BOOTSTRAP_METRICS = CLASS_METRICS + ["balanced_accuracy", "accuracy", "roc_auc"]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _threshold_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision/recall/F1, balanced accuracy, accuracy along the last axis."""
    y = y.astype(bool)
    pred = pred.astype(bool)
    tp = np.sum(y & pred, axis=-1)
    fp = np.sum(~y & pred, axis=-1)
    fn = np.sum(y & ~pred, axis=-1)
    tn = np.sum(~y & ~pred, axis=-1)
    out = {}
    for name, t_p, f_p, f_n in (("malignant", tp, fp, fn), ("benign", tn, fn, fp)):
        precision = _safe_div(t_p, t_p + f_p)
        recall = _safe_div(t_p, t_p + f_n)
        out[f"{name}_precision"] = precision
        out[f"{name}_recall"] = recall
        out[f"{name}_f1"] = _safe_div(2 * precision * recall, precision + recall)
    out["balanced_accuracy"] = (out["benign_recall"] + out["malignant_recall"]) / 2
    out["accuracy"] = _safe_div(tp + tn, tp + tn + fp + fn)
    return out


def _rank_auc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC-AUC (Mann-Whitney, ties count half) along the last axis; NaN if a class is absent."""
    y = y.astype(bool)
    ranks = rankdata(score, axis=-1)
    n_pos = y.sum(axis=-1)
    n_neg = y.shape[-1] - n_pos
    u = np.sum(np.where(y, ranks, 0.0), axis=-1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def partial_auc(y: np.ndarray, score: np.ndarray, min_tpr: float = 0.8) -> float:
    """ISIC 2024 partial AUC above ``min_tpr`` true-positive rate (range [0, 1 - min_tpr])."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    flipped_y = 1 - y
    flipped_score = 1.0 - np.asarray(score, dtype=float)
    max_fpr = 1.0 - min_tpr
    fpr, tpr, _ = roc_curve(flipped_y, flipped_score)
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    if stop < len(fpr):
        tpr_cut = np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1])
        fpr = np.append(fpr[:stop], max_fpr)
        tpr = np.append(tpr[:stop], tpr_cut)
    return float(auc(fpr, tpr))


def compute_metrics(y, score, threshold: float = 0.5, pauc_min_tpr: float = 0.8) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one set of scores."""
    y = np.asarray(y).astype(int)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {score.shape} must be equal-length vectors")
    out = {k: float(v) for k, v in _threshold_metrics(y, score > threshold).items()}
    out["roc_auc"] = float(_rank_auc(y, score))
    two_classes = len(np.unique(y)) == 2
    out["average_precision"] = float(average_precision_score(y, score)) if two_classes else float("nan")
    out["pauc_80"] = partial_auc(y, score, pauc_min_tpr)
    return {k: out[k] for k in METRICS}


def bootstrap_indices(y, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) indices resampled with replacement within each class (stratified)."""
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    columns = []
    for cls in (0, 1):
        members = np.flatnonzero(y == cls)
        if len(members):
            columns.append(members[rng.integers(0, len(members), size=(n_boot, len(members)))])
    return np.concatenate(columns, axis=1)


def bootstrap(y, scores: np.ndarray, indices: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Bootstrap distribution of the seed-averaged metrics.

    ``scores`` is (n_seeds, n): every seed's scores for the same test images. For each
    resample (a row of ``indices``) the metric is computed per seed on the same images and
    averaged over seeds. Returns metric -> (n_boot,) array, for :data:`BOOTSTRAP_METRICS`.
    """
    y = np.asarray(y).astype(int)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    yb = y[indices]                                   # (B, n)
    out: dict[str, list[np.ndarray]] = {k: [] for k in BOOTSTRAP_METRICS}
    for seed_scores in scores:
        sb = seed_scores[indices]
        for k, v in _threshold_metrics(yb, sb > threshold).items():
            out[k].append(v)
        out["roc_auc"].append(_rank_auc(yb, sb))
    return {k: np.mean(np.stack(v), axis=0) for k, v in out.items()}


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples (NaNs ignored)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    lo, hi = np.percentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)
