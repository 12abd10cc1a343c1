"""The memorisation audit flags a batch of copied train tiles (also flipped, rotated or
colour-jittered ones) and passes held-out real tiles; its copy threshold, set on unseen
patients, holds its quantile on other unseen patients."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.quality import tiles
from isicgan.quality import memorisation


@pytest.fixture(scope="module")
def real():
    pool = tiles(150, seed=11)
    return {"train": pool[:80], "val": pool[80:120], "heldout": pool[120:150]}


def _audit(batch, real, quantile=0.01):
    threshold = memorisation.copy_threshold(real["train"], real["val"], quantile)["distance"]
    return memorisation.audit(batch, real["train"], real["val"], threshold, seed=0)


def test_batch_of_copied_train_tiles_is_flagged(real):
    out = _audit(real["train"][10:40], real)
    assert out["flag"]
    assert out["share_below_copy_threshold"] == 1.0
    assert out["min_distance_train"] == 0.0
    assert out["share_closer_to_train"] > 0.6  # 0.5 + 0.5 * n_val / n_train expected
    assert out["novelty_auc"] == 1.0
    assert out["nearest_train_index"] == list(range(10, 40))


def test_batch_of_heldout_real_tiles_passes(real):
    out = _audit(real["heldout"], real)
    assert not out["flag"], out["flag_reasons"]
    assert out["share_below_copy_threshold"] <= 0.1  # about copy_quantile of 40 val tiles: ~1/41
    assert 0.3 < out["share_closer_to_train"] < 0.7
    assert 0.3 < out["novelty_auc"] < out["novelty_auc_limit"]


def test_lightly_perturbed_copies_are_still_flagged(real):
    rng = np.random.default_rng(0)
    noisy = np.clip(
        real["train"][:30].astype(int) + rng.integers(-2, 3, real["train"][:30].shape), 0, 255
    )
    out = _audit(noisy.astype(np.uint8), real)
    assert out["flag"] and out["novelty_auc"] == 1.0


def test_blurry_mean_images_are_not_called_copies(real):
    mean = np.repeat(real["train"].mean(axis=0, keepdims=True).astype(np.uint8), 20, axis=0)
    out = _audit(mean, real)
    assert not out["flag"], out["flag_reasons"]
    assert out["novelty_high"]  # nearer the train set than real tiles: the figure tells why


def test_closest_real_pair_finds_a_duplicate():
    t = tiles(10, seed=3)
    t[7] = t[2]
    out = memorisation.closest_real_pair(t)
    assert out["distance"] == 0.0 and sorted(out["index"]) == [2, 7]


def test_flipped_rotated_and_colour_jittered_copies_are_still_copies(real):
    from isicgan.augment import augment_tiles

    jittered = augment_tiles(real["train"][:30], seed=4)
    assert not np.array_equal(jittered, real["train"][:30])
    out = _audit(jittered, real, quantile=0.01)
    assert out["flag"] and out["share_below_copy_threshold"] == 1.0
    assert out["nearest_train_index"] == list(range(30))


def clustered(n_patients: int, per_patient: int, seed: int) -> np.ndarray:
    """Tiles of ``n_patients`` patients, ``per_patient`` each: near-duplicates of one lesion per
    patient (noise, and one random flip or rotation each), as real archives hold them."""
    rng = np.random.default_rng(seed)
    out = []
    for lesion in tiles(n_patients, seed):
        for _ in range(per_patient):
            tile = np.clip(lesion + rng.normal(0, 4, lesion.shape), 0, 255).astype(np.uint8)
            out.append(np.rot90(tile[:, ::-1] if rng.random() < 0.5 else tile, rng.integers(4)))
    return np.stack(out)


def test_copy_threshold_from_val_patients_holds_its_quantile_on_unseen_patients():
    """The copy threshold is the quantile of the val tiles' nearest-train distances: on a
    patient-clustered set about that share of tiles of other unseen patients falls below it.
    From train-to-train distances (pairs of one patient's tiles) almost none would."""
    quantile = 0.1
    train, val, heldout = clustered(60, 4, 31), clustered(40, 4, 32), clustered(60, 4, 33)
    threshold = memorisation.copy_threshold(train, val, quantile)
    assert threshold["quantile"] == quantile and threshold["n_val"] == 160
    d_heldout, _ = memorisation.nearest(
        memorisation.dihedral_views(heldout), memorisation.pixel_vectors(train)
    )
    share = float(np.mean(d_heldout < threshold["distance"]))
    assert 0.04 <= share <= 0.2, share
    views = memorisation.dihedral_views(train)
    d, _ = memorisation.copy_distance_matrix(views, views[0])
    np.fill_diagonal(d, np.inf)
    within_train = float(np.quantile(d.min(axis=1), quantile))
    assert np.mean(d_heldout < within_train) < 0.02  # the old rule: blind to unseen patients
