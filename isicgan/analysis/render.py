"""reStructuredText for the report: the verdict tables beside the generated headline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contrasts import pair_verdicts
from .headline import headline, metric_label


def round_floats(frame: pd.DataFrame, decimals: int = 4) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(decimals)
    return out


def rst_table(head: list[str], body: list[list[str]]) -> list[str]:
    """A simple reStructuredText table."""
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    rule = "  ".join("=" * w for w in widths)

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    return [rule, fmt(head), rule, *map(fmt, body), rule, ""]


def _interval(low: float, high: float) -> str:
    return "" if np.isnan(low) else f"[{low:+.3f}, {high:+.3f}]"


def contrasts_summary(contrasts: pd.DataFrame) -> str:
    """The headline, the verdict per classifier x generator, the primary rows, the rest counted."""
    lines = ["**Does a generator beat plain rebalancing?** " + headline(contrasts), ""]
    if contrasts.empty:
        return "\n".join(lines) + "\n"
    pairs = pair_verdicts(contrasts)
    if len(pairs):
        lines += ["Verdict per classifier x generator (primary family):", ""]
        lines += rst_table(
            ["classifier", "generator", "verdict"],
            [
                [r.algorithm, r.gan + (" (placebo)" if r.placebo else ""), r.verdict]
                for r in pairs.itertuples()
            ],
        )
        primary = contrasts[(contrasts["family"] == "primary") & (contrasts["level"] == "method")]
        lines += [
            "Primary contrasts: difference, family-adjusted 95 % interval, adjusted p "
            "(Westfall-Young step-down max-T), verdict:",
            "",
        ]
        lines += rst_table(
            [
                "classifier",
                "generator",
                "reference",
                "metric",
                "difference",
                "adjusted interval",
                "p adj.",
                "verdict",
            ],
            [
                [
                    r.algorithm,
                    r.gan,
                    r.reference,
                    metric_label(r.metric, r.threshold),
                    f"{r.difference:+.3f}",
                    _interval(r.ci_low_adjusted, r.ci_high_adjusted),
                    "" if np.isnan(r.p_adjusted) else f"{r.p_adjusted:.3f}",
                    r.verdict,
                ]
                for r in primary.itertuples()
            ],
        )
    explore = contrasts[(contrasts["family"] == "exploratory") & (contrasts["level"] == "method")]
    if len(explore):
        calls = explore["unadjusted_call"].value_counts()
        lines += [
            f"Exploratory (every other contrast, {len(explore)} at the method level; no "
            "verdict, Benjamini-Hochberg q-values in ``p_adjusted``): unadjusted 95 % "
            "intervals " + ", ".join(f"{k}: {v}" for k, v in calls.items()) + ".",
            "",
        ]
    return "\n".join(lines) + "\n"
