"""Figures of the worth analysis: the real-data learning curve and worth per arm and phase."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from isicgan.io import atomic_path  # noqa: E402

from .worth import (  # noqa: E402
    TEST_SET_ORDER,
    Dist,
    WorthSpec,
    counts_by_key,
    learning_curve,
)

EXTRAPOLATE_TO = 2.0  # the learning-curve figure draws the fitted curve up to 2 x full data


def _save(fig, out: str | Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _ordered(values, first: tuple = ()) -> list:
    seen = list(dict.fromkeys(values))
    return [v for v in first if v in seen] + [v for v in seen if v not in first]


def _grid(n_rows: int, n_cols: int, width: float = 2.6, height: float = 2.3):
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(width * n_cols, height * n_rows), squeeze=False
    )
    return fig, axes


def _empty(out: str | Path, text: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    _save(fig, out)


def learning_curve_figure(
    dist: Dist, counts: pd.DataFrame, spec: WorthSpec, out: str | Path, metric: str | None = None
) -> None:
    """Metric against real malignant training tiles, one panel per classifier and test set.

    Line: the estimate (row 0); band: percentile interval of the resamples (spec.ci_level);
    solid black: the estimate's isotonic fit where it pooled points (the curve worth is read
    off); dashed: the power law fitted to that fit, shifted through the full-data point, as
    used to extrapolate (drawn to 2 x the full-data count).
    """
    metric = metric or spec.metrics[0]
    sign = -1.0 if metric in spec.lower_is_better else 1.0
    had = counts_by_key(counts)
    pairs = list(
        dict.fromkeys(
            (t, c) for t, c, p, a in had if p == spec.curve_phase and a in spec.curve_arms
        )
    )
    if not pairs:
        _empty(out, "No learning-curve arms were run.")
        return
    tests = _ordered([t for t, _ in pairs], TEST_SET_ORDER)
    clfs = _ordered([c for _, c in pairs])
    names = dict(zip(counts["classifier"], counts.get("algorithm", counts["classifier"])))
    alpha = (1 - spec.ci_level) / 2
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        fig, axes = _grid(len(tests), len(clfs))
        for i, test_set in enumerate(tests):
            for j, clf in enumerate(clfs):
                ax = axes[i, j]
                ax.set_title(
                    f"{names.get(clf, clf)}" + (f" ({test_set})" if len(tests) > 1 else ""),
                    fontsize=9,
                )
                if (test_set, clf) not in pairs:
                    ax.axis("off")
                    continue
                curve = learning_curve(dist, counts, spec, test_set, clf, metric)
                y = sign * curve.y
                lo = np.nanpercentile(y[1:], 100 * alpha, axis=0) if len(y) > 1 else y[0]
                hi = np.nanpercentile(y[1:], 100 * (1 - alpha), axis=0) if len(y) > 1 else y[0]
                ax.fill_between(
                    curve.n,
                    lo,
                    hi,
                    color="tab:blue",
                    alpha=0.18,
                    linewidth=0,
                    label=f"{100 * spec.ci_level:g} % resample band",
                )
                ax.plot(curve.n, y[0], "o-", color="tab:blue", ms=4, label="estimate")
                for a, n, v in zip(curve.arms, curve.n, y[0]):
                    ax.annotate(a, (n, v), fontsize=6, xytext=(2, -9), textcoords="offset points")
                iso = curve.iso[0]
                if curve.pooled[0]:
                    ax.plot(
                        curve.n, sign * iso, "-", color="black", lw=1, label="isotonic fit (used)"
                    )
                if curve.fit is not None and not np.isnan(iso).any():
                    b, c = curve.fit[0][0], curve.fit[1][0]
                    grid = np.geomspace(curve.n[-1], EXTRAPOLATE_TO * curve.n[-1], 30)
                    fit = iso[-1] + b * (curve.n[-1] ** -c - grid**-c)
                    ax.plot(
                        grid,
                        sign * fit,
                        "--",
                        color="grey",
                        lw=1,
                        label="fitted power law (extrapolation)",
                    )
                ax.set_xscale("log")
                ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
                ax.set_xticks(curve.n, [f"{n:,.0f}" for n in curve.n], fontsize=7)
                ax.set_xlim(curve.n[0] / 1.15, curve.n[-1] * EXTRAPOLATE_TO * 1.05)
                if i == len(tests) - 1:
                    ax.set_xlabel("real malignant training tiles")
                if j == 0:
                    ax.set_ylabel(metric)
        legend = {}  # every panel's entries, once each (the isotonic fit is not in every panel)
        for a in axes.flat:
            for handle, label in zip(*a.get_legend_handles_labels()):
                legend.setdefault(label, handle)
        handles, labels = list(legend.values()), list(legend)
        fig.legend(
            handles, labels, loc="upper center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 0.0)
        )
        fig.suptitle(
            f"Real-data learning curve: {metric} against real malignant training "
            f"tiles (resamples of test patients)",
            fontsize=10,
        )
        fig.tight_layout()
        _save(fig, out)


def worth_figure(table: pd.DataFrame, out: str | Path, metric: str | None = None) -> None:
    """Worth in real malignant tiles per phase and arm, one panel per classifier and test set.

    Filled circles: interpolated; open diamonds: extrapolated. Bars: the interval; a bound
    below the curve or beyond the cap is drawn at the panel's edge with a triangle.
    Dotted: the full-data count; dashed: the cap.
    """
    if table.empty:
        _empty(out, "No arm was valued.")
        return
    metric = metric or str(table["metric"].iloc[0])
    sel = table[table["metric"] == metric]
    tests = _ordered(sel["test_set"], TEST_SET_ORDER)
    clfs = _ordered(sel["classifier"])
    arms = _ordered(sel["arm"])
    palette = dict(zip(arms, sns.color_palette("tab10", len(arms))))
    offsets = dict(zip(arms, np.linspace(-0.3, 0.3, len(arms)) if len(arms) > 1 else [0.0]))
    phases = sorted(int(p) for p in sel["phase"].unique())
    y_min = float(sel["curve_min_n"].min()) / 2
    y_max = float(sel["worth_cap"].max()) * 2
    if not (math.isfinite(y_min) and math.isfinite(y_max) and 0 < y_min < y_max):
        y_min, y_max = 1.0, 10.0
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        fig, axes = _grid(len(tests), len(clfs), width=3.0)
        for i, test_set in enumerate(tests):
            for j, clf in enumerate(clfs):
                ax = axes[i, j]
                part = sel[(sel["test_set"] == test_set) & (sel["classifier"] == clf)]
                if part.empty:
                    ax.axis("off")
                    continue
                _worth_points(ax, part, offsets, palette, (y_min, y_max))
                ax.axhline(part["curve_max_n"].iloc[0], color="black", ls=":", lw=0.8)
                ax.axhline(part["worth_cap"].iloc[0], color="grey", ls="--", lw=0.8)
                ax.set_yscale("log")
                ax.set_ylim(y_min, y_max)
                ax.set_xticks(phases)
                ax.set_xlim(min(phases) - 0.5, max(phases) + 0.5)
                blank = part[part["worth_ci_low"].isna()]  # no number and no interval
                if not blank.empty:
                    why = dict.fromkeys(
                        textwrap.fill(r.split(":")[0].split(" (")[0], 26) for r in blank["reason"]
                    )
                    ax.text(
                        0.5,
                        0.5,
                        "no interval:\n" + "\n".join(why),
                        fontsize=7,
                        ha="center",
                        va="center",
                        transform=ax.transAxes,
                        color="dimgrey",
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
                    )
                missing = int(part["worth_real_tiles"].isna().sum())
                ax.set_title(
                    f"{part['algorithm'].iloc[0]}"
                    + (f" ({test_set})" if len(tests) > 1 else "")
                    + (f"\nno number: {missing} of {len(part)}" if missing else ""),
                    fontsize=8,
                )
                if i == len(tests) - 1:
                    ax.set_xlabel("phase")
                if j == 0:
                    ax.set_ylabel("worth (real malignant tiles)")
        handles = [plt.Line2D([], [], marker="o", color=palette[a], ls="", label=a) for a in arms]
        handles += [
            plt.Line2D(
                [],
                [],
                marker="D",
                color="grey",
                markerfacecolor="white",
                ls="",
                label="extrapolated",
            ),
            plt.Line2D([], [], color="black", ls=":", label="all real malignant tiles"),
            plt.Line2D([], [], color="grey", ls="--", label="cap"),
        ]
        fig.legend(
            handles=handles,
            loc="upper center",
            ncol=min(len(handles), 6),
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
        )
        fig.suptitle(
            f"Worth in real malignant tiles on the learning curve ({metric}), "
            f"with resample intervals",
            fontsize=10,
        )
        fig.tight_layout()
        _save(fig, out)


def _worth_points(ax, part: pd.DataFrame, offsets: dict, palette: dict, limits) -> None:
    """Every arm's worth and interval in one panel, an arm at its phase plus its offset;
    censored bounds drawn at the axis edge as triangles, extrapolated worths as open diamonds.

    One line collection and a few scatters per panel: a plot call per row and bound cost
    seconds once most rows had a number.
    """
    x = part["phase"].to_numpy(float) + part["arm"].map(offsets).to_numpy(float)
    colours = np.array([palette[a] for a in part["arm"]]).reshape(len(part), -1)
    lo = part["worth_ci_low"].to_numpy(float)
    hi = part["worth_ci_high"].to_numpy(float)
    bar = ~np.isnan(lo)
    bottom, top = np.where(lo == 0, limits[0], lo), np.where(np.isinf(hi), limits[1], hi)
    ax.add_collection(
        LineCollection(
            [[(xi, b), (xi, t)] for xi, b, t in zip(x[bar], bottom[bar], top[bar])],
            colors=colours[bar],
            linewidths=1.2,
        )
    )
    for censored, edge, marker in (
        (bar & (lo == 0), limits[0], "v"),
        (bar & np.isinf(hi), limits[1], "^"),
    ):
        if censored.any():
            ax.scatter(
                x[censored], np.full(censored.sum(), edge), s=16, marker=marker, c=colours[censored]
            )
    worth = part["worth_real_tiles"].to_numpy(float)
    extrapolated = part["extrapolated"].to_numpy(bool)
    inside = ~np.isnan(worth) & ~extrapolated
    outside = ~np.isnan(worth) & extrapolated
    if inside.any():
        ax.scatter(x[inside], worth[inside], s=25, marker="o", c=colours[inside], zorder=3)
    if outside.any():
        ax.scatter(
            x[outside],
            worth[outside],
            s=25,
            marker="D",
            facecolors="white",
            edgecolors=colours[outside],
            zorder=3,
        )
