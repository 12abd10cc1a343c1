"""The generated verdict sentences: the primary answer, counted, and the placebo's error rate."""

from __future__ import annotations

import pandas as pd

from .contrasts import pair_verdicts, placebo_false_positive_rates

METRIC_LABELS = {
    "roc_auc": "ROC-AUC",
    "pauc_80": "pAUC (TPR > 0.8)",
    "average_precision": "average precision",
    "balanced_accuracy": "balanced accuracy",
    "malignant_recall": "malignant recall",
    "benign_recall": "benign recall",
}


def metric_label(metric: str, threshold: str) -> str:
    label = METRIC_LABELS.get(metric, metric)
    if threshold == "none":
        return label
    return f"{label} @ {'val threshold' if threshold == 'val' else threshold}"


def _names(pairs: pd.DataFrame) -> str:
    return "; ".join(f"{r.gan} with {r.algorithm}" for r in pairs.itertuples())


def _share(counts: tuple[int, int]) -> str:
    hits, total = counts
    return f"{hits} of {total}" + (f" ({100 * hits / total:.0f} %)" if total else "")


def placebo_sentence(contrasts: pd.DataFrame) -> str:
    """The pipeline's empirical false-positive rate, from the placebo minus ``augment``."""
    if contrasts.empty or not contrasts["placebo"].astype(bool).any():
        return "No placebo generator was run, so the false-positive rate is not measured."
    rates = placebo_false_positive_rates(contrasts)
    return (
        f"Placebo (augmented copies of real tiles; placebo minus augment is a known null): "
        f"false positives in {_share(rates['primary'])} primary verdicts and, over every "
        f"contrast of it, {_share(rates['all'])} unadjusted 95 % intervals exclude 0."
    )


def headline(contrasts: pd.DataFrame) -> str:
    """The answer to the primary question, counted per classifier x generator (placebo apart)."""
    if contrasts.empty:
        return "No generator arm was run, so there is no contrast to report."
    primary = contrasts[(contrasts["family"] == "primary") & (contrasts["level"] == "method")]
    if primary.empty:
        return (
            "The primary question has no contrast in this run (its phase, references or "
            "test set were not run, or every backbone lacks pretrained weights); every "
            "contrast is exploratory."
        )
    pairs = pair_verdicts(contrasts)
    real = pairs[~pairs["placebo"]]
    counts = real["verdict"].value_counts()
    n_family = int(primary["p_adjusted"].notna().sum())
    first = primary.iloc[0]
    margins = primary.drop_duplicates("metric")
    scope = (
        f"phase {first['phase']}, {first['test_set']} set, "
        + " and ".join(
            f"{metric_label(r.metric, 'none')} (margin +-{r.margin:g})"
            for r in margins.itertuples()
        )
        + " against "
        + ", ".join(dict.fromkeys(primary["reference"]))
        + f"; family-wise 5 % over {n_family} contrasts"
    )
    parts = [
        f"{int(counts.get(v, 0))} {v}"
        for v in ("better", "worse", "equivalent", "inconclusive", "too few replicates")
        if counts.get(v, 0) or v in ("better", "equivalent", "inconclusive")
    ]
    text = (
        f"Primary question ({scope}): of {len(real)} classifier x "
        f"generator pairs ({real['gan'].nunique()} generators, placebo apart): "
        + ", ".join(parts)
        + "."
    )
    better = real[real["verdict"] == "better"]
    if len(better):
        text += f" Better than every reference: {_names(better)}."
    equivalent = real[real["verdict"] == "equivalent"]
    if len(equivalent):
        text += f" No gain beyond the margin (equivalence shown): {_names(equivalent)}."
    worse = real[real["verdict"] == "worse"]
    if len(worse):
        text += f" Worse than a reference: {_names(worse)}."
    if counts.get("inconclusive", 0):
        text += " Inconclusive pairs claim neither a gain nor its absence."
    return text + " " + placebo_sentence(contrasts)
