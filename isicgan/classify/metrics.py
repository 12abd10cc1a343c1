"""Classification metrics on test/val scores, a val-chosen threshold, patient bootstrap.

Every metric takes ``y`` (0 = benign, 1 = malignant) and ``score`` (higher = more malignant,
in [0, 1]; a prediction is malignant when ``score > threshold``, as
scikit-learn's ``predict`` and the thesis's Keras ``pred > 0.5``).

The ISIC 2024 score is the competition's partial AUC above a true-positive rate of
``min_tpr`` (0.8): labels and scores are flipped (1 - y, 1 - score), the ROC curve is cut at
false-positive rate ``1 - min_tpr`` (linearly interpolated there) and the area under that part
is returned, so the score lies in [0, 1 - min_tpr] (0.2 for a perfect classifier).

Intervals resample test *patients* (a cluster bootstrap): tiles of one patient are not
independent. A resample is a (n_tiles,) vector of integer weights (how often each tile's
patient was drawn), so every metric below has a weighted, vectorised form over many resamples
(:func:`weighted_metrics`); with all weights 1 it equals :func:`compute_metrics`.
"""

from __future__ import annotations

import numpy as np

#: the per-class metrics at the threshold, in table order
CLASS_METRICS = [
    "benign_precision",
    "benign_recall",
    "benign_f1",
    "malignant_precision",
    "malignant_recall",
    "malignant_f1",
]
#: every metric that depends on the threshold
THRESHOLD_METRICS = CLASS_METRICS + ["balanced_accuracy", "accuracy"]
#: threshold-free metrics
RANKING_METRICS = ["roc_auc", "average_precision", "pauc_80"]
#: every metric of runs.csv at evaluation.threshold (0.5, the thesis), in column order
METRICS = THRESHOLD_METRICS + RANKING_METRICS
#: suffix of a thresholded metric at the threshold chosen on val (max balanced accuracy)
VAL_SUFFIX = "_valthr"
#: the same thresholded metrics at the val-chosen threshold
VAL_METRICS = [f"{m}{VAL_SUFFIX}" for m in THRESHOLD_METRICS]
#: every metric with a bootstrap interval in the tables
ALL_METRICS = METRICS + VAL_METRICS


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _metrics_from_counts(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    """Per-class precision/recall/F1, balanced accuracy and accuracy from confusion counts."""
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


def _threshold_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision/recall/F1, balanced accuracy, accuracy along the last axis."""
    y = y.astype(bool)
    pred = pred.astype(bool)
    return _metrics_from_counts(
        np.sum(y & pred, axis=-1),
        np.sum(~y & pred, axis=-1),
        np.sum(y & ~pred, axis=-1),
        np.sum(~y & ~pred, axis=-1),
    )


def compute_metrics(
    y, score, threshold: float = 0.5, pauc_min_tpr: float = 0.8
) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one set of scores."""
    y = np.asarray(y).astype(int)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {score.shape} must be equal-length vectors")
    out = {k: float(v) for k, v in _threshold_metrics(y, score > threshold).items()}
    # the weighted form with one resample of weight 1 in float64: the same values as
    # scikit-learn's roc_auc_score, average_precision_score and the ISIC pAUC (tested), at a
    # fraction of their cost (a classify job calls this about a thousand times)
    ranking = _ranking_metrics(y, score, np.ones((len(y), 1)), pauc_min_tpr)
    out.update({k: float(v[0]) for k, v in ranking.items()})
    return {k: out[k] for k in METRICS}


def choose_threshold(y, score, default: float = 0.5) -> float:
    """The threshold of maximum balanced accuracy on these (val) labels and scores.

    Candidates lie midway between consecutive distinct scores (and between the lowest score
    and 0, the highest and 1), so a new score is judged by the nearer val score. Among
    equally good candidates the one nearest ``default`` (the thesis's 0.5) wins, then the
    lower. With one class only the balanced accuracy is undefined and ``default`` is returned.
    Only what is passed in is read: call it with val, never test.
    """
    y = np.asarray(y).astype(int)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and scores {score.shape} must be equal-length vectors")
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float(default)
    values, inverse = np.unique(score, return_inverse=True)
    pos = np.bincount(inverse, weights=y, minlength=len(values))
    neg = np.bincount(inverse, weights=1 - y, minlength=len(values))
    # cut i (0..len(values)) predicts malignant for values[i:]
    pos_below = np.concatenate([[0.0], np.cumsum(pos)])
    neg_below = np.concatenate([[0.0], np.cumsum(neg)])
    balanced = ((n_pos - pos_below) / n_pos + neg_below / n_neg) / 2
    edges = np.concatenate([[min(0.0, values[0])], values, [max(1.0, values[-1])]])
    cuts = (edges[:-1] + edges[1:]) / 2
    if values[0] <= 0.0:  # nothing lies below 0: "all malignant" needs t < 0
        cuts[0] = np.nextafter(values[0], -np.inf)
    best = np.flatnonzero(balanced >= balanced.max() - 1e-12)
    distance = np.abs(cuts[best] - default)
    return float(cuts[best[np.argmin(distance)]])  # argmin takes the first (lowest) of ties


def patient_resamples(patients, y, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_tiles) weights of a cluster bootstrap of patients, stratified.

    Patients are drawn with replacement, separately among those with a malignant test tile
    and those without (each stratum keeps its number of patients), and a tile's weight is
    how often its patient was drawn. Give every tile its own patient id to get the ordinary
    tile bootstrap stratified by class.
    """
    patients = np.asarray(patients)
    y = np.asarray(y).astype(int)
    if patients.shape != y.shape or y.ndim != 1:
        raise ValueError(
            f"patients {patients.shape} and labels {y.shape} must be equal-length vectors"
        )
    ids, tile_patient = np.unique(patients, return_inverse=True)
    n_patients = len(ids)
    has_malignant = np.bincount(tile_patient, weights=y, minlength=n_patients) > 0
    rng = np.random.default_rng(seed)
    counts = np.zeros(n_boot * n_patients)
    offsets = (np.arange(n_boot) * n_patients)[:, None]
    for stratum in (False, True):
        members = np.flatnonzero(has_malignant == stratum)
        if len(members):
            drawn = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
            counts += np.bincount((drawn + offsets).ravel(), minlength=n_boot * n_patients)
    return counts.reshape(n_boot, n_patients)[:, tile_patient]


def _ranking_metrics(
    y: np.ndarray, score: np.ndarray, weights_t: np.ndarray, pauc_min_tpr: float
) -> dict[str, np.ndarray]:
    """Weighted ROC-AUC, average precision and ISIC pAUC, one per column of ``weights_t``.

    ``weights_t`` is (n, resamples), C-contiguous float32 (exact for integer counts; ratios
    to about 1e-7). Tiles are sorted by score and tied scores pooled into one step; every
    quantity is then a cumulative sum down the steps, vectorised over the resamples. All
    three sums run over the steps that hold a malignant tile only (the others add 0).
    """
    order = np.argsort(score, kind="stable")
    s = score[order]
    malignant = y[order]
    w = weights_t[order]  # (n, B), ascending score
    pos = w * malignant[:, None].astype(w.dtype)
    neg = w - pos
    if len(s) > 1 and np.any(s[1:] == s[:-1]):  # pool tied scores into one step
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        pos = np.add.reduceat(pos, starts, axis=0)
        neg = np.add.reduceat(neg, starts, axis=0)
        malignant = np.add.reduceat(malignant.astype(int), starts) > 0
    cum_pos = np.cumsum(pos, axis=0)
    cum_neg = np.cumsum(neg, axis=0)
    n_pos, n_neg = cum_pos[-1].astype(float), cum_neg[-1].astype(float)
    valid = (n_pos > 0) & (n_neg > 0)
    inv_pos = np.divide(1.0, n_pos, out=np.zeros_like(n_pos), where=valid).astype(w.dtype)
    inv_neg = np.divide(1.0, n_neg, out=np.zeros_like(n_neg), where=valid).astype(w.dtype)
    keep = np.flatnonzero(malignant)
    p, pos_upto, neg_upto = pos[keep], cum_pos[keep], cum_neg[keep]
    pos_below, neg_below = pos_upto - p, neg_upto - neg[keep]
    # ROC-AUC (Mann-Whitney): benign tiles below a malignant one count 1, tied ones 1/2
    roc = np.sum(p * (neg_below + neg_upto), axis=0, dtype=float) * 0.5 * inv_pos * inv_neg
    # average precision (scikit-learn's step sum), thresholds from the top score down
    tp = n_pos.astype(w.dtype) - pos_below
    tiny = np.finfo(w.dtype).tiny  # 0 / tiny = 0: an empty step
    ap = (
        np.sum(
            p * tp / np.maximum(tp + (n_neg.astype(w.dtype) - neg_below), tiny), axis=0, dtype=float
        )
        * inv_pos
    )
    # ISIC pAUC: labels and scores flipped, so benign tiles are the positives and the
    # curve runs from the lowest score up: x = malignant share, t = benign share;
    # one straight step per tie group, area up to x = 1 - min_tpr
    max_fpr = w.dtype.type(1.0 - pauc_min_tpr)
    x0, x1 = pos_below * inv_pos, pos_upto * inv_pos
    t0, t1 = neg_below * inv_neg, neg_upto * inv_neg
    kept = np.clip(max_fpr - x0, 0, x1 - x0)  # width of the step left of max_fpr
    t_end = t0 + (t1 - t0) * (kept / np.maximum(x1 - x0, tiny))
    pauc = np.sum(kept * (t0 + t_end), axis=0, dtype=float) / 2
    nan = np.full(len(valid), np.nan)
    return {
        "roc_auc": np.where(valid, roc, nan),
        "average_precision": np.where(valid, ap, nan),
        "pauc_80": np.where(valid, pauc, nan),
    }


def weighted_metrics(
    y,
    scores,
    weights: np.ndarray,
    thresholds: dict[str, float | np.ndarray],
    pauc_min_tpr: float = 0.8,
) -> dict[str, np.ndarray]:
    """Every metric of one or more runs' scores under each row of ``weights`` (resamples).

    ``scores`` is (n,) or (runs, n) for the same tiles; ``weights`` (resamples, n).
    ``thresholds`` maps a column suffix to a threshold (one, or one per run):
    ``{"": 0.5, "_valthr": t}`` gives :data:`THRESHOLD_METRICS` at 0.5 unsuffixed and at
    ``t`` suffixed. Returns metric -> (resamples,) or (runs, resamples). A row of ones
    reproduces :func:`compute_metrics`.
    """
    y = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=float)
    single = scores.ndim == 1
    scores = np.atleast_2d(scores)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float32))
    if scores.shape[1] != len(y) or weights.shape[1] != len(y):
        raise ValueError(
            f"{len(y)} labels, scores {scores.shape} and weights {weights.shape} "
            "must cover the same tiles"
        )
    n_runs = len(scores)
    indicators = []
    for t in thresholds.values():
        pred = scores > np.broadcast_to(np.asarray(t, dtype=float), (n_runs,))[:, None]
        indicators += [y & pred, ~y & pred, y & ~pred, ~y & ~pred]  # each (R, n)
    counts = weights @ np.concatenate(indicators).T.astype(np.float32)  # (B, 4 x T x R)
    counts = counts.T.astype(float).reshape(len(thresholds), 4, n_runs, len(weights))
    out = {}
    for i, suffix in enumerate(thresholds):
        out.update({f"{k}{suffix}": v for k, v in _metrics_from_counts(*counts[i]).items()})
    weights_t = np.ascontiguousarray(weights.T)
    ranking = [_ranking_metrics(y, run, weights_t, pauc_min_tpr) for run in scores]
    out.update({k: np.stack([r[k] for r in ranking]) for k in RANKING_METRICS})
    return {k: v[0] for k, v in out.items()} if single else out


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples (NaNs ignored)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    lo, hi = np.percentile(samples, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)
