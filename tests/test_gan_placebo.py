"""The placebo generator: augmented copies of real train malignant tiles, drawn as the augment
arm draws them; every replicate draws its own; the memorisation audit calls its batches copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.quality import tiles, write_tiles
from isicgan import registry
from isicgan.augment import augment_tiles, malignant_copies
from isicgan.config import load_config
from isicgan.gan import generate, load_checkpoint, replicate_config, train_gan
from isicgan.gan.models.placebo import draw_seed
from isicgan.gan.train import GanOutputs
from isicgan.io import load_split_tiles
from isicgan.quality import memorisation
from isicgan.specs import GanRun

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("placebo")
    pool = tiles(200, seed=5)
    write_tiles(root / "train" / "1", pool[:30], prefix="ISIC_1")
    write_tiles(root / "train" / "0", pool[30:70], prefix="ISIC_0")
    section = load_config([REPO / "config.yaml", REPO / "tests" / "tiny.yaml"])["gan"]["placebo"]
    finals = {}
    for rep in (1, 2):
        run = GanRun("placebo", rep, replicate_config(section, rep), 32, device="cpu")
        out = root / f"rep{rep}"
        train_gan(run, root / "train", GanOutputs.in_folder(out), progress=False)
        finals[rep] = out / "final.pt"
    return {
        "root": root,
        "finals": finals,
        "val": pool[70:130],
        "heldout": pool[130:200],
        "train": load_split_tiles(root / "train"),
        "malignant": load_split_tiles(root / "train", ("1",)),
    }


def test_placebo_is_a_generator_marked_placebo_and_the_others_are_not():
    assert registry.spec("generators", "placebo")["placebo"] is True
    assert not any(
        registry.spec("generators", g)["placebo"]
        for g in registry.names("generators")
        if g != "placebo"
    )
    assert "placebo" in load_config()["gans"]
    assert (
        "placebo" in load_config([REPO / "config.yaml", REPO / "configs" / "thesis.yaml"])["gans"]
    )


def test_placebo_tiles_are_augmented_copies_drawn_as_the_augment_arm_draws_them(trained):
    ckpt = load_checkpoint(trained["finals"][1])
    assert np.array_equal(ckpt["nets"]["G"]["tiles"].numpy(), trained["malignant"])
    images = generate(trained["finals"][1], 12, seed=7)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, generate(trained["finals"][1], 12, seed=7))
    assert not np.array_equal(images, generate(trained["finals"][1], 12, seed=8))
    # the augment arm's draw: malignant_copies picks the tiles, augment_tiles changes them
    seed = draw_seed(
        int(ckpt["config"]["seed"]),
        int(torch.randint(0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(7))),
    )
    malignant = trained["malignant"]
    expected = augment_tiles(malignant[malignant_copies(np.ones(len(malignant)), seed, 12)], seed)
    assert np.array_equal(images, expected)


def test_each_replicate_draws_its_own_tiles(trained):
    one = generate(trained["finals"][1], 12, seed=7)
    two = generate(trained["finals"][2], 12, seed=7)
    assert not np.array_equal(one, two)


def test_memorisation_audit_flags_a_placebo_batch_and_passes_unseen_real_tiles(trained):
    batch = generate(trained["finals"][1], 20, seed=3)
    train, val = trained["train"], trained["val"]
    threshold = memorisation.copy_threshold(train, val, 0.01)["distance"]
    out = memorisation.audit(batch, train, val, threshold, seed=0)
    assert out["flag"] and out["share_below_copy_threshold"] >= 0.9, out["flag_reasons"]
    assert out["novelty_auc"] > out["novelty_auc_limit"]
    clean = memorisation.audit(trained["heldout"], train, val, threshold, seed=0)
    assert not clean["flag"], clean["flag_reasons"]
