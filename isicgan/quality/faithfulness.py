"""Faithfulness to the source: is a translated tile a malignant-looking version of its own source
tile, or the benign source handed back with a new label?

For a generator that translates source tiles (CycleGAN: benign -> malignant), every synthetic
tile has the source tile it was made from. Per batch:

- ``feature_distance``: in-domain feature distance (Euclidean, encoder bottleneck) from each
  tile to its own source; the median, and ``feature_distance_ratio``: that median over the
  median distance between two *different* source tiles (below 1: the tile stays nearer its
  own source than two real tiles are to each other; near 0: little changed);
- ``msssim``: mean MS-SSIM of each (source, synthetic) pair (1: identical);
- ``score_change``: mean change of the reference classifier's malignancy score from source to
  synthetic tile (:mod:`isicgan.quality.classifier`); positive: moved towards malignant;
- ``share_near_identity``: share of tiles whose score moved by less than
  ``quality.near_identity_delta``: a near-identity translation; ``near_identity`` is set when
  more than half the batch is so.
"""

from __future__ import annotations

import numpy as np

from isicgan.quality.classifier import ReferenceClassifier
from isicgan.quality.features import indomain_features
from isicgan.quality.metrics import msssim_pairs

NEAR_IDENTITY_SHARE = 0.5


def source_faithfulness(
    images: np.ndarray,
    source: np.ndarray,
    encoder,
    classifier: ReferenceClassifier,
    delta: float,
    fake: np.ndarray | None = None,
) -> dict:
    """The numbers of the module docstring for ``images[i]`` made from ``source[i]`` (uint8
    N x H x W x 3 each). ``fake``: the in-domain features of ``images`` when already computed."""
    images, source = np.asarray(images), np.asarray(source)
    if images.shape != source.shape:
        raise ValueError(
            f"source faithfulness needs one source tile per synthetic tile, got "
            f"{source.shape} sources for {images.shape} tiles"
        )
    fake = indomain_features(images, encoder) if fake is None else np.asarray(fake)
    src = indomain_features(source, encoder)
    dist = np.linalg.norm(fake - src, axis=1)
    diff = src[:, None, :] - src[None, :, :]
    pair = np.sqrt((diff**2).sum(axis=-1))[np.triu_indices(len(src), k=1)]
    pair = pair[pair > 0]  # wrapped slices repeat a source tile
    scale = float(np.median(pair)) if len(pair) else float("nan")
    ssim = msssim_pairs(images, source)
    s_src, s_fake = classifier.score(src), classifier.score(fake)
    change = s_fake - s_src
    near = np.abs(change) < delta
    return {
        "feature_distance": float(np.median(dist)),
        "feature_distance_source_pairs": scale,
        "feature_distance_ratio": float(np.median(dist) / scale) if scale > 0 else None,
        "msssim": float(ssim.mean()),
        "score_source": float(s_src.mean()),
        "score_synthetic": float(s_fake.mean()),
        "score_change": float(change.mean()),
        "near_identity_delta": float(delta),
        "share_near_identity": float(near.mean()),
        "near_identity": bool(near.mean() > NEAR_IDENTITY_SHARE),
        "per_tile": {
            "feature_distance": dist.tolist(),
            "msssim": ssim.tolist(),
            "score_change": change.tolist(),
        },
    }
