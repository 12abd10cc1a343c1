"""The reference classifier of class fidelity: does a synthetic "malignant" tile look malignant to
a model that learned from real tiles only?

Model: a logistic regression (L2, ``C = quality.classifier_C``, classes balanced) on the
standardised features of the in-domain encoder (:mod:`isicgan.quality.encoder`), fitted once on
the real *train* tiles of both classes. Its threshold is the one that maximises balanced
accuracy on the real *val* tiles (the smallest such score; ties go to the lower threshold). The
test split is never read. The fitted model is a small JSON file (scaler, coefficients,
threshold, and the val figures), and scoring needs only NumPy.

Class fidelity of a set of tiles: the share whose malignancy score (the predicted probability
of malignant) is at or above the threshold, and the mean score. The same figures for the real
val malignant and real val benign tiles say what "looks malignant" reads at for real tiles;
they are in-sample for the threshold (chosen on val), so they flatter the classifier a little.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isicgan.io import load_split_tiles, write_json
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
    real: dict          # class fidelity of the real val tiles: {"malignant": {...}, "benign": {...}}

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
    return {"class_fidelity": float(np.mean(scores >= threshold)),
            "malignancy_score": float(scores.mean())}


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


def fit_reference_classifier(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                             C: float) -> dict:
    """Fit on train (features, 0/1 labels), choose the threshold on val; a JSON-plain dict."""
    # lazy: scikit-learn takes about a second to import; only rule reference_classifier fits
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    x_train, y_train = np.asarray(train[0], dtype=np.float64), np.asarray(train[1]).astype(int)
    x_val, y_val = np.asarray(val[0], dtype=np.float64), np.asarray(val[1]).astype(int)
    for name, y in (("train", y_train), ("val", y_val)):
        if set(np.unique(y)) != {0, 1}:
            raise ValueError(f"the reference classifier needs benign and malignant {name} tiles, "
                             f"got classes {sorted(set(np.unique(y).tolist()))}")
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    model.fit((x_train - mean) / scale, y_train)
    clf = ReferenceClassifier(mean, scale, model.coef_[0].astype(np.float64),
                              float(model.intercept_[0]), 0.5, {})
    val_scores = clf.score(x_val)
    threshold, bal_acc = balanced_accuracy_threshold(val_scores, y_val)
    real = {name: class_fidelity(val_scores[y_val == label], threshold) | {"n": int((y_val == label).sum())}
            for name, label in (("malignant", 1), ("benign", 0))}
    return {
        "model": "logistic regression on standardised in-domain encoder features",
        "C": float(C), "mean": mean.tolist(), "scale": scale.tolist(),
        "coef": clf.coef.tolist(), "intercept": clf.intercept, "threshold": threshold,
        "threshold_rule": "max balanced accuracy on real val tiles",
        "n_train": {"benign": int((y_train == 0).sum()), "malignant": int((y_train == 1).sum())},
        "val_balanced_accuracy": bal_acc,
        "val_roc_auc": float(roc_auc_score(y_val, val_scores)),
        "real_val": real,
    }


def labelled_features(split_dir: str | Path, encoder) -> tuple[np.ndarray, np.ndarray]:
    """In-domain features and 0/1 labels of a split's class folders 0 and 1."""
    feats, labels = [], []
    for label in (0, 1):
        tiles = load_split_tiles(split_dir, (str(label),))
        feats.append(indomain_features(tiles, encoder))
        labels.append(np.full(len(tiles), label))
    return np.concatenate(feats), np.concatenate(labels)


def write_reference_classifier(train_dir: str | Path, val_dir: str | Path,
                               encoder_path: str | Path, out_path: str | Path, C: float) -> dict:
    """Rule reference_classifier: fit on the real train split, threshold on val, write JSON."""
    encoder = load_encoder(encoder_path)
    out = fit_reference_classifier(labelled_features(train_dir, encoder),
                                   labelled_features(val_dir, encoder), C)
    log.info("reference classifier: val ROC-AUC %.3f, balanced accuracy %.3f at threshold %.3f; "
             "real val malignant called malignant %.2f, benign %.2f", out["val_roc_auc"],
             out["val_balanced_accuracy"], out["threshold"],
             out["real_val"]["malignant"]["class_fidelity"], out["real_val"]["benign"]["class_fidelity"])
    write_json(out_path, out)
    return out


def load_reference_classifier(path: str | Path) -> ReferenceClassifier:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference classifier file not found: {path}")
    try:
        data = json.loads(path.read_text())
        return ReferenceClassifier(np.asarray(data["mean"], dtype=np.float64),
                                   np.asarray(data["scale"], dtype=np.float64),
                                   np.asarray(data["coef"], dtype=np.float64),
                                   float(data["intercept"]), float(data["threshold"]),
                                   data["real_val"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is not a reference classifier written by "
                         f"write_reference_classifier: {err!r}") from err
