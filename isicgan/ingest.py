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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Needs:
    """Tiles each split needs, per class, from ``data.counts`` and ``data.val_fraction``."""
    test_m: int
    test_b: int
    val_m: int
    val_b: int
    train_m: int
    train_b: int
    source_b: int

    @classmethod
    def from_counts(cls, counts: Mapping[str, Mapping[str, int]], val_fraction: float) -> "Needs":
        pool_m, pool_b = int(counts["pool"]["malignant"]), int(counts["pool"]["benign"])
        val_m, val_b = int(round(val_fraction * pool_m)), int(round(val_fraction * pool_b))
        return cls(test_m=int(counts["test"]["malignant"]), test_b=int(counts["test"]["benign"]),
                   val_m=val_m, val_b=val_b, train_m=pool_m - val_m, train_b=pool_b - val_b,
                   source_b=int(counts["source"]["benign"]))

    def asked(self) -> str:
        return (f"test {self.test_b}+{self.test_m}, pool {self.val_b + self.train_b}+"
                f"{self.val_m + self.train_m}, source {self.source_b} benign")


@dataclass
class Cohort:
    """The metadata by patient: tile ids per class and patient (sorted), tile counts."""
    tiles: dict[int, dict[str, list[str]]]
    patients: list[str]
    n_m: dict[str, int]
    n_b: dict[str, int]
    patient_of: dict[str, str]
    source: str

    @classmethod
    def of(cls, meta: pd.DataFrame, source: str) -> "Cohort":
        meta = meta.sort_values("isic_id", kind="stable")
        tiles: dict[int, dict[str, list[str]]] = {}
        for c in (0, 1):
            part = meta.loc[meta["target"] == c]
            ids = part["isic_id"].to_numpy()
            tiles[c] = {p: ids[idx].tolist()
                        for p, idx in part.groupby("patient_id", sort=True).indices.items()}
        patients = sorted(meta["patient_id"].unique())
        return cls(tiles=tiles, patients=patients,
                   n_m={p: len(tiles[1].get(p, [])) for p in patients},
                   n_b={p: len(tiles[0].get(p, [])) for p in patients},
                   patient_of=dict(zip(meta["isic_id"].tolist(), meta["patient_id"].tolist())),
                   source=source)

    def shortfall(self, what: str, need_n: int, have: int, detail: str, needs: Needs) -> DataError:
        return DataError(
            f"{self.source}: not enough {what} for data.counts: need {need_n}, {detail} {have} "
            f"(the data hold {sum(self.n_m.values())} malignant and {sum(self.n_b.values())} "
            f"benign tiles of {len(self.patients)} patients; asked: {needs.asked()})")

    def available(self, group: list[str], cls: int, n: int, what: str, needs: Needs) -> list[str]:
        """The ``cls`` tiles of ``group``'s patients, or a :class:`DataError` if fewer than ``n``."""
        avail = _group(group, self.tiles[cls])
        if len(avail) < n:
            raise self.shortfall(what, n, len(avail), f"the {len(group)} patients left for it hold", needs)
        return avail


def check_totals(cohort: Cohort, needs: Needs) -> None:
    """One error when the whole cohort holds fewer tiles of a class than the counts ask for."""
    total_m, total_b = sum(cohort.n_m.values()), sum(cohort.n_b.values())
    want_m = needs.test_m + needs.val_m + needs.train_m
    want_b = needs.test_b + needs.val_b + needs.train_b + needs.source_b
    if total_m < want_m:
        raise cohort.shortfall("malignant tiles (target=1)", want_m, total_m,
                               "test + pool malignant, available", needs)
    if total_b < want_b:
        raise cohort.shortfall("benign tiles (target=0)", want_b, total_b,
                               "test + pool + source benign, available", needs)


def _fill_malignant(cohort: Cohort, candidates: list[str], n_mal: int) -> list[str]:
    """Patients (from ``candidates``, in order) whose malignant tiles sum exactly to ``n_mal``
    where possible (:func:`exact_fill`)."""
    if n_mal <= 0:
        return []
    with_m = [p for p in candidates if cohort.n_m[p] > 0]
    idx, _ = exact_fill([cohort.n_m[p] for p in with_m], n_mal)
    return [with_m[i] for i in idx]


def malignant_patient_share(cohort: Cohort, patients: Iterable[str]) -> float:
    """Share of the benign tiles of ``patients`` that belong to patients with a malignant lesion."""
    b_mal = b_all = 0
    for p in patients:
        b_all += cohort.n_b[p]
        b_mal += cohort.n_b[p] if cohort.n_m[p] else 0
    return b_mal / b_all if b_all else 0.0


def _add_benign_patients(cohort: Cohort, group: list[str], free: list[str], n_ben: int,
                         n_from_benign_only: int, spread: float) -> list[str]:
    """Grow ``group`` with patients from ``free`` (in order; taken ones are removed from it).

    First patients without a malignant lesion, until they hold ``spread`` times
    ``n_from_benign_only`` benign tiles (``spread`` > 1 spreads the draw over more patients);
    then, only if the group still holds fewer than ``n_ben`` benign tiles, patients with one.
    """
    n_m, n_b = cohort.n_m, cohort.n_b
    group = list(group)
    want = int(np.ceil(n_from_benign_only * spread)) if n_from_benign_only > 0 else 0
    have = 0
    for p in [p for p in free if not n_m[p] and n_b[p]]:
        if have >= want:
            break
        group.append(p)
        have += n_b[p]
    have_b = sum(n_b[p] for p in group)
    for p in [p for p in free if n_m[p] and p not in group]:
        if have_b >= n_ben:
            break
        if n_b[p]:
            group.append(p)
            have_b += n_b[p]
    taken = set(group)
    free[:] = [p for p in free if p not in taken]
    return group


def patient_groups(cohort: Cohort, order: list[str], needs: Needs) -> dict[str, list[str]]:
    """Disjoint patient groups of test, val and train (train: every patient left).

    1. Malignant side: test, then val, take patients whose malignant tiles sum exactly to
       what they need.
    2. Benign side: the share ``r0`` of benign tiles from patients with a malignant lesion among
       the patients left after step 1 estimates train's share. Test, then val, add patients
       without a malignant lesion until they hold ``spread`` times the benign tiles they will
       draw from such patients (about ``(1 - r0)`` of their benign tiles), where ``spread`` is
       the cohort's benign tiles over all benign tiles asked for: each split then draws about
       the same fraction of its patients' tiles, so val and test benign tiles come from many
       patients, as train's do. If that leaves train short of benign tiles, ``spread`` is 1.
    """
    test_m = _fill_malignant(cohort, order, needs.test_m)
    taken = set(test_m)
    val_m = _fill_malignant(cohort, [p for p in order if p not in taken], needs.val_m)
    taken |= set(val_m)
    left = [p for p in order if p not in taken]
    r0 = malignant_patient_share(cohort, left)
    asked = needs.test_b + needs.val_b + needs.train_b + needs.source_b
    spreads = [max(1.0, sum(cohort.n_b.values()) / asked)] if asked else []
    if not spreads or spreads[0] > 1.0:
        spreads.append(1.0)
    for spread in spreads:
        free = list(left)
        groups = {}
        for split, mal_group, n_ben in (("test", test_m, needs.test_b), ("val", val_m, needs.val_b)):
            b_mal = sum(cohort.n_b[p] for p in mal_group)
            # benign tiles to draw from patients without a malignant lesion, with one to spare
            # for rounding (train's final share can sit a little below r0)
            n_bo = n_ben - min(b_mal, int(np.floor(r0 * n_ben)))
            n_bo = min(n_ben, n_bo + 1) if 0 < n_bo < n_ben else n_bo
            groups[split] = _add_benign_patients(cohort, mal_group, free, n_ben, n_bo, spread)
        groups["train"] = free
        if sum(cohort.n_b[p] for p in free) >= needs.train_b + needs.source_b:
            break
    return groups


def _draw_mixed(rng: np.random.Generator, from_mal: list[str], from_bo: list[str], n: int,
                k: int) -> list[str]:
    """``n`` tiles: ``k`` from ``from_mal`` and ``n - k`` from ``from_bo``; ``k`` is moved into
    what the two lists can give."""
    k = min(max(k, n - len(from_bo)), len(from_mal), n)
    return sorted(_pick(rng, from_mal, k) + _pick(rng, from_bo, n - k))


def draw_tiles(rng: np.random.Generator, cohort: Cohort, groups: Mapping[str, list[str]],
               needs: Needs) -> dict[str, dict[int, list[str]]]:
    """The tiles of every split and class, drawn from its patient group.

    Malignant tiles are drawn uniformly from the group. Benign tiles are drawn in two strata,
    from the group's patients with and without a malignant lesion: train takes
    ``round(r * n)`` from the first, where ``r`` is that share among its group's benign tiles;
    source, val and test then take the same share as train's drawn tiles.
    """
    def avail(split: str, cls: int, n: int, what: str) -> list[str]:
        return cohort.available(groups[split], cls, n, what, needs)

    def strata(split: str) -> tuple[list[str], list[str]]:
        group = groups[split]
        return (_group([p for p in group if cohort.n_m[p]], cohort.tiles[0]),
                _group([p for p in group if not cohort.n_m[p]], cohort.tiles[0]))

    train_mb, train_bo = strata("train")
    r_pool = len(train_mb) / max(1, len(train_mb) + len(train_bo))
    k_train = min(max(int(round(r_pool * needs.train_b)), needs.train_b - len(train_bo)),
                  len(train_mb), needs.train_b)
    r_train = k_train / needs.train_b if needs.train_b else r_pool

    def benign(split: str, n: int) -> list[str]:
        avail(split, 0, n, f"benign tiles for {split}")
        return _draw_mixed(rng, *strata(split), n, int(round(r_train * n)))

    sel: dict[str, dict[int, list[str]]] = {}
    sel["test"] = {1: _pick(rng, avail("test", 1, needs.test_m, "malignant tiles for test"), needs.test_m),
                   0: benign("test", needs.test_b)}
    sel["val"] = {1: _pick(rng, avail("val", 1, needs.val_m, "malignant tiles for val"), needs.val_m),
                  0: benign("val", needs.val_b)}
    train_m = avail("train", 1, needs.train_m,
                    "malignant tiles for train (test and val are filled by whole patients first)")
    avail("train", 0, needs.train_b + needs.source_b, "benign tiles for train + source")
    sel["train"] = {1: _pick(rng, train_m, needs.train_m),
                    0: _draw_mixed(rng, train_mb, train_bo, needs.train_b, k_train)}
    used = set(sel["train"][0])
    rest_mb = [t for t in train_mb if t not in used]
    rest_bo = [t for t in train_bo if t not in used]
    sel["source"] = {1: [], 0: _draw_mixed(rng, rest_mb, rest_bo, needs.source_b,
                                           int(round(r_train * needs.source_b)))}
    return sel


def benign_mix(manifest: pd.DataFrame, malignant_patients: Iterable[str]) -> dict[str, float]:
    """Per split: share of its benign tiles from patients with a malignant lesion (NaN if none)."""
    ill = set(malignant_patients)
    out = {}
    for split in SPLITS:
        pats = manifest.loc[(manifest["split"] == split) & (manifest["target"] == 0), "patient_id"]
        out[split] = float(pats.isin(ill).mean()) if len(pats) else float("nan")
    return out


#: val and test benign tiles: share from patients with a malignant lesion within this of train's
MIX_TOLERANCE = 0.10


def check_benign_mix(mix: Mapping[str, float], needs: Needs, source: str) -> None:
    """One error when val's or test's benign mix is further than :data:`MIX_TOLERANCE` from
    train's (beyond what rounding to whole tiles forces)."""
    if np.isnan(mix["train"]):
        return
    for split, n in (("test", needs.test_b), ("val", needs.val_b)):
        if n and abs(mix[split] - mix["train"]) > max(MIX_TOLERANCE, 0.5 / n) + 1e-9:
            raise DataError(
                f"{source}: the {n} benign {split} tiles cannot match train's mix of patients: "
                f"{mix[split]:.1%} of them come from patients with a malignant lesion, against "
                f"{mix['train']:.1%} in train (allowed: {MIX_TOLERANCE:.0%} points); the {split} "
                f"patients chosen for their malignant tiles hold too few benign tiles, or too few "
                f"patients without a malignant lesion are left (check data.counts)")


def select_splits(meta: pd.DataFrame, counts: Mapping[str, Mapping[str, int]],
                  val_fraction: float, seed: int, source: str = "metadata") -> pd.DataFrame:
    """Choose the tiles of each split; return the manifest (``MANIFEST_COLUMNS``), sorted.

    Algorithm, all draws from ``numpy.random.default_rng(seed)`` over sorted ids:

    1. Patients are put in a random preference order.
    2. Patient groups (:func:`patient_groups`): test, then val, take patients whose malignant
       tiles sum exactly to ``counts.test.malignant`` and ``round(val_fraction *
       pool.malignant)`` (:func:`exact_fill`), then patients without a malignant lesion for
       their benign side. Train's group is every patient left. A patient's tiles that its
       split does not draw are used nowhere.
    3. Tiles (:func:`draw_tiles`): malignant ones uniformly within each group; benign ones in
       two strata (patients with / without a malignant lesion) so that val, test and source
       take the same share from patients with a malignant lesion as train, whose share is
       that of its group: val and test look like the cohort, not like the malignant patients.
       ``source`` benign tiles come from train's group (no patient of val or test).
    4. :func:`check_benign_mix` stops with a :class:`DataError` if val's or test's share is
       more than 10 points from train's.
    """
    rng = np.random.default_rng(seed)
    needs = Needs.from_counts(counts, val_fraction)
    cohort = Cohort.of(meta, source)
    order = [cohort.patients[i] for i in rng.permutation(len(cohort.patients))]
    check_totals(cohort, needs)
    groups = patient_groups(cohort, order, needs)
    sel = draw_tiles(rng, cohort, groups, needs)
    rows = [(i, cohort.patient_of[i], cls, split) for split in SPLITS for cls in (0, 1)
            for i in sel[split][cls]]
    manifest = sort_manifest(pd.DataFrame(rows, columns=MANIFEST_COLUMNS))
    check_benign_mix(benign_mix(manifest, [p for p in cohort.patients if cohort.n_m[p]]), needs, source)
    return manifest


def sort_manifest(manifest: pd.DataFrame) -> pd.DataFrame:
    """Rows in split order (train, val, test, source), then by isic_id."""
    key = manifest["split"].map({s: i for i, s in enumerate(SPLITS)})
    out = manifest.assign(_k=key).sort_values(["_k", "isic_id"], kind="stable").drop(columns="_k")
    out["target"] = out["target"].astype(int)
    return out.reset_index(drop=True)[MANIFEST_COLUMNS]


def count_table(manifest: pd.DataFrame, malignant_patients: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per split: benign, malignant, total tiles and distinct patients.

    With ``malignant_patients`` (the cohort's patients with a malignant lesion), also
    ``benign_from_malignant_patients``: the share of the split's benign tiles that come from
    such patients (:func:`benign_mix`; empty where the split has no benign tile).
    """
    rows = []
    mix = benign_mix(manifest, malignant_patients) if malignant_patients is not None else None
    for split in SPLITS:
        part = manifest[manifest["split"] == split]
        row = {"split": split, "benign": int((part["target"] == 0).sum()),
               "malignant": int((part["target"] == 1).sum()), "total": len(part),
               "patients": int(part["patient_id"].nunique())}
        if mix is not None:
            row["benign_from_malignant_patients"] = round(mix[split], 4)
        rows.append(row)
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
        counts = count_table(manifest, meta.loc[meta["target"] == 1, "patient_id"].unique())
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
           "read_metadata", "exact_fill", "select_splits", "benign_mix", "malignant_patient_share",
           "sort_manifest", "count_table",
           "ImageStore", "check_store", "decode_tile", "write_split_folders", "ingest",
           "download_kaggle"]
