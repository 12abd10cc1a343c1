"""Paired contrasts between arms, the pre-declared primary family, max-T, verdicts.

Every contrast is a difference of run-averaged test metrics, generator arm minus reference
arm, on the same patient draws (:mod:`.resampling`). Its uncertainty has three parts
(:func:`difference`):

* the test patients: the variance of the difference over the shared patient draws, times
  n / (n - 1) of the smaller patient stratum (the bootstrap's small-sample bias);
* each arm's units (generator replicates, or classifier seeds for an arm without a
  generator): s^2 / U of the unit means on the full test set, less the part of it that the
  patient term already holds (the unit x patient interaction, estimated from how each unit's
  deviation from the arm mean moves over the patient draws), floored at 0;

and a t interval on the Welch-Satterthwaite degrees of freedom of that sum. A generator arm
with fewer than two replicates has no method-level interval (NaN).

The primary family (config ``evaluation.primary``) is controlled family-wise by a step-down
max-T (Westfall-Young, in its minP form): the joint null distribution comes from the
two-stage resamples, each contrast's resamples turned into tail probabilities by their own
ranks, so every contrast enters on the scale of its calibrated p-value. Every other contrast
is exploratory, with a Benjamini-Hochberg q-value and no verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit
from scipy.stats import chi2, rankdata

from isicgan.classify.metrics import VAL_SUFFIX

from .resampling import LEVEL, RESAMPLED, Resampled, sample_variance, test_set_order, unit_variance

ALPHA = 0.05
BASELINE = "baseline"
#: contrast metrics: metric, threshold (None: threshold-free), in table order; malignant recall
#: always has benign recall beside it (an operating-point shift moves both)
CONTRAST_METRICS = [
    ("roc_auc", None),
    ("pauc_80", None),
    ("average_precision", None),
    ("balanced_accuracy", "fixed"),
    ("balanced_accuracy", "val"),
    ("malignant_recall", "fixed"),
    ("benign_recall", "fixed"),
    ("malignant_recall", "val"),
    ("benign_recall", "val"),
]
#: the verdicts of the primary family, in report order
VERDICTS = ["better", "worse", "equivalent", "inconclusive", "too few replicates"]
EXPLORATORY = "exploratory"
ONE_CLASS = "left out: one-class predictions"
CONTRAST_COLUMNS = [
    "test_set",
    "level",
    "family",
    "classifier",
    "algorithm",
    "backbone_weights",
    "phase",
    "gan",
    "placebo",
    "reference",
    "replicate",
    "metric",
    "threshold",
    "gan_mean",
    "reference_mean",
    "difference",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "p_value",
    "adjustment",
    "p_adjusted",
    "ci_low_adjusted",
    "ci_high_adjusted",
    "margin",
    "verdict",
    "unadjusted_call",
    "one_class",
    "gan_replicates",
    "gan_runs",
    "reference_runs",
    "ci_resampled",
    "n_test_patients",
    "n_boot",
]


@dataclass(frozen=True)
class PrimarySpec:
    """The pre-declared primary question (config ``evaluation.primary``)."""

    phase: int | None = None  # None: the last phase
    metrics: tuple[str, ...] = ("pauc_80", "roc_auc")
    references: tuple[str, ...] = ("oversample", "augment", "class_weight")
    margins: dict[str, float] = field(default_factory=lambda: {"roc_auc": 0.02, "pauc_80": 0.01})
    test_set: str = "test"
    min_replicates: int = 2

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrimarySpec:
        return cls(
            phase=d.get("phase"),
            metrics=tuple(d.get("metrics", cls.metrics)),
            references=tuple(d.get("references", cls.references)),
            margins=dict(d.get("margins", {"roc_auc": 0.02, "pauc_80": 0.01})),
            test_set=d.get("test_set", "test"),
            min_replicates=int(d.get("min_replicates", 2)),
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.phase,
                self.metrics,
                self.references,
                tuple(sorted(self.margins.items())),
                self.test_set,
                self.min_replicates,
            )
        )


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


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    if m:
        scaled = p[order] * m / np.arange(1, m + 1)
        out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


@cache
def _median_factor(k: int) -> float:
    """k / median(chi2_k): a variance on k df scaled to its median-unbiased size."""
    return float(k / chi2.median(k))


def difference(
    a: np.ndarray, b: np.ndarray, *, small_sample: float, n_patients: int, level: float = LEVEL
) -> dict[str, float]:
    """Arm ``a`` minus arm ``b`` from their units (U, 1 + B) on the same patient draws.

    Returns difference, se, df, ci_low, ci_high (t interval at ``level``) and p_value (two
    sided, of a zero difference). The variance is the sum of

    * the patient term: the variance of the difference over the patient draws (times the
      small-sample factor), less the unit x patient interaction that the unit terms hold
      too (floored at 0);
    * each arm's unit term s^2 / U (its generator replicates, or its seeds), on U - 1
      degrees of freedom;

    with a t on the Welch-Satterthwaite degrees of freedom of that sum (the patient term on
    n_patients - 1). The unit terms stay plain sample variances, so a term from 2 or 3 units
    keeps its t tail. A standard error of 0 (nothing varies) gives no p-value and no
    interval (NaN), never p = 0.
    """
    d = a.mean(axis=0) - b.mean(axis=0)
    point = float(d[0])
    units = [unit_variance(u) for u in (a, b)]
    patient = sample_variance(d[1:]) * small_sample if len(d) > 2 else 0.0
    patient = max(patient - sum(i for _, i, _ in units), 0.0)
    terms = [(patient, max(n_patients - 1, 1))] + [(s2, k) for s2, _, k in units]
    terms = [(v, k) for v, k in terms if v > 0 and k > 0]
    variance = sum(v for v, _ in terms)
    # the degrees of freedom weigh each unit term at its median-unbiased size (s^2 k /
    # chi2_k median): a term from 2 or 3 units that came out small by chance still counts
    weighted = [(v * (_median_factor(k) if k < n_patients - 1 else 1.0), k) for v, k in terms]
    out = {
        "difference": point,
        "se": float(np.sqrt(variance)),
        "df": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
    }
    if not np.isfinite(point) or not variance > 0:
        return out
    df = sum(v for v, _ in weighted) ** 2 / sum(v**2 / k for v, k in weighted)
    half = float(stdtrit(df, (1 + level) / 2)) * out["se"]
    out.update(
        df=float(df),
        ci_low=point - half,
        ci_high=point + half,
        p_value=float(2 * stdtr(df, -abs(point) / out["se"])),
    )
    return out


def _share_at_most(minima: np.ndarray, p: float) -> float:
    """P(min u <= p) from the resamples' minima, linear in p below the smallest minimum (the
    ranks cannot go below 1 / B; the distribution of a minimum of uniforms is linear at 0)."""
    low = minima.min()
    if p >= low:
        return float((minima <= p).mean())
    return float((minima <= low).mean() * p / low)


def step_down_max_t(
    p_values: np.ndarray, null_deviations: np.ndarray, alpha: float = ALPHA
) -> tuple[np.ndarray, float]:
    """Westfall-Young step-down adjusted p-values and the single-step critical tail level.

    ``p_values`` (m,): each contrast's calibrated p-value; ``null_deviations`` (m, B): its
    joint resamples minus its estimate. Each row's |deviations| become tail probabilities by
    their own ranks (u = share of the row's resamples at least as far out: uniform whatever
    the row's scale or shape), so the resamples give only the dependence between rows, and
    the joint law of the rows' minimum u is the null law of the smallest p-value of any
    subset (minP, the max-T of studentised statistics). Returns the adjusted p-values and q,
    the ``alpha`` quantile of the minimum u over the whole family: simultaneous intervals
    use each contrast's t quantile at 1 - q / 2.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return np.array([]), alpha
    dev = np.abs(np.asarray(null_deviations, dtype=float))
    n_boot = dev.shape[1]
    u = rankdata(-dev, method="max", axis=1) / n_boot  # (m, B)
    order = np.argsort(p, kind="stable")
    tail_min = np.minimum.accumulate(u[order][::-1], axis=0)[::-1]  # min over rows j.. of order
    adjusted_sorted = np.array([_share_at_most(tail_min[j], p[order][j]) for j in range(m)])
    adjusted_sorted = np.minimum(np.maximum.accumulate(np.maximum(adjusted_sorted, p[order])), 1)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    full = tail_min[0]
    share = (full[None, :] <= np.sort(full)[:, None]).mean(axis=1)
    below = np.sort(full)[share <= alpha]
    q = float(below.max()) if len(below) else float(alpha * full.min() / max(share.min(), 1e-12))
    return adjusted, q


def verdict(
    diff: float, low: float, high: float, p_adjusted: float, margin: float, alpha: float = ALPHA
) -> str:
    """better / worse (family-wise significant), equivalent (the family-adjusted interval
    inside +-margin), else inconclusive."""
    if np.isfinite(p_adjusted) and p_adjusted < alpha:
        return "better" if diff > 0 else "worse"
    if np.isfinite(low) and np.isfinite(margin) and -margin < low and high < margin:
        return "equivalent"
    return "inconclusive"


def unadjusted_call(low: float, high: float, margin: float) -> str:
    """What the unadjusted 95 % interval says (exploratory reading, not a verdict)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no interval"
    if low > 0:
        return "above 0"
    if high < 0:
        return "below 0"
    if np.isfinite(margin) and -margin < low and high < margin:
        return "within margin"
    return "includes 0"


def is_pretrained(backbone_weights: Any) -> bool:
    """False for a frozen backbone without pretrained weights (``random init ...``)."""
    return not str(backbone_weights).strip().lower().startswith("random")


@dataclass(frozen=True)
class ContrastDesign:
    """What to contrast: generators (placebos among them), control arms, the primary question."""

    gans: tuple[str, ...]
    controls: tuple[str, ...]
    placebos: tuple[str, ...]
    primary: PrimarySpec
    last_phase: int
    threshold: float


def _pairs(res: Resampled, design: ContrastDesign) -> list[tuple[tuple, tuple, str]]:
    """(gan key, reference key, reference name) of every contrast, in table order."""
    pairs = []
    keys = set(res.units)
    classifiers = list(dict.fromkeys(k[1] for k in res.units))
    phases = sorted({k[2] for k in res.units if k[2] > 0})
    for test_set in test_set_order(k[0] for k in res.units):
        for clf in classifiers:
            base = (test_set, clf, 0, BASELINE)
            for phase in phases:
                for gan in design.gans:
                    key = (test_set, clf, phase, gan)
                    if key not in keys:
                        continue
                    refs = [(base, BASELINE)] + [
                        ((test_set, clf, phase, c), c) for c in design.controls
                    ]
                    pairs += [(key, ref, name) for ref, name in refs if ref in keys]
            for gan in design.gans:
                key = (test_set, clf, 0, f"synthetic_only_{gan}")
                if key in keys and base in keys:
                    pairs.append((key, base, BASELINE))
    return pairs


def _in_primary(
    key: tuple,
    ref_name: str,
    metric: str,
    which: str | None,
    design: ContrastDesign,
    backbone_weights: str,
) -> bool:
    p = design.primary
    phase = design.last_phase if p.phase is None else p.phase
    return (
        key[0] == p.test_set
        and key[2] == phase
        and key[3] in design.gans
        and which is None
        and metric in p.metrics
        and ref_name in p.references
        and is_pretrained(backbone_weights)
    )


def contrasts_table(
    res: Resampled,
    dists: dict[tuple, dict[str, np.ndarray]],
    labels: dict[str, tuple[str, str]],
    design: ContrastDesign,
) -> pd.DataFrame:
    """Every contrast at the method level, per-replicate rows, primary verdicts.

    ``dists``: :func:`~.resampling.configuration_distributions` (the joint resamples; the
    primary metrics are enough);
    ``labels[classifier]``: (algorithm, backbone_weights).
    """
    rows, joint = [], []
    margins = design.primary.margins
    for key, ref, ref_name in _pairs(res, design):
        a, b = res.units[key], res.units[ref]
        test_set, clf, phase, arm = key
        algorithm, weights = labels.get(clf, (clf, "n/a"))
        for metric, which in CONTRAST_METRICS:
            suffix = VAL_SUFFIX if which == "val" else ""
            column = metric + suffix
            primary = _in_primary(key, ref_name, metric, which, design, weights)
            one_class = which is not None and (a.one_class[suffix] or b.one_class[suffix])
            gan = arm.removeprefix("synthetic_only_")
            base = {
                "test_set": test_set,
                "family": "primary" if primary else EXPLORATORY,
                "classifier": clf,
                "algorithm": algorithm,
                "backbone_weights": weights,
                "phase": phase,
                "gan": arm,
                "placebo": gan in design.placebos,
                "reference": ref_name,
                "metric": metric,
                "threshold": {None: "none", "fixed": f"{design.threshold:g}", "val": "val"}[which],
                "margin": margins.get(metric, np.nan) if which is None else np.nan,
                "one_class": one_class,
                "gan_replicates": a.n_replicates,
                "gan_runs": a.n_runs,
                "reference_runs": b.n_runs,
                "n_test_patients": res.n_patients[test_set],
            }
            stats = difference(
                a.values[column],
                b.values[column],
                small_sample=res.small_sample[test_set],
                n_patients=res.n_patients[test_set],
            )
            stats["gan_mean"] = float(a.values[column][:, 0].mean())
            stats["reference_mean"] = float(b.values[column][:, 0].mean())
            too_few = a.generator and a.n_replicates < design.primary.min_replicates
            if a.generator and a.n_replicates < 2:
                stats.update(se=np.nan, df=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            if one_class:
                stats.update(se=np.nan, df=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            row = {**base, "level": "method", "replicate": np.nan, **stats}
            if one_class:
                row["verdict"] = ONE_CLASS
            elif primary:
                row["verdict"] = "too few replicates" if too_few else None
            else:
                row["verdict"] = EXPLORATORY
            rows.append(row)
            if primary and not too_few:
                joint.append(dists[key][column][1:] - dists[ref][column][1:] - stats["difference"])
            else:
                joint.append(None)
            if which is None and a.generator:  # per-replicate contrasts
                for r in range(a.n_replicates):
                    rep = difference(
                        a.values[column][r : r + 1],
                        b.values[column],
                        small_sample=res.small_sample[test_set],
                        n_patients=res.n_patients[test_set],
                    )
                    rep["gan_mean"] = float(a.values[column][r, 0])
                    rep["reference_mean"] = stats["reference_mean"]
                    rows.append(
                        {
                            **base,
                            "family": EXPLORATORY,
                            "level": "replicate",
                            "replicate": r + 1,
                            **rep,
                            "verdict": EXPLORATORY,
                        }
                    )
                    joint.append(None)
    if not rows:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    table = pd.DataFrame(rows)
    table["adjustment"] = "none"
    table["p_adjusted"] = np.nan
    table["ci_low_adjusted"] = np.nan
    table["ci_high_adjusted"] = np.nan
    family = np.array([j is not None and np.isfinite(r["p_value"]) for j, r in zip(joint, rows)])
    if family.any():
        index = np.flatnonzero(family)
        adjusted, q = step_down_max_t(
            table["p_value"].to_numpy()[index], np.stack([joint[i] for i in index])
        )
        t_q = stdtrit(table["df"].to_numpy()[index], 1 - q / 2)
        half = t_q * table["se"].to_numpy()[index]
        table.loc[index, "adjustment"] = "Westfall-Young step-down max-T (primary family)"
        table.loc[index, "p_adjusted"] = adjusted
        table.loc[index, "ci_low_adjusted"] = table["difference"].to_numpy()[index] - half
        table.loc[index, "ci_high_adjusted"] = table["difference"].to_numpy()[index] + half
    pending = table["verdict"].isna()
    table.loc[pending, "verdict"] = [
        verdict(r.difference, r.ci_low_adjusted, r.ci_high_adjusted, r.p_adjusted, r.margin)
        for r in table[pending].itertuples()
    ]
    explore = (table["family"] == EXPLORATORY) & (table["level"] == "method")
    table.loc[explore, "adjustment"] = "Benjamini-Hochberg (exploratory, method level)"
    table.loc[explore, "p_adjusted"] = benjamini_hochberg(table.loc[explore, "p_value"].to_numpy())
    table["unadjusted_call"] = [
        unadjusted_call(r.ci_low, r.ci_high, r.margin) for r in table.itertuples()
    ]
    table["ci_resampled"] = RESAMPLED
    table["n_boot"] = res.n_boot
    return table[CONTRAST_COLUMNS]


def pair_verdicts(contrasts: pd.DataFrame) -> pd.DataFrame:
    """One verdict per classifier x generator of the primary family.

    better: better than every primary reference on at least one primary metric and worse on
    none; worse: worse on some row and better on none; equivalent: every row equivalent; too
    few replicates: as its rows; else inconclusive (including better on one row, worse on
    another).
    """
    primary = contrasts[(contrasts["family"] == "primary") & (contrasts["level"] == "method")]
    out = []
    for (test_set, clf, gan), g in primary.groupby(["test_set", "classifier", "gan"], sort=False):
        v = g["verdict"]
        if (v == "too few replicates").any():
            pair = "too few replicates"
        elif (v == "equivalent").all():
            pair = "equivalent"
        elif (v == "worse").any() and not (v == "better").any():
            pair = "worse"
        elif not (v == "worse").any() and all(
            (g.loc[g["reference"] == r, "verdict"] == "better").any()
            for r in g["reference"].unique()
        ):
            pair = "better"
        else:
            pair = "inconclusive"
        out.append(
            {
                "test_set": test_set,
                "classifier": clf,
                "algorithm": g["algorithm"].iloc[0],
                "gan": gan,
                "placebo": bool(g["placebo"].iloc[0]),
                "phase": g["phase"].iloc[0],
                "verdict": pair,
                "rows": ", ".join(f"{r.reference} {r.metric}: {r.verdict}" for r in g.itertuples()),
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "test_set",
            "classifier",
            "algorithm",
            "gan",
            "placebo",
            "phase",
            "verdict",
            "rows",
        ],
    )


def placebo_false_positive_rates(
    contrasts: pd.DataFrame, null_reference: str = "augment"
) -> dict[str, tuple[int, int]]:
    """Placebo minus ``augment`` is a known null: (false positives, contrasts) in the primary
    family (verdict better or worse among better/worse/equivalent/inconclusive) and over every
    method-level contrast (unadjusted 95 % interval above or below 0)."""
    null = contrasts[
        contrasts["placebo"].astype(bool)
        & (contrasts["reference"] == null_reference)
        & (contrasts["level"] == "method")
    ]
    primary = null[
        (null["family"] == "primary")
        & null["verdict"].isin(["better", "worse", "equivalent", "inconclusive"])
    ]
    every = null[null["unadjusted_call"] != "no interval"]
    return {
        "primary": (int(primary["verdict"].isin(["better", "worse"]).sum()), len(primary)),
        "all": (int(every["unadjusted_call"].isin(["above 0", "below 0"]).sum()), len(every)),
    }
