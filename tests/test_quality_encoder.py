"""The in-domain encoder: trained from train tiles only, reproducible, and a clear error on a bad file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.quality import tiles, write_tiles
from isicgan.quality import features as qf
from isicgan.quality.encoder import load_encoder, train_encoder

torch.set_num_threads(1)


def test_encoder_training_is_reproducible_and_gives_dim_features(tmp_path):
    train = tiles(20, seed=5)
    train_encoder(train, tmp_path / "a.pt", dim=8, epochs=2, seed=3)
    train_encoder(train, tmp_path / "b.pt", dim=8, epochs=2, seed=3)
    fa = qf.indomain_features(train, load_encoder(tmp_path / "a.pt"))
    fb = qf.indomain_features(train, load_encoder(tmp_path / "b.pt"))
    assert fa.shape == (20, 8)
    np.testing.assert_array_equal(fa, fb)
    # any tile size is encoded (tiles are resized to the encoder's input size)
    assert qf.indomain_features(
        tiles(3, seed=6, size=48), load_encoder(tmp_path / "a.pt")
    ).shape == (3, 8)


def test_reference_features_are_written_once_per_folder_with_ids(tmp_path):
    folder = write_tiles(tmp_path / "train" / "1", tiles(6, seed=1))
    train_encoder(tiles(6, seed=1), tmp_path / "enc.pt", dim=4, epochs=1, seed=0)
    assert qf.write_reference(folder, "indomain", tmp_path / "enc.pt", tmp_path / "ref.npz") == 6
    with np.load(tmp_path / "ref.npz") as data:
        assert data["feats"].shape == (6, 4) and list(data["ids"])[0] == "ISIC_0000000"
    with pytest.raises(ValueError, match="no PNG tiles"):
        qf.write_reference(tmp_path / "empty", "indomain", tmp_path / "enc.pt", tmp_path / "x.npz")


def test_bad_encoder_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_encoder(tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt is not an in-domain encoder"):
        load_encoder(tmp_path / "other.pt")
