"""Distribution metrics on feature vectors: FID, KID, PRDC, and mean pairwise MS-SSIM on images.

FID and KID follow clean-fid's formulas exactly (``cleanfid.fid.frechet_distance`` and
``cleanfid.fid.kernel_distance``); the tests check equality on the same features. Our KID takes
a seed instead of drawing from NumPy's global state, drawing the subsets in clean-fid's order
from a ``RandomState`` so that ``np.random.seed(s)`` before clean-fid gives the same number.

MS-SSIM (Wang, Simoncelli & Bovik 2003) is written here in torch: an 11-tap Gaussian window
(sigma 1.5), 'valid' filtering, luminance only at the coarsest scale. The standard five scales
need tiles of at least 176 px; smaller tiles use as many scales as keep the coarsest side at
least the window size (32 px: 2 scales, 64 px: 3, 140 px: 4), with the standard scale weights
of the scales used renormalised to sum to one. The number of scales used is reported.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

log = logging.getLogger(__name__)

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MSSSIM_WINDOW = 11
MSSSIM_SIGMA = 1.5
MSSSIM_MAX_PAIRS = 1000


# ---------------------------------------------------------------- FID / KID
def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, rowvar=False) covariance of an N x D feature matrix, as clean-fid."""
    feats = np.asarray(feats, dtype=np.float64)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)); clean-fid's formula and its eps fallback."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        log.warning("FID: singular covariance product; adding %g to the diagonals", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(
                f"FID: imaginary component {np.max(np.abs(covmean.imag))} in sqrt(S1 S2)"
            )
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """FID between two feature sets (N1 x D, N2 x D).

    With at least as many samples as dimensions in both sets this is clean-fid's computation
    (``frechet_distance`` on means and covariances). With fewer samples than dimensions (a
    520-tile batch in Inception's 2048-d space) the covariances are singular and a 2048 x 2048
    matrix square root takes a minute on two cores, so the same quantity is computed exactly
    from the samples: with S1 = A'A and S2 = B'B (centred features / sqrt(n - 1)), the
    eigenvalues of sqrt(S1 S2) are the singular values of A B', so Tr sqrt(S1 S2) is the
    nuclear norm of the N1 x N2 matrix A B'. The tests check both routes against clean-fid.
    """
    a = np.asarray(feats1, dtype=np.float64)
    b = np.asarray(feats2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"FID needs two N x D feature matrices of one D, got {a.shape} and {b.shape}"
        )
    if min(len(a), len(b)) < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {len(a)} and {len(b)}")
    if min(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(*feature_stats(a), *feature_stats(b))
    return fid_low_rank(a, b)


def fid_low_rank(a: np.ndarray, b: np.ndarray) -> float:
    """FID via the nuclear norm of A B' (see :func:`fid_from_features`); exact, any N and D."""
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    ca = (a - mu1) / np.sqrt(len(a) - 1)
    cb = (b - mu2) / np.sqrt(len(b) - 1)
    diff = mu1 - mu2
    tr_covmean = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    return float(diff.dot(diff) + (ca * ca).sum() + (cb * cb).sum() - 2 * tr_covmean)


def kernel_distance(
    feats1: np.ndarray,
    feats2: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """KID: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets.

    Same estimator and same draw order as clean-fid; subsets come from ``RandomState(seed)``.
    """
    feats1 = np.asarray(feats1, dtype=np.float64)
    feats2 = np.asarray(feats2, dtype=np.float64)
    rng = np.random.RandomState(seed)
    n = feats1.shape[1]
    m = min(feats1.shape[0], feats2.shape[0], max_subset_size)
    if m < 2:
        raise ValueError(
            f"KID needs at least 2 samples per set, got {feats1.shape[0]} and {feats2.shape[0]}"
        )
    total = 0.0
    for _ in range(num_subsets):
        x = feats2[rng.choice(feats2.shape[0], m, replace=False)]
        y = feats1[rng.choice(feats1.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(total / num_subsets / m)


def equal_size_fid(
    feats1: np.ndarray, feats2: np.ndarray, n: int, subsets: int, seed: int
) -> dict[str, float | int]:
    """FID at one sample size: the mean and standard deviation over ``subsets`` draws of ``n``
    rows from each set (without replacement; the rows of set 1 from ``default_rng([seed, 1])``,
    those of set 2 from ``default_rng([seed, 2])``).

    FID is biased upwards at small samples, by an amount that depends on the sample sizes, so
    two FIDs are comparable only at equal sizes: each batch and the real-vs-real reference are
    drawn to the same ``n`` with the same seed. With separate streams, two calls that share set
    2 (the real train tiles) draw the same subsets of it whatever set 1 is.
    """
    a = np.asarray(feats1, dtype=np.float64)
    b = np.asarray(feats2, dtype=np.float64)
    if n < 2 or n > min(len(a), len(b)):
        raise ValueError(
            f"equal-size FID: n={n} must lie in 2..{min(len(a), len(b))} "
            f"(sets of {len(a)} and {len(b)})"
        )
    rng_a = np.random.default_rng([int(seed), 1])
    rng_b = np.random.default_rng([int(seed), 2])
    values = []
    for _ in range(int(subsets)):
        ia = np.sort(rng_a.choice(len(a), n, replace=False))
        ib = np.sort(rng_b.choice(len(b), n, replace=False))
        values.append(fid_from_features(a[ia], b[ib]))
    values = np.asarray(values)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "n": int(n),
        "subsets": int(subsets),
    }


# ---------------------------------------------------------------- PRDC
def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances (N, M) in float64 by the dot-product expansion (as
    scikit-learn's ``euclidean_distances``, which the ``prdc`` package calls)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020) with ``k`` nearest neighbours.

    The definitions of the authors' ``prdc`` package (0.2), computed here in NumPy: that
    package imports scikit-learn, about 1.6 s of every synthesize job for a few matrix
    products. The tests check equality with the package on the same features.
    """
    if min(len(real), len(fake)) <= k:
        raise ValueError(
            f"PRDC with k={k} needs more than {k} real and fake samples, "
            f"got {len(real)} real and {len(fake)} fake"
        )
    # the k-th nearest neighbour of each point within its own set (itself, at 0, is the 0th)
    real_radii = np.partition(_euclidean(real, real), k, axis=1)[:, k]
    fake_radii = np.partition(_euclidean(fake, fake), k, axis=1)[:, k]
    between = _euclidean(real, fake)  # (real, fake)
    inside_real = between < real_radii[:, None]  # fake j inside real i's ball
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((between < fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((between.min(axis=1) < real_radii).mean()),
    }


# ---------------------------------------------------------------- MS-SSIM
def msssim_scales(size: int, window: int = MSSSIM_WINDOW) -> int:
    """How many MS-SSIM scales fit an image side of ``size`` px (at most 5, at least 1)."""
    scales = 1
    while scales < len(MSSSIM_WEIGHTS) and size / 2**scales >= window:
        scales += 1
    return scales


def _gauss_window(window: int, sigma: float):
    coords = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x, g):
    """Separable 'valid' Gaussian filter per channel of x (B, C, H, W)."""
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def msssim_pairs(a: np.ndarray, b: np.ndarray, scales: int | None = None) -> np.ndarray:
    """MS-SSIM of image pairs ``a[i]`` vs ``b[i]`` (uint8 N x H x W x 3), one value per pair."""
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(
            f"MS-SSIM needs two N x H x W x 3 arrays of one shape, got {a.shape} and {b.shape}"
        )
    size = min(a.shape[1], a.shape[2])
    scales = scales or msssim_scales(size)
    if size < MSSSIM_WINDOW:
        raise ValueError(f"MS-SSIM needs images of at least {MSSSIM_WINDOW} px, got {size}")
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float32)
    weights = weights / weights.sum()
    g = _gauss_window(MSSSIM_WINDOW, MSSSIM_SIGMA)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x = torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).to(torch.float32)
    y = torch.from_numpy(np.ascontiguousarray(b)).permute(0, 3, 1, 2).to(torch.float32)
    values = []
    for s in range(scales):
        mx, my = _filter(x, g), _filter(y, g)
        sxx = _filter(x * x, g) - mx**2
        syy = _filter(y * y, g) - my**2
        sxy = _filter(x * y, g) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        if s == scales - 1:
            lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
            values.append((lum * cs).mean(dim=(2, 3)))
        else:
            values.append(cs.mean(dim=(2, 3)))
            x = F.avg_pool2d(x, 2)
            y = F.avg_pool2d(y, 2)
    stack = torch.stack(values, dim=0).clamp(min=0)  # scales x N x C; negative cs -> 0 (as TF)
    per_channel = torch.prod(stack ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(dim=1).double().numpy()


def mean_pairwise_msssim(
    images: np.ndarray, seed: int = 0, max_pairs: int = MSSSIM_MAX_PAIRS
) -> dict[str, float | int]:
    """Mean MS-SSIM over distinct pairs of ``images``: all pairs, or ``max_pairs`` seeded ones.

    High values (near 1) mean near-identical images: a mode-collapse alarm when it is well
    above the same number for real tiles.
    """
    n = len(images)
    if n < 2:
        raise ValueError(f"mean pairwise MS-SSIM needs at least 2 images, got {n}")
    i, j = np.triu_indices(n, k=1)
    if len(i) > max_pairs:
        pick = np.sort(np.random.default_rng(seed).choice(len(i), max_pairs, replace=False))
        i, j = i[pick], j[pick]
    values = []
    for start in range(0, len(i), 256):
        values.append(msssim_pairs(images[i[start : start + 256]], images[j[start : start + 256]]))
    return {
        "msssim": float(np.concatenate(values).mean()),
        "msssim_pairs": int(len(i)),
        "msssim_scales": msssim_scales(min(images.shape[1], images.shape[2])),
    }
