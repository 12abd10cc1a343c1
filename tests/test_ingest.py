"""Ingest through the package: selection rules, class folders, image stores and bad input."""

from __future__ import annotations

import io
import shutil
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.workflow import REPO, TINY_CONFIG
from isicgan.config import load_config
from isicgan.data import ALL_SPLITS, SPLITS, DataError, IngestSpec, locate_raw, splits_of
from isicgan.data.metadata import read_metadata
from isicgan.data.splits import MANIFEST_COLUMNS, benign_mix, count_table, exact_fill, select_splits
from isicgan.data.stage import IngestOutputs, ingest
from isicgan.data.store import decode_tile
from isicgan.demo import make_demo_data

DATA = load_config([REPO / "config.yaml", TINY_CONFIG])["data"]
DEMO = DATA["demo"]


def outputs_in(out: Path, splits=SPLITS) -> IngestOutputs:
    return IngestOutputs(
        out / "manifest.csv",
        out / "counts.csv",
        out / "institutions.csv",
        {s: out / s for s in splits},
        out / "institutions.png",
    )


def run_ingest(raw: Path, out: Path, data: dict | None = None, threads: int = 1) -> pd.DataFrame:
    paths = locate_raw(raw)
    spec = IngestSpec.from_config(data or DATA)
    return ingest(paths["metadata"], paths["images"], outputs_in(out, spec.splits), spec, threads)


def select(
    meta: pd.DataFrame,
    counts: dict,
    val_fraction: float = 0.3,
    seed: int = 25,
    source: str = "metadata",
    external: dict | None = None,
) -> pd.DataFrame:
    """select_splits with the settings spelled as the config spells them."""
    spec = IngestSpec.from_config(
        {
            "image_size": 32,
            "seed": seed,
            "val_fraction": val_fraction,
            "counts": counts,
            "external_test": external,
        }
    )
    return select_splits(meta, spec, source)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    make_demo_data(out, DEMO["n_patients"], DEMO["n_benign"], DEMO["n_malignant"], DEMO["seed"])
    return out


@pytest.fixture(scope="module")
def good(raw, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("good")
    return out, run_ingest(raw, out)


@pytest.fixture
def raw_copy(raw, tmp_path) -> Path:
    """A private copy of the raw set (metadata + HDF5 only) that a test may damage."""
    dst = tmp_path / "raw"
    dst.mkdir()
    for name in ["train-metadata.csv", "train-image.hdf5"]:
        shutil.copy(raw / name, dst / name)
    return dst


def replace_image(raw: Path, isic_id: str, data: bytes) -> None:
    with h5py.File(raw / "train-image.hdf5", "a") as h5:
        del h5[isic_id]
        h5.create_dataset(isic_id, data=np.bytes_(data))


def edit_metadata(raw: Path, edit) -> None:
    path = raw / "train-metadata.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame)
    frame.to_csv(path, index=False)


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() or list(out.iterdir()) == [], list(out.iterdir())


# --------------------------------------------------------------------------- good data


def test_splits_of_adds_external_only_when_configured():
    assert splits_of({"external_test": None}) == ["train", "val", "test", "source"]
    assert splits_of(DATA) == ["train", "val", "test", "source", "external"]
    assert IngestSpec.from_dict(asdict(IngestSpec.from_config(DATA))) == IngestSpec.from_config(
        DATA
    )


def test_manifest_has_the_contract_columns_and_the_configured_counts(good):
    out, manifest = good
    on_disk = pd.read_csv(out / "manifest.csv")
    assert list(on_disk.columns) == MANIFEST_COLUMNS
    pd.testing.assert_frame_equal(on_disk, manifest, check_dtype=False)
    counts = pd.read_csv(out / "counts.csv").set_index("split")
    c = DATA["counts"]
    val_m = round(DATA["val_fraction"] * c["pool"]["malignant"])
    val_b = round(DATA["val_fraction"] * c["pool"]["benign"])
    assert counts.loc["test", ["benign", "malignant"]].tolist() == [
        c["test"]["benign"],
        c["test"]["malignant"],
    ]
    assert counts.loc["val", ["benign", "malignant"]].tolist() == [val_b, val_m]
    assert counts.loc["train", ["benign", "malignant"]].tolist() == [
        c["pool"]["benign"] - val_b,
        c["pool"]["malignant"] - val_m,
    ]
    assert counts.loc["source", ["benign", "malignant"]].tolist() == [c["source"]["benign"], 0]
    ext = DATA["external_test"]["counts"]
    assert counts.loc["external", ["benign", "malignant"]].tolist() == [
        ext["benign"],
        ext["malignant"],
    ]
    assert counts.index.tolist() == ["train", "val", "test", "source", "external"]
    assert manifest["isic_id"].is_unique
    order = manifest["split"].map(ALL_SPLITS.index)
    assert order.is_monotonic_increasing


def test_test_patients_have_no_lesion_in_any_other_split(good):
    _, manifest = good
    test_p = set(manifest.loc[manifest["split"] == "test", "patient_id"])
    assert test_p and not test_p & set(manifest.loc[manifest["split"] != "test", "patient_id"])


def test_train_and_val_are_grouped_by_patient_and_source_shares_no_val_patient(good):
    _, manifest = good
    by = {s: set(manifest.loc[manifest["split"] == s, "patient_id"]) for s in SPLITS}
    assert not by["train"] & by["val"]
    assert not by["source"] & (by["val"] | by["test"])


def test_class_folders_hold_the_manifest_tiles_as_rgb_pngs_of_image_size(good):
    out, manifest = good
    size = DATA["image_size"]
    for split in ALL_SPLITS:
        assert (out / split / "0").is_dir() and (out / split / "1").is_dir()
        for cls in (0, 1):
            want = sorted(
                manifest.loc[(manifest["split"] == split) & (manifest["target"] == cls), "isic_id"]
            )
            files = sorted(p.stem for p in (out / split / str(cls)).iterdir())
            assert files == want, (split, cls)
    png = next((out / "train" / "1").glob("*.png"))
    with Image.open(png) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (size, size)
    assert not list(out.glob(".*"))  # no temporaries left


def test_rerun_gives_byte_identical_outputs_and_thread_count_does_not_matter(raw, good, tmp_path):
    out, _ = good
    paths = locate_raw(raw)
    again = tmp_path / "again"
    ingest(
        paths["metadata"],
        paths["images"],
        outputs_in(again, ALL_SPLITS),
        IngestSpec.from_config(DATA),
        threads=2,
    )
    for f in sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()):
        assert (again / f).read_bytes() == (out / f).read_bytes(), f


def test_another_seed_draws_another_selection(raw):
    meta = read_metadata(raw / "train-metadata.csv")
    a = select(meta, DATA["counts"], DATA["val_fraction"], seed=1)
    b = select(meta, DATA["counts"], DATA["val_fraction"], seed=2)
    assert not a.equals(b)
    cols = ["split", "benign", "malignant"]
    assert count_table(a)[cols].equals(count_table(b)[cols])


def test_exact_fill_hits_the_target_without_overshooting():
    # take-if-fits alone would take 3 then 3 (6 of 8) and stop short; subset sum finds 3+3+2
    idx, surplus = exact_fill([3, 3, 5, 2], 8)
    assert surplus == 0 and sum([3, 3, 5, 2][i] for i in idx) == 8
    idx, surplus = exact_fill([5, 4, 4], 8)
    assert surplus == 0 and sorted(idx) == [1, 2]
    assert exact_fill([2, 2], 3)[1] == 1  # impossible: surplus reported
    assert exact_fill([1], 3)[1] < 0  # not enough at all


def test_all_malignant_tiles_are_used_when_the_counts_need_every_one():
    """Thesis set-up: test 93 + pool 300 malignant = all 393 malignant tiles of the data."""
    rng = np.random.default_rng(0)
    rows, k = [], 0
    for p in range(300):
        n_mal = int(rng.choice([0, 0, 1, 1, 1, 2, 3]))
        for cls, n in [(1, n_mal), (0, int(rng.integers(20, 60)))]:
            for _ in range(n):
                rows.append((f"ISIC_{k:07d}", f"IP_{p:07d}", cls))
                k += 1
    meta = pd.DataFrame(rows, columns=["isic_id", "patient_id", "target"])
    total_m = int(meta["target"].sum())
    counts = {
        "test": {"benign": 93, "malignant": 93},
        "pool": {"benign": 3000, "malignant": total_m - 93},
        "source": {"benign": 2600},
    }
    manifest = select(meta, counts, 0.3, seed=25)
    assert int(manifest["target"].sum()) == total_m
    table = count_table(manifest).set_index("split")
    assert table.loc["test", "malignant"] == 93 and table.loc["val", "malignant"] == round(
        0.3 * (total_m - 93)
    )


def isic_shaped_cohort(
    seed: int = 0,
    n_patients: int = 1_000,
    n_tiles: int = 400_000,
    n_ill: int = 260,
    n_malignant: int = 393,
) -> pd.DataFrame:
    """Metadata rows shaped like ISIC 2024: hundreds of tiles per patient (lognormal sizes),
    393 malignant tiles on a few hundred of the patients, 1 to 5 each."""
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(0.0, 1.0, n_patients)
    patient = rng.choice(n_patients, n_tiles, p=sizes / sizes.sum())
    patient[:n_patients] = np.arange(n_patients)  # every patient has a tile
    target = np.zeros(n_tiles, np.int8)
    ill = rng.choice(n_patients, n_ill, replace=False)
    target[[int(rng.choice(np.flatnonzero(patient == p))) for p in ill]] = 1  # one each
    extra = rng.choice(
        np.flatnonzero(np.isin(patient, ill) & (target == 0)), n_malignant - n_ill, replace=False
    )
    target[extra] = 1
    return pd.DataFrame(
        {
            "isic_id": np.char.add("ISIC_", np.char.zfill(np.arange(n_tiles).astype(str), 7)),
            "patient_id": np.char.add("IP_", np.char.zfill(patient.astype(str), 7)),
            "target": target,
        }
    )


THESIS_COUNTS = {
    "test": {"benign": 93, "malignant": 93},
    "pool": {"benign": 3000, "malignant": 300},
    "source": {"benign": 2600},
}


def test_val_and_test_benign_tiles_mix_patients_like_train_on_an_isic_shaped_cohort():
    """Issue 9: val and test once took their benign tiles almost only from the patients chosen
    for their malignant tiles (100 % against about 15 % in train on this cohort)."""
    meta = isic_shaped_cohort()
    ill = meta.loc[meta["target"] == 1, "patient_id"].unique()
    manifest = select(meta, THESIS_COUNTS, 0.3, seed=25)
    table = count_table(manifest, ill).set_index("split")
    assert table[["benign", "malignant"]].to_dict("index") == {
        "train": {"benign": 2100, "malignant": 210},
        "val": {"benign": 900, "malignant": 90},
        "test": {"benign": 93, "malignant": 93},
        "source": {"benign": 2600, "malignant": 0},
    }
    share = table["benign_from_malignant_patients"]
    assert 0.05 < share["train"] < 0.5  # the cohort's mix, not the ill patients'
    for split in ("val", "test", "source"):
        assert abs(share[split] - share["train"]) <= 0.10, (split, share.to_dict())
    by = {s: set(manifest.loc[manifest["split"] == s, "patient_id"]) for s in SPLITS}
    assert not by["test"] & (by["train"] | by["val"] | by["source"])
    assert not by["val"] & (by["train"] | by["source"])
    # spread like train's: the test benign tiles come from many patients, not one or two
    test_benign = manifest[(manifest["split"] == "test") & (manifest["target"] == 0)]
    assert test_benign["patient_id"].value_counts().max() <= 30
    assert test_benign["patient_id"].nunique() >= 15


def test_counts_csv_reports_the_benign_mix_of_each_split(raw, good):
    out, manifest = good
    counts = pd.read_csv(out / "counts.csv").set_index("split")
    meta = read_metadata(raw / "train-metadata.csv")
    ill = set(meta.loc[meta["target"] == 1, "patient_id"])
    for split in SPLITS:
        benign = manifest[(manifest["split"] == split) & (manifest["target"] == 0)]
        assert counts.at[split, "benign_from_malignant_patients"] == pytest.approx(
            benign["patient_id"].isin(ill).mean(), abs=1e-4
        )
    mix = counts["benign_from_malignant_patients"]
    assert 0 < mix["train"] < 1
    assert abs(mix["test"] - mix["train"]) <= 0.10 and abs(mix["val"] - mix["train"]) <= 0.10


def test_a_benign_mix_that_cannot_match_train_names_the_split():
    """The patients that test needs for its malignant tile hold one benign tile, while train's
    benign tiles come mostly from patients with a malignant lesion: test cannot match."""
    rows = []

    def patient(name: str, n_mal: int, n_ben: int) -> None:
        rows.extend(
            (f"ISIC_{len(rows) + i:07d}", name, int(i < n_mal)) for i in range(n_mal + n_ben)
        )

    for p in range(12):
        patient(f"IP_rich{p:02d}", 2, 50)
    for p in range(12):
        patient(f"IP_poor{p:02d}", 1, 1)
    for p in range(4):
        patient(f"IP_well{p:02d}", 0, 5)
    meta = pd.DataFrame(rows, columns=["isic_id", "patient_id", "target"])
    counts = {
        "test": {"benign": 10, "malignant": 1},
        "pool": {"benign": 100, "malignant": 10},
        "source": {"benign": 20},
    }
    with pytest.raises(
        DataError,
        match=r"benign test tiles cannot match train's mix .*10\.0% of them "
        r"come from patients with a malignant lesion, against 9\d\.\d% in train",
    ):
        select(meta, counts, 0.3, seed=25, source="meta.csv")
    mix = benign_mix(
        select(meta, {**counts, "test": {"benign": 1, "malignant": 1}}, 0.3, seed=25),
        meta.loc[meta["target"] == 1, "patient_id"],
    )
    assert mix["test"] == 1.0 and mix["train"] > 0.9  # one tile: nothing else to match


def test_hdf5_is_preferred_and_the_jpeg_folder_is_used_without_it(raw, good, tmp_path):
    assert locate_raw(raw)["images"].endswith("train-image.hdf5")
    jpeg_only = tmp_path / "jpeg_only"
    jpeg_only.mkdir()
    shutil.copy(raw / "train-metadata.csv", jpeg_only)
    shutil.copytree(raw / "train-image", jpeg_only / "train-image")
    assert locate_raw(jpeg_only)["images"].endswith("train-image/image")
    out, manifest = good
    got = run_ingest(jpeg_only, tmp_path / "out")
    pd.testing.assert_frame_equal(got, manifest)
    some = next((out / "test" / "1").glob("*.png"))
    assert (tmp_path / "out" / "test" / "1" / some.name).read_bytes() == some.read_bytes()


def test_non_square_tiles_are_centre_cropped_then_resized():
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[:, 20:60] = 200  # the centre square is bright
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    tile = decode_tile(buf.getvalue(), 16)
    assert tile.shape == (16, 16, 3) and tile.min() > 150


# --------------------------------------------------------------------------- bad input


def test_missing_metadata_csv_is_named(raw_copy):
    (raw_copy / "train-metadata.csv").unlink()
    with pytest.raises(DataError, match="train-metadata.csv' is missing"):
        locate_raw(raw_copy)


def test_missing_image_store_is_named(raw_copy):
    (raw_copy / "train-image.hdf5").unlink()
    with pytest.raises(DataError, match=r"no image store .*train-image.hdf5.*train-image/image"):
        locate_raw(raw_copy)


def test_missing_raw_dir_names_the_config_key(tmp_path):
    with pytest.raises(DataError, match=r"data.raw_dir.*nope.*does not exist"):
        locate_raw(tmp_path / "nope")


def test_missing_required_column_is_named(raw_copy, tmp_path):
    edit_metadata(raw_copy, lambda f: f.pop("patient_id"))
    with pytest.raises(
        DataError, match=r"train-metadata.csv: required column\(s\) patient_id missing"
    ):
        run_ingest(raw_copy, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


def test_target_other_than_0_or_1_names_the_line(raw_copy, tmp_path):
    edit_metadata(raw_copy, lambda f: f.__setitem__("target", f["target"].where(f.index != 4, "2")))
    with pytest.raises(DataError, match=r"line 6 .*target '2' is not 0 or 1"):
        run_ingest(raw_copy, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


def test_duplicated_isic_id_names_both_lines(raw_copy, tmp_path):
    def dup(f):
        f.loc[7, "isic_id"] = f.loc[3, "isic_id"]

    edit_metadata(raw_copy, dup)
    with pytest.raises(DataError, match=r"is duplicated \(lines 5, 9\)"):
        run_ingest(raw_copy, tmp_path / "out")


def test_isic_id_that_is_a_path_is_refused(raw_copy, tmp_path):
    edit_metadata(
        raw_copy, lambda f: f.__setitem__("isic_id", f["isic_id"].where(f.index != 2, "../x"))
    )
    with pytest.raises(ValueError, match=r"line 4: isic_id '../x' is not a valid id"):
        run_ingest(raw_copy, tmp_path / "out")
    assert not (tmp_path / "x").exists()
    assert_nothing_written(tmp_path / "out")


def test_id_absent_from_the_image_store_is_named(raw_copy, good, tmp_path):
    victim = good[1]["isic_id"].iat[0]
    with h5py.File(raw_copy / "train-image.hdf5", "a") as h5:
        del h5[victim]
    with pytest.raises(DataError, match=rf"isic_id '{victim}' has no image in .*train-image.hdf5"):
        run_ingest(raw_copy, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


def test_corrupt_jpeg_names_the_id_and_leaves_nothing(raw_copy, good, tmp_path):
    victim = good[1].query("split == 'test'")["isic_id"].iat[0]
    with h5py.File(raw_copy / "train-image.hdf5", "r") as h5:
        data = bytes(h5[victim][()])
    replace_image(raw_copy, victim, data[: len(data) // 3])  # truncated JPEG
    with pytest.raises(DataError, match=rf"isic_id '{victim}': cannot decode the image"):
        run_ingest(raw_copy, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")


def test_grayscale_and_rgba_tiles_are_converted_to_rgb(raw_copy, good, tmp_path):
    manifest = good[1]
    gray_id, rgba_id = manifest.query("split == 'train'")["isic_id"].iloc[:2]
    for isic_id, mode, fmt in [(gray_id, "L", "JPEG"), (rgba_id, "RGBA", "PNG")]:
        buf = io.BytesIO()
        Image.new(mode, (90, 90), 128 if mode == "L" else (200, 120, 90, 100)).save(buf, format=fmt)
        replace_image(raw_copy, isic_id, buf.getvalue())
    out = tmp_path / "out"
    run_ingest(raw_copy, out)
    for isic_id in (gray_id, rgba_id):
        cls = int(manifest.set_index("isic_id").at[isic_id, "target"])
        with Image.open(out / "train" / str(cls) / f"{isic_id}.png") as im:
            assert im.mode == "RGB" and im.size == (DATA["image_size"],) * 2


def test_not_enough_malignant_tiles_says_what_is_available(raw, tmp_path):
    data = {
        **DATA,
        "external_test": None,
        "counts": {**DATA["counts"], "pool": {"benign": 40, "malignant": 1000}},
    }
    with pytest.raises(DataError, match=r"not enough malignant tiles .*need 1006.*available 34"):
        run_ingest(raw, tmp_path / "out", data)
    assert_nothing_written(tmp_path / "out")


# --------------------------------------------------------------------------- download


def test_download_without_the_kaggle_tool_says_how_to_install_it(tmp_path, monkeypatch):
    from isicgan.data.download import download_kaggle

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataError, match="`kaggle` command is not installed: pip install kaggle"):
        download_kaggle(tmp_path / "raw", tmp_path / "record.json")
    assert not (tmp_path / "record.json").exists()


def test_download_unzips_what_the_kaggle_tool_fetches_and_records_it(tmp_path, monkeypatch):
    """A stand-in `kaggle` on PATH plays the CLI (which zips single files) without network."""
    import json
    import sys

    from isicgan.data.download import download_kaggle

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "kaggle"
    stub.write_text(
        f"#!{sys.executable}\n"
        + "\n".join(
            [
                "import sys, zipfile, pathlib",
                "a = sys.argv[1:]",
                "name, dest = a[a.index('-f') + 1], pathlib.Path(a[a.index('-p') + 1])",
                "with zipfile.ZipFile(dest / (name + '.zip'), 'w') as z:",
                "    z.writestr(name, 'payload of ' + name)",
            ]
        )
        + "\n"
    )
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    download_kaggle(tmp_path / "raw", tmp_path / "record.json")
    assert (tmp_path / "raw" / "train-metadata.csv").read_text() == "payload of train-metadata.csv"
    assert not list((tmp_path / "raw").glob("*.zip"))
    record = json.loads((tmp_path / "record.json").read_text())
    assert set(record["files"]) == {"train-metadata.csv", "train-image.hdf5"}


# --------------------------------------------------------------------------- external institution

EXTERNAL_NAME = DATA["external_test"]["attributions"][0]


def test_external_split_is_disjoint_by_patient_and_institution_with_exact_counts(raw, good):
    out, manifest = good
    meta = read_metadata(raw / "train-metadata.csv").set_index("isic_id")
    attribution = manifest["isic_id"].map(meta["attribution"])
    external = manifest["split"] == "external"
    want = DATA["external_test"]["counts"]
    assert int((manifest.loc[external, "target"] == 0).sum()) == want["benign"]
    assert int((manifest.loc[external, "target"] == 1).sum()) == want["malignant"]
    assert (attribution[external] == EXTERNAL_NAME).all()  # external: the named only
    assert not (attribution[~external] == EXTERNAL_NAME).any()  # no other split from it
    by = {s: set(manifest.loc[manifest["split"] == s, "patient_id"]) for s in ALL_SPLITS}
    for i, a in enumerate(ALL_SPLITS):
        for b in ALL_SPLITS[i + 1 :]:
            if {a, b} != {"train", "source"}:  # source: train's patients
                assert not by[a] & by[b], (a, b)
    # every patient with a tile of the named institution left the other splits
    named_patients = set(meta.loc[meta["attribution"] == EXTERNAL_NAME, "patient_id"])
    assert named_patients and not named_patients & set(manifest.loc[~external, "patient_id"])
    for cls in (0, 1):
        files = sorted(p.stem for p in (out / "external" / str(cls)).iterdir())
        assert files == sorted(manifest.loc[external & (manifest["target"] == cls), "isic_id"])
    table = pd.read_csv(out / "institutions.csv", keep_default_na=False)
    assert table["isic_id"].tolist() == manifest["isic_id"].tolist()
    assert table["attribution"].tolist() == attribution.tolist()


def test_normal_splits_keep_the_population_rule_with_an_external_set(good):
    out, _ = good
    mix = pd.read_csv(out / "counts.csv").set_index("split")["benign_from_malignant_patients"]
    for split in ("val", "test", "source"):
        assert abs(mix[split] - mix["train"]) <= 0.10, mix.to_dict()


def test_without_external_test_no_external_split_is_written(raw, tmp_path):
    data = {**DATA, "external_test": None}
    manifest = run_ingest(raw, tmp_path / "out", data)
    assert set(manifest["split"]) == set(SPLITS)
    assert not (tmp_path / "out" / "external").exists()
    assert pd.read_csv(tmp_path / "out" / "counts.csv")["split"].tolist() == list(SPLITS)


def attribution_listing(raw: Path) -> list[str]:
    """The lines the error must hold: every attribution with its benign and malignant tiles."""
    meta = read_metadata(raw / "train-metadata.csv")
    lines = []
    for name, rows in meta.groupby("attribution"):
        lines.append(
            f"{name!r}: {int((rows['target'] == 0).sum())} benign, "
            f"{int((rows['target'] == 1).sum())} malignant"
        )
    assert len(lines) == 5
    return lines


@pytest.mark.parametrize(
    "external, problem",
    [
        (
            {
                "attributions": [EXTERNAL_NAME, "St Nowhere Hospital"],
                "counts": {"benign": 2, "malignant": 2},
            },
            "no tile has attribution 'St Nowhere Hospital'",
        ),
        (
            {"attributions": [EXTERNAL_NAME], "counts": {"benign": 6, "malignant": 500}},
            "the named attribution(s) hold",
        ),
    ],
)
def test_a_bad_external_test_lists_every_attribution_and_writes_nothing(
    raw, tmp_path, external, problem
):
    out = tmp_path / "out"
    with pytest.raises(DataError) as caught:
        run_ingest(raw, out, {**DATA, "external_test": external})
    message = str(caught.value)
    assert "data.external_test" in message and problem in message, message
    for line in attribution_listing(raw):
        assert line in message, (line, message)
    assert_nothing_written(out)


def test_a_patient_seen_at_the_named_and_another_institution_leaves_the_other_splits(raw):
    """Patients, not only tiles, leave: their tiles from another institution go nowhere."""
    meta = read_metadata(raw / "train-metadata.csv")
    named = meta["attribution"] == EXTERNAL_NAME
    patients = meta.loc[named, "patient_id"].value_counts()
    for patient in patients.index:  # half of each one's benign tiles elsewhere
        rows = meta.index[(meta["patient_id"] == patient) & named & (meta["target"] == 0)]
        meta.loc[rows[: len(rows) // 2], "attribution"] = "FNQH Cairns"
    moved = (meta["attribution"] == "FNQH Cairns") & meta["patient_id"].isin(patients.index)
    assert moved.any()
    manifest = select(
        meta, DATA["counts"], DATA["val_fraction"], DATA["seed"], external=DATA["external_test"]
    )
    external = manifest["split"] == "external"
    assert not set(patients.index) & set(manifest.loc[~external, "patient_id"])
    assert not set(meta.loc[moved, "isic_id"]) & set(manifest.loc[external, "isic_id"])
