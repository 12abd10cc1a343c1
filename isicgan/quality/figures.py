"""Figures of synthetic quality: one per batch (real beside synthetic, closest train pairs) and
the quality of every batch of every GAN side by side."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from isicgan.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grid(images: np.ndarray, ncol: int, pad: int = 2) -> np.ndarray:
    """Tile uint8 N x H x W x 3 images into one image, ``ncol`` per row, white gaps."""
    n, h, w, _ = images.shape
    nrow = max(1, -(-n // ncol))
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = img
    return out


def batch_figure(path: str | Path, title: str, synthetic: np.ndarray, real: np.ndarray,
                 train_tiles: np.ndarray, memo: dict, n_show: int = 16, n_pairs: int = 8) -> None:
    """Real malignant train tiles beside the batch, and the batch's closest train pairs."""
    plt = _plt()
    ncol = int(np.ceil(np.sqrt(n_show)))
    d_train = np.asarray(memo["distance_train"])
    order = np.argsort(d_train, kind="stable")[:n_pairs]
    nearest = np.asarray(memo["nearest_train_index"])[order]
    fig = plt.figure(figsize=(10, 8.5))
    spec = fig.add_gridspec(2, 2, height_ratios=[3, 1.4])
    for col, (images, label) in enumerate([(real[:n_show], f"real malignant train ({len(real)})"),
                                           (synthetic[:n_show], f"synthetic ({len(synthetic)})")]):
        ax = fig.add_subplot(spec[0, col])
        ax.imshow(grid(images, ncol), interpolation="nearest")
        ax.set_title(f"{label}: first {len(images)}")
        ax.axis("off")
    ax = fig.add_subplot(spec[1, :])
    pairs = np.concatenate([synthetic[order], train_tiles[nearest]])
    ax.imshow(grid(pairs, len(order)), interpolation="nearest")
    ax.set_title("closest pairs: synthetic (top) over its nearest real train tile (bottom); "
                 "RMS pixel distance " + ", ".join(f"{d:.3f}" for d in d_train[order]) +
                 f"\nclosest two real train tiles: {memo['closest_real_pair_distance']:.3f}; "
                 f"novelty AUC {memo['novelty_auc']:.2f} (0.5: as novel as real val tiles); "
                 f"share closer to train than val {memo['share_closer_to_train']:.2f}"
                 + ("; FLAGGED" if memo["flag"] else ""), fontsize=8)
    ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


ACROSS = [("fid_indomain", "FID (in-domain)"), ("kid_indomain", "KID (in-domain)"),
          ("fid_inception", "FID (Inception)"), ("precision", "precision"), ("recall", "recall"),
          ("density", "density"), ("coverage", "coverage"), ("msssim", "mean pairwise MS-SSIM"),
          ("novelty_auc", "novelty AUC (memorisation)")]


def across_figure(path: str | Path, table) -> None:
    """One panel per metric: each generator's value per batch (one line per replicate, one
    colour per generator), the real-vs-real value dashed."""
    plt = _plt()
    fig, axes = plt.subplots(3, 3, figsize=(12, 9))
    colours = {gan: f"C{i}" for i, gan in enumerate(dict.fromkeys(table["gan"]))}
    for ax, (col, label) in zip(axes.flat, ACROSS):
        ref_col = {"msssim": "msssim_real", "novelty_auc": None}.get(col, f"{col}_real")
        for (gan, rep), rows in table.groupby(["gan", "replicate"], sort=False):
            values = rows[col].astype(float)
            if values.notna().any():
                ax.plot(rows["batch"], values, marker="o", c=colours[gan],
                        ls="-" if rep == 1 else "--", label=f"{gan} r{rep}")
        if ref_col and ref_col in table and table[ref_col].notna().any():
            ax.axhline(float(table[ref_col].dropna().iloc[0]), ls="--", c="grey", label="real vs real")
        if col == "novelty_auc":
            ax.axhline(0.5, ls=":", c="grey")
        if table[col].isna().all():
            import textwrap

            reason = str(table["inception_reason"].dropna().iloc[0]) if col.endswith("inception") \
                and table["inception_reason"].notna().any() else "no value"
            ax.text(0.5, 0.5, "not computed:\n" + textwrap.fill(reason, 40), ha="center",
                    va="center", fontsize=8, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(label)
        ax.set_xlabel("batch")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
