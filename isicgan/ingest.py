"""Ingest: Kaggle ISIC 2024 layout (or the synthetic demo data) -> manifest + class folders.

Steps, each with one clear error on bad input:

1. :func:`locate_raw` finds ``train-metadata.csv`` and an image store in the raw folder:
   ``train-image.hdf5`` first, else ``train-image/image/<isic_id>.jpg``.
2. :func:`read_metadata` reads only ``isic_id``, ``patient_id`` and ``target`` (as strings, C
   parser, ``usecols``) and checks them: required columns present, ids safe and unique,
   patient ids present, targets exactly 0 or 1.
3. :func:`select_splits` picks the configured counts deterministically from ``data.seed``
   (algorithm in its docstring): no patient of ``test`` has a tile in any other split, the
   pool is split into ``train``/``val`` by patient and stratified by class, ``source`` holds
   further benign tiles for the CycleGAN only.
4. :func:`write_split_folders` decodes only the selected images and writes
   ``{split}/{0,1}/{isic_id}.png``: RGB (grayscale, palette and RGBA tiles are converted; the
   alpha channel is dropped), centre-cropped to a square when not square, resized to
   ``image_size`` with PIL's LANCZOS filter, saved with :func:`isicgan.io.save_png`.

Outputs are written under temporary names and renamed at the end, manifest last.
"""
from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import h5py
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from isicgan.io import ISIC_ID_RE, atomic_path, check_id, remove_stale_temporaries, save_png

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "source")
MANIFEST_COLUMNS = ["isic_id", "patient_id", "target", "split"]
REQUIRED_COLUMNS = ["isic_id", "patient_id", "target"]
METADATA_NAME = "train-metadata.csv"
HDF5_NAME = "train-image.hdf5"
JPEG_DIR = "train-image/image"

# The 55 columns of the Kaggle ISIC 2024 train-metadata.csv, in the file's order.
METADATA_COLUMNS = [
    "isic_id", "target", "patient_id", "age_approx", "sex", "anatom_site_general",
    "clin_size_long_diam_mm", "image_type", "tbp_tile_type", "tbp_lv_A", "tbp_lv_Aext",
    "tbp_lv_B", "tbp_lv_Bext", "tbp_lv_C", "tbp_lv_Cext", "tbp_lv_H", "tbp_lv_Hext", "tbp_lv_L",
    "tbp_lv_Lext", "tbp_lv_areaMM2", "tbp_lv_area_perim_ratio", "tbp_lv_color_std_mean",
    "tbp_lv_deltaA", "tbp_lv_deltaB", "tbp_lv_deltaL", "tbp_lv_deltaLB", "tbp_lv_deltaLBnorm",
    "tbp_lv_eccentricity", "tbp_lv_location", "tbp_lv_location_simple", "tbp_lv_minorAxisMM",
    "tbp_lv_nevi_confidence", "tbp_lv_norm_border", "tbp_lv_norm_color", "tbp_lv_perimeterMM",
    "tbp_lv_radial_color_std_max", "tbp_lv_stdL", "tbp_lv_stdLExt", "tbp_lv_symm_2axis",
    "tbp_lv_symm_2axis_angle", "tbp_lv_x", "tbp_lv_y", "tbp_lv_z", "attribution",
    "copyright_license", "lesion_id", "iddx_full", "iddx_1", "iddx_2", "iddx_3", "iddx_4",
    "iddx_5", "mel_mitotic_index", "mel_thick_mm", "tbp_lv_dnn_lesion_confidence",
]


class DataError(ValueError):
    """The raw data cannot give what the config asks for; the message says where and why."""


# --------------------------------------------------------------------------- locating


def locate_raw(raw_dir: str | Path) -> dict[str, str]:
    """``{"metadata": csv, "images": hdf5 file or jpeg folder}`` inside ``raw_dir``.

    The HDF5 store wins when both exist. Raises :class:`DataError` naming what is missing.
    """
    raw = Path(raw_dir)
    hint = ("download the Kaggle ISIC 2024 data (kaggle competitions download -c "
            "isic-2024-challenge, or `snakemake download`) and unzip it there, or set "
            "data.source: demo")
    if not raw.is_dir():
        raise DataError(f"config key 'data.raw_dir': folder '{raw}' does not exist; {hint}")
    csv = raw / METADATA_NAME
    if not csv.is_file():
        raise DataError(f"metadata file '{csv}' is missing (data.raw_dir = '{raw}'); {hint}")
    if (raw / HDF5_NAME).is_file():
        images = raw / HDF5_NAME
    elif (raw / JPEG_DIR).is_dir():
        images = raw / JPEG_DIR
    else:
        raise DataError(f"no image store in '{raw}': expected '{raw / HDF5_NAME}' or the folder "
                        f"'{raw / JPEG_DIR}' of <isic_id>.jpg files; {hint}")
    return {"metadata": str(csv), "images": str(images)}


# --------------------------------------------------------------------------- metadata


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read and check ``isic_id, patient_id, target`` of a Kaggle metadata CSV.

    Returns a frame with those columns (``target`` as int8), in file order, with the
    file's line number of each row in ``line``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"metadata file '{path}' is missing")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the CSV header ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: required column(s) {', '.join(missing)} missing "
                        f"(the header has {len(header)} columns: {', '.join(map(str, header[:8]))}...)")
    try:
        frame = pd.read_csv(path, usecols=REQUIRED_COLUMNS, dtype=str, keep_default_na=False,
                            na_filter=False, engine="c")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse the CSV ({exc})") from exc
    frame = frame[REQUIRED_COLUMNS]
    line = np.arange(len(frame)) + 2                # header is line 1

    def fail(mask: np.ndarray, what: str) -> None:
        rows = np.flatnonzero(mask)
        if len(rows):
            i = rows[0]
            more = f" ({len(rows)} rows in all)" if len(rows) > 1 else ""
            raise DataError(f"{path} line {line[i]} (isic_id {frame['isic_id'].iat[i]!r}): "
                            f"{what.format(**frame.iloc[i].to_dict())}{more}")

    ids = frame["isic_id"].str.strip()
    bad_id = ~ids.str.fullmatch(ISIC_ID_RE.pattern).to_numpy(bool) | ids.isin([".", ".."]).to_numpy()
    if bad_id.any():
        i = int(np.flatnonzero(bad_id)[0])
        check_id(ids.iat[i], where=f"{path} line {line[i]}: ")
    frame["isic_id"] = ids
    dup = frame["isic_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = frame["isic_id"][dup].iat[0]
        where = line[(frame["isic_id"] == first).to_numpy()]
        raise DataError(f"{path}: isic_id {first!r} is duplicated (lines {', '.join(map(str, where))}); "
                        f"{int(dup.sum())} rows share an id")
    frame["patient_id"] = frame["patient_id"].str.strip()
    fail((frame["patient_id"] == "").to_numpy(), "patient_id is empty")
    target = frame["target"].str.strip()
    fail(~target.isin(["0", "1"]).to_numpy(), "target {target!r} is not 0 or 1")
    frame["target"] = target.astype(np.int8)
    frame["line"] = line
    return frame


# --------------------------------------------------------------------------- selection


def exact_fill(sizes: Sequence[int], target: int) -> tuple[list[int], int]:
    """Pick items (indices into ``sizes``, preferring earlier ones) whose sizes sum to ``target``.

    First a pass that takes every item that still fits; if that misses, a subset-sum search
    over all items. Returns ``(indices, surplus)``: surplus is 0 on an exact fill; when no
    subset sums to ``target`` the items are taken in order until the sum passes it, and
    ``surplus`` says by how much (those tiles are dropped from the last group).
    """
    if target <= 0:
        return [], 0
    chosen, total = [], 0
    for i, s in enumerate(sizes):
        if 0 < s <= target - total:
            chosen.append(i)
            total += s
            if total == target:
                return chosen, 0
    # subset sum: reach[t] = (item, previous total) of the first way found to make t
    reach: dict[int, tuple[int, int]] = {0: (-1, -1)}
    for i, s in enumerate(sizes):
        if s <= 0:
            continue
        for t in sorted(reach, reverse=True):
            u = t + s
            if u <= target and u not in reach:
                reach[u] = (i, t)
        if target in reach:
            picked, t = [], target
            while t:
                i_, t = reach[t]
                picked.append(i_)
            return sorted(picked), 0
    chosen, total = [], 0
    for i, s in enumerate(sizes):
        if s > 0:
            chosen.append(i)
            total += s
            if total >= target:
                return chosen, total - target
    return chosen, total - target      # negative: not enough in all


def _pick(rng: np.random.Generator, ids: Sequence[str], k: int) -> list[str]:
    """``k`` ids drawn without replacement from ``ids`` (sorted first: independent of order)."""
    pool = sorted(ids)
    if k > len(pool):
        raise AssertionError("caller checks availability")
    return sorted(pool[i] for i in rng.choice(len(pool), k, replace=False)) if k else []


def _group(patients: Iterable[str], tiles: Mapping[str, list[str]]) -> list[str]:
    return [t for p in patients for t in tiles.get(p, [])]


def select_splits(meta: pd.DataFrame, counts: Mapping[str, Mapping[str, int]],
                  val_fraction: float, seed: int, source: str = "metadata") -> pd.DataFrame:
    """Choose the tiles of each split; return the manifest (``MANIFEST_COLUMNS``), sorted.

    Algorithm, all draws from ``numpy.random.default_rng(seed)`` over sorted ids:

    1. Patients are put in a random preference order.
    2. Test: patients with malignant tiles are taken so that their malignant tiles sum
       exactly to ``counts.test.malignant`` (:func:`exact_fill`); patients are added (benign-only
       first) until they hold ``counts.test.benign`` benign tiles. The test tiles are drawn from
       these patients; their other tiles are used nowhere.
    3. Val group: among the other patients, the same exact fill gives
       ``round(val_fraction * pool.malignant)`` malignant tiles, then patients are added until
       ``round(val_fraction * pool.benign)`` benign ones are there.
    4. Train group (all remaining patients): the rest of the pool, then ``source`` benign tiles
       drawn from what the train group has left (so the GAN inputs share no patient with
       val or test).
    """
    rng = np.random.default_rng(seed)
    c_test, c_pool = counts["test"], counts["pool"]
    need = {"test_m": int(c_test["malignant"]), "test_b": int(c_test["benign"]),
            "pool_m": int(c_pool["malignant"]), "pool_b": int(c_pool["benign"]),
            "source_b": int(counts["source"]["benign"])}
    val_m = int(round(val_fraction * need["pool_m"]))
    val_b = int(round(val_fraction * need["pool_b"]))

    meta = meta.sort_values("isic_id", kind="stable")
    tiles: dict[int, dict[str, list[str]]] = {}
    for cls in (0, 1):
        part = meta.loc[meta["target"] == cls]
        ids = part["isic_id"].to_numpy()
        tiles[cls] = {p: ids[idx].tolist() for p, idx in part.groupby("patient_id", sort=True).indices.items()}
    patients = sorted(meta["patient_id"].unique())
    order = [patients[i] for i in rng.permutation(len(patients))]
    n_m = {p: len(tiles[1].get(p, [])) for p in patients}
    n_b = {p: len(tiles[0].get(p, [])) for p in patients}
    total_m, total_b = sum(n_m.values()), sum(n_b.values())

    def shortfall(what: str, need_n: int, have: int, detail: str) -> DataError:
        return DataError(
            f"{source}: not enough {what} for data.counts: need {need_n}, {detail} {have} "
            f"(the data hold {total_m} malignant and {total_b} benign tiles of {len(patients)} "
            f"patients; asked: test {need['test_b']}+{need['test_m']}, pool {need['pool_b']}+"
            f"{need['pool_m']}, source {need['source_b']} benign)")

    if total_m < need["test_m"] + need["pool_m"]:
        raise shortfall("malignant tiles (target=1)", need["test_m"] + need["pool_m"], total_m,
                        "test + pool malignant, available")
    if total_b < need["test_b"] + need["pool_b"] + need["source_b"]:
        raise shortfall("benign tiles (target=0)", need["test_b"] + need["pool_b"] + need["source_b"],
                        total_b, "test + pool + source benign, available")

    def take_group(candidates: list[str], n_mal: int, n_ben: int) -> list[str]:
        """Patients holding exactly n_mal malignant tiles (if possible) and >= n_ben benign."""
        with_m = [p for p in candidates if n_m[p] > 0]
        idx, _ = exact_fill([n_m[p] for p in with_m], n_mal)
        group = [with_m[i] for i in idx] if n_mal > 0 else []
        have_b = sum(n_b[p] for p in group)
        chosen = set(group)
        # add patients for benign tiles: those without malignant tiles first
        for p in sorted((p for p in candidates if p not in chosen), key=lambda p: n_m[p] > 0):
            if have_b >= n_ben:
                break
            if n_b[p]:
                group.append(p)
                have_b += n_b[p]
        return group

    test_p = take_group(order, need["test_m"], need["test_b"])
    test_set = set(test_p)
    rest = [p for p in order if p not in test_set]
    val_p = take_group(rest, val_m, val_b)
    val_set = set(val_p)
    train_p = [p for p in rest if p not in val_set]

    def check(group: list[str], cls: int, n: int, what: str) -> list[str]:
        avail = _group(group, tiles[cls])
        if len(avail) < n:
            raise shortfall(what, n, len(avail), f"the {len(group)} patients left for it hold")
        return avail

    sel: dict[str, dict[int, list[str]]] = {}
    sel["test"] = {1: _pick(rng, check(test_p, 1, need["test_m"], "malignant tiles for test"), need["test_m"]),
                   0: _pick(rng, check(test_p, 0, need["test_b"], "benign tiles for test"), need["test_b"])}
    sel["val"] = {1: _pick(rng, check(val_p, 1, val_m, "malignant tiles for val"), val_m),
                  0: _pick(rng, check(val_p, 0, val_b, "benign tiles for val"), val_b)}
    n_train_m, n_train_b = need["pool_m"] - val_m, need["pool_b"] - val_b
    train_m = check(train_p, 1, n_train_m,
                    "malignant tiles for train (test and val are filled by whole patients first)")
    train_b = check(train_p, 0, n_train_b + need["source_b"], "benign tiles for train + source")
    sel["train"] = {1: _pick(rng, train_m, n_train_m), 0: []}
    drawn = [train_b[i] for i in rng.permutation(len(train_b))[:n_train_b + need["source_b"]]]
    sel["train"][0] = sorted(drawn[:n_train_b])
    sel["source"] = {1: [], 0: sorted(drawn[n_train_b:])}

    patient_of = dict(zip(meta["isic_id"].tolist(), meta["patient_id"].tolist()))
    rows = [(i, patient_of[i], cls, split) for split in SPLITS for cls in (0, 1)
            for i in sel[split][cls]]
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    return sort_manifest(manifest)


def sort_manifest(manifest: pd.DataFrame) -> pd.DataFrame:
    """Rows in split order (train, val, test, source), then by isic_id."""
    key = manifest["split"].map({s: i for i, s in enumerate(SPLITS)})
    out = manifest.assign(_k=key).sort_values(["_k", "isic_id"], kind="stable").drop(columns="_k")
    out["target"] = out["target"].astype(int)
    return out.reset_index(drop=True)[MANIFEST_COLUMNS]


def count_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per split: benign, malignant, total tiles and distinct patients."""
    rows = []
    for split in SPLITS:
        part = manifest[manifest["split"] == split]
        rows.append({"split": split, "benign": int((part["target"] == 0).sum()),
                     "malignant": int((part["target"] == 1).sum()), "total": len(part),
                     "patients": int(part["patient_id"].nunique())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- images


class ImageStore:
    """JPEG bytes by ``isic_id`` from ``train-image.hdf5`` or a folder of ``<isic_id>.jpg``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._h5 = None
        if self.path.is_file():
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as exc:
                raise DataError(f"image store '{self.path}' is not a readable HDF5 file ({exc})") from exc
        elif not self.path.is_dir():
            raise DataError(f"image store '{self.path}' is missing (expected {HDF5_NAME} or a "
                            f"folder of <isic_id>.jpg)")

    def __enter__(self) -> "ImageStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def ids(self) -> set[str]:
        if self._h5 is not None:
            names: list[bytes] = []
            self._h5.id.links.iterate(names.append)     # faster than keys() on 401k links
            return {n.decode() for n in names}
        return {e.name[:-4] for e in os.scandir(self.path) if e.name.endswith(".jpg")}

    def read(self, isic_id: str) -> bytes:
        check_id(isic_id)
        if self._h5 is not None:
            try:
                value = self._h5[isic_id][()]
            except KeyError:
                raise DataError(f"{self.path}: no image for isic_id {isic_id!r}") from None
            if isinstance(value, np.ndarray):      # a uint8 array instead of a bytes scalar
                return value.tobytes()
            return bytes(value)
        file = self.path / f"{isic_id}.jpg"
        if not file.is_file():
            raise DataError(f"{self.path}: no image file {file.name} for isic_id {isic_id!r}")
        return file.read_bytes()


def check_store(meta: pd.DataFrame, store: ImageStore, metadata_path: str | Path) -> None:
    """Every metadata id has an image in the store (one error naming the first that has not)."""
    have = store.ids()
    absent = ~meta["isic_id"].isin(have).to_numpy()
    if absent.any():
        i = int(np.flatnonzero(absent)[0])
        raise DataError(f"{metadata_path} line {meta['line'].iat[i]}: isic_id {meta['isic_id'].iat[i]!r} "
                        f"has no image in '{store.path}' ({int(absent.sum())} of {len(meta)} ids lack one)")


def decode_tile(data: bytes, size: int, where: str = "") -> np.ndarray:
    """JPEG (or any PIL-readable) bytes -> size x size x 3 uint8.

    RGB conversion first (grayscale, palette, CMYK, RGBA: alpha dropped), then a centre crop
    to the largest square when the tile is not square, then PIL LANCZOS resampling.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{where}cannot decode the image ({type(exc).__name__}: {exc})") from exc
    w, h = rgb.size
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side))
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


def write_split_folders(manifest: pd.DataFrame, store: ImageStore, split_dirs: Mapping[str, Path],
                        image_size: int, threads: int = 1) -> None:
    """Decode the manifest's images into ``split_dirs[split]/{0,1}/{isic_id}.png``.

    Pillow and zlib release the GIL, so ``threads`` > 1 helps; each file depends only on its
    own bytes, so the output does not depend on the thread count.
    """
    for split in SPLITS:
        for cls in ("0", "1"):
            (Path(split_dirs[split]) / cls).mkdir(parents=True, exist_ok=True)
    jobs = list(manifest[["isic_id", "target", "split"]].itertuples(index=False, name=None))

    def one(job: tuple[str, int, str]) -> None:
        isic_id, target, split = job
        data = store.read(isic_id)
        tile = decode_tile(data, image_size, where=f"{store.path} isic_id {isic_id!r}: ")
        save_png(Path(split_dirs[split]) / str(int(target)) / f"{isic_id}.png", tile)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for _ in tqdm(pool.map(one, jobs), total=len(jobs), desc="tiles", unit="img",
                      mininterval=5, disable=None):
            pass


# --------------------------------------------------------------------------- the stage


def ingest(metadata: str | Path, images: str | Path, manifest_path: str | Path,
           counts_path: str | Path, split_dirs: Mapping[str, str | Path], data_config: Mapping[str, Any],
           threads: int = 1) -> pd.DataFrame:
    """The data stage: read, check, select, decode, write atomically. Returns the manifest.

    ``data_config`` is the ``data`` section of the config (``image_size``, ``seed``,
    ``val_fraction``, ``counts``). ``split_dirs`` maps each of :data:`SPLITS` to its folder.
    """
    missing = [s for s in SPLITS if s not in split_dirs]
    if missing:
        raise ValueError(f"split_dirs lacks {missing}")
    meta = read_metadata(metadata)
    log.info("%s: %d tiles, %d malignant, %d patients", metadata, len(meta),
             int(meta["target"].sum()), meta["patient_id"].nunique())
    with ImageStore(images) as store:
        check_store(meta, store, metadata)
        manifest = select_splits(meta, data_config["counts"], float(data_config["val_fraction"]),
                                 int(data_config["seed"]), source=str(metadata))
        counts = count_table(manifest)
        log.info("selected:\n%s", counts.to_string(index=False))
        # a run killed mid-write left hidden temporaries beside the outputs: remove them first
        for out in (manifest_path, counts_path, *(split_dirs[s] for s in SPLITS)):
            for stale in remove_stale_temporaries(out):
                log.warning("removed %s, left by an interrupted run", stale)
        with ExitStack() as stack:       # renames happen on exit in reverse order: manifest last
            tmp_manifest = stack.enter_context(atomic_path(manifest_path))
            tmp_counts = stack.enter_context(atomic_path(counts_path))
            tmp_dirs = {s: stack.enter_context(atomic_path(split_dirs[s])) for s in SPLITS}
            write_split_folders(manifest, store, tmp_dirs, int(data_config["image_size"]), threads)
            counts.to_csv(tmp_counts, index=False, lineterminator="\n")
            manifest.to_csv(tmp_manifest, index=False, lineterminator="\n")
    return manifest


# --------------------------------------------------------------------------- download


def download_kaggle(raw_dir: str | Path, record: str | Path,
                    competition: str = "isic-2024-challenge",
                    files: Sequence[str] = (METADATA_NAME, HDF5_NAME)) -> None:
    """Fetch the training files of the Kaggle competition into ``raw_dir`` (needs credentials).

    Uses the ``kaggle`` command line tool (``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME`` /
    ``KAGGLE_KEY``; the competition rules must be accepted on the web site first), unzips what
    arrives zipped, then writes ``record`` (JSON: files and sizes).
    """
    raw = Path(raw_dir)
    raw.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("kaggle")
    if exe is None:
        raise DataError("the `kaggle` command is not installed: pip install kaggle (or use "
                        "`snakemake download --use-conda`, env envs/download.yaml)")
    for name in files:
        if (raw / name).is_file():
            log.info("%s already present, not downloaded again", raw / name)
            continue
        cmd = [exe, "competitions", "download", "-c", competition, "-f", name, "-p", str(raw)]
        log.info("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DataError(f"kaggle download of {name} failed ({proc.returncode}): "
                            f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
        archive = raw / f"{name}.zip"
        if archive.is_file():
            with zipfile.ZipFile(archive) as zf, atomic_path(raw / name) as tmp:
                with zf.open(name) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 24)
            archive.unlink()
        if not (raw / name).is_file():
            raise DataError(f"kaggle reported success but {raw / name} is not there")
    sizes = {name: (raw / name).stat().st_size for name in files}
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps({"competition": competition, "raw_dir": str(raw), "files": sizes},
                                  indent=2) + "\n")


__all__ = ["SPLITS", "METADATA_COLUMNS", "MANIFEST_COLUMNS", "DataError", "locate_raw",
           "read_metadata", "exact_fill", "select_splits", "sort_manifest", "count_table",
           "ImageStore", "check_store", "decode_tile", "write_split_folders", "ingest",
           "download_kaggle"]
