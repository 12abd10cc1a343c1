"""One classifier over the whole design: phase 0 and phases 1..batches x arms, per seed.

One job per classifier (not per phase x arm x seed): importing TensorFlow and tracing a Keras
graph cost seconds, more than fitting one configuration on the demo data, and the job's
params are that classifier's config section plus the shared settings, so changing one
classifier's setting reruns only its job and the tables.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from isicgan.io import atomic_path, write_csv

from .datasets import arms_of, design, image_groups, load_features
from .metrics import METRICS, compute_metrics
from .classifiers import make_classifier
from .models import DISPLAY_NAMES

log = logging.getLogger(__name__)

NOT_APPLICABLE = "n/a (trained from scratch)"
RUN_KEYS = ["classifier", "algorithm", "phase", "arm", "seed", "replicate", "split", "n_train",
            "n_added",
            "malignant_weight", "backbone_weights"]


def run_classifier(clf: str, params: dict[str, Any], *, manifest: str | Path,
                   synthetic_files: list[str | Path], gans: list[str], arms: list[str],
                   replicates: int = 1,
                   batches: int, batch_size: int, seeds: list[int], evaluation: dict[str, Any],
                   runs_out: str | Path, predictions_out: str | Path,
                   features: tuple[str | Path, str | Path] | None = None, threads: int = 1) -> pd.DataFrame:
    """Fit ``clf`` on every training set of the design; write runs.csv and predictions.csv.gz.

    ``features`` (features.npy, index.csv) is required for the backbone heads and unused
    otherwise. Returns the runs table.
    """
    model = make_classifier(clf, params, threads)
    n_augment = batches * batch_size
    weights = NOT_APPLICABLE
    if model.uses_features:
        if features is None:
            raise ValueError(f"{clf} needs its cached backbone features")
        groups, weights = load_features(*features)
    else:
        groups = image_groups(manifest, synthetic_files, seeds, n_augment)
    sizes = {name: len(g.ids) for name, g in groups.items()}
    sets = design(groups["train"].y, batches, batch_size, arms_of(arms, gans), seeds, sizes,
                  replicates)

    eval_sets = {split: model.prepare(groups[split].x) for split in ("val", "test")}
    rows, predictions = [], []
    start = time.time()
    for i, ts in enumerate(sets):
        x, y, w = ts.assemble(groups)
        scores = model.fit_predict(ts.seed, model.prepare(x), y, w, eval_sets)
        for split in ("val", "test"):
            metrics = compute_metrics(groups[split].y, scores[split], evaluation["threshold"],
                                      evaluation["pauc_min_tpr"])
            rows.append([clf, DISPLAY_NAMES[clf], ts.phase, ts.arm, ts.seed, ts.replicate, split,
                         len(y),
                         ts.n_added, round(ts.malignant_weight, 6), weights]
                        + [metrics[m] for m in METRICS])
        test = groups["test"]
        predictions.append(pd.DataFrame({
            "classifier": clf, "phase": ts.phase, "arm": ts.arm, "seed": ts.seed,
            "replicate": ts.replicate,
            "isic_id": test.ids, "target": test.y, "score": scores["test"]}))
        log.info("%s %d/%d phase %d %-12s seed %d rep %d: n_train %d, test malignant recall "
                 "%.3f (%.0f s)", clf, i + 1, len(sets), ts.phase, ts.arm, ts.seed, ts.replicate,
                 len(y),
                 rows[-1][RUN_KEYS.index("backbone_weights") + 1 + METRICS.index("malignant_recall")],
                 time.time() - start)
    runs = pd.DataFrame(rows, columns=RUN_KEYS + METRICS)
    for m in METRICS:
        runs[m] = runs[m].round(6)
    write_csv(runs_out, runs)
    preds = pd.concat(predictions, ignore_index=True)
    preds["score"] = preds["score"].round(6)
    with atomic_path(predictions_out) as tmp:
        preds.to_csv(tmp, index=False, lineterminator="\n",
                     compression={"method": "gzip", "mtime": 0})
    return runs


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate runs.csv files, checking their columns."""
    frames = []
    for p in paths:
        frame = pd.read_csv(p)
        missing = [c for c in RUN_KEYS + METRICS if c not in frame.columns]
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(missing)}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
