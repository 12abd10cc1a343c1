"""Figures of GAN training: sample grids (thesis figures 6.1-6.3) and loss curves (figure 6.4)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from isicgan.io import atomic_path, save_png


def image_grid(images: np.ndarray, ncol: int, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images row by row into one uint8 image with ``pad`` px gaps."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w, _ = images.shape
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    grid = np.full((nrow * h + (nrow + 1) * pad, ncol * w + (ncol + 1) * pad, 3), pad_value,
                   dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = img
    return grid


def save_grid(path: str | Path, images: np.ndarray, ncol: int) -> None:
    """Write a sample grid PNG atomically."""
    with atomic_path(path) as tmp:
        save_png(tmp, image_grid(images, ncol))


def plot_losses(history: Sequence[dict[str, float]], loss_names: Sequence[str],
                path: str | Path, title: str) -> None:
    """One panel per loss against the epoch; written atomically, byte-stable."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in loss_names if any(k in row and row[k] == row[k] for row in history)]
    ncol = min(3, max(1, len(names)))
    nrow = max(1, math.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.8 * nrow), squeeze=False,
                             sharex=True)
    for ax, name in zip(axes.flat, names):
        xs = [row["epoch"] for row in history if name in row and row[name] == row[name]]
        ys = [row[name] for row in history if name in row and row[name] == row[name]]
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, linewidth=1.2)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
