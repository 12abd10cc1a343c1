"""FID/KID match clean-fid; the Inception path runs a TorchScript network from a file; PRDC, MS-SSIM."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from cleanfid import fid as cfid
from cleanfid.inception_torchscript import InceptionV3W

from helpers.quality import inception_standin, tiles, write_tiles
from isicgan.quality import features as qf
from isicgan.quality import metrics

torch.set_num_threads(1)


def test_fid_equals_cleanfid_frechet_distance_on_same_features():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 12))
    b = rng.normal(0.3, 1.2, size=(250, 12))
    ours = metrics.fid_from_features(a, b)
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    assert ours == pytest.approx(cfid.frechet_distance(mu1, s1, mu2, s2), rel=1e-10)
    assert ours == pytest.approx(cfid.fid_from_feats(a, b), rel=1e-10)
    assert metrics.fid_from_features(a, a) == pytest.approx(0, abs=1e-8)
    assert metrics.fid_low_rank(a, b) == pytest.approx(ours, rel=1e-9)


def test_fid_with_fewer_samples_than_dimensions_equals_cleanfid():
    rng = np.random.default_rng(3)
    mix = rng.normal(size=(20, 64))  # features of rank 20 in 64 dimensions, like a small batch
    a = rng.normal(size=(30, 20)) @ mix
    b = rng.normal(0.2, 1.1, size=(25, 20)) @ mix
    ours = metrics.fid_from_features(a, b)
    assert ours == pytest.approx(cfid.fid_from_feats(a, b), rel=1e-6)


def test_kid_equals_cleanfid_kernel_distance_with_same_seed():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(80, 10)), rng.normal(0.5, 1, size=(60, 10))
    ours = metrics.kernel_distance(a, b, num_subsets=7, max_subset_size=30, seed=5)
    np.random.seed(5)
    assert ours == pytest.approx(
        cfid.kernel_distance(a, b, num_subsets=7, max_subset_size=30), rel=1e-12
    )
    # the estimate does not depend on the draws when a subset is the whole (equal-size) set
    c = rng.normal(size=(60, 10))
    assert metrics.kernel_distance(c, b, 3, 100, seed=1) == pytest.approx(
        metrics.kernel_distance(c, b, 3, 100, seed=9), rel=1e-12
    )


def test_inception_path_loads_torchscript_file_and_matches_cleanfid(tmp_path):
    weights = inception_standin(tmp_path / qf.INCEPTION_FILE)
    real, fake = tiles(24, seed=3), tiles(20, seed=4)
    d1 = write_tiles(tmp_path / "real", real)
    net = qf.load_inception(weights)
    ours_real, ours_fake = qf.inception_features(real, net), qf.inception_features(fake, net)
    assert ours_real.shape == (24, 2048)
    # clean-fid's own wrapper around the same file, clean mode, same folders
    wrapper = InceptionV3W(str(tmp_path), download=False).eval()
    theirs = cfid.get_folder_features(
        str(d1),
        wrapper,
        num_workers=0,
        batch_size=8,
        device=torch.device("cpu"),
        mode="clean",
        verbose=False,
    )
    np.testing.assert_allclose(ours_real, theirs, rtol=1e-5, atol=1e-6)
    # (FID on these 2048-d features: the formula test above; compute_fid itself: bench/quality.py,
    # as its two 2048 x 2048 matrix square roots take tens of seconds on two cores)
    kid_theirs = cfid.kernel_distance(
        theirs, theirs[::-1].copy(), num_subsets=2, max_subset_size=24
    )
    assert metrics.kernel_distance(ours_real, ours_real[::-1].copy(), 2, 24) == pytest.approx(
        kid_theirs, rel=1e-2
    )
    assert ours_fake.shape == (20, 2048)


def test_inception_unavailable_gives_reason_not_number(tmp_path):
    assert "weights.fid_inception is null" in qf.inception_unavailable(None)
    assert "not found" in qf.inception_unavailable(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="not found"):
        qf.load_inception(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not torchscript")
    with pytest.raises(ValueError, match="not a TorchScript file"):
        qf.load_inception(bad)


@pytest.mark.parametrize("k", [2, 5])
def test_prdc_equals_the_authors_package(k):
    from prdc import compute_prdc  # the reference implementation (Naeem et al. 2020)

    rng = np.random.default_rng(k)
    for n_real, n_fake, dim in [(56, 40, 64), (30, 80, 16)]:
        real = rng.normal(size=(n_real, dim)).astype(np.float32)
        fake = (rng.normal(size=(n_fake, dim)) * 1.2 + 0.3).astype(np.float32)
        ours = metrics.prdc(real, fake, k=k)
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints its counts
            want = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
        assert ours == pytest.approx({m: float(v) for m, v in want.items()}, abs=1e-12)
        assert 0 < ours["precision"] < 1  # not a trivial case


def test_prdc_identical_sets_are_perfect_and_disjoint_sets_score_zero():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 8))
    same = metrics.prdc(real, real.copy(), k=3)
    assert same["precision"] == 1 and same["recall"] == 1 and same["coverage"] == 1
    far = metrics.prdc(real, real + 100, k=3)
    assert far["precision"] == 0 and far["coverage"] == 0
    with pytest.raises(ValueError, match="needs more than 3"):
        metrics.prdc(real[:3], real[:3], k=3)


def test_msssim_is_one_for_copies_lower_for_distinct_tiles_and_uses_fewer_scales_at_32px():
    imgs = tiles(6, seed=7)
    assert metrics.msssim_scales(32) == 2 and metrics.msssim_scales(140) == 4
    assert metrics.msssim_scales(256) == 5
    np.testing.assert_allclose(metrics.msssim_pairs(imgs, imgs), 1.0, atol=1e-5)
    collapsed = metrics.mean_pairwise_msssim(np.repeat(imgs[:1], 6, axis=0))
    diverse = metrics.mean_pairwise_msssim(imgs)
    assert collapsed["msssim"] == pytest.approx(1.0) and collapsed["msssim_pairs"] == 15
    assert diverse["msssim"] < 0.9 and diverse["msssim_scales"] == 2
    sampled = metrics.mean_pairwise_msssim(tiles(50, seed=8), max_pairs=100, seed=3)
    assert sampled["msssim_pairs"] == 100
