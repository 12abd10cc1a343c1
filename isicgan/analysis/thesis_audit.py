"""The thesis comparison: its published tables 6.1-6.6 beside ours, and an audit of them.

The audit asks what each published row's recalls imply on the thesis's balanced 93 + 93 test
set (:func:`thesis_count_audit`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .render import round_floats

THESIS_METRICS = ["benign_precision", "benign_recall", "malignant_precision", "malignant_recall"]


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


def thesis_count_audit(
    thesis: pd.DataFrame, n_per_class: int = THESIS_TEST_PER_CLASS
) -> pd.DataFrame:
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

    def precision(correct: int, wrong: int) -> float:  # scikit-learn's zero_division=0
        return correct / (correct + wrong) if correct + wrong else 0.0

    rows = []
    for _, t in thesis.iterrows():
        tn_ok, tn = counts_for(float(t["benign_recall"]))
        tp_ok, tp = counts_for(float(t["malignant_recall"]))
        pairs = [
            (a, b) for a in (tn_ok if len(tn_ok) else [tn]) for b in (tp_ok if len(tp_ok) else [tp])
        ]
        implied = {
            "benign_recall": (tn / n, [a / n for a in tn_ok] or [tn / n], bool(len(tn_ok))),
            "malignant_recall": (tp / n, [b / n for b in tp_ok] or [tp / n], bool(len(tp_ok))),
            "benign_precision": (
                precision(tn, n - tp),
                [precision(a, n - b) for a, b in pairs],
                None,
            ),
            "malignant_precision": (
                precision(tp, n - tn),
                [precision(b, n - a) for a, b in pairs],
                None,
            ),
        }
        audit = []
        for m in THESIS_METRICS:
            value, spread, ok = implied[m]
            low, high = min(spread), max(spread)
            if ok is None:
                ok = bool(
                    low - PRINT_HALF_STEP - 1e-9 <= float(t[m]) <= high + PRINT_HALF_STEP + 1e-9
                )
            audit.append(
                {
                    "thesis_table": t["table"],
                    "algorithm": t["algorithm"],
                    "metric": m,
                    "implied_93_93": value,
                    "implied_93_93_low": low,
                    "implied_93_93_high": high,
                    "consistent_93_93": ok,
                    "counts_93_93": f"TN {tn}, FN {n - tp}, FP {n - tn}, TP {tp}",
                }
            )
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
        ours = arms[
            (arms["algorithm"] == t["algorithm"])
            & (arms["phase"] == t["phase"])
            & (arms["arm"] == arm)
        ]
        for m in THESIS_METRICS:
            row = {
                "thesis_table": t["table"],
                "phase": int(t["phase"]),
                "algorithm": t["algorithm"],
                "metric": m,
                "thesis": float(t[m]),
            }
            if len(ours):
                o = ours.iloc[0]
                row.update(
                    ours=o[m],
                    ours_std=o[f"{m}_std"],
                    ours_ci_low=o[f"{m}_ci_low"],
                    ours_ci_high=o[f"{m}_ci_high"],
                    difference=o[m] - float(t[m]),
                    thesis_inside_ci=bool(o[f"{m}_ci_low"] <= t[m] <= o[f"{m}_ci_high"]),
                    arm=arm,
                    backbone_weights=o["backbone_weights"],
                )
            else:  # a phase or classifier this run did not make (e.g. fewer batches)
                row.update(
                    ours=np.nan,
                    ours_std=np.nan,
                    ours_ci_low=np.nan,
                    ours_ci_high=np.nan,
                    difference=np.nan,
                    thesis_inside_ci=np.nan,
                    arm=arm,
                    backbone_weights="not run",
                )
            rows.append(row)
    audit = thesis_count_audit(thesis)
    return round_floats(
        pd.DataFrame(rows).merge(
            audit, on=["thesis_table", "algorithm", "metric"], how="left", validate="one_to_one"
        )
    )
