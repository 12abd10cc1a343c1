"""Figures of synthetic quality: one per batch (real beside synthetic, closest train pairs) and
the quality of every batch of every GAN side by side."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from isicgan.io import atomic_path


def _plt():
    # lazy: matplotlib takes about a second to import; the modules are imported by jobs that
    # draw nothing (and by the workflow's tests)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: tiles shown of each side, and closest pairs shown, in a batch figure
N_SHOW, N_PAIRS = 16, 8


def batch_figure(
    path: str | Path,
    title: str,
    synthetic: np.ndarray,
    real: np.ndarray,
    train_tiles: np.ndarray,
    memo: dict,
    source: tuple[np.ndarray, dict] | None = None,
) -> None:
    """Real malignant train tiles beside the batch, the batch's closest train pairs and, for a
    translating generator (``source``: its source tiles and faithfulness), source beside result
    for the tiles that moved least and most. Every tile is upscaled (nearest neighbour) to at
    least 96 px; rows and columns are labelled."""
    n_show, n_pairs = N_SHOW, N_PAIRS
    source, faithfulness = source if source is not None else (None, None)
    # lazy: isicgan.gan imports torch, which the quality_table job (report env) has not
    from isicgan.gan.plots import show_grid

    plt = _plt()
    ncol = int(np.ceil(np.sqrt(n_show)))
    d_train = np.asarray(memo["distance_train"])
    order = np.argsort(d_train, kind="stable")[:n_pairs]
    nearest = np.asarray(memo["nearest_train_index"])[order]
    with_source = source is not None and faithfulness is not None
    heights = [5.6, 3.4] + ([3.6] if with_source else [])  # inches: tiles keep their aspect
    fig = plt.figure(figsize=(11, sum(heights) + 0.6))
    spec = fig.add_gridspec(len(heights), 2, height_ratios=heights)
    for col, (images, label) in enumerate(
        [
            (real[:n_show], f"real malignant train ({len(real)})"),
            (synthetic[:n_show], f"synthetic ({len(synthetic)})"),
        ]
    ):
        show_grid(
            fig.add_subplot(spec[0, col]), images, ncol, title=f"{label}: first {len(images)}"
        )
    pairs = np.concatenate([synthetic[order], train_tiles[nearest]])
    show_grid(
        fig.add_subplot(spec[1, :]),
        pairs,
        len(order),
        row_labels=["synthetic", "nearest train"],
        col_labels=[f"d={d:.3f}" for d in d_train[order]],
        title="closest pairs (copy distance d); copy threshold "
        f"{memo['copy_threshold']:.3f}, share below it "
        f"{memo['share_below_copy_threshold']:.2f}, copies "
        f"{memo['share_copies']:.2f}; novelty AUC "
        f"{memo['novelty_auc']:.2f} (0.5: as novel as real val tiles)"
        + ("; FLAGGED" if memo["flag"] else ""),
    )
    if with_source:
        tile = faithfulness["per_tile"]
        dist = np.asarray(tile["feature_distance"])
        change = np.asarray(tile["score_change"])
        half = max(1, min(n_pairs // 2, len(dist) // 2))
        ranked = np.argsort(dist, kind="stable")
        pick = np.concatenate([ranked[:half], ranked[::-1][:half]])
        labels = [
            f"{'least' if i < half else 'most'}\nd={dist[j]:.2f} ds={change[j]:+.2f}"
            for i, j in enumerate(pick)
        ]
        show_grid(
            fig.add_subplot(spec[2, :]),
            np.concatenate([source[pick], synthetic[pick]]),
            len(pick),
            row_labels=["source", "synthetic"],
            col_labels=labels,
            fontsize=8,
            title=f"least and most moved from the own source (in-domain distance d, "
            f"malignancy score change ds); near-identity share "
            f"{faithfulness['share_near_identity']:.2f}, mean MS-SSIM to source "
            f"{faithfulness['msssim']:.2f}",
        )
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


ACROSS = [
    ("fid_indomain_eq", "FID in-domain, equal size (read first)"),
    ("kid_indomain", "KID (in-domain)"),
    ("fid_inception_eq", "FID Inception, equal size"),
    ("class_fidelity", "class fidelity (share called malignant)"),
    ("share_near_identity", "near-identity share (translators)"),
    ("source_msssim", "MS-SSIM to own source (translators)"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("coverage", "coverage"),
    ("msssim", "mean pairwise MS-SSIM"),
    ("novelty_auc", "novelty AUC (memorisation)"),
    ("share_below_copy_threshold", "share below copy threshold"),
]
# the dashed real-data lines of a panel: (column, label)
REFERENCES = {
    "fid_indomain_eq": [("fid_indomain_eq_real", "real val vs train")],
    "fid_inception_eq": [("fid_inception_eq_real", "real val vs train")],
    "kid_indomain": [("kid_indomain_real", "real val vs train")],
    "class_fidelity": [
        ("class_fidelity_real_malignant", "real train malignant"),
        ("class_fidelity_real_benign", "real train benign"),
    ],
    "precision": [("precision_real", "real val vs train")],
    "recall": [("recall_real", "real val vs train")],
    "coverage": [("coverage_real", "real val vs train")],
    "msssim": [("msssim_real", "real train")],
}


def across_figure(path: str | Path, table) -> None:
    """One panel per metric: each generator's value per batch (one line per replicate, one
    colour per generator), real-data values in grey."""
    plt = _plt()
    fig, axes = plt.subplots(4, 3, figsize=(12, 12))
    colours = {gan: f"C{i}" for i, gan in enumerate(dict.fromkeys(table["gan"]))}
    for ax, (col, label) in zip(axes.flat, ACROSS):
        values_all = table[col].astype(float) if col in table else None
        for (gan, rep), rows in table.groupby(["gan", "replicate"], sort=False):
            values = rows[col].astype(float)
            if values.notna().any():
                ax.plot(
                    rows["batch"],
                    values,
                    marker="o",
                    c=colours[gan],
                    ls="-" if rep == 1 else "--",
                    label=f"{gan} r{rep}",
                )
        for (ref_col, ref_label), style in zip(REFERENCES.get(col, []), ["--", ":"]):
            if ref_col in table and table[ref_col].notna().any():
                ax.axhline(
                    float(table[ref_col].dropna().iloc[0]), ls=style, c="grey", label=ref_label
                )
        if col == "novelty_auc":
            ax.axhline(0.5, ls=":", c="grey")
        if values_all is None or values_all.isna().all():
            reason = (
                str(table["inception_reason"].dropna().iloc[0])
                if "inception" in col and table["inception_reason"].notna().any()
                else "no value"
            )
            if col in ("share_near_identity", "source_msssim"):
                reason = "no generator here translates source tiles"
            ax.text(
                0.5,
                0.5,
                "not computed:\n" + textwrap.fill(reason, 40),
                ha="center",
                va="center",
                fontsize=8,
                transform=ax.transAxes,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        elif REFERENCES.get(col):
            refs = [
                (h, lab)
                for h, lab in zip(*ax.get_legend_handles_labels())
                if lab in {r[1] for r in REFERENCES[col]}
            ]
            if refs:
                ax.legend([h for h, _ in refs], [lab for _, lab in refs], fontsize=6, loc="best")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("batch")
    lines = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab.rsplit(" r", 1)[0] in colours:
                lines.setdefault(lab, h)
    # one entry per generator replicate: lines maps label -> handle
    fig.legend(list(lines.values()), list(lines), loc="lower center", ncol=max(1, len(lines)))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
