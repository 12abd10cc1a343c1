"""Figures of GAN training: sample grids (thesis figures 6.1-6.3) and loss curves (figure 6.4)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from isicgan.io import atomic_path

MIN_TILE_PX = 96  # every tile of a grid is shown at least this large (nearest neighbour)


def upscale(images: np.ndarray, min_px: int = MIN_TILE_PX) -> np.ndarray:
    """Nearest-neighbour upscaling of uint8 (N, H, W, 3) tiles by the smallest whole factor that
    makes each side at least ``min_px`` (tiles already that large are returned as they are)."""
    images = np.asarray(images, dtype=np.uint8)
    factor = max(1, math.ceil(min_px / max(1, min(images.shape[1], images.shape[2]))))
    if factor == 1:
        return images
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


def image_grid(
    images: np.ndarray, ncol: int, pad: int = 2, pad_value: int = 255, min_px: int = MIN_TILE_PX
) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images row by row into one uint8 image with ``pad`` px gaps,
    each tile first upscaled (nearest neighbour) to at least ``min_px`` px."""
    images = upscale(images, min_px)
    n, h, w, _ = images.shape
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    grid = np.full(
        (nrow * h + (nrow + 1) * pad, ncol * w + (ncol + 1) * pad, 3), pad_value, dtype=np.uint8
    )
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = img
    return grid


def _plt():
    # lazy: matplotlib takes about a second to import; generate() needs none of it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def show_grid(
    ax,
    images: np.ndarray,
    ncol: int,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    title: str | None = None,
    pad: int = 2,
    fontsize: float = 9,
) -> None:
    """Draw :func:`image_grid` on a matplotlib axis with a label per row and per column."""
    images = np.asarray(images, dtype=np.uint8)
    grid = image_grid(images, ncol, pad=pad)
    ncol = max(1, min(ncol, len(images)))
    nrow = math.ceil(len(images) / ncol)
    th = (grid.shape[0] - pad) / nrow
    tw = (grid.shape[1] - pad) / ncol
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([pad / 2 + tw * (c + 0.5) for c in range(ncol)] if col_labels else [])
    if col_labels:
        ax.set_xticklabels(list(col_labels)[:ncol], fontsize=fontsize)
        ax.xaxis.tick_top()
    ax.set_yticks([pad / 2 + th * (r + 0.5) for r in range(nrow)] if row_labels else [])
    if row_labels:
        ax.set_yticklabels(list(row_labels)[:nrow], fontsize=fontsize)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=fontsize + 1)


def save_grid(
    path: str | Path,
    images: np.ndarray,
    ncol: int,
    title: str | None = None,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] | None = None,
) -> None:
    """Write a labelled sample grid PNG atomically: tiles upscaled to >= 96 px, one label per
    row (``row_labels``, else "samples i-j") and per column (``col_labels``, else 1..ncol)."""
    plt = _plt()
    images = np.asarray(images, dtype=np.uint8)
    ncol = max(1, min(ncol, len(images)))
    nrow = math.ceil(len(images) / ncol)
    if not row_labels:
        row_labels = [
            f"samples {r * ncol + 1}-{min(len(images), (r + 1) * ncol)}" for r in range(nrow)
        ]
    col_labels = list(col_labels) if col_labels else [str(c + 1) for c in range(ncol)]
    grid_h, grid_w = image_grid(images[:1], 1).shape[:2]
    dpi, left, top = 100, 170, 70
    width, height = ncol * grid_w + left + 20, nrow * grid_h + top + 20
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_axes((left / width, 20 / height, 1 - (left + 20) / width, 1 - (top + 20) / height))
    show_grid(ax, images, ncol, row_labels, col_labels)
    if title:
        fig.suptitle(title, fontsize=11)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)


def plot_losses(
    history: Sequence[dict[str, float]],
    loss_names: Sequence[str],
    path: str | Path,
    title: str,
    references: dict[str, float] | None = None,
) -> None:
    """One panel per loss (or per quality column of the evaluated epochs) against the epoch;
    ``references``: a dashed real-data value per column name. Written atomically, byte-stable."""
    plt = _plt()
    references = references or {}

    names = [k for k in loss_names if any(k in row and row[k] == row[k] for row in history)]
    ncol = min(3, max(1, len(names)))
    nrow = max(1, math.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), squeeze=False, sharex=True)
    for ax, name in zip(axes.flat, names):
        xs = [row["epoch"] for row in history if name in row and row[name] == row[name]]
        ys = [row[name] for row in history if name in row and row[name] == row[name]]
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, linewidth=1.2)
        if references.get(name) is not None:
            ax.axhline(references[name], ls="--", c="grey", linewidth=1, label="real tiles")
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
