"""Tables of the classifier study: arms, thesis tables 6.1-6.6, paired contrasts, comparison.

``arms.csv`` holds, per classifier x phase x arm, every test metric's mean over the runs
(seeds x generator replicates, when runs.csv has a ``replicate`` column), its standard
deviation where the runs differ, and a 95 % interval of the run-averaged metric from a
bootstrap of *test patients* (a cluster bootstrap, stratified by whether a patient has a
malignant test tile). Every configuration is evaluated on the same resamples, so intervals
are comparable across arms and differences between arms are paired (``contrasts.csv``).
Thresholded metrics come at ``evaluation.threshold`` (0.5, the thesis; unsuffixed) and at
the threshold chosen per run on val (maximum balanced accuracy; suffix ``_valthr``).
The phase tables are slices of ``arms.csv``: phase 0 (``baseline.csv``, thesis table 6.1)
and phase k with the arm ``synthesis.generator`` (``phase{k}.csv``, thesis tables 6.2-6.6).
"""
from __future__ import annotations

import html
import importlib.metadata
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.stats import norm

from isicgan.io import write_csv, write_text

from .datasets import read_manifest
from .metrics import (ALL_METRICS, CLASS_METRICS, VAL_SUFFIX, interval, patient_resamples,
                      weighted_metrics)
from .models import DISPLAY_NAMES
from .study import read_runs

log = logging.getLogger(__name__)

PHASE_COLUMNS = ["algorithm"] + CLASS_METRICS
THESIS_METRICS = ["benign_precision", "benign_recall", "malignant_precision", "malignant_recall"]
GROUP_KEYS = ["classifier", "phase", "arm"]
#: the dimensions that tell runs of one configuration apart (``replicate``: generator replicate)
RUN_DIMS = ["seed", "replicate"]
#: what the bootstrap resamples, stated in every table
RESAMPLED = "test patients"
#: scores that differ by no more than this across seeds count as identical (they are stored
#: rounded to 6 decimals)
SAME_SCORE = 1.5e-6
#: contrasts: metric, which threshold (None: threshold-free), in table order
CONTRAST_METRICS = [("roc_auc", None), ("pauc_80", None), ("average_precision", None),
                    ("balanced_accuracy", "fixed"), ("balanced_accuracy", "val"),
                    ("malignant_recall", "fixed"), ("malignant_recall", "val")]
BASELINE = "baseline"
CONTRAST_COLUMNS = ["classifier", "algorithm", "phase", "gan", "reference", "metric", "threshold",
                    "gan_mean", "reference_mean", "difference", "ci_low", "ci_high",
                    "excludes_zero", "p_value", "p_holm", "holm_significant", "n_contrasts",
                    "gan_runs", "reference_runs", "ci_resampled", "n_test_patients", "n_boot"]
#: columns of contrasts.csv set for the whole table, after the rows are made
_TABLE_WIDE = {"p_holm", "holm_significant", "n_contrasts", "ci_resampled", "n_test_patients",
               "n_boot"}
LEVEL = 0.95
ALPHA = 0.05


def run_dims(frame: pd.DataFrame) -> list[str]:
    """``seed``, plus ``replicate`` when the frame has it."""
    return [c for c in RUN_DIMS if c in frame.columns]


def read_predictions(paths: list[str | Path]) -> pd.DataFrame:
    frames = []
    for p in paths:
        frame = pd.read_csv(p, dtype={"isic_id": str, "arm": str})
        missing = {"classifier", "phase", "arm", "seed", "isic_id", "target", "score"} - set(frame)
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(sorted(missing))}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def patients_of_tiles(manifest_path: str | Path, ids: list[str]) -> np.ndarray:
    """The patient of every test tile in ``ids``, from the manifest; a clear error otherwise."""
    manifest = read_manifest(manifest_path)
    test = manifest[manifest["split"] == "test"].set_index("isic_id")["patient_id"]
    missing = [i for i in ids if i not in test.index]
    if missing:
        raise ValueError(f"{manifest_path}: {len(missing)} predicted tile(s) are not test tiles of "
                         f"the manifest (first: {missing[0]}); the predictions and the manifest "
                         "come from different runs")
    return test.loc[ids].to_numpy()


@dataclass
class Resampled:
    """Run-averaged metrics of every configuration on the test split (row 0) and resamples.

    ``dist[key][metric]`` is (1 + n_boot,): row 0 the mean over the configuration's runs on
    the test split itself, rows 1.. the same on each resample of test patients.
    """
    dist: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)
    runs: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    n_patients: int = 0
    n_boot: int = 0


def resample_configurations(preds: pd.DataFrame, test_runs: pd.DataFrame, patients: np.ndarray,
                            y: np.ndarray, ids: list[str], *, n_boot: int, seed: int,
                            threshold: float, pauc_min_tpr: float) -> Resampled:
    """Every configuration's metrics on the same patient resamples (one pass over the runs).

    ``test_runs`` (runs.csv test rows) gives each run's val-chosen threshold. A configuration
    is *deterministic* when every seed gave the same test scores (within each replicate).
    """
    dims = run_dims(preds)
    if run_dims(test_runs) != dims:
        raise ValueError(f"runs.csv tells runs apart by {run_dims(test_runs)}, the predictions by "
                         f"{dims}: they come from different versions of the classify stage")
    n = len(ids)
    weights = np.vstack([np.ones((1, n)),
                         patient_resamples(patients, y, n_boot, seed)]).astype(np.float32)
    keys = GROUP_KEYS + dims
    if test_runs.duplicated(keys).any():
        raise ValueError(f"runs.csv: more than one test row for run "
                         f"{test_runs.loc[test_runs.duplicated(keys), keys].iloc[0].tolist()}")
    column = pd.Categorical(preds["isic_id"], categories=ids).codes
    if (column < 0).any():
        raise ValueError(f"predictions hold a tile that is not a test tile: "
                         f"{preds['isic_id'][column < 0].iloc[0]}")
    preds = (preds.assign(_column=column)
             .merge(test_runs[keys + ["val_threshold"]], on=keys, how="left")
             .sort_values(keys + ["_column"], kind="stable"))
    score = preds["score"].to_numpy(dtype=float)
    column = preds["_column"].to_numpy()
    val_threshold = preds["val_threshold"].to_numpy(dtype=float)
    run_values = preds[dims].to_numpy()
    out = Resampled(n_patients=len(np.unique(patients)), n_boot=n_boot)
    start = time.time()
    for key, rows in preds.groupby(GROUP_KEYS, sort=False).indices.items():
        n_runs = len(rows) // n
        if len(rows) != n_runs * n or (column[rows].reshape(n_runs, n) != np.arange(n)).any():
            raise ValueError(f"predictions of {key} do not hold each test tile once per run")
        scores = score[rows].reshape(n_runs, n)
        index = pd.DataFrame(run_values[rows[::n]], columns=dims)
        val_t = val_threshold[rows[::n]]
        if np.isnan(val_t).any():
            raise ValueError(f"runs.csv has no test row (val_threshold) for a run of {key}")
        metrics = weighted_metrics(y, scores, weights, {"": threshold, VAL_SUFFIX: val_t},
                                   pauc_min_tpr)
        out.dist[key] = {m: v.mean(axis=0) for m, v in metrics.items()}
        out.runs[key] = _run_info(index, scores)
    log.info("%d configurations x %d resamples of %d test patients in %.1f s", len(out.dist),
             n_boot, out.n_patients, time.time() - start)
    return out


def _run_info(index: pd.DataFrame, scores: np.ndarray) -> dict[str, Any]:
    """Runs, seeds and replicates of one configuration, and whether the seed changed anything."""
    n_seeds = index["seed"].nunique()
    reps = index["replicate"].to_numpy() if "replicate" in index else np.zeros(len(index))
    deterministic = n_seeds > 1 and all(
        np.ptp(scores[reps == r], axis=0).max() <= SAME_SCORE for r in np.unique(reps))
    return {"n_runs": len(index), "n_seeds": int(n_seeds), "n_replicates": len(np.unique(reps)),
            "deterministic": bool(deterministic)}


def intervals(samples: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each row of (k, n_boot) bootstrap samples (NaNs ignored)."""
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    lo, hi = np.full(len(samples), np.nan), np.full(len(samples), np.nan)
    has_nan = np.isnan(samples).any(axis=1)
    if (~has_nan).any():
        lo[~has_nan], hi[~has_nan] = np.percentile(samples[~has_nan], q, axis=1)
    for i in np.flatnonzero(has_nan):       # a resample without one class: rare, row by row
        lo[i], hi[i] = interval(samples[i], level)
    return lo, hi


def _spread(g: pd.DataFrame, info: dict[str, Any], metrics: list[str]) -> tuple[str, np.ndarray]:
    """Standard deviations over the runs that differ, and what they are over.

    Deterministic configurations (identical scores for every seed) have no seed spread: their
    std is over generator replicates when there are several, else empty (not 0).
    """
    if info["deterministic"]:
        if info["n_replicates"] > 1:
            per_rep = g.groupby("replicate")[metrics].mean().to_numpy()
            return "replicates", per_rep.std(axis=0, ddof=1)
        return "none (deterministic)", np.full(len(metrics), np.nan)
    if len(g) < 2:
        return "none (one run)", np.full(len(metrics), np.nan)
    over = "seeds x replicates" if info["n_replicates"] > 1 else "seeds"
    return over, g[metrics].to_numpy(dtype=float).std(axis=0, ddof=1)


def arms_table(runs: pd.DataFrame, res: Resampled, threshold: float) -> pd.DataFrame:
    """Per classifier x phase x arm: test metric means, _std, patient-bootstrap 95 % CIs."""
    test = runs[runs["split"] == "test"]
    rows = []
    for key, g in test.groupby(GROUP_KEYS, sort=False):
        if key not in res.dist:
            raise ValueError(f"no test predictions for {key}")
        info = res.runs[key]
        row: dict[str, Any] = dict(zip(GROUP_KEYS, key))
        row["algorithm"] = g["algorithm"].iloc[0]
        row["n_added"] = int(g["n_added"].iloc[0])
        row["n_train"] = int(g["n_train"].iloc[0])
        row["n_seeds"] = info["n_seeds"]
        row["n_replicates"] = info["n_replicates"]
        row["deterministic"] = info["deterministic"]
        row["backbone_weights"] = g["backbone_weights"].iloc[0]
        row["spread_over"], stds = _spread(g, info, ALL_METRICS)
        row["threshold"] = threshold
        row["val_threshold"] = g["val_threshold"].mean()
        row["val_threshold_min"] = g["val_threshold"].min()
        row["val_threshold_max"] = g["val_threshold"].max()
        row["ci_resampled"] = RESAMPLED
        row["n_test_patients"] = res.n_patients
        row["n_boot"] = res.n_boot
        means = g[ALL_METRICS].to_numpy(dtype=float).mean(axis=0)
        lo, hi = intervals(np.stack([res.dist[key][m][1:] for m in ALL_METRICS]))
        for i, m in enumerate(ALL_METRICS):
            row[m], row[f"{m}_std"] = means[i], stds[i]
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = lo[i], hi[i]
        rows.append(row)
    table = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(DISPLAY_NAMES)}
    table = table.sort_values(["classifier", "phase", "arm"],
                              key=lambda s: s.map(order) if s.name == "classifier" else s,
                              kind="stable").reset_index(drop=True)
    lead = ["algorithm", "classifier", "phase", "arm", "n_added", "n_train", "n_seeds",
            "n_replicates", "deterministic", "spread_over", "backbone_weights"]
    stats = [c for m in ALL_METRICS for c in (m, f"{m}_std", f"{m}_ci_low", f"{m}_ci_high")]
    tail = ["threshold", "val_threshold", "val_threshold_min", "val_threshold_max",
            "ci_resampled", "n_test_patients", "n_boot"]
    return _round(table[lead + stats + tail])


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(4)
    return out


def phase_table(arms: pd.DataFrame, phase: int, generator: str, names: list[str]) -> pd.DataFrame:
    """Thesis table layout for one phase: six algorithms, class metrics first, then the rest."""
    arm = "baseline" if phase == 0 else generator
    sel = arms[(arms["phase"] == phase) & (arms["arm"] == arm)].set_index("classifier")
    missing = [n for n in names if n not in sel.index]
    if missing:
        raise ValueError(f"no phase {phase} / arm {arm} results for {', '.join(missing)}")
    sel = sel.loc[names].reset_index()
    further = [m for m in ALL_METRICS if m not in CLASS_METRICS]
    cols = (PHASE_COLUMNS + further + [f"{m}_std" for m in ALL_METRICS]
            + [f"{m}_{b}" for m in ALL_METRICS for b in ("ci_low", "ci_high")]
            + ["phase", "arm", "n_train", "n_added", "n_seeds", "n_replicates", "deterministic",
               "spread_over", "threshold", "val_threshold", "val_threshold_min",
               "val_threshold_max", "ci_resampled", "n_test_patients", "n_boot",
               "backbone_weights"])
    return sel[cols]


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def bootstrap_p(point: float, samples: np.ndarray) -> float:
    """Two-sided p-value of a difference of 0, from its bootstrap standard error.

    p = 2 * (1 - Phi(|point| / sd(samples))). The plain share of resamples beyond 0 cannot
    go below 1 / n_boot, far above what a Holm correction over hundreds of contrasts needs,
    so the bootstrap standard error (normal approximation) is used instead.
    """
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if np.isnan(point) or len(samples) < 2:
        return float("nan")
    se = samples.std(ddof=1)
    if se == 0:
        return 1.0 if point == 0 else 0.0
    return float(2 * norm.sf(abs(point) / se))


def contrasts_table(res: Resampled, runs: pd.DataFrame, gans: list[str], controls: list[str],
                    threshold: float) -> pd.DataFrame:
    """GAN arm minus baseline (phase 0) and minus each control arm, per classifier x phase.

    Differences of run-averaged metrics, paired on the same patient resamples; 95 %
    percentile interval, ``excludes_zero``, a bootstrap p-value and Holm's correction over
    every contrast of the table (``n_contrasts``).
    """
    names = runs.drop_duplicates("classifier").set_index("classifier")["algorithm"]
    order = {c: i for i, c in enumerate(DISPLAY_NAMES)}
    keys = sorted((k for k in res.dist if k[2] in gans and k[1] > 0),
                  key=lambda k: (order.get(k[0], len(order)), k[1], gans.index(k[2])))
    rows, diffs = [], []
    for clf, phase, gan in keys:
        refs = [(BASELINE, (clf, 0, BASELINE))] + [(c, (clf, phase, c)) for c in controls]
        for ref_name, ref_key in refs:
            if ref_key not in res.dist:
                continue
            for metric, which in CONTRAST_METRICS:
                column = metric + (VAL_SUFFIX if which == "val" else "")
                a, b = res.dist[(clf, phase, gan)][column], res.dist[ref_key][column]
                diffs.append(a - b)
                rows.append({
                    "classifier": clf, "algorithm": names.get(clf, clf), "phase": phase,
                    "gan": gan, "reference": ref_name, "metric": metric,
                    "threshold": {None: "none", "fixed": f"{threshold:g}", "val": "val"}[which],
                    "gan_mean": a[0], "reference_mean": b[0], "difference": a[0] - b[0],
                    "gan_runs": res.runs[(clf, phase, gan)]["n_runs"],
                    "reference_runs": res.runs[ref_key]["n_runs"]})
    if rows:
        d = np.stack(diffs)
        lo, hi = intervals(d[:, 1:])
        for row, low, high, point, samples in zip(rows, lo, hi, d[:, 0], d[:, 1:]):
            row.update(ci_low=low, ci_high=high, excludes_zero=bool(low > 0 or high < 0),
                       p_value=bootstrap_p(point, samples))
    table = pd.DataFrame(rows, columns=[c for c in CONTRAST_COLUMNS if c not in _TABLE_WIDE])
    table["p_holm"] = holm(table["p_value"].to_numpy())
    # significant: Holm-adjusted p below 5 % and, so the two never disagree, an interval
    # without 0 (the normal approximation could pass a skewed difference the interval keeps)
    table["holm_significant"] = (table["p_holm"] < ALPHA) & table["excludes_zero"].astype(bool)
    table["n_contrasts"] = int(table["p_value"].notna().sum())
    table["ci_resampled"] = RESAMPLED
    table["n_test_patients"] = res.n_patients
    table["n_boot"] = res.n_boot
    return _round(table[CONTRAST_COLUMNS])


METRIC_LABELS = {"roc_auc": "ROC-AUC", "pauc_80": "pAUC (TPR > 0.8)",
                 "average_precision": "average precision", "balanced_accuracy": "balanced accuracy",
                 "malignant_recall": "malignant recall"}


def metric_label(metric: str, threshold: str) -> str:
    label = METRIC_LABELS.get(metric, metric)
    if threshold == "none":
        return label
    return f"{label} @ {'val threshold' if threshold == 'val' else threshold}"


def headline(contrasts: pd.DataFrame) -> str:
    """One sentence: does a GAN beat plain rebalancing, by the Holm-corrected contrasts?"""
    if contrasts.empty:
        return "No GAN arm was run, so there is no contrast to report."
    vs_control = contrasts[contrasts["reference"] != BASELINE]
    if vs_control.empty:
        return "No control arm was run, so GANs were compared with the baseline only."
    m = int(contrasts["n_contrasts"].iloc[0])
    sig = vs_control[vs_control["holm_significant"]]
    better, worse = sig[sig["difference"] > 0], sig[sig["difference"] < 0]
    raw_better = int(((vs_control["ci_low"] > 0)).sum())
    raw_worse = int(((vs_control["ci_high"] < 0)).sum())
    if len(better):
        top = better.sort_values("p_holm").iloc[0]
        verdict = "Yes" if len(better) == len(vs_control) else "Only in part"
        return (f"{verdict}: in {len(better)} of {len(vs_control)} GAN-minus-control contrasts "
                f"the GAN arm is better after Holm correction over all {m} contrasts "
                f"({len(worse)} favour the control); strongest: {top['gan']} minus "
                f"{top['reference']}, {top['algorithm']}, phase {top['phase']}, "
                f"{metric_label(top['metric'], top['threshold'])} "
                f"{top['difference']:+.3f} [{top['ci_low']:+.3f}, {top['ci_high']:+.3f}].")
    return (f"No: none of {len(vs_control)} GAN-minus-control contrasts favours the GAN after "
            f"Holm correction over all {m} contrasts ({len(worse)} favour the control; "
            f"unadjusted, {raw_better} intervals lie above 0 and {raw_worse} below).")


def contrasts_summary(contrasts: pd.DataFrame) -> str:
    """reStructuredText for the report: the headline and counts per reference and metric."""
    lines = ["**Does a GAN beat plain rebalancing?** " + headline(contrasts), ""]
    if contrasts.empty:
        return "\n".join(lines) + "\n"
    refs = list(dict.fromkeys(contrasts["reference"]))
    lines += ["Per metric and reference (all classifiers, phases and GANs): contrasts with the "
              "95 % interval above 0 (+) / below 0 (-), unadjusted, and in brackets those that "
              "survive Holm at 5 %.", ""]
    head = ["metric"] + [f"GAN - {r}" for r in refs]
    body = []
    for (metric, thr), g in contrasts.groupby(["metric", "threshold"], sort=False):
        cells = [metric_label(metric, thr)]
        for r in refs:
            c = g[g["reference"] == r]
            sig = c["holm_significant"]
            cells.append(f"+{int((c['ci_low'] > 0).sum())} -{int((c['ci_high'] < 0).sum())} "
                         f"(+{int((sig & (c['difference'] > 0)).sum())} "
                         f"-{int((sig & (c['difference'] < 0)).sum())}) of {len(c)}")
        body.append(cells)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    rule = "  ".join("=" * w for w in widths)
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    lines += [rule, fmt(head), rule, *map(fmt, body), rule, ""]
    return "\n".join(lines) + "\n"


def read_thesis_tables(path: str | Path) -> pd.DataFrame:
    """The thesis's published precision/recall (tables 6.1-6.6); '#' lines are the citation."""
    table = pd.read_csv(path, comment="#")
    need = {"table", "phase", "algorithm", *THESIS_METRICS}
    if need - set(table):
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(need - set(table)))}")
    return table


#: the thesis's held-out test set: 93 benign + 93 malignant tiles
THESIS_TEST_PER_CLASS = 93
#: printed values have two decimals: a printed value stands for anything within this of it
PRINT_HALF_STEP = 0.005


def thesis_count_audit(thesis: pd.DataFrame, n_per_class: int = THESIS_TEST_PER_CLASS) -> pd.DataFrame:
    """What each published row's recalls imply on a balanced ``n_per_class`` + ``n_per_class`` test set.

    A recall fixes a class's correct count: benign recall = TN / n, malignant recall = TP / n,
    so FN = n - TP and FP = n - TN, and then the precisions are fixed too:
    benign precision = TN / (TN + FN), malignant precision = TP / (TP + FP). For every published
    row and metric this gives ``implied_93_93`` (from the counts nearest the printed recalls),
    ``implied_93_93_low``/``_high`` (over all counts whose recall prints as published),
    ``consistent_93_93`` (the printed value lies in that range, within rounding; for a recall:
    some count k gives k / n within rounding), ``counts_93_93`` and ``row_consistent_93_93``.
    """
    n = int(n_per_class)
    k = np.arange(n + 1)

    def counts_for(recall: float) -> tuple[np.ndarray, int]:
        ok = k[np.abs(k / n - recall) <= PRINT_HALF_STEP + 1e-9]
        return ok, int(np.rint(recall * n))

    def precision(correct: int, wrong: int) -> float:     # scikit-learn's zero_division=0
        return correct / (correct + wrong) if correct + wrong else 0.0

    rows = []
    for _, t in thesis.iterrows():
        tn_ok, tn = counts_for(float(t["benign_recall"]))
        tp_ok, tp = counts_for(float(t["malignant_recall"]))
        pairs = [(a, b) for a in (tn_ok if len(tn_ok) else [tn]) for b in (tp_ok if len(tp_ok) else [tp])]
        implied = {
            "benign_recall": (tn / n, [a / n for a in tn_ok] or [tn / n], bool(len(tn_ok))),
            "malignant_recall": (tp / n, [b / n for b in tp_ok] or [tp / n], bool(len(tp_ok))),
            "benign_precision": (precision(tn, n - tp), [precision(a, n - b) for a, b in pairs], None),
            "malignant_precision": (precision(tp, n - tn), [precision(b, n - a) for a, b in pairs], None),
        }
        audit = []
        for m in THESIS_METRICS:
            value, spread, ok = implied[m]
            low, high = min(spread), max(spread)
            if ok is None:
                ok = bool(low - PRINT_HALF_STEP - 1e-9 <= float(t[m]) <= high + PRINT_HALF_STEP + 1e-9)
            audit.append({"thesis_table": t["table"], "algorithm": t["algorithm"], "metric": m,
                          "implied_93_93": value, "implied_93_93_low": low, "implied_93_93_high": high,
                          "consistent_93_93": ok,
                          "counts_93_93": f"TN {tn}, FN {n - tp}, FP {n - tn}, TP {tp}"})
        row_ok = all(a["consistent_93_93"] for a in audit)
        rows += [{**a, "row_consistent_93_93": row_ok} for a in audit]
    return pd.DataFrame(rows)


def thesis_comparison(arms: pd.DataFrame, thesis: pd.DataFrame, generator: str) -> pd.DataFrame:
    """Long table: thesis table, phase, algorithm, metric, thesis value, ours (mean, std, CI),
    then the audit of the published value on the thesis's 93 + 93 test set
    (:func:`thesis_count_audit`)."""
    rows = []
    for _, t in thesis.iterrows():
        arm = "baseline" if t["phase"] == 0 else generator
        ours = arms[(arms["algorithm"] == t["algorithm"]) & (arms["phase"] == t["phase"])
                    & (arms["arm"] == arm)]
        for m in THESIS_METRICS:
            row = {"thesis_table": t["table"], "phase": int(t["phase"]), "algorithm": t["algorithm"],
                   "metric": m, "thesis": float(t[m])}
            if len(ours):
                o = ours.iloc[0]
                row.update(ours=o[m], ours_std=o[f"{m}_std"], ours_ci_low=o[f"{m}_ci_low"],
                           ours_ci_high=o[f"{m}_ci_high"], difference=o[m] - float(t[m]),
                           thesis_inside_ci=bool(o[f"{m}_ci_low"] <= t[m] <= o[f"{m}_ci_high"]),
                           arm=arm, backbone_weights=o["backbone_weights"])
            else:       # a phase or classifier this run did not make (e.g. fewer batches)
                row.update(ours=np.nan, ours_std=np.nan, ours_ci_low=np.nan, ours_ci_high=np.nan,
                           difference=np.nan, thesis_inside_ci=np.nan, arm=arm,
                           backbone_weights="not run")
            rows.append(row)
    audit = thesis_count_audit(thesis)
    return _round(pd.DataFrame(rows).merge(audit, on=["thesis_table", "algorithm", "metric"],
                                           how="left", validate="one_to_one"))


def write_tables(runs_paths: list[str | Path], predictions_paths: list[str | Path],
                 thesis_path: str | Path, manifest_path: str | Path, *, generator: str,
                 names: list[str], gans: list[str], controls: list[str], batches: int,
                 n_boot: int, seed: int, threshold: float, pauc_min_tpr: float,
                 arms_out: str | Path, baseline_out: str | Path, phase_outs: list[str | Path],
                 comparison_out: str | Path, contrasts_out: str | Path,
                 summary_out: str | Path) -> None:
    """Every table of the study from the classifier runs (one bootstrap pass)."""
    if len(phase_outs) != batches:
        raise ValueError(f"{len(phase_outs)} phase tables requested for {batches} batches")
    runs = read_runs(runs_paths)
    preds = read_predictions(predictions_paths)
    ref = preds.drop_duplicates("isic_id").sort_values("isic_id")
    ids = ref["isic_id"].tolist()
    res = resample_configurations(preds, runs[runs["split"] == "test"],
                                  patients_of_tiles(manifest_path, ids), ref["target"].to_numpy(), ids,
                                  n_boot=n_boot, seed=seed, threshold=threshold,
                                  pauc_min_tpr=pauc_min_tpr)
    arms = arms_table(runs, res, threshold)
    write_csv(arms_out, arms)
    write_csv(baseline_out, phase_table(arms, 0, generator, names))
    for k, out in enumerate(phase_outs, start=1):
        write_csv(out, phase_table(arms, k, generator, names))
    write_csv(comparison_out, thesis_comparison(arms, read_thesis_tables(thesis_path), generator))
    contrasts = contrasts_table(res, runs, gans, controls, threshold)
    write_csv(contrasts_out, contrasts)
    write_text(summary_out, contrasts_summary(contrasts))
    log.info("%s", headline(contrasts))


PACKAGES = ["snakemake", "numpy", "pandas", "scipy", "scikit-learn", "tensorflow", "keras",
            "torch", "torchvision", "clean-fid", "prdc", "matplotlib", "seaborn", "pillow", "h5py"]


def package_versions(names: list[str] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_run_info(out: str | Path, config: dict[str, Any], code_version: str) -> None:
    """A small HTML page for the report: code version, package versions, the run's config."""
    versions = package_versions()
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                   for k, v in {"code version (git describe)": code_version,
                                "python": platform.python_version(),
                                "platform": platform.platform(), **versions}.items())
    config_text = html.escape(yaml.safe_dump(config, sort_keys=False))
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Run information</title>"
            "</head><body><h1>Run information</h1><table border='1'>"
            f"<tr><th>item</th><th>version</th></tr>{rows}</table>"
            f"<h2>Configuration of this run</h2><pre>{config_text}</pre></body></html>\n")
    write_text(out, page)
