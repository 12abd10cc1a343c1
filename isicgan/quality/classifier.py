"""The reference classifier of class fidelity: does a synthetic "malignant" tile look malignant to
a model that learned from real tiles only, and from none of the tiles the generators learned from?

Model: a logistic regression (L2, ``C = quality.classifier_C``, classes balanced) on the
standardised features of the in-domain encoder (:mod:`isicgan.quality.encoder`), fitted once on
the real *val* tiles of both classes (patients no generator trained on). Its threshold is the
one that maximises balanced accuracy on *out-of-fold* scores: a stratified k-fold grouped by
patient inside the val tiles (``CV_FOLDS``), so no tile's score that sets the threshold comes
from a head fitted on that tile's patient. The test split is never read. The fitted model is a
small JSON file (scaler, coefficients, threshold, and the reference figures), and scoring needs
only NumPy.

Class fidelity of a set of tiles: the share whose malignancy score (the predicted probability
of malignant) is at or above the threshold, and the mean score. The reference figures for real
tiles are those of the real *train* tiles (``real_train``): out of sample for the fit and for
the threshold, and the very tiles the generators learned from, so a generator that reproduces
its training tiles reads as real train tiles do, not higher. The same figures of the fitted val
tiles are kept only as an in-sample ceiling (``in_sample_ceiling``).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isicgan.io import load_png_folder, write_json
from isicgan.quality.encoder import load_encoder
from isicgan.quality.features import indomain_features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceClassifier:
    """A fitted logistic head on in-domain features: ``score`` gives P(malignant)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    real: dict  # class fidelity of the real train tiles (out of sample): {"malignant", "benign"}
    ceiling: dict = field(default_factory=dict)  # the same of the fitted val tiles (in sample)

    def score(self, feats: np.ndarray) -> np.ndarray:
        z = (np.asarray(feats, dtype=np.float64) - self.mean) / self.scale
        logit = z @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def fidelity(self, feats: np.ndarray) -> dict[str, float]:
        """Share called malignant at the threshold, and the mean malignancy score."""
        return class_fidelity(self.score(feats), self.threshold)


def class_fidelity(scores: np.ndarray, threshold: float) -> dict[str, float]:
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        raise ValueError("class fidelity needs at least one tile")
    return {
        "class_fidelity": float(np.mean(scores >= threshold)),
        "malignancy_score": float(scores.mean()),
    }


def balanced_accuracy_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The score threshold (predict malignant at >= t) with the best balanced accuracy, and that
    accuracy. Candidates are the observed scores; ties keep the lowest threshold."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("choosing the threshold needs val tiles of both classes")
    best_t, best_acc = 0.5, -1.0
    for t in np.unique(scores):
        pred = scores >= t
        acc = 0.5 * (pred[labels].mean() + (~pred[~labels]).mean())
        if acc > best_acc + 1e-12:
            best_t, best_acc = float(t), float(acc)
    return best_t, best_acc


#: folds of the grouped cross-validation that sets the threshold (fewer when fewer patients)
CV_FOLDS = 5


@dataclass(frozen=True)
class LabelledFeatures:
    """In-domain features of a split's tiles, their 0/1 labels and their patients."""

    feats: np.ndarray
    labels: np.ndarray
    patients: np.ndarray


def _fit(x: np.ndarray, y: np.ndarray, C: float) -> ReferenceClassifier:
    """The standardised logistic head fitted on (x, y), threshold 0.5 for now."""
    # lazy: scikit-learn takes about a second to import; only rule reference_classifier fits
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    model.fit((x - mean) / scale, y)
    return ReferenceClassifier(
        mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]), 0.5, {}
    )


def out_of_fold_scores(
    data: LabelledFeatures, C: float, folds: int = CV_FOLDS
) -> tuple[np.ndarray, int]:
    """Each tile's score by a head fitted without its patient's tiles (stratified grouped
    k-fold by patient, unshuffled), and the number of folds used."""
    from sklearn.model_selection import StratifiedGroupKFold  # lazy: see _fit

    y = np.asarray(data.labels).astype(int)
    k = min(int(folds), len(np.unique(data.patients)))
    if k < 2:
        raise ValueError("the reference classifier's threshold needs tiles of 2 or more patients")
    scores = np.full(len(y), np.nan)
    for fit, held in StratifiedGroupKFold(k).split(data.feats, y, data.patients):
        if len(np.unique(y[fit])) < 2:
            raise ValueError(
                "a cross-validation fold of the reference classifier lacks a class: "
                "too few malignant patients among the fitted tiles"
            )
        scores[held] = _fit(data.feats[fit], y[fit], C).score(data.feats[held])
    return scores, k


def _by_class(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    return {
        name: class_fidelity(scores[labels == label], threshold)
        | {"n": int((labels == label).sum())}
        for name, label in (("malignant", 1), ("benign", 0))
    }


def fit_reference_classifier(
    fit: LabelledFeatures, scored: LabelledFeatures, C: float, folds: int = CV_FOLDS
) -> dict:
    """Fit on ``fit`` (the real val tiles), choose the threshold on their out-of-fold scores
    (grouped by patient), and score ``scored`` (the real train tiles: neither fitted on nor
    setting the threshold) for the real reference figures; a JSON-plain dict."""
    from sklearn.metrics import roc_auc_score  # lazy: see _fit

    for name, data in (("fitted", fit), ("scored", scored)):
        if set(np.unique(data.labels).tolist()) != {0, 1}:
            raise ValueError(
                f"the reference classifier needs benign and malignant {name} tiles, "
                f"got classes {sorted(set(np.unique(data.labels).tolist()))}"
            )
    y_fit, y_scored = np.asarray(fit.labels).astype(int), np.asarray(scored.labels).astype(int)
    oof, k = out_of_fold_scores(fit, C, folds)
    threshold, bal_acc = balanced_accuracy_threshold(oof, y_fit)
    clf = _fit(np.asarray(fit.feats, dtype=np.float64), y_fit, C)
    scored_scores = clf.score(scored.feats)
    return {
        "model": "logistic regression on standardised in-domain encoder features",
        "C": float(C),
        "mean": clf.mean.tolist(),
        "scale": clf.scale.tolist(),
        "coef": clf.coef.tolist(),
        "intercept": clf.intercept,
        "threshold": threshold,
        "fitted_on": "real val tiles (patients no generator trained on)",
        "threshold_rule": "max balanced accuracy of out-of-fold scores, stratified k-fold "
        "grouped by patient within the val tiles",
        "cv_folds": k,
        "n_patients_fitted": int(len(np.unique(fit.patients))),
        "n_fitted": {"benign": int((y_fit == 0).sum()), "malignant": int((y_fit == 1).sum())},
        "cv_balanced_accuracy": bal_acc,
        "cv_roc_auc": float(roc_auc_score(y_fit, oof)),
        "train_roc_auc": float(roc_auc_score(y_scored, scored_scores)),
        "real_train": _by_class(scored_scores, y_scored, threshold),
        "in_sample_ceiling": _by_class(clf.score(fit.feats), y_fit, threshold),
    }


def read_patients(manifest: str | Path) -> dict[str, str]:
    """isic_id -> patient_id from the manifest."""
    with open(manifest, newline="") as fh:
        return {row["isic_id"]: row["patient_id"] for row in csv.DictReader(fh)}


def labelled_features(split_dir: str | Path, encoder, patients: dict[str, str]) -> LabelledFeatures:
    """In-domain features, 0/1 labels and patients of a split's class folders 0 and 1."""
    feats, labels, groups = [], [], []
    for label in (0, 1):
        tiles, ids = load_png_folder(Path(split_dir) / str(label))
        if not ids:
            continue
        missing = [i for i in ids if i not in patients]
        if missing:
            raise ValueError(f"{split_dir}/{label}: tiles not in the manifest: {missing[:3]}")
        feats.append(indomain_features(tiles, encoder))
        labels.append(np.full(len(ids), label))
        groups.append(np.array([patients[i] for i in ids]))
    if not feats:
        raise ValueError(f"no PNG tiles in {split_dir}/{{0,1}}")
    return LabelledFeatures(np.concatenate(feats), np.concatenate(labels), np.concatenate(groups))


def write_reference_classifier(
    fit_dir: str | Path,
    scored_dir: str | Path,
    manifest: str | Path,
    encoder_path: str | Path,
    out_path: str | Path,
    C: float,
) -> dict:
    """Rule reference_classifier: fit on the real val split (threshold by grouped
    cross-validation), score the real train split for the reference figures, write JSON."""
    encoder = load_encoder(encoder_path)
    patients = read_patients(manifest)
    out = fit_reference_classifier(
        labelled_features(fit_dir, encoder, patients),
        labelled_features(scored_dir, encoder, patients),
        C,
    )
    log.info(
        "reference classifier (fitted on val): cross-validated ROC-AUC %.3f, balanced "
        "accuracy %.3f at threshold %.3f; real train malignant called malignant %.2f, "
        "benign %.2f (out of sample)",
        out["cv_roc_auc"],
        out["cv_balanced_accuracy"],
        out["threshold"],
        out["real_train"]["malignant"]["class_fidelity"],
        out["real_train"]["benign"]["class_fidelity"],
    )
    write_json(out_path, out)
    return out


def load_reference_classifier(path: str | Path) -> ReferenceClassifier:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference classifier file not found: {path}")
    try:
        data = json.loads(path.read_text())
        return ReferenceClassifier(
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            float(data["threshold"]),
            data["real_train"],
            data["in_sample_ceiling"],
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"{path} is not a reference classifier written by write_reference_classifier: {err!r}"
        ) from err
