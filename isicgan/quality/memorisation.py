"""Memorisation audit: does a generator hand back (near-)copies of its real training tiles?

Space (the *copy distance*): each tile's RGB values, scaled to [0, 1], minus the tile's mean
value; the distance between two tiles is the root mean squared difference of those, least over
the 8 flips and 90-degree rotations of the first. So a copy stays a copy when it is flipped,
rotated or made brighter; a contrast or saturation change of 10 % (the colour jitter of the
``augment`` arm and the ``placebo`` generator) leaves a residue of about a tenth of the tile's
own spread, well below the distance between two different lesions. 0 = the same tile up to
those changes. Not scaled by each tile's spread: that would blow a low-contrast, over-smooth
tile up into a look-alike of every tile. Pixels, not features: what a privacy reader means by
"a copy"; a feature space would also call two different lesions of one look-alike close.

For each synthetic tile: the copy distance to its closest real train tile and to its closest real
val tile (all classes: the tiles the GANs trained on, and tiles they never saw).

- ``share_closer_to_train``: share of synthetic tiles nearer to train than to val, with train
  subsampled to the val size (``draws`` seeded subsets, averaged) so that both sets are equally
  large. Its 0.5 null assumes train and val tiles are exchangeable; a patient-level split with
  few val patients breaks that, so it is reported but not used for the flag.
- ``novelty_auc``: the probability that a synthetic tile lies nearer to the train set than a real
  val tile (unseen by every GAN) does (Mann-Whitney AUC of the two nearest-train distances, ties
  half; after Meehan et al. 2020's data-copying test). 0.5: as novel as real unseen tiles; 1:
  copies, but also over-smooth "average" tiles, so a high value sends the reader to the
  closest-pairs figure rather than raising the flag.
- ``copy_threshold``: the ``copy_quantile`` quantile (``quality.copy_quantile``, 0.01 by
  default) of the nearest-train copy distances of the real *val* tiles: tiles of patients no
  generator saw. So about ``copy_quantile`` of real tiles of unseen patients fall below it, which
  is what a threshold for "nearer than an unseen real tile would be" means. (Train-to-train
  distances would include pairs of one patient's tiles, near-duplicates, and put the threshold
  so low that almost no tile of an unseen patient, and no lightly changed copy, falls below it.)
- ``share_below_copy_threshold``: share of synthetic tiles nearer to a train tile than
  ``copy_threshold``: about ``copy_quantile`` for a generator as novel as unseen real tiles, 1
  for a batch of copies.
- ``share_copies``: share of synthetic tiles that are copies: below the copy threshold *and*
  nearer their closest train tile than half their distance to the mean train tile. The second
  condition keeps an over-smooth "average" tile, which in pixel space lies near every tile,
  from counting as a copy (``novelty_high`` reports it); a real copy lies near one tile.
- ``flag``: true when more than ``COPY_SHARE`` (5 %) of the batch are copies.
  ``novelty_high`` says whether ``novelty_auc`` lies more than 3 standard errors (of the AUC
  under the null) above 0.5. The closest real pair is still reported (``closest_real_pair``).
"""

from __future__ import annotations

import math

import numpy as np

COPY_SHARE = 0.05
CENTRE_RATIO = 0.5
COPY_QUANTILE = 0.01
DRAWS = 20


def pixel_vectors(images: np.ndarray) -> np.ndarray:
    """uint8 N x H x W x 3 -> float32 N x (H W 3): each tile's pixels in [0, 1] minus their
    mean (so a brightness shift does not count)."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return x - x.mean(axis=1, keepdims=True)


def dihedral_views(images: np.ndarray) -> list[np.ndarray]:
    """The tiles under the 8 flips and 90-degree rotations (the 2 flips of non-square tiles),
    each as :func:`pixel_vectors`; view 0 is the tiles as they are."""
    images = np.asarray(images)
    turns = range(4) if images.shape[1] == images.shape[2] else (0, 2)
    return [
        pixel_vectors(np.ascontiguousarray(np.rot90(flipped, k, axes=(1, 2))))
        for flipped in (images, images[:, :, ::-1])
        for k in turns
    ]


def distance_matrix(a: np.ndarray, b: np.ndarray, chunk: int = 512) -> np.ndarray:
    """RMS distances between the rows of ``a`` and ``b`` (float32 vectors)."""
    dim = a.shape[1]
    nb = (b.astype(np.float64) ** 2).sum(axis=1)
    out = np.empty((len(a), len(b)), dtype=np.float64)
    for start in range(0, len(a), chunk):
        block = a[start : start + chunk]
        na = (block.astype(np.float64) ** 2).sum(axis=1)
        sq = na[:, None] + nb[None, :] - 2.0 * (block @ b.T).astype(np.float64)
        out[start : start + chunk] = np.sqrt(np.clip(sq, 0, None) / dim)
    return out


def copy_distance_matrix(views: list[np.ndarray], b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copy distances of the tiles of ``views`` (:func:`dihedral_views`) to the rows of ``b``
    (:func:`pixel_vectors`): the least over the views, and which view gave it."""
    best = distance_matrix(views[0], b)
    which = np.zeros(best.shape, dtype=np.int8)
    for k, view in enumerate(views[1:], start=1):
        d = distance_matrix(view, b)
        closer = d < best
        best = np.where(closer, d, best)
        which[closer] = k
    return best, which


def _exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact RMS distances of row pairs a[i], b[i] (float64), to clean float32 round-off."""
    return np.sqrt(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=1))


def _nearest_of(
    views: list[np.ndarray], b: np.ndarray, d: np.ndarray, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    idx = d.argmin(axis=1)
    view = which[np.arange(len(idx)), idx]
    exact = np.array([_exact(views[k][[i]], b[[j]])[0] for i, (k, j) in enumerate(zip(view, idx))])
    return exact, idx


def nearest(views: list[np.ndarray], b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each tile of ``views``: exact copy distance to, and index of, its nearest row of ``b``."""
    if not len(views[0]):
        return np.zeros(0), np.zeros(0, dtype=int)
    return _nearest_of(views, b, *copy_distance_matrix(views, b))


def closest_real_pair(train: np.ndarray) -> dict:
    """The smallest copy distance between two distinct real train tiles, and which ones."""
    if len(train) < 2:
        raise ValueError("the memorisation audit needs at least 2 real train tiles")
    views = dihedral_views(train)
    d, which = copy_distance_matrix(views, views[0])
    np.fill_diagonal(d, np.inf)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    return {
        "distance": float(_exact(views[which[i, j]][[i]], views[0][[j]])[0]),
        "index": [int(i), int(j)],
    }


def copy_threshold(train: np.ndarray, val: np.ndarray, quantile: float = COPY_QUANTILE) -> dict:
    """The ``quantile`` of the copy distances from each real val tile to its nearest real train
    tile (see the module docstring): tiles of unseen patients fall below it at that rate."""
    if len(train) < 1 or len(val) < 2:
        raise ValueError(
            f"the copy threshold needs real train and val tiles, got {len(train)} and {len(val)}"
        )
    if not 0 <= quantile < 0.5:
        raise ValueError(f"copy quantile must lie in [0, 0.5), got {quantile}")
    nn, _ = nearest(dihedral_views(val), pixel_vectors(train))
    return {
        "distance": float(np.quantile(nn, quantile)),
        "quantile": float(quantile),
        "median_nn_distance": float(np.median(nn)),
        "n_train": int(len(train)),
        "n_val": int(len(val)),
        "from": "val tiles' nearest train tile (unseen patients)",
    }


def audit(
    synthetic: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    threshold: float,
    seed: int,
    draws: int = DRAWS,
) -> dict:
    """The memorisation numbers of one batch (see the module docstring) and per-tile details."""
    if len(train) < len(val):
        raise ValueError(
            f"memorisation audit: fewer train ({len(train)}) than val ({len(val)}) tiles"
        )
    views, t, v = dihedral_views(synthetic), pixel_vectors(train), pixel_vectors(val)
    d_st, which = copy_distance_matrix(views, t)
    d_train, train_idx = _nearest_of(views, t, d_st, which)
    d_val, val_idx = nearest(views, v)
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(draws):
        subset = rng.choice(len(t), len(v), replace=False)
        d_sub = d_st[:, subset].min(axis=1)
        d_sub = np.where(np.isin(train_idx, subset), d_train, d_sub)  # exact where it is the NN
        shares.append(np.mean((d_sub < d_val) + 0.5 * (d_sub == d_val)))
    share_train = float(np.mean(shares))
    share_below = float(np.mean(d_train < threshold))
    # a copy is near one train tile, not near the centre of them all (an over-smooth tile)
    d_centre = np.min(
        [_exact(view, np.broadcast_to(t.mean(axis=0), view.shape)) for view in views], axis=0
    )
    copies = (d_train < threshold) & (d_train < CENTRE_RATIO * d_centre)
    share_copy = float(np.mean(copies))
    d_val_train, _ = nearest(dihedral_views(val), t)
    auc = float(
        np.mean(
            (d_train[:, None] < d_val_train[None, :])
            + 0.5 * (d_train[:, None] == d_val_train[None, :])
        )
    )
    n1, n2 = len(synthetic), len(v)
    auc_limit = 0.5 + 3 * math.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    reasons = []
    if share_copy > COPY_SHARE:
        reasons.append(
            f"{share_copy:.0%} of the batch are copies: nearer a train tile than the "
            f"copy threshold {threshold:.4f} (limit {COPY_SHARE:.0%})"
        )
    return {
        "space": "copy distance: RMS difference of mean-centred tiles in [0, 1], least over "
        "the 8 flips/rotations",
        "n_train": int(len(t)),
        "n_val": int(len(v)),
        "draws": draws,
        "share_closer_to_train": share_train,
        "novelty_auc": auc,
        "novelty_auc_limit": auc_limit,
        "novelty_high": bool(auc > auc_limit),
        "median_distance_val_to_train": float(np.median(d_val_train)),
        "share_below_copy_threshold": share_below,
        "share_copies": share_copy,
        "copy_threshold": float(threshold),
        "median_distance_train": float(np.median(d_train)),
        "median_distance_val": float(np.median(d_val)),
        "min_distance_train": float(d_train.min()),
        "flag": bool(reasons),
        "flag_reasons": reasons,
        "nearest_train_index": train_idx.tolist(),
        "distance_train": d_train.tolist(),
        "nearest_val_index": val_idx.tolist(),
        "distance_val": d_val.tolist(),
    }
