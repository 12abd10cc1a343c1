"""Resampled distributions of every configuration: test patients, then replicates or seeds.

A *configuration* is one ``(test_set, classifier, phase, arm)``; its runs are its classifier
seeds x generator replicates. Its *units* are what the method-level question resamples: the
generator replicates of a generator arm (each unit the mean over its seeds), the classifier
seeds of an arm without a generator (baseline, control arms, learning-curve arms).

Stage 1 (shared): ``B`` cluster-bootstrap draws of test patients (stratified by whether a
patient has a malignant tile), one set per test set, the same for every configuration, so
contrasts between arms are paired. Every unit's metric is computed on the full test set
(row 0) and on each draw: :class:`Units` (``values[metric]``: (n_units, 1 + B)).

Stage 2 (per configuration): on draw b the configuration's units are drawn with replacement,
independently of other configurations, and their deviations from the configuration's mean
are inflated by sqrt(U / (U - 1)) (U units), so the stage-2 variance is the unbiased s^2 / U.
:func:`two_stage` gives, per metric, an array (1 + B,): row 0 the estimate (mean over the
configuration's runs on the full test set), rows 1..B the two-stage resamples. These are the
joint resamples of the family-wise step (:mod:`.contrasts`) and what ``worth`` reads
(:func:`configuration_distributions`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from isicgan.classify.datasets import read_manifest
from isicgan.classify.metrics import (
    ALL_METRICS,
    VAL_SUFFIX,
    interval,
    patient_resamples,
    weighted_metrics,
)

log = logging.getLogger(__name__)

#: a configuration: (test_set, classifier, phase, arm)
CONFIG_KEYS = ["test_set", "classifier", "phase", "arm"]
#: the dimensions that tell runs of one configuration apart (``replicate``: generator replicate)
RUN_DIMS = ["seed", "replicate"]
#: the test sets, in table order
TEST_SETS = ["test", "external"]
#: what the intervals resample, stated in every table
RESAMPLED = "test patients, generator replicates, classifier seeds"
#: scores that differ by no more than this across seeds count as identical (stored rounded to
#: 6 decimals)
SAME_SCORE = 1.5e-6
LEVEL = 0.95


def run_dims(frame: pd.DataFrame) -> list[str]:
    """``seed``, plus ``replicate`` when the frame has it."""
    return [c for c in RUN_DIMS if c in frame.columns]


def with_test_set(frame: pd.DataFrame) -> pd.DataFrame:
    """``test_set`` of every row: the column itself, runs.csv's ``split``, or ``test``."""
    if "test_set" in frame.columns:
        return frame
    if "split" in frame.columns:
        return frame.assign(test_set=frame["split"])
    return frame.assign(test_set="test")


def test_set_order(values) -> list[str]:
    """The test sets present, ``test`` first, then ``external``, then any other."""
    present = list(dict.fromkeys(values))
    return [t for t in TEST_SETS if t in present] + [t for t in present if t not in TEST_SETS]


def read_predictions(paths: list[str | Path]) -> pd.DataFrame:
    frames = []
    for p in paths:
        frame = pd.read_csv(p, dtype={"isic_id": str, "arm": str})
        missing = {"classifier", "phase", "arm", "seed", "isic_id", "target", "score"} - set(frame)
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(sorted(missing))}")
        frames.append(with_test_set(frame))
    return pd.concat(frames, ignore_index=True)


def patients_of_tiles(manifest_path: str | Path, ids: list[str], split: str = "test") -> np.ndarray:
    """The patient of every ``split`` tile in ``ids``, from the manifest; a clear error if not."""
    manifest = read_manifest(manifest_path)
    tiles = manifest[manifest["split"] == split].set_index("isic_id")["patient_id"]
    missing = [i for i in ids if i not in tiles.index]
    if missing:
        raise ValueError(
            f"{manifest_path}: {len(missing)} predicted tile(s) are not {split} tiles "
            f"of the manifest (first: {missing[0]}); the predictions and the manifest "
            "come from different runs"
        )
    return tiles.loc[ids].to_numpy()


def small_sample_factor(patients: np.ndarray, y: np.ndarray) -> float:
    """n / (n - 1) of the smaller patient stratum: the bootstrap variance's bias correction."""
    frame = pd.DataFrame({"p": patients, "y": y}).groupby("p")["y"].max()
    sizes = [int(s) for s in frame.value_counts().to_numpy() if s > 1]
    return min(sizes) / (min(sizes) - 1) if sizes else 1.0


@dataclass
class Units:
    """One configuration's units on the full test set (column 0) and the patient draws."""

    values: dict[str, np.ndarray]  # metric -> (n_units, 1 + B)
    generator: bool  # units are generator replicates (else seeds)
    n_runs: int
    n_seeds: int
    n_replicates: int
    deterministic: bool
    one_class: dict[str, bool]  # threshold suffix -> some run predicts one class only

    @property
    def n_units(self) -> int:
        return len(next(iter(self.values.values())))


@dataclass
class Resampled:
    """Every configuration's :class:`Units`, per test set the patients and the draw count."""

    units: dict[tuple, Units] = field(default_factory=dict)
    n_patients: dict[str, int] = field(default_factory=dict)
    small_sample: dict[str, float] = field(default_factory=dict)
    n_boot: int = 0
    seed: int = 0


def configuration_units(
    y: np.ndarray,
    scores: np.ndarray,
    runs: pd.DataFrame,
    weights: np.ndarray,
    thresholds: dict[str, Any],
    pauc_min_tpr: float,
) -> Units:
    """The units of one configuration from its runs' scores (runs, n) under ``weights``.

    ``runs`` (one row per score row) has ``seed`` and optionally ``replicate``; a configuration
    whose replicates are > 0 is a generator arm (units: replicates), else its units are seeds.
    ``weights`` (1 + B, n): row 0 all ones. ``thresholds``: suffix -> threshold(s) as in
    :func:`~isicgan.classify.metrics.weighted_metrics`.
    """
    metrics = weighted_metrics(y, scores, weights, thresholds, pauc_min_tpr)
    reps = runs["replicate"].to_numpy() if "replicate" in runs else np.zeros(len(runs), int)
    seeds = runs["seed"].to_numpy()
    generator = bool((reps > 0).any())
    labels = reps if generator else seeds
    unit_ids, unit_of_run = np.unique(labels, return_inverse=True)
    counts = np.bincount(unit_of_run).astype(float)
    values = {}
    for m, v in metrics.items():  # v: (runs, 1 + B); unit mean over its runs
        sums = np.zeros((len(unit_ids), v.shape[1]))
        np.add.at(sums, unit_of_run, v)
        values[m] = sums / counts[:, None]
    n_seeds = len(np.unique(seeds))
    deterministic = n_seeds > 1 and all(
        np.ptp(scores[reps == r], axis=0).max() <= SAME_SCORE for r in np.unique(reps)
    )
    one_class = {}
    for suffix, t in thresholds.items():
        pred = scores > np.broadcast_to(np.asarray(t, dtype=float), (len(scores),))[:, None]
        one_class[suffix] = bool((pred.all(axis=1) | (~pred).all(axis=1)).any())
    return Units(
        values=values,
        generator=generator,
        n_runs=len(runs),
        n_seeds=n_seeds,
        n_replicates=len(np.unique(reps)),
        deterministic=bool(deterministic),
        one_class=one_class,
    )


def resample_configurations(
    preds: pd.DataFrame,
    runs: pd.DataFrame,
    patients: dict[str, np.ndarray],
    *,
    n_boot: int,
    seed: int,
    threshold: float,
    pauc_min_tpr: float,
) -> Resampled:
    """Every configuration's units on the shared patient draws (one pass over the runs).

    ``preds``: predictions with ``test_set``; ``runs``: runs.csv rows of the test sets (their
    ``val_threshold``); ``patients[test_set]``: the patient of every tile of that test set, in
    the order of its sorted tile ids.
    """
    preds, runs = with_test_set(preds), with_test_set(runs)
    dims = run_dims(preds)
    if run_dims(runs) != dims:
        raise ValueError(
            f"runs.csv tells runs apart by {run_dims(runs)}, the predictions by "
            f"{dims}: they come from different versions of the classify stage"
        )
    keys = CONFIG_KEYS + dims
    if runs.duplicated(keys).any():
        raise ValueError(
            f"runs.csv: more than one row for run "
            f"{runs.loc[runs.duplicated(keys), keys].iloc[0].tolist()}"
        )
    out = Resampled(n_boot=n_boot, seed=seed)
    start = time.time()
    for test_set in test_set_order(preds["test_set"]):
        part = preds[preds["test_set"] == test_set]
        ref = part.drop_duplicates("isic_id").sort_values("isic_id")
        ids, y = ref["isic_id"].tolist(), ref["target"].to_numpy().astype(int)
        pts = np.asarray(patients[test_set])
        n = len(ids)
        weights = np.vstack([np.ones((1, n)), patient_resamples(pts, y, n_boot, seed)])
        out.n_patients[test_set] = len(np.unique(pts))
        out.small_sample[test_set] = small_sample_factor(pts, y)
        column = pd.Categorical(part["isic_id"], categories=ids).codes
        part = (
            part.assign(_column=column)
            .merge(runs[keys + ["val_threshold"]], on=keys, how="left")
            .sort_values(keys + ["_column"], kind="stable")
        )
        score = part["score"].to_numpy(dtype=float)
        column = part["_column"].to_numpy()
        val_threshold = part["val_threshold"].to_numpy(dtype=float)
        for key, rows in part.groupby(CONFIG_KEYS, sort=False).indices.items():
            n_runs = len(rows) // n
            if len(rows) != n_runs * n or (column[rows].reshape(n_runs, n) != np.arange(n)).any():
                raise ValueError(f"predictions of {key} do not hold each tile once per run")
            val_t = val_threshold[rows[::n]]
            if np.isnan(val_t).any():
                raise ValueError(
                    f"runs.csv has no {test_set} row (val_threshold) for a run of {key}"
                )
            index = part.iloc[rows[::n]][dims].reset_index(drop=True)
            out.units[key] = configuration_units(
                y,
                score[rows].reshape(n_runs, n),
                index,
                weights,
                {"": threshold, VAL_SUFFIX: val_t},
                pauc_min_tpr,
            )
    log.info(
        "%d configurations x %d patient draws in %.1f s",
        len(out.units),
        n_boot,
        time.time() - start,
    )
    return out


def sample_variance(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Variance with ddof 1, NaNs ignored (the fast path when there are none)."""
    if np.isnan(x).any():
        return np.nanvar(x, axis=axis, ddof=1)
    out = np.var(x, axis=axis, ddof=1)
    return float(out) if axis is None else out


def unit_variance(units: np.ndarray) -> tuple[float, float, int]:
    """The between-unit variance of an arm mean, s^2 / U, the part of it that is unit x
    patient interaction, and its degrees of freedom U - 1 (0, 0, 0 for one unit).

    s^2 (of the unit means on the full test set) also holds the unit x patient interaction,
    which the patient draws count too; it is estimated from how each unit's deviation from
    the arm mean moves over the draws: mean_u var_b(dev_u) / (U - 1).
    """
    n_units = len(units)
    if n_units < 2:
        return 0.0, 0.0, 0
    between = float(np.var(units[:, 0], ddof=1)) / n_units
    deviations = units[:, 1:] - units[:, 1:].mean(axis=0)
    interaction = float(np.mean(sample_variance(deviations, axis=1))) / (n_units - 1)
    return between, interaction, n_units - 1


def two_stage(units: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(1 + B,) from (U, 1 + B) unit values: row 0 the mean; row b the mean of U units drawn
    with replacement on patient draw b, their deviations from the mean scaled so that the
    stage-2 variance is s^2 / U less the interaction (:func:`unit_variance`; the plain
    sqrt(U / (U - 1)) inflation would give s^2 / U and count the interaction twice)."""
    mean = units.mean(axis=0)
    n_units, width = units.shape
    if n_units < 2:
        return mean
    between, interaction, _ = unit_variance(units)
    corrected = max(between - interaction, 0.0)
    drawn = rng.integers(0, n_units, size=(n_units, width - 1))
    picked = np.take_along_axis(units[:, 1:], drawn, axis=0).mean(axis=0)
    scale = np.sqrt(corrected / between * n_units / (n_units - 1)) if between > 0 else 0.0
    return np.concatenate([mean[:1], mean[1:] + scale * (picked - mean[1:])])


def configuration_distributions(
    res: Resampled, metrics: list[str] | None = None
) -> dict[tuple, dict[str, np.ndarray]]:
    """Per configuration key ``(test_set, classifier, phase, arm)`` and metric: (1 + B,).

    Row 0 the estimate (mean over the configuration's runs on the full test set); rows 1..B the
    two-stage resamples (patients shared by every configuration of the test set, units drawn
    independently per configuration). Reproducible: configuration i of the sorted keys draws
    from ``default_rng([seed, i])``; every metric of a configuration uses the same unit draws.
    """
    out = {}
    for i, key in enumerate(sorted(res.units, key=str)):
        u = res.units[key]
        names = metrics or list(u.values)
        out[key] = {}
        for m in names:
            rng = np.random.default_rng([res.seed, i])  # same unit draws for every metric
            out[key][m] = two_stage(u.values[m], rng)
    return out


def n_real_malignant(runs: pd.DataFrame, train_malignant: int) -> dict[tuple, float]:
    """Per configuration key: real malignant train tiles of its runs (mean over its runs).

    runs.csv's ``n_real_malignant`` where the classify stage wrote it (rows without it, or
    runs.csv files without the column, count every real malignant train tile:
    ``train_malignant``, the manifest's count).
    """
    runs = with_test_set(runs)
    if "n_real_malignant" not in runs.columns:
        runs = runs.assign(n_real_malignant=np.nan)
    column = runs["n_real_malignant"].astype(float).fillna(float(train_malignant))
    return {
        k: float(v)
        for k, v in column.groupby([runs[c] for c in CONFIG_KEYS], sort=False).mean().items()
    }


def percentile_intervals(
    samples: np.ndarray, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each row of (k, n_boot) bootstrap samples (NaNs ignored)."""
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    lo, hi = np.full(len(samples), np.nan), np.full(len(samples), np.nan)
    has_nan = np.isnan(samples).any(axis=1)
    if (~has_nan).any():
        lo[~has_nan], hi[~has_nan] = np.percentile(samples[~has_nan], q, axis=1)
    for i in np.flatnonzero(has_nan):  # a resample without one class: rare, row by row
        lo[i], hi[i] = interval(samples[i], level)
    return lo, hi


__all__ = [
    "ALL_METRICS",
    "CONFIG_KEYS",
    "Resampled",
    "Units",
    "configuration_distributions",
    "configuration_units",
    "n_real_malignant",
    "percentile_intervals",
    "read_predictions",
    "resample_configurations",
    "two_stage",
]
