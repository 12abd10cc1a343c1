"""The memorisation audit flags a batch of copied train tiles and passes held-out real tiles."""
from __future__ import annotations

import numpy as np
import pytest

from isicgan.quality import memorisation
from helpers.quality import tiles


@pytest.fixture(scope="module")
def real():
    pool = tiles(150, seed=11)
    return {"train": pool[:80], "val": pool[80:120], "heldout": pool[120:150]}


def _audit(batch, real, quantile=0.05):
    threshold = memorisation.copy_threshold(real["train"], quantile)["distance"]
    return memorisation.audit(batch, real["train"], real["val"], threshold, seed=0)


def test_batch_of_copied_train_tiles_is_flagged(real):
    out = _audit(real["train"][10:40], real)
    assert out["flag"]
    assert out["share_below_copy_threshold"] == 1.0
    assert out["min_distance_train"] == 0.0
    assert out["share_closer_to_train"] > 0.6   # 0.5 + 0.5 * n_val / n_train expected
    assert out["novelty_auc"] == 1.0
    assert out["nearest_train_index"] == list(range(10, 40))


def test_batch_of_heldout_real_tiles_passes(real):
    out = _audit(real["heldout"], real)
    assert not out["flag"], out["flag_reasons"]
    assert out["share_below_copy_threshold"] <= 0.05
    assert 0.3 < out["share_closer_to_train"] < 0.7
    assert 0.3 < out["novelty_auc"] < out["novelty_auc_limit"]


def test_lightly_perturbed_copies_are_still_flagged(real):
    rng = np.random.default_rng(0)
    noisy = np.clip(real["train"][:30].astype(int) + rng.integers(-2, 3, real["train"][:30].shape), 0, 255)
    out = _audit(noisy.astype(np.uint8), real)
    assert out["flag"] and out["novelty_auc"] == 1.0


def test_blurry_mean_images_are_not_called_copies(real):
    mean = np.repeat(real["train"].mean(axis=0, keepdims=True).astype(np.uint8), 20, axis=0)
    out = _audit(mean, real)
    assert not out["flag"], out["flag_reasons"]
    assert out["novelty_high"]   # nearer the train set than real tiles: the figure tells why


def test_closest_real_pair_finds_a_duplicate():
    t = tiles(10, seed=3)
    t[7] = t[2]
    out = memorisation.closest_real_pair(t)
    assert out["distance"] == 0.0 and sorted(out["index"]) == [2, 7]


def test_copy_flag_fires_even_when_train_holds_near_duplicate_pairs():
    """Real archives hold near-duplicates: with one exact and one near-duplicate pair among the
    train tiles the closest real pair is about 0, so a threshold set by it cannot fire; the
    low quantile of the nearest-neighbour distances still does, and held-out tiles pass."""
    pool = tiles(460, seed=21)     # 400 train tiles: q = 0.01 survives 0.01 x 400 / 2 = 2 pairs
    train, val, heldout = pool[:400].copy(), pool[400:430], pool[430:460]
    train[17] = train[3]                                                  # exact duplicate
    rng = np.random.default_rng(1)
    train[40] = np.clip(train[41].astype(int) + rng.integers(-1, 2, train[41].shape), 0, 255)
    assert memorisation.closest_real_pair(train)["distance"] == 0.0
    threshold = memorisation.copy_threshold(train, 0.01)
    assert threshold["distance"] > 0.01 and threshold["quantile"] == 0.01
    copies = np.clip(train[60:90].astype(int) + rng.integers(-2, 3, train[60:90].shape), 0, 255)
    out = memorisation.audit(copies.astype(np.uint8), train, val, threshold["distance"], seed=0)
    assert out["flag"] and out["share_below_copy_threshold"] == 1.0
    clean = memorisation.audit(heldout, train, val, threshold["distance"], seed=0)
    assert not clean["flag"], clean["flag_reasons"]
    old_rule = memorisation.audit(copies.astype(np.uint8), train, val,
                                  memorisation.closest_real_pair(train)["distance"], seed=0)
    assert not old_rule["flag"]     # what the closest-pair threshold did: blind to the copies
