"""Figures of the classifier study (seaborn): contrasts, trends over phases, arms, ROC, confusions."""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from isicgan.classify.datasets import CONTROL_ARMS  # noqa: E402
from isicgan.classify.models import DISPLAY_NAMES  # noqa: E402
from isicgan.io import atomic_path  # noqa: E402

from .headline import headline, metric_label  # noqa: E402
from .resampling import read_predictions  # noqa: E402

log = logging.getLogger(__name__)

#: the figures of the classify stage, in report order
FIGURES = ["contrasts", "metrics_by_phase", "arms", "roc_curves", "confusion_matrices"]
LABELS = {
    "malignant_recall": "malignant recall",
    "benign_recall": "benign recall",
    "malignant_precision": "malignant precision",
    "malignant_f1": "malignant F1",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC-AUC",
}


def _save(fig, out: str | Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _with_baseline(arms: pd.DataFrame, arm_names: list[str]) -> pd.DataFrame:
    """Phase 0 (baseline) repeated as the first point of every arm's line."""
    base = arms[(arms["phase"] == 0) & (arms["arm"] == "baseline")]
    copies = [base.assign(arm=a) for a in arm_names]
    return pd.concat([*copies, arms[arms["phase"] > 0]], ignore_index=True)


def _band_grid(
    frame: pd.DataFrame, metrics: list[str], hue: str | None, title: str, out: str | Path
):
    algos = [a for a in DISPLAY_NAMES.values() if a in set(frame["algorithm"])]
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(
        len(metrics),
        len(algos),
        figsize=(2.6 * len(algos), 2.2 * len(metrics)),
        sharex=True,
        sharey="row",
        squeeze=False,
    )
    if hue:
        present = list(frame[hue].unique())
        hues = [h for h in CONTROL_ARMS if h in present] + [
            h for h in present if h not in CONTROL_ARMS
        ]
    else:
        hues = [None]
    palette = dict(zip(hues, sns.color_palette("tab10", len(hues))))
    for i, m in enumerate(metrics):
        for j, algo in enumerate(algos):
            ax = axes[i, j]
            sub = frame[frame["algorithm"] == algo]
            for h in hues:
                line = sub if h is None else sub[sub[hue] == h]
                line = line.sort_values("phase")
                color = palette[h] if h else "tab:blue"
                style = "--" if h in CONTROL_ARMS else "-"
                ax.plot(
                    line["phase"], line[m], marker="o", ms=3, color=color, ls=style, label=h or m
                )
                if f"{m}_ci_low" in line:
                    ax.fill_between(
                        line["phase"],
                        line[f"{m}_ci_low"],
                        line[f"{m}_ci_high"],
                        color=color,
                        alpha=0.12,
                        linewidth=0,
                    )
            if i == 0:
                ax.set_title(algo, fontsize=9)
            if j == 0:
                ax.set_ylabel(LABELS.get(m, m))
            if i == len(metrics) - 1:
                ax.set_xlabel("phase")
            ax.set_ylim(-0.02, 1.02)
    if hue:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="upper center",
            ncol=len(hues),
            frameon=False,
            bbox_to_anchor=(0.5, 1.0),
        )
    fig.suptitle(title, y=1.04 if hue else 1.0)
    _save(fig, out)


#: marker of each primary verdict: (marker, filled)
VERDICT_MARKERS = {
    "better": ("^", True),
    "worse": ("v", True),
    "equivalent": ("D", True),
    "inconclusive": ("o", False),
    "too few replicates": ("x", True),
}


#: the widest a difference of each metric can be (pAUC above TPR 0.8 lies in [0, 0.2])
DIFFERENCE_RANGE = {"pauc_80": 0.2}


def _forest_limit(differences: pd.Series, margin: float, metric: str) -> float:
    """Half-width of a forest panel's axis: the estimates and the margin with room, never
    wider than the metric's own range."""
    spread = float(np.nanmax(np.abs(differences))) if len(differences) else 0.0
    wanted = max(4 * margin if np.isfinite(margin) else 0.0, 1.5 * spread, 1e-3)
    return min(wanted, DIFFERENCE_RANGE.get(metric, 1.0))


def contrasts_forest(contrasts: pd.DataFrame, out: str | Path) -> None:
    """Forest plot of the primary family: generator minus each reference, per classifier.

    One panel per primary metric, one row per classifier x reference, one colour per
    generator (the placebo grey), its family-adjusted 95 % interval, the equivalence margin
    shaded, the marker shape its verdict; the title holds the headline and the placebo's
    false-positive rate.
    """
    sns.set_theme(style="whitegrid", context="paper")
    primary = (
        contrasts[(contrasts["family"] == "primary") & (contrasts["level"] == "method")]
        if len(contrasts)
        else contrasts
    )
    if primary.empty:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(
            0.5, 0.5, "\n".join(textwrap.wrap(headline(contrasts), 90)), ha="center", va="center"
        )
        _save(fig, out)
        return
    panels = list(dict.fromkeys(primary["metric"]))
    rows = list(dict.fromkeys(zip(primary["algorithm"], primary["reference"])))
    gans = list(dict.fromkeys(primary["gan"]))
    placebos = set(primary.loc[primary["placebo"].astype(bool), "gan"])
    colours = iter(sns.color_palette("tab10", len(gans)))
    palette = {g: (0.5, 0.5, 0.5) if g in placebos else next(colours) for g in gans}
    offsets = dict(zip(gans, np.linspace(-0.3, 0.3, len(gans)) if len(gans) > 1 else [0.0]))
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(3.2 * len(panels), 1.2 + 0.36 * len(rows)),
        sharey=True,
        squeeze=False,
    )
    y_of = {r: i for i, r in enumerate(rows)}
    for ax, metric in zip(axes[0], panels):
        part = primary[primary["metric"] == metric]
        margin = float(part["margin"].iloc[0])
        if np.isfinite(margin):
            ax.axvspan(-margin, margin, color="green", alpha=0.08, lw=0)
        # a t interval on 1-2 df can reach far beyond what the metric allows: the axis shows
        # the estimates and the margin, and an interval that leaves it ends in an arrow
        limit = _forest_limit(part["difference"], margin, metric)
        for c in part.itertuples():
            y = y_of[(c.algorithm, c.reference)] + offsets[c.gan]
            colour = palette[c.gan]
            low = c.ci_low_adjusted if np.isfinite(c.ci_low_adjusted) else c.ci_low
            high = c.ci_high_adjusted if np.isfinite(c.ci_high_adjusted) else c.ci_high
            if np.isfinite(low):
                ax.plot([max(low, -limit), min(high, limit)], [y, y], color=colour, lw=1.2)
                for end, inside, arrow in ((low, low >= -limit, "<"), (high, high <= limit, ">")):
                    if not inside:
                        ax.plot(np.sign(end) * limit, y, arrow, ms=4, color=colour)
            marker, filled = VERDICT_MARKERS.get(c.verdict, ("o", False))
            ax.plot(
                c.difference,
                y,
                marker,
                ms=5,
                color=colour,
                markerfacecolor=colour if filled else "white",
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-1.05 * limit, 1.05 * limit)
        ax.set_title(metric_label(metric, "none") + f" (margin +-{margin:g})", fontsize=8)
        ax.set_xlabel("generator minus reference", fontsize=7)
        for i in range(1, len(rows)):
            if rows[i][0] != rows[i - 1][0]:
                ax.axhline(i - 0.5, color="grey", lw=0.6)
    axes[0, 0].set_yticks(range(len(rows)))
    axes[0, 0].set_yticklabels([f"{a}  vs {r}" for a, r in rows], fontsize=7)
    axes[0, 0].invert_yaxis()
    handles = [
        plt.Line2D(
            [],
            [],
            color=palette[g],
            ls="-",
            label=g + (" (placebo)" if g in placebos and g != "placebo" else ""),
        )
        for g in gans
    ]
    handles += [
        plt.Line2D(
            [],
            [],
            marker=m,
            color="black",
            ls="",
            markerfacecolor="black" if f else "white",
            label=v,
        )
        for v, (m, f) in VERDICT_MARKERS.items()
    ]
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=min(len(handles), 6),
        frameon=False,
        bbox_to_anchor=(0.5, -0.4 / fig.get_size_inches()[1]),
    )
    phase = int(primary["phase"].iloc[0])
    lines = [
        f"Primary question, phase {phase}: generator minus reference, family-adjusted 95 % "
        "intervals (patients, replicates, seeds); shaded: equivalence margin; arrow: the "
        "interval goes on beyond the axis"
    ] + textwrap.wrap(headline(contrasts), 150)
    height = fig.get_size_inches()[1]
    fig.suptitle("\n".join(lines), fontsize=8, va="bottom", y=1.0 + 0.1 / height)
    _save(fig, out)


def metrics_by_phase(arms: pd.DataFrame, generator: str, out: str | Path) -> None:
    """Test metrics against phase (generator arm), per classifier, bootstrap 95 % bands."""
    frame = arms[
        ((arms["phase"] == 0) & (arms["arm"] == "baseline"))
        | ((arms["phase"] > 0) & (arms["arm"] == generator))
    ]
    _band_grid(
        frame,
        [
            "malignant_recall",
            "benign_recall",
            "malignant_precision",
            "balanced_accuracy",
            "roc_auc",
        ],
        None,
        f"Test metrics by phase ({generator} batches added), mean over seeds, "
        "95 % interval (test patients, replicates, seeds)",
        out,
    )


def arms_comparison(arms: pd.DataFrame, out: str | Path) -> None:
    """Every arm against phase: does a GAN beat plain rebalancing?"""
    arm_names = list(arms.loc[arms["phase"] > 0, "arm"].unique())
    frame = _with_baseline(arms, arm_names)
    _band_grid(
        frame,
        ["balanced_accuracy", "malignant_recall", "benign_recall", "roc_auc"],
        "arm",
        "Arms: GAN batches (solid) vs oversampling, augmentation and class weights "
        "(dashed); test, mean over runs, 95 % interval (patients, replicates, seeds)",
        out,
    )


def _final_configs(preds: pd.DataFrame, generator: str) -> list[tuple[int, str, str]]:
    last = int(preds["phase"].max())
    configs = [(0, "baseline", "phase 0 (baseline)")]
    for arm in [generator, "oversample"]:
        if ((preds["phase"] == last) & (preds["arm"] == arm)).any() and last > 0:
            configs.append((last, arm, f"phase {last}, {arm}"))
    return configs


def roc_curves(preds: pd.DataFrame, generator: str, out: str | Path) -> None:
    """Test ROC curves (all seeds pooled) of the baseline and the last phase, per classifier."""
    sns.set_theme(style="whitegrid", context="paper")
    clfs = [c for c in DISPLAY_NAMES if c in set(preds["classifier"])]
    fig, axes = plt.subplots(1, len(clfs), figsize=(2.7 * len(clfs), 2.9), squeeze=False)
    for ax, clf in zip(axes[0], clfs):
        sub = preds[preds["classifier"] == clf]
        for phase, arm, label in _final_configs(sub, generator):
            sel = sub[(sub["phase"] == phase) & (sub["arm"] == arm)]
            fpr, tpr, _ = roc_curve(sel["target"], sel["score"])
            ax.plot(fpr, tpr, label=label)
        ax.plot([0, 1], [0, 1], ls=":", color="grey")
        ax.axhline(0.8, ls="--", color="grey", lw=0.7)
        ax.set_title(DISPLAY_NAMES[clf], fontsize=9)
        ax.set_xlabel("false-positive rate")
        ax.set_aspect("equal")
    axes[0, 0].set_ylabel("true-positive rate")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 1.08)
    )
    _save(fig, out)


def _count_heatmap(ax, counts: np.ndarray, labels: list[str], cmap: str = "Blues") -> None:
    """A 2 x 2 count matrix as coloured cells with the count written in each, dark on light
    cells and light on dark ones (true class down, predicted across).

    Drawn with matplotlib: seaborn's heatmap draws the whole figure once per call to check
    its tick labels, which made a figure of 18 matrices cost seconds.
    """
    norm = plt.Normalize(counts.min(), counts.max())
    ax.pcolormesh(counts, cmap=cmap, norm=norm)
    colours = plt.get_cmap(cmap)(norm(counts))
    luminance = colours[..., :3] @ np.array([0.2126, 0.7152, 0.0722])
    for (row, col), value in np.ndenumerate(counts):
        colour = "white" if luminance[row, col] <= 0.408 else "black"
        ax.text(col + 0.5, row + 0.5, str(value), ha="center", va="center", color=colour)
    ticks = np.arange(len(labels)) + 0.5
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels, rotation="vertical", va="center")
    ax.set_xlim(0, len(labels))
    ax.set_ylim(len(labels), 0)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def confusion_matrices(
    preds: pd.DataFrame, generator: str, threshold: float, out: str | Path
) -> None:
    """Test confusion matrices at the threshold, summed over seeds."""
    sns.set_theme(style="white", context="paper")
    clfs = [c for c in DISPLAY_NAMES if c in set(preds["classifier"])]
    configs = _final_configs(preds, generator)
    fig, axes = plt.subplots(
        len(configs), len(clfs), figsize=(2.3 * len(clfs), 2.2 * len(configs)), squeeze=False
    )
    for i, (phase, arm, label) in enumerate(configs):
        for j, clf in enumerate(clfs):
            sel = preds[
                (preds["classifier"] == clf) & (preds["phase"] == phase) & (preds["arm"] == arm)
            ]
            pred = (sel["score"].to_numpy() > threshold).astype(int)
            y = sel["target"].to_numpy().astype(int)
            cm = np.array([[np.sum((y == t) & (pred == p)) for p in (0, 1)] for t in (0, 1)])
            _count_heatmap(axes[i, j], cm, ["benign", "malignant"])
            if i == 0:
                axes[i, j].set_title(DISPLAY_NAMES[clf], fontsize=9)
            if j == 0:
                axes[i, j].set_ylabel(f"{label}\ntrue")
            if i == len(configs) - 1:
                axes[i, j].set_xlabel("predicted")
    _save(fig, out)


@dataclass(frozen=True)
class FiguresSpec:
    """Settings of the classify_figures stage."""

    generator: str
    threshold: float

    @classmethod
    def from_dict(cls, d: dict) -> FiguresSpec:
        return cls(**d)


def write_figures(inputs: dict, spec: FiguresSpec, outputs: dict) -> None:
    """The figures of the classify stage. ``inputs``: arms, predictions (paths), contrasts;
    ``outputs``: one path per name of :data:`FIGURES`."""
    arms = pd.read_csv(inputs["arms"])
    arms = arms[arms["test_set"] == "test"]
    preds = read_predictions(list(inputs["predictions"]))
    preds = preds[preds["test_set"] == "test"]
    contrasts = pd.read_csv(inputs["contrasts"], dtype={"threshold": str})
    contrasts_forest(contrasts, outputs["contrasts"])
    metrics_by_phase(arms, spec.generator, outputs["metrics_by_phase"])
    arms_comparison(arms, outputs["arms"])
    roc_curves(preds, spec.generator, outputs["roc_curves"])
    confusion_matrices(preds, spec.generator, spec.threshold, outputs["confusion_matrices"])
