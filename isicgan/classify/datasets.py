"""Images of the classifier study and the training set of every phase x arm x seed.

Image groups (a group is an array of images, or of their backbone features, in a fixed order):
  ``train``, ``val``, ``test``       the real class folders of results/data, ids sorted per class
  ``{gan}/rep{r}/batch{k}``          synthetic malignant batch k of replicate r of a generator,
                                     file names sorted
  ``augment/seed{s}``                augmented copies of real malignant train tiles for seed s

A training set is a list of (group, indices) parts plus a malignant class weight, so the same
design serves pixel classifiers (groups of images) and backbone heads (groups of features).
Validation and test are always the real ``val`` and ``test`` groups: nothing synthetic,
copied or augmented ever reaches them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from isicgan.augment import augment_tiles, malignant_copies
from isicgan.io import check_id, load_png_folder

log = logging.getLogger(__name__)

REAL_SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ["isic_id", "patient_id", "target", "split"]
#: arms that every phase >= 1 runs besides the GANs
CONTROL_ARMS = ("oversample", "augment", "class_weight")


@dataclass
class Group:
    """One group of images: ``x`` (N x H x W x 3 uint8, or N x D features), labels, ids."""
    x: np.ndarray
    y: np.ndarray
    ids: list[str]


@dataclass
class TrainingSet:
    """What one (phase, arm, seed, generator replicate) trains on: parts of groups, plus the
    malignant class weight. ``replicate`` is 0 for arms without a generator."""
    phase: int
    arm: str
    seed: int
    parts: list[tuple[str, np.ndarray]] = field(default_factory=list)
    malignant_weight: float = 1.0
    n_added: int = 0
    replicate: int = 0

    def assemble(self, groups: dict[str, Group]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, y and per-example sample weights of this training set."""
        xs, ys = [], []
        for name, idx in self.parts:
            if name not in groups:
                raise KeyError(f"training set {self.phase}/{self.arm}/{self.seed} needs image group "
                               f"'{name}', which was not loaded")
            xs.append(groups[name].x[idx])
            ys.append(groups[name].y[idx])
        x = np.concatenate(xs)
        y = np.concatenate(ys).astype(np.int64)
        weight = np.where(y == 1, self.malignant_weight, 1.0).astype(np.float32)
        return x, y, weight


def read_manifest(path: str | Path) -> pd.DataFrame:
    """The manifest, checked: columns, ids, targets 0/1, known splits."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    frame = pd.read_csv(path, dtype={"isic_id": str, "patient_id": str, "split": str})
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} "
                         f"(expected {','.join(MANIFEST_COLUMNS)})")
    for row, (isic_id, target) in enumerate(zip(frame["isic_id"], frame["target"]), start=2):
        check_id(isic_id, where=f"{path} line {row}: ")
        if target not in (0, 1):
            raise ValueError(f"{path} line {row}: target {target!r} is not 0 or 1")
    bad = sorted(set(frame["split"]) - {"train", "val", "test", "source"})
    if bad:
        raise ValueError(f"{path}: unknown split(s) {bad} (expected train, val, test, source)")
    return frame


def load_real(manifest_path: str | Path) -> dict[str, Group]:
    """The real train/val/test class folders beside the manifest, checked against it."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    root = manifest_path.parent
    groups = {}
    for split in REAL_SPLITS:
        xs, ys, ids = [], [], []
        for target in (0, 1):
            folder = root / split / str(target)
            expected = sorted(manifest.loc[(manifest["split"] == split)
                                           & (manifest["target"] == target), "isic_id"])
            images, found = load_png_folder(folder)
            if found != expected:
                extra = sorted(set(found) - set(expected))[:3]
                lack = sorted(set(expected) - set(found))[:3]
                raise ValueError(f"{folder}: images do not match {manifest_path} "
                                 f"(not in manifest: {extra}, missing files: {lack})")
            if found:
                xs.append(images)
                ys.append(np.full(len(found), target))
                ids += found
        if not ids:
            raise ValueError(f"{manifest_path}: no images in split '{split}'")
        groups[split] = Group(np.concatenate(xs), np.concatenate(ys).astype(np.int64), ids)
        if len(np.unique(groups[split].y)) < 2:
            raise ValueError(f"{manifest_path}: split '{split}' needs both classes")
    _check_same_shape(groups)
    log.info("real images: %s", {k: len(g.ids) for k, g in groups.items()})
    return groups


def load_synthetic(batch_dirs: dict[str, str | Path]) -> dict[str, Group]:
    """Synthetic malignant batches: group name (``{gan}/rep{r}/batch{k}``) -> folder of PNGs."""
    groups = {}
    for name, folder in batch_dirs.items():
        images, ids = load_png_folder(folder)      # sorted file names, never listing order
        if not ids:
            raise ValueError(f"synthetic batch folder {folder} holds no PNG images")
        groups[name] = Group(images, np.ones(len(ids), dtype=np.int64), ids)
    return groups


def synthetic_batch_dirs(batch_files: list[str | Path]) -> dict[str, Path]:
    """Map ``results/synthetic/{gan}/rep{r}/batch{k}[.json]`` paths to group name -> folder."""
    out = {}
    for f in batch_files:
        f = Path(f)
        folder = f.with_suffix("") if f.suffix == ".json" else f
        out["/".join(folder.parts[-3:])] = folder
    return out


def _check_same_shape(groups: dict[str, Group]) -> None:
    shapes = {name: g.x.shape[1:] for name, g in groups.items() if len(g.ids)}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"image groups differ in size: {shapes}")


def augmented_group(train: Group, seed: int, n: int) -> Group:
    """The ``augment/seed{seed}`` group: ``n`` augmented copies of real malignant train tiles."""
    idx = malignant_copies(train.y, seed, n)
    ids = [f"aug{seed}_{i:05d}_{train.ids[j]}" for i, j in enumerate(idx)]
    return Group(augment_tiles(train.x[idx], seed), np.ones(n, dtype=np.int64), ids)


def image_groups(manifest: str | Path, synthetic_files: list[str | Path], seeds: list[int],
                 n_augment: int) -> dict[str, Group]:
    """Real splits, synthetic batches and the augmented copies of every seed, as images."""
    groups = load_real(manifest)
    groups.update(load_synthetic(synthetic_batch_dirs(synthetic_files)))
    for seed in seeds:
        groups[f"augment/seed{seed}"] = augmented_group(groups["train"], seed, n_augment)
    return groups


def arms_of(config_arms: list[str], gans: list[str]) -> list[str]:
    """Every arm of phases >= 1: the control arms in config order, then the GANs."""
    return list(config_arms) + list(gans)


def design(train_y: np.ndarray, batches: int, batch_size: int, arms: list[str],
           seeds: list[int], synthetic_sizes: dict[str, int] | None = None,
           replicates: int = 1) -> list[TrainingSet]:
    """Every training set of the study: phase 0 (``baseline``) and phase k x arm, per seed,
    and for a generator arm per generator replicate (1..replicates).

    Phase k adds ``k * batch_size`` malignant examples to the real training part: batches
    1..k of a generator replicate, copies (``oversample``) or augmented copies (``augment``) of
    real malignant tiles, or, for ``class_weight``, nothing but a malignant weight of
    (n_mal + added) / n_mal. ``synthetic_sizes`` (group -> size) checks that every generator
    batch holds ``batch_size`` images.
    """
    train_y = np.asarray(train_y)
    n_train = len(train_y)
    n_mal = int(np.sum(train_y == 1))
    all_train = np.arange(n_train)
    sets = []
    for seed in seeds:
        sets.append(TrainingSet(0, "baseline", seed, [("train", all_train)]))
        copies = malignant_copies(train_y, seed, batches * batch_size)
        for k in range(1, batches + 1):
            n_add = k * batch_size
            for arm in arms:
                ts = TrainingSet(k, arm, seed, [("train", all_train)], n_added=n_add)
                if arm == "oversample":
                    ts.parts.append(("train", copies[:n_add]))
                elif arm == "augment":
                    ts.parts.append((f"augment/seed{seed}", np.arange(n_add)))
                elif arm == "class_weight":
                    ts.malignant_weight = (n_mal + n_add) / n_mal
                else:
                    sets += [_generator_set(ts, k, r, batch_size, synthetic_sizes)
                             for r in range(1, replicates + 1)]
                    continue
                sets.append(ts)
    return sets


def _generator_set(control: TrainingSet, k: int, replicate: int, batch_size: int,
                   synthetic_sizes: dict[str, int] | None) -> TrainingSet:
    """Phase k of a generator arm, replicate ``replicate``: its batches 1..k added."""
    ts = TrainingSet(control.phase, control.arm, control.seed, list(control.parts),
                     n_added=control.n_added, replicate=replicate)
    for b in range(1, k + 1):
        name = f"{control.arm}/rep{replicate}/batch{b}"
        size = (synthetic_sizes or {}).get(name, batch_size)
        if size != batch_size:
            raise ValueError(f"synthetic batch {name} holds {size} images, "
                             f"expected synthesis.batch_size = {batch_size}")
        ts.parts.append((name, np.arange(batch_size)))
    return ts


def load_features(features: str | Path, index: str | Path) -> tuple[dict[str, Group], str]:
    """The cached backbone features (rule ``backbone_features``) as image groups, and the
    backbone's weights label."""
    x = np.load(features)
    table = pd.read_csv(index, dtype={"group": str, "isic_id": str})
    if len(table) != len(x):
        raise ValueError(f"{index} has {len(table)} rows but {features} holds {len(x)} feature rows")
    groups = {}
    for name, rows in table.groupby("group", sort=False):
        idx = rows.index.to_numpy()
        groups[name] = Group(x[idx], rows["target"].to_numpy(np.int64), rows["isic_id"].tolist())
    return groups, str(table["weights"].iloc[0])
