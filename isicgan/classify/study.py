"""One classifier over the whole design (or one part of it): phase 0 and phases 1..batches.

One job per classifier by default (``classifiers.split: classifier``): importing TensorFlow
and tracing a Keras graph cost seconds, more than fitting one configuration on the demo
data. ``split: phase`` / ``phase_seed`` run one job per classifier x phase (x seed) for a
cluster; their part files, concatenated in phase (then seed) order, equal the one job's
files (:func:`gather_parts`). A job's params are its :class:`ClassifyDesign` (the
classifier's own settings plus the shared design), so changing one classifier's setting
reruns only its job(s) and the tables.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from isicgan.io import atomic_path, write_csv

from .classifiers import make_classifier
from .datasets import CONTROL_ARMS, EVAL_SPLITS, TEST_SETS, design, image_groups, load_features
from .metrics import METRICS, THRESHOLD_METRICS, VAL_METRICS, choose_threshold, compute_metrics
from .models import DISPLAY_NAMES

log = logging.getLogger(__name__)

NOT_APPLICABLE = "n/a (trained from scratch)"
#: the columns every reader of runs.csv needs (read_runs checks them)
RUN_KEYS = [
    "classifier",
    "algorithm",
    "phase",
    "arm",
    "seed",
    "replicate",
    "split",
    "n_train",
    "n_added",
    "malignant_weight",
    "backbone_weights",
]
#: the key columns runs.csv is written with: RUN_KEYS plus n_real_malignant (the real
#: malignant train tiles a run had: all of them, a learning-curve fraction, or 0)
RUN_COLUMNS = (
    RUN_KEYS[: RUN_KEYS.index("n_added") + 1]
    + ["n_real_malignant"]
    + RUN_KEYS[RUN_KEYS.index("n_added") + 1 :]
)
#: runs.csv after the keys: metrics at evaluation.threshold, the threshold chosen on val
#: (max balanced accuracy, the same on a run's val and test rows) and the metrics there
RUN_METRICS = METRICS + ["val_threshold"] + VAL_METRICS
#: classifiers.split: the job granularity of the classify stage
SPLITS = ("classifier", "phase", "phase_seed")


@dataclass(frozen=True)
class ClassifyDesign:
    """Everything a classify job depends on besides its input files.

    Built in ``rules/common.smk`` (``classify_params``) from the config and the wildcards as a
    plain dict, and rebuilt here with :meth:`from_dict`. ``phases`` / ``seeds_only`` select
    the part of the design one job of a split stage runs (``None``: all of it). ``threads``
    is not a param (it does not change results): the script sets it from the job's threads.
    """

    classifier: str
    settings: dict[str, Any] = field(default_factory=dict)  # classifiers.<classifier>
    gans: tuple[str, ...] = ()
    arms: tuple[str, ...] = CONTROL_ARMS
    replicates: int = 1
    batches: int = 1
    batch_size: int = 1
    seeds: tuple[int, ...] = (25,)
    threshold: float = 0.5
    pauc_min_tpr: float = 0.8
    real_fractions: tuple[float, ...] = ()
    synthetic_only: bool = False
    phases: tuple[int, ...] | None = None
    seeds_only: tuple[int, ...] | None = None
    threads: int = 1

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ClassifyDesign:
        """The design from ``dataclasses.asdict`` output or the rule's param dict."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"ClassifyDesign: unknown setting(s) {unknown}")
        tuples = {"gans", "arms", "seeds", "real_fractions", "phases", "seeds_only"}
        return cls(
            **{k: (tuple(v) if k in tuples and v is not None else v) for k, v in values.items()}
        )

    def phases_run(self) -> list[int]:
        """The phases this job fits: all of 0..batches, or ``phases``."""
        every = list(range(self.batches + 1))
        return every if self.phases is None else [p for p in every if p in self.phases]

    def seeds_run(self) -> list[int]:
        return [s for s in self.seeds if self.seeds_only is None or s in self.seeds_only]

    def n_augment(self) -> int:
        """Augmented copies per seed the ``augment`` arm needs (0 when no such phase runs)."""
        runs_augment = "augment" in self.arms and any(p > 0 for p in self.phases_run())
        return self.batches * self.batch_size if runs_augment else 0


@dataclass(frozen=True)
class ClassifyOutputs:
    runs: str | Path
    predictions: str | Path


def run_classifier(
    inputs: dict[str, Any], spec: ClassifyDesign, outputs: ClassifyOutputs
) -> pd.DataFrame:
    """Fit ``spec.classifier`` on every training set of ``spec``; write runs.csv and
    predictions.csv.gz. Returns the runs table.

    ``inputs``: ``manifest`` and ``synthetic`` (the batch files) for pixel classifiers,
    ``features`` and ``index`` (rule backbone_features) for the backbone heads.

    Every fit is scored on val, test and, when the data have it, external; the threshold
    chosen on val is applied unchanged to the test sets. runs.csv has a row per fit and
    split, predictions.csv.gz a row per fit and test-set tile (``test_set``).
    """
    model = make_classifier(spec.classifier, spec.settings, spec.threads)
    weights = NOT_APPLICABLE
    if model.uses_features:
        if "features" not in inputs:
            raise ValueError(f"{spec.classifier} needs its cached backbone features")
        groups, weights = load_features(inputs["features"], inputs["index"])
    else:
        groups = image_groups(
            inputs["manifest"],
            list(inputs.get("synthetic", [])),
            list(spec.seeds_run()),
            spec.n_augment(),
        )
    sizes = {name: len(g.ids) for name, g in groups.items()}
    sets = design(spec, groups["train"], sizes)
    splits = [s for s in EVAL_SPLITS if s in groups]
    eval_sets = {split: model.prepare(groups[split].x) for split in splits}
    rows, predictions = [], []
    start = time.time()
    for i, ts in enumerate(sets):
        x, y, w = ts.assemble(groups)
        scores = model.fit_predict(ts.seed, model.prepare(x), y, w, eval_sets)
        # chosen on val only, then applied unchanged to the test sets
        val_threshold = choose_threshold(groups["val"].y, scores["val"], spec.threshold)
        run = {
            "classifier": spec.classifier,
            "algorithm": DISPLAY_NAMES[spec.classifier],
            "phase": ts.phase,
            "arm": ts.arm,
            "seed": ts.seed,
            "replicate": ts.replicate,
            "n_train": len(y),
            "n_added": ts.n_added,
            "n_real_malignant": ts.n_real_malignant,
            "malignant_weight": round(ts.malignant_weight, 6),
            "backbone_weights": weights,
        }
        for split in splits:
            metrics = compute_metrics(
                groups[split].y, scores[split], spec.threshold, spec.pauc_min_tpr
            )
            at_val = compute_metrics(
                groups[split].y, scores[split], val_threshold, spec.pauc_min_tpr
            )
            rows.append(
                {
                    **run,
                    "split": split,
                    **{m: metrics[m] for m in METRICS},
                    "val_threshold": val_threshold,
                    **{f"{m}_valthr": at_val[m] for m in THRESHOLD_METRICS},
                }
            )
        for test_set in (s for s in TEST_SETS if s in groups):
            group = groups[test_set]
            predictions.append(
                pd.DataFrame(
                    {
                        "classifier": spec.classifier,
                        "phase": ts.phase,
                        "arm": ts.arm,
                        "seed": ts.seed,
                        "replicate": ts.replicate,
                        "test_set": test_set,
                        "isic_id": group.ids,
                        "target": group.y,
                        "score": scores[test_set],
                    }
                )
            )
        test_row = next(r for r in reversed(rows) if r["split"] == "test")
        log.info(
            "%s %d/%d phase %d %-16s seed %d rep %d: n_train %d, test malignant recall "
            "%.3f (%.0f s)",
            spec.classifier,
            i + 1,
            len(sets),
            ts.phase,
            ts.arm,
            ts.seed,
            ts.replicate,
            len(y),
            test_row["malignant_recall"],
            time.time() - start,
        )
    runs = pd.DataFrame(rows, columns=RUN_COLUMNS + RUN_METRICS)
    for m in METRICS + VAL_METRICS:
        runs[m] = runs[m].round(6)
    write_csv(outputs.runs, runs)
    # scores at full precision: the tables recompute every metric from them, and a head that
    # barely separates the tiles scores them within 1e-6 of each other (rounded, all tie)
    write_predictions(outputs.predictions, pd.concat(predictions, ignore_index=True))
    return runs


def write_predictions(path: str | Path, preds: pd.DataFrame) -> None:
    """predictions.csv.gz, byte-stable (gzip without a timestamp)."""
    with atomic_path(path) as tmp:
        preds.to_csv(
            tmp, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0}
        )


def gather_parts(
    runs_parts: list[str | Path], prediction_parts: list[str | Path], outputs: ClassifyOutputs
) -> None:
    """Concatenate the part files of a split classify stage, in the order given (phase, then
    seed), into the classifier's runs.csv and predictions.csv.gz. Every value is kept as the
    text the part holds, so the files equal those of the unsplit stage."""

    def read(paths):
        return pd.concat(
            [pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths], ignore_index=True
        )

    write_csv(outputs.runs, read(runs_parts))
    write_predictions(outputs.predictions, read(prediction_parts))


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate runs.csv files, checking their columns."""
    frames = []
    for p in paths:
        frame = pd.read_csv(p)
        missing = [c for c in RUN_KEYS + RUN_METRICS if c not in frame.columns]
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(missing)}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
