"""Augmented copies of real malignant train tiles: the ``augment`` control arm of the classifier
study and the ``placebo`` generator draw them the same way.

:func:`malignant_copies` picks which real tiles are copied (seeded permutations laid end to end,
so a prefix of the copies serves a smaller need); :func:`augment_tiles` gives each copy one draw of
flips, a 90-degree rotation and colour jitter (brightness, contrast, saturation in 0.9..1.1).
"""

from __future__ import annotations

import numpy as np


def malignant_copies(train_y: np.ndarray, seed: int, n: int) -> np.ndarray:
    """``n`` indices of malignant train tiles: seeded permutations laid end to end.

    Every tile is copied as evenly as possible, and the first ``m`` of ``n`` are the
    copies used when ``m`` are needed (phase k uses a prefix), so phases are nested.
    """
    members = np.flatnonzero(np.asarray(train_y) == 1)
    if not len(members):
        raise ValueError("no malignant train tiles to copy")
    rng = np.random.default_rng([seed, 1])
    reps = -(-n // len(members))
    return np.concatenate([rng.permutation(members) for _ in range(reps)])[:n]


def augment_tiles(images: np.ndarray, seed: int) -> np.ndarray:
    """Seeded flips, 90-degree rotations and colour jitter of uint8 RGB tiles (one draw each)."""
    rng = np.random.default_rng([seed, 2])
    out = np.empty_like(images)
    for i, tile in enumerate(images):
        t = tile.astype(np.float32)
        if rng.random() < 0.5:
            t = t[:, ::-1]
        if rng.random() < 0.5:
            t = t[::-1]
        t = np.rot90(t, k=int(rng.integers(0, 4)))
        brightness, contrast, saturation = rng.uniform(0.9, 1.1, size=3)
        t = t * brightness
        t = (t - t.mean()) * contrast + t.mean()
        grey = t.mean(axis=2, keepdims=True)
        t = (t - grey) * saturation + grey
        out[i] = np.clip(np.rint(t), 0, 255).astype(np.uint8)
    return out
