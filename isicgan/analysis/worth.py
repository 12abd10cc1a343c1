"""What an arm's training tiles are worth in real malignant tiles, on the real-data learning curve.

The learning curve of one test set, classifier and metric is the metric of the curve arms
(``real_25``, ``real_50``, ``real_75``, ``baseline``: a fraction of the real train malignant
tiles, at phase 0) against the real malignant tiles each had. An arm's *worth* is the number of
real malignant tiles at which the curve reaches the arm's metric; ``worth - had`` is what its
synthetic tiles added (positive) or cost (negative), in real tiles.

Rules (docs/worth.md):

* Isotonic fit: each row of the curve (the estimate and every resample) is replaced by its
  isotonic regression (pool-adjacent-violators, equal weights, non-decreasing in n): where
  more real tiles scored worse, the points are pooled to their mean. A strictly increasing row
  is left as it is. Everything below is read off the fitted row; ``curve_pooled`` says
  whether the estimate's row was pooled, ``n_resamples_pooled`` how many resamples were.
* Worth is the smallest n at which the fitted curve reaches the arm's metric.
* Inside the curve: linear interpolation in log n between adjacent points (exact for a curve
  linear in log n); where the fitted curve is flat at the metric, the left end of the flat part.
* Above the full-data point: a saturating power law ``metric = a - b * n**(-c)`` (b > 0,
  0.01 <= c <= 5) fitted by least squares to the fitted curve's points, shifted to pass
  through the full-data point, inverted; marked ``extrapolated``. Beyond ``cap_multiple`` x
  the full-data count, or above the fitted curve's ceiling (a flat curve has none above its
  last point), there is no number: "> cap".
* Below the smallest point: no number (the curve says nothing there).
* Interval: the same inversion within every resample b (row b of every array: the same test
  patients), percentile interval. A resample whose inversion fails (metric undefined, too few
  points to fit) counts as 0 for the lower and as infinity for the upper bound (conservative:
  it can only widen the interval); below the curve counts as 0 / the smallest count, beyond
  the cap as the cap / infinity. ``worth_ci_low == 0`` thus reads "below the smallest curve
  point", ``worth_ci_high == inf`` "beyond the cap".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

#: (test_set, classifier, phase, arm)
Key = tuple[str, str, int, str]
#: per configuration key, per metric: array (1 + B,), row 0 the estimate, rows 1..B resamples
Dist = Mapping[Key, Mapping[str, np.ndarray]]

CURVE_ARMS = ("real_25", "real_50", "real_75", "baseline")
KEY_COLUMNS = ["test_set", "classifier", "phase", "arm"]
TEST_SET_ORDER = ("test", "external")
COLUMNS = [
    "test_set",
    "classifier",
    "algorithm",
    "phase",
    "arm",
    "metric",
    "n_real_malignant",
    "n_added",
    "metric_value",
    "worth_real_tiles",
    "worth_ci_low",
    "worth_ci_high",
    "worth_minus_had",
    "worth_minus_had_ci_low",
    "worth_minus_had_ci_high",
    "extrapolated",
    "curve_pooled",
    "reason",
    "n_resamples",
    "n_resamples_failed",
    "n_resamples_pooled",
    "n_resamples_flat",
    "n_resamples_below_curve",
    "n_resamples_beyond_cap",
    "n_resamples_extrapolated",
    "curve_min_n",
    "curve_max_n",
    "worth_cap",
]

# status of one inversion (one row of the arrays)
OK, EXTRAPOLATED, BELOW, BEYOND_CAP, UNDEFINED, NO_FIT, FLAT = range(7)
FAILED = (UNDEFINED, NO_FIT)
C_RANGE = (0.01, 5.0)  # exponents of the power law fit
MIN_FIT_POINTS = 3  # a, b, c


@dataclass(frozen=True)
class WorthSpec:
    """Settings of the worth analysis (config ``evaluation.worth`` plus the curve arms)."""

    metrics: tuple[str, ...] = ("pauc_80", "roc_auc")
    curve_arms: tuple[str, ...] = CURVE_ARMS
    curve_phase: int = 0
    cap_multiple: float = 10.0
    ci_level: float = 0.95
    lower_is_better: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.ci_level < 1:
            raise ValueError(f"worth: ci_level must be in (0, 1), got {self.ci_level}")
        if self.cap_multiple <= 1:
            raise ValueError(f"worth: cap_multiple must be > 1, got {self.cap_multiple}")
        if not self.curve_arms or len(set(self.curve_arms)) != len(self.curve_arms):
            raise ValueError(f"worth: curve arms must be given once each: {list(self.curve_arms)}")
        if not self.metrics:
            raise ValueError("worth: no metrics to value")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WorthSpec:
        """Rebuild from ``dataclasses.asdict`` (lists become tuples); unknown keys are errors."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"worth: unknown settings {unknown}; expected some of {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class Curve:
    """One learning curve: counts ``n`` (k,) increasing, metric ``y`` (1 + B, k) as measured,
    arm names, the isotonic fit of every row ``iso`` (1 + B, k) with ``pooled`` (1 + B,): the
    row's fit pooled points, and the power-law fit of ``iso`` per row ``(b, c)`` (None under 3
    points)."""

    arms: tuple[str, ...]
    n: np.ndarray
    y: np.ndarray
    fit: tuple[np.ndarray, np.ndarray] | None = None
    iso: np.ndarray | None = None
    pooled: np.ndarray | None = None


# ---------------------------------------------------------------- the inversion, vectorised


def isotonic(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic regression of each row of ``y`` (R, k): (fitted (R, k), pooled (R,)).

    Pool-adjacent-violators with equal weights, non-decreasing along a row, all rows at once
    (loops over k only). Points are pushed left to right as blocks; while the last block's mean
    is not above the one before, the two are pooled (ties too: the fit is the same, and
    ``pooled`` then reads "the row is not strictly increasing"). A strictly increasing row comes
    back unchanged, bit for bit. Rows with NaN come back NaN (and not pooled).
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    rows, k = y.shape
    total = np.zeros((rows, k))  # per block on the stack: sum and number of points
    size = np.zeros((rows, k))
    top = np.full(rows, -1)  # index of the last block
    rng = np.arange(rows)
    for i in range(k):
        top += 1
        total[rng, top], size[rng, top] = y[:, i], 1.0
        for _ in range(i):
            last = np.maximum(top, 1)
            pool = (top >= 1) & (
                total[rng, last - 1] * size[rng, last] >= total[rng, last] * size[rng, last - 1]
            )  # mean before >= mean last (cross-multiplied: no division)
            if not pool.any():
                break
            r, t = rng[pool], top[pool]
            total[r, t - 1] += total[r, t]
            size[r, t - 1] += size[r, t]
            top[pool] -= 1
    blocks = np.arange(k)
    ends = np.where(blocks[None, :] <= top[:, None], np.cumsum(size, axis=1), np.inf)
    block = (ends[:, :, None] <= blocks[None, None, :]).sum(axis=1)  # (R, k): block of point
    fitted = total[rng[:, None], block] / size[rng[:, None], block]
    nan = np.isnan(y).any(axis=1)
    fitted[nan] = np.nan
    return fitted, (top < k - 1) & ~nan


def _sse(logn: np.ndarray, yc: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of y = a - b * n**(-c) for each row's c (``yc``: y minus its row
    mean): (residual SS, b)."""
    x = np.exp(-c[:, None] * logn[None, :])
    xc = x - x.mean(axis=1, keepdims=True)
    b = -(xc * yc).sum(axis=1) / (xc * xc).sum(axis=1)
    resid = yc + b[:, None] * xc
    return (resid * resid).sum(axis=1), b


def fit_power_law(n: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``y = a - b * n**(-c)`` to each row of ``y`` (R, k) at counts ``n`` (k,): (b, c).

    Grid search of c (log-spaced in C_RANGE) and golden-section refinement; a and b are
    linear least squares for a given c. b > 0 when the row is increasing.
    """
    logn = np.log(np.asarray(n, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    grid = np.geomspace(*C_RANGE, 121)
    x = np.exp(-grid[:, None] * logn[None, :])
    xc = x - x.mean(axis=1, keepdims=True)  # (C, k)
    yc = y - y.mean(axis=1, keepdims=True)  # (R, k)
    sse = (yc * yc).sum(axis=1)[:, None] - (yc @ xc.T) ** 2 / (xc * xc).sum(axis=1)[None, :]
    best = np.argmin(np.nan_to_num(sse, nan=np.inf), axis=1)
    lo = np.log(grid[np.maximum(best - 1, 0)])
    hi = np.log(grid[np.minimum(best + 1, len(grid) - 1)])
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(30):  # golden section in log c, all rows at once
        c1, c2 = hi - golden * (hi - lo), lo + golden * (hi - lo)
        left = _sse(logn, yc, np.exp(c1))[0] <= _sse(logn, yc, np.exp(c2))[0]
        hi = np.where(left, c2, hi)
        lo = np.where(left, lo, c1)
    c = np.exp((lo + hi) / 2)
    return _sse(logn, yc, c)[1], c


def flat_span(n: np.ndarray, z: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a fitted curve row is flat at exactly its target over two or more points: the
    stretch's ends (left, right), NaN elsewhere; right is inf when the stretch reaches the
    full-data point (a flat top says no count beyond it scores better).

    Any count in such a stretch scores the arm's metric, so the curve gives a range, not a
    number: a classifier whose scores do not depend on its training (every ROC-AUC 0.5), or
    a metric that ties on a small test set.
    """
    at = np.abs(np.atleast_2d(z) - np.asarray(target, dtype=float).reshape(-1, 1)) <= 1e-12
    flat = at.sum(axis=1) >= 2
    k = at.shape[1]
    first = np.argmax(at, axis=1)
    last = k - 1 - np.argmax(at[:, ::-1], axis=1)
    left = np.where(flat, np.asarray(n, dtype=float)[first], np.nan)
    right = np.where(
        flat, np.where(last == k - 1, np.inf, np.asarray(n, dtype=float)[last]), np.nan
    )
    return left, right


def invert_curve(
    n: np.ndarray,
    y: np.ndarray,
    target: np.ndarray,
    cap: float,
    fit: tuple[np.ndarray, np.ndarray] | None = None,
    iso: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Invert a learning curve row by row: (worth (R,), status (R,)).

    ``n`` (k,) increasing counts, ``y`` (R, k) metric (higher is better) at them, ``target``
    (R,) the metric to reach. Each row is replaced by its :func:`isotonic` fit (``iso`` if
    already made) and worth is the smallest n at which the fitted row, linear in log n between
    points, reaches the target; above the last point, the power law ``fit`` (:func:`fit_power_law`
    of the fitted rows, made here if not given). A row whose fit is flat at its target over
    two or more points (:func:`flat_span`) gets status FLAT and the stretch's left end. Worth
    is NaN unless status is OK, EXTRAPOLATED or FLAT.
    """
    n = np.asarray(n, dtype=float)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    target = np.asarray(target, dtype=float).reshape(-1)
    rows, k = y.shape
    worth = np.full(rows, np.nan)
    status = np.full(rows, UNDEFINED)
    defined = ~(np.isnan(target) | np.isnan(y).any(axis=1))
    if k < 2:
        status[defined] = NO_FIT
        return worth, status
    z = isotonic(y)[0] if iso is None else np.atleast_2d(np.asarray(iso, dtype=float))
    below = defined & (target < z[:, 0])
    above = defined & (target > z[:, -1])
    inside = defined & ~below & ~above
    status[below] = BELOW
    logn = np.log(n)
    if inside.any():
        zi, ti = z[inside], target[inside]
        first = (zi < ti[:, None]).sum(axis=1)  # the first point that reaches the target
        j = np.maximum(first - 1, 0)  # interpolate between j and j + 1
        rng = np.arange(len(zi))
        y0, y1 = zi[rng, j], zi[rng, j + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(first > 0, (ti - y0) / (y1 - y0), 0.0)  # flat from the first: n[0]
        worth[inside] = np.exp(logn[j] + t * (logn[j + 1] - logn[j]))
        status[inside] = OK
        left = flat_span(n, zi, ti)[0]
        flat = ~np.isnan(left)
        rows_inside = np.flatnonzero(inside)
        worth[rows_inside[flat]] = left[flat]
        status[rows_inside[flat]] = FLAT
    if above.any() and k < MIN_FIT_POINTS:
        status[above] = NO_FIT
    elif above.any():
        b, c = fit_power_law(n, z[above]) if fit is None else (fit[0][above], fit[1][above])
        gap = b * n[-1] ** (-c) - (target[above] - z[above, -1])  # a - target', shifted fit
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf: beyond the cap
            value = np.where(gap > 0, (b / gap) ** (1 / c), np.inf)
        worth[above] = np.where(value <= cap, value, np.nan)
        status[above] = np.where(value <= cap, EXTRAPOLATED, BEYOND_CAP)
    return worth, status


def interval(
    worth: np.ndarray,
    status: np.ndarray,
    n_min: float,
    cap: float,
    level: float,
    flat_right: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile interval of resampled worths, censored and failed ones counted conservatively;
    a FLAT resample counts its stretch's left end (``worth``) for the lower bound and its right
    end (``flat_right``, inf when not given) for the upper."""
    low = np.where(np.isin(status, (OK, EXTRAPOLATED, FLAT)), worth, 0.0)
    high = np.where(np.isin(status, (OK, EXTRAPOLATED)), worth, np.inf)
    if flat_right is not None:
        high = np.where(status == FLAT, flat_right, high)
    low[status == BEYOND_CAP] = cap
    high[status == BELOW] = n_min
    if len(worth) == 0:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    return (
        float(np.percentile(low, 100 * alpha, method="lower")),
        float(np.percentile(high, 100 * (1 - alpha), method="higher")),
    )


# ---------------------------------------------------------------- the table


def _key(row: Mapping[str, Any]) -> Key:
    return (str(row["test_set"]), str(row["classifier"]), int(row["phase"]), str(row["arm"]))


def _array(dist: Dist, key: Key, metric: str, size: int | None) -> np.ndarray:
    if key not in dist:
        raise ValueError(f"worth: no resampled metrics for {key}")
    if metric not in dist[key]:
        raise ValueError(
            f"worth: no {metric!r} among the resampled metrics of {key}: {sorted(dist[key])}"
        )
    a = np.asarray(dist[key][metric], dtype=float).reshape(-1)
    if size is not None and len(a) != size:
        raise ValueError(
            f"worth: {key} {metric} has {len(a)} rows, others {size}: resampled "
            f"distributions must share the same resamples (1 + B rows)"
        )
    return a


def learning_curve(
    dist: Dist, counts: pd.DataFrame, spec: WorthSpec, test_set: str, classifier: str, metric: str
) -> Curve:
    """The curve arms of one test set and classifier, ordered by real malignant tiles."""
    return _curve(dist, counts_by_key(counts), spec, (test_set, classifier, metric))


def _curve(
    dist: Dist, had: Mapping[Key, float], spec: WorthSpec, which: tuple[str, str, str]
) -> Curve:
    test_set, classifier, metric = which
    keys = [(test_set, classifier, spec.curve_phase, a) for a in spec.curve_arms]
    missing = [k[3] for k in keys if k not in had]
    if missing:
        raise ValueError(
            f"worth: learning-curve arms {missing} missing for test set {test_set}, "
            f"classifier {classifier} (phase {spec.curve_phase})"
        )
    n = np.array([had[k] for k in keys], dtype=float)
    if (n <= 0).any():
        raise ValueError(
            f"worth: learning-curve arms need real malignant tiles > 0, got "
            f"{dict(zip(spec.curve_arms, n))} ({test_set}, {classifier})"
        )
    order = np.argsort(n, kind="stable")
    if len(n) > 1 and (np.diff(n[order]) == 0).any():
        raise ValueError(
            f"worth: two learning-curve arms had the same real malignant tiles: "
            f"{dict(zip(spec.curve_arms, n))} ({test_set}, {classifier})"
        )
    size = len(_array(dist, keys[0], metric, None))
    y = np.stack([_array(dist, keys[i], metric, size) for i in order], axis=1)
    sign = -1.0 if metric in spec.lower_is_better else 1.0
    y = sign * y
    iso, pooled = isotonic(y)
    with np.errstate(invalid="ignore"):  # rows with NaN are never extrapolated
        fit = fit_power_law(n[order], iso) if len(n) >= MIN_FIT_POINTS else None
    return Curve(tuple(spec.curve_arms[i] for i in order), n[order], y, fit, iso, pooled)


def counts_by_key(counts: pd.DataFrame) -> dict[Key, float]:
    """Real malignant train tiles per configuration key, from the counts table (checked)."""
    need = {*KEY_COLUMNS, "n_real_malignant"}
    missing = sorted(need - set(counts.columns))
    if missing:
        raise ValueError(f"worth: the counts table lacks columns {missing}")
    keys = [_key(r) for r in counts[KEY_COLUMNS].to_dict("records")]
    if len(set(keys)) != len(keys):
        raise ValueError(
            "worth: the counts table has more than one row per (test_set, classifier, phase, arm)"
        )
    had = dict(zip(keys, counts["n_real_malignant"].astype(float)))
    unknown = [k for k, v in had.items() if not math.isfinite(v) or v < 0]
    if unknown:
        raise ValueError(
            f"worth: n_real_malignant missing or negative for {unknown[:3]}"
            + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        )
    return had


def value_arm(
    curve: Curve, target: np.ndarray, had: float, spec: WorthSpec, sign: float = 1.0
) -> dict[str, Any]:
    """Worth of one arm (target (1 + B,), sign-adjusted) on one curve: the numeric columns."""
    k = len(curve.n)
    n_min = float(curve.n[0]) if k else math.nan
    n_full = float(curve.n[-1]) if k else math.nan
    cap = spec.cap_multiple * n_full
    out: dict[str, Any] = {
        "metric_value": sign * float(target[0]),
        "curve_min_n": n_min,
        "curve_max_n": n_full,
        "worth_cap": cap,
        "worth_real_tiles": math.nan,
        "worth_ci_low": math.nan,
        "worth_ci_high": math.nan,
        "extrapolated": False,
        "curve_pooled": False,
        "reason": "",
        "n_resamples": len(target) - 1,
        "n_resamples_failed": 0,
        "n_resamples_pooled": 0,
        "n_resamples_flat": 0,
        "n_resamples_below_curve": 0,
        "n_resamples_beyond_cap": 0,
        "n_resamples_extrapolated": 0,
    }
    if k < 2:
        out["reason"] = f"no learning curve: {k} curve point(s), at least 2 needed"
        return _minus_had(out, had)
    iso, pooled = isotonic(curve.y) if curve.iso is None else (curve.iso, curve.pooled)
    worth, status = invert_curve(curve.n, curve.y, target, cap, curve.fit, iso)
    est, rest = int(status[0]), status[1:]
    out["curve_pooled"] = bool(pooled[0])
    out["n_resamples_pooled"] = int(pooled[1:].sum())
    out["n_resamples_flat"] = int((rest == FLAT).sum())
    flat_left, flat_right = flat_span(curve.n, iso, target)
    out["n_resamples_failed"] = int(np.isin(rest, FAILED).sum())
    out["n_resamples_below_curve"] = int((rest == BELOW).sum())
    out["n_resamples_beyond_cap"] = int((rest == BEYOND_CAP).sum())
    out["n_resamples_extrapolated"] = int(np.isin(rest, (EXTRAPOLATED, BEYOND_CAP)).sum())
    out["extrapolated"] = est in (EXTRAPOLATED, BEYOND_CAP)
    if est == UNDEFINED:
        out["reason"] = "metric undefined (NaN) at the estimate"
    elif est == NO_FIT:
        out["reason"] = (
            f"above the full-data point and {k} curve points: at least "
            f"{MIN_FIT_POINTS} needed to fit a learning curve"
        )
    else:
        out["worth_ci_low"], out["worth_ci_high"] = interval(
            worth[1:], rest, n_min, cap, spec.ci_level, flat_right[1:]
        )
        if est == BELOW:
            out["reason"] = (
                f"below the learning curve: {sign * target[0]:.3f}, "
                f"{curve.arms[0]} ({n_min:,.0f} real tiles) "
                f"{sign * iso[0, 0]:.3f}" + (" (isotonic fit)" if pooled[0] else "")
            )
        elif est == FLAT:
            end = (
                "beyond the full-data point"
                if math.isinf(flat_right[0])
                else f"{flat_right[0]:,.0f} real tiles"
            )
            out["reason"] = (
                f"learning curve flat at the arm's {sign * target[0]:.3f} from "
                f"{flat_left[0]:,.0f} real tiles to {end} (isotonic fit): any count in between "
                "scores the same"
            )
        elif est == BEYOND_CAP:
            out["reason"] = (
                f"> cap: more than {spec.cap_multiple:g} x the full-data "
                f"{n_full:,.0f} = {cap:,.0f} real tiles on the fitted curve"
            )
        else:
            out["worth_real_tiles"] = float(worth[0])
    return _minus_had(out, had)


def _minus_had(out: dict[str, Any], had: float) -> dict[str, Any]:
    out["worth_minus_had"] = out["worth_real_tiles"] - had
    out["worth_minus_had_ci_low"] = out["worth_ci_low"] - had
    out["worth_minus_had_ci_high"] = out["worth_ci_high"] - had
    return out


def _order(values: list, first: tuple = ()) -> dict:
    seen = list(dict.fromkeys(values))
    ranked = [v for v in first if v in seen] + [v for v in seen if v not in first]
    return {v: i for i, v in enumerate(ranked)}


def worth_table(dist: Dist, counts: pd.DataFrame, spec: WorthSpec) -> pd.DataFrame:
    """Worth in real malignant tiles of every arm that is not on the learning curve.

    ``dist[(test_set, classifier, phase, arm)][metric]``: array (1 + B,), row 0 the estimate,
    rows 1..B the shared resamples. ``counts``: one row per configuration, columns
    ``test_set, classifier, phase, arm, n_real_malignant`` (optional ``algorithm``,
    ``n_added``), e.g. a slice of arms.csv; its rows choose what is valued. Rows: ``test``
    first, then classifiers and arms in ``counts`` order, phases ascending, metrics in spec
    order. Columns: :data:`COLUMNS`.
    """
    had = counts_by_key(counts)
    meta = dict(zip(had, counts.to_dict("records")))
    curve_keys = {(t, c, spec.curve_phase, a) for t, c, _, _ in had for a in spec.curve_arms}
    valued = [k for k in had if k not in curve_keys]
    curves: dict[tuple[str, str, str], Curve] = {}
    rows = []
    for key in valued:
        test_set, clf, phase, arm = key
        for metric in spec.metrics:
            if (test_set, clf, metric) not in curves:
                curves[test_set, clf, metric] = _curve(dist, had, spec, (test_set, clf, metric))
            curve = curves[test_set, clf, metric]
            sign = -1.0 if metric in spec.lower_is_better else 1.0
            target = sign * _array(dist, key, metric, curve.y.shape[0])
            row = {
                "test_set": test_set,
                "classifier": clf,
                "algorithm": meta[key].get("algorithm", clf),
                "phase": phase,
                "arm": arm,
                "metric": metric,
                "n_real_malignant": had[key],
                "n_added": meta[key].get("n_added", math.nan),
            }
            row.update(value_arm(curve, target, had[key], spec, sign))
            rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table.empty:
        return table
    ranks = {
        "test_set": _order(list(counts["test_set"]), TEST_SET_ORDER),
        "classifier": _order(list(counts["classifier"])),
        "arm": _order(list(counts["arm"])),
        "metric": _order(list(spec.metrics)),
    }
    sort = table.assign(**{f"_{c}": table[c].map(r) for c, r in ranks.items()})
    sort = sort.sort_values(["_test_set", "_classifier", "phase", "_arm", "_metric"], kind="stable")
    return sort[COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- the front-page sentence


def _bounds(row: Mapping[str, Any], prefix: str, offset: float, signed: bool) -> str:
    """``N [lo, hi]`` of ``worth`` or ``worth_minus_had``; censored: ``< smallest``, ``> cap``."""
    fmt = "{:+,.0f}" if signed else "{:,.0f}"
    value = row["worth_real_tiles" if prefix == "worth" else prefix]
    lo, hi = row[f"{prefix}_ci_low"], row[f"{prefix}_ci_high"]
    below = "< " + fmt.format(row["curve_min_n"] - offset)
    beyond = "> " + fmt.format(row["worth_cap"] - offset)
    lo_s = below if row["worth_ci_low"] == 0 else fmt.format(lo)
    hi_s = beyond if math.isinf(hi) else fmt.format(hi)
    if not pd.isna(value):
        head = fmt.format(value)
    else:
        head = beyond if str(row["reason"]).startswith("> cap") else below
    return head if pd.isna(lo) else f"{head} [{lo_s}, {hi_s}]"


def worth_text(row: Mapping[str, Any]) -> str:
    """``N [lo, hi]`` real tiles of one worth.csv row (the arm's whole training set)."""
    return _bounds(row, "worth", 0.0, False)


def front_page_line(
    table: pd.DataFrame,
    *,
    arm: str,
    metric: str,
    phase: int | None = None,
    test_set: str = "test",
    classifier: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """One sentence: what the arm's added tiles are worth at the primary phase and metric.

    ``phase`` None: the arm's last phase. ``classifier`` None: every classifier, in table
    order (no choosing the best). ``labels`` maps arm and metric names to display names.
    """
    labels = labels or {}
    sel = table[
        (table["arm"] == arm) & (table["metric"] == metric) & (table["test_set"] == test_set)
    ]
    if classifier is not None:
        sel = sel[sel["classifier"] == classifier]
    if sel.empty:
        raise ValueError(
            f"worth: no rows for arm {arm}, metric {metric}, test set {test_set}"
            + (f", classifier {classifier}" if classifier else "")
        )
    phase = int(sel["phase"].max()) if phase is None else int(phase)
    sel = sel[sel["phase"] == phase]
    if sel.empty:
        raise ValueError(f"worth: no rows for arm {arm} at phase {phase}")
    parts = []
    for _, r in sel.iterrows():
        added, had = r["n_added"], r["n_real_malignant"]
        tiles = (
            f"{added:,.0f} synthetic tiles"
            if not pd.isna(added) and added > 0
            else "its training tiles"
        )
        base = (
            f"added to {had:,.0f} real malignant ones" if had > 0 else "with no real malignant ones"
        )
        flat = str(r["reason"]).startswith("learning curve flat")  # a range, not a number
        if pd.isna(r["worth_real_tiles"]) and (pd.isna(r["worth_ci_low"]) or flat):
            parts.append(f"with {r['algorithm']}, {tiles} {base} cannot be valued: {r['reason']}")
            continue
        flag = ", extrapolated" if r["extrapolated"] else ""
        if str(r.get("curve_pooled", False)) == "True":  # bool, numpy bool or read back
            flag += ", on the isotonic fit of a curve that did not always rise"
        parts.append(
            f"with {r['algorithm']}, {tiles} {base} are worth "
            f"{_bounds(r, 'worth_minus_had', had, True)} real malignant tiles "
            f"(the arm scores like {worth_text(r)} real ones{flag})"
        )
    head = f"Phase {phase}, {labels.get(arm, arm)}, {labels.get(metric, metric)}, {test_set} set: "
    return head + "; ".join(parts) + "."
