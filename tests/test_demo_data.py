"""The synthetic demo data: Kaggle layout, realistic tiles, a learnable ABCD signal, determinism."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from isicgan.data import METADATA_COLUMNS
from isicgan.demo import ATTRIBUTIONS, SHIFTED_ATTRIBUTION, make_demo_data

N_PATIENTS, N_BENIGN, N_MALIGNANT, SEED = 40, 120, 34, 2024  # tests/tiny.yaml sizes


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    meta = make_demo_data(out, N_PATIENTS, N_BENIGN, N_MALIGNANT, SEED)
    return out, meta


def test_metadata_has_the_55_kaggle_columns_in_the_real_order(demo):
    out, _ = demo
    meta = pd.read_csv(out / "train-metadata.csv", low_memory=False)
    assert len(METADATA_COLUMNS) == 55
    assert list(meta.columns) == METADATA_COLUMNS
    assert METADATA_COLUMNS[:3] == ["isic_id", "target", "patient_id"]
    assert METADATA_COLUMNS[-10:] == [
        "lesion_id",
        "iddx_full",
        "iddx_1",
        "iddx_2",
        "iddx_3",
        "iddx_4",
        "iddx_5",
        "mel_mitotic_index",
        "mel_thick_mm",
        "tbp_lv_dnn_lesion_confidence",
    ]
    assert len(meta) == N_BENIGN + N_MALIGNANT
    assert sorted(meta["target"].unique()) == [0, 1] and meta["target"].sum() == N_MALIGNANT
    assert meta["isic_id"].is_unique and meta["isic_id"].is_monotonic_increasing
    assert meta["isic_id"].str.fullmatch(r"ISIC_\d{7}").all()
    assert meta["patient_id"].str.fullmatch(r"IP_\d{7}").all()
    assert (meta["iddx_1"] == np.where(meta["target"] == 1, "Malignant", "Benign")).all()


def test_patients_have_several_lesions_and_classes_are_about_ten_to_one(demo):
    _, meta = demo
    per_patient = meta.groupby("patient_id").size()
    assert meta["patient_id"].nunique() == N_PATIENTS
    assert per_patient.median() >= 2 and per_patient.max() >= 5
    assert meta.loc[meta["target"] == 1, "patient_id"].value_counts().max() >= 2
    assert 2 <= N_BENIGN / N_MALIGNANT <= 20


def test_hdf5_holds_one_scalar_fixed_length_bytes_dataset_per_id_equal_to_the_jpeg_files(demo):
    out, meta = demo
    with h5py.File(out / "train-image.hdf5", "r") as h5:
        assert sorted(h5.keys()) == sorted(meta["isic_id"])
        for isic_id in meta["isic_id"][:20]:
            ds = h5[isic_id]
            assert ds.shape == () and ds.dtype.kind == "S"
            data = bytes(ds[()])
            assert ds.dtype.itemsize == len(data)
            assert data[:2] == b"\xff\xd8"  # JPEG start-of-image
            assert data == (out / "train-image" / "image" / f"{isic_id}.jpg").read_bytes()


def test_tiles_are_square_rgb_jpegs_of_60_to_240_px(demo):
    out, meta = demo
    sizes = []
    for isic_id in meta["isic_id"]:
        with Image.open(out / "train-image" / "image" / f"{isic_id}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.width == im.height
            sizes.append(im.width)
    assert 60 <= min(sizes) and max(sizes) <= 240 and len(set(sizes)) > 10


def _lesion_stats(path) -> tuple[float, float]:
    """(dark area fraction, colour spread inside the dark area) of a tile."""
    rgb = np.asarray(Image.open(path).convert("RGB").resize((64, 64)), dtype=np.float32)
    lum = rgb.mean(axis=-1)
    dark = lum < np.median(lum) - 25
    spread = float(rgb[dark].std(axis=0).mean()) if dark.sum() > 5 else 0.0
    return float(dark.mean()), spread


def test_malignant_tiles_show_larger_multicoloured_lesions(demo):
    out, meta = demo
    stats = {
        cls: np.array(
            [
                _lesion_stats(out / "train-image" / "image" / f"{i}.jpg")
                for i in meta.loc[meta["target"] == cls, "isic_id"]
            ]
        )
        for cls in (0, 1)
    }
    assert np.median(stats[1][:, 0]) > 2 * np.median(stats[0][:, 0])  # D: larger
    assert np.median(stats[1][:, 1]) > np.median(stats[0][:, 1])  # C: more colours
    # learnable but not trivially separable on area alone: the ranges overlap a little
    assert stats[0][:, 0].max() > stats[1][:, 0].min()


def test_demo_data_is_byte_identical_for_a_seed_and_differs_for_another(demo, tmp_path):
    out, _ = demo
    make_demo_data(tmp_path / "same", N_PATIENTS, N_BENIGN, N_MALIGNANT, SEED)
    make_demo_data(tmp_path / "other", N_PATIENTS, N_BENIGN, N_MALIGNANT, SEED + 1)
    for name in ["train-metadata.csv", "train-image.hdf5"]:
        assert (tmp_path / "same" / name).read_bytes() == (out / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (out / name).read_bytes()


def test_tile_decodes_from_the_hdf5_bytes(demo):
    out, meta = demo
    with h5py.File(out / "train-image.hdf5", "r") as h5:
        data = h5[meta["isic_id"].iat[0]][()]
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.mode == "RGB"


def _tiles_by_attribution(out, meta) -> dict[str, list[np.ndarray]]:
    tiles: dict[str, list[np.ndarray]] = {}
    for isic_id, name in zip(meta["isic_id"], meta["attribution"]):
        with Image.open(out / "train-image" / "image" / f"{isic_id}.jpg") as im:
            tiles.setdefault(name, []).append(np.asarray(im.convert("RGB"), dtype=np.float32))
    return tiles


def test_patients_belong_to_one_of_five_named_institutions(demo):
    _, meta = demo
    assert sorted(meta["attribution"].unique()) == sorted(ATTRIBUTIONS) and len(ATTRIBUTIONS) == 5
    assert SHIFTED_ATTRIBUTION in ATTRIBUTIONS
    assert (meta.groupby("patient_id")["attribution"].nunique() == 1).all()
    per_institution = meta.groupby("attribution")["target"].agg(["size", "sum"])
    assert (per_institution["sum"] >= 3).all() and (per_institution["size"] >= 15).all()


def test_the_shifted_institution_is_cooler_darker_and_softer(demo):
    """The acquisition shift is measurable: colour balance (red over blue), brightness and
    fine detail (mean absolute difference of neighbouring pixels) of its tiles against the rest."""
    out, meta = demo
    tiles = _tiles_by_attribution(out, meta)

    def stats(group: list[np.ndarray]) -> tuple[float, float, float]:
        red_over_blue = np.mean([t[..., 0].mean() / t[..., 2].mean() for t in group])
        brightness = np.mean([t.mean() for t in group])
        detail = np.mean([np.abs(np.diff(t, axis=1)).mean() for t in group])
        return red_over_blue, brightness, detail

    shifted = stats(tiles[SHIFTED_ATTRIBUTION])
    others = [stats(group) for name, group in tiles.items() if name != SHIFTED_ATTRIBUTION]
    for other in others:
        assert shifted[0] < 0.85 * other[0], (shifted, other)  # cooler
        assert shifted[1] < 0.95 * other[1], (shifted, other)  # darker
        assert shifted[2] < 0.85 * other[2], (shifted, other)  # softer
