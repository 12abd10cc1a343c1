"""Images of the classifier study and the training set of every phase x arm x seed.

Image groups (a group is an array of images, or of their backbone features, in a fixed order):
  ``train``, ``val``, ``test``       the real class folders of results/data, ids sorted per class
  ``external``                       the held-out institution's tiles, when the manifest has them
  ``{gan}/rep{r}/batch{k}``          synthetic malignant batch k of replicate r of a generator,
                                     file names sorted
  ``augment/seed{s}``                augmented copies of real malignant train tiles for seed s

A training set is a list of (group, indices) parts plus a malignant class weight, so the same
design serves pixel classifiers (groups of images) and backbone heads (groups of features).
Validation and the test sets are always the real ``val``, ``test`` (and ``external``)
groups: nothing synthetic, copied or augmented ever reaches them.

Phase 0 holds ``baseline`` (every real train tile), the learning-curve arms ``real_{100 f}``
(a fraction f of the real malignant train tiles, drawn by patient: :func:`real_fraction`) and
the train-on-synthetic arms ``synthetic_only_{gan}`` (the real malignant train tiles replaced
by as many synthetic ones of one generator replicate). Phases 1..batches hold the control
arms and the generator arms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from isicgan.augment import augment_tiles, malignant_copies
from isicgan.io import check_id, load_png_folder

if TYPE_CHECKING:
    from .study import ClassifyDesign

log = logging.getLogger(__name__)

REAL_SPLITS = ("train", "val", "test")
#: splits a classifier is scored on after every fit, when present: val (the threshold), then
#: the test sets
EVAL_SPLITS = ("val", "test", "external")
#: the test sets, in table order
TEST_SETS = ("test", "external")
MANIFEST_SPLITS = ("train", "val", "test", "source", "external")
MANIFEST_COLUMNS = ["isic_id", "patient_id", "target", "split"]
#: arms that every phase >= 1 runs besides the GANs
CONTROL_ARMS = ("oversample", "augment", "class_weight")
BASELINE = "baseline"
SYNTHETIC_ONLY = "synthetic_only_"


def real_fraction_arm(fraction: float) -> str:
    """The learning-curve arm of ``fraction``: ``real_{round(100 f)}`` (0.25 -> ``real_25``)."""
    return f"real_{round(100 * fraction)}"


@dataclass
class Group:
    """One group of images: ``x`` (N x H x W x 3 uint8, or N x D features), labels, ids, and
    for real tiles the patient of each (empty for synthetic and augmented groups)."""

    x: np.ndarray
    y: np.ndarray
    ids: list[str]
    patients: list[str] = field(default_factory=list)


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
    n_real_malignant: int = 0

    def assemble(self, groups: dict[str, Group]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, y and per-example sample weights of this training set."""
        xs, ys = [], []
        for name, idx in self.parts:
            if name not in groups:
                raise KeyError(
                    f"training set {self.phase}/{self.arm}/{self.seed} needs image group "
                    f"'{name}', which was not loaded"
                )
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
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(expected {','.join(MANIFEST_COLUMNS)})"
        )
    for row, (isic_id, target) in enumerate(zip(frame["isic_id"], frame["target"]), start=2):
        check_id(isic_id, where=f"{path} line {row}: ")
        if target not in (0, 1):
            raise ValueError(f"{path} line {row}: target {target!r} is not 0 or 1")
    bad = sorted(set(frame["split"]) - set(MANIFEST_SPLITS))
    if bad:
        raise ValueError(f"{path}: unknown split(s) {bad} (expected {', '.join(MANIFEST_SPLITS)})")
    return frame


def load_real(manifest_path: str | Path) -> dict[str, Group]:
    """The real train/val/test (and external, when the manifest has it) class folders beside
    the manifest, checked against it, with each tile's patient."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    patient_of = dict(zip(manifest["isic_id"], manifest["patient_id"]))
    root = manifest_path.parent
    splits = REAL_SPLITS + (("external",) if (manifest["split"] == "external").any() else ())
    groups = {}
    for split in splits:
        xs, ys, ids = [], [], []
        for target in (0, 1):
            folder = root / split / str(target)
            expected = sorted(
                manifest.loc[
                    (manifest["split"] == split) & (manifest["target"] == target), "isic_id"
                ]
            )
            images, found = load_png_folder(folder)
            if found != expected:
                extra = sorted(set(found) - set(expected))[:3]
                lack = sorted(set(expected) - set(found))[:3]
                raise ValueError(
                    f"{folder}: images do not match {manifest_path} "
                    f"(not in manifest: {extra}, missing files: {lack})"
                )
            if found:
                xs.append(images)
                ys.append(np.full(len(found), target))
                ids += found
        if not ids:
            raise ValueError(f"{manifest_path}: no images in split '{split}'")
        groups[split] = Group(
            np.concatenate(xs),
            np.concatenate(ys).astype(np.int64),
            ids,
            [patient_of[i] for i in ids],
        )
        if len(np.unique(groups[split].y)) < 2:
            raise ValueError(f"{manifest_path}: split '{split}' needs both classes")
    _check_same_shape(groups)
    log.info("real images: %s", {k: len(g.ids) for k, g in groups.items()})
    return groups


def load_synthetic(batch_dirs: dict[str, str | Path]) -> dict[str, Group]:
    """Synthetic malignant batches: group name (``{gan}/rep{r}/batch{k}``) -> folder of PNGs."""
    groups = {}
    for name, folder in batch_dirs.items():
        images, ids = load_png_folder(folder)  # sorted file names, never listing order
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


def image_groups(
    manifest: str | Path, synthetic_files: list[str | Path], seeds: list[int], n_augment: int
) -> dict[str, Group]:
    """Real splits, synthetic batches and the augmented copies of every seed (none when
    ``n_augment`` is 0), as images."""
    groups = load_real(manifest)
    groups.update(load_synthetic(synthetic_batch_dirs(synthetic_files)))
    for seed in seeds if n_augment else ():
        groups[f"augment/seed{seed}"] = augmented_group(groups["train"], seed, n_augment)
    return groups


def real_fraction(train: Group, fraction: float, seed: int) -> np.ndarray:
    """Indices of the real malignant train tiles a learning-curve arm keeps, drawn by patient.

    Exactly ``n = floor(f * n_malignant + 0.5)`` tiles (rounded half up). The patients with a
    malignant train tile are put in a seeded order (``seed``, the classifier seed) and taken
    whole, in that order, while they fit into ``n``; the first patient that would overshoot
    gives only as many of its tiles as are still missing, in a seeded order of its tiles. The
    orders depend on the seed only, so for one seed the draws are nested: every tile of
    ``real_25`` is in ``real_50``, every tile of ``real_50`` in ``real_75``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"arms_real_fractions: {fraction} is not in (0, 1]")
    malignant = np.flatnonzero(train.y == 1)
    if len(train.patients) != len(train.y):
        raise ValueError(
            "the train group has no patient ids: the learning-curve arms draw "
            "by patient (a features index.csv without patient_id is stale)"
        )
    n = int(np.floor(fraction * len(malignant) + 0.5))
    patients = np.asarray(train.patients, dtype=object)[malignant]
    rng = np.random.default_rng([seed, 4])
    order = rng.permutation(np.unique(patients))
    kept: list[np.ndarray] = []
    missing = n
    for patient in order:
        if missing == 0:
            break
        tiles = malignant[patients == patient]
        tiles = tiles[rng.permutation(len(tiles))]  # drawn for every patient: nested draws
        kept.append(tiles[:missing])
        missing -= len(kept[-1])
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, dtype=np.int64)


def design(
    spec: ClassifyDesign, train: Group, synthetic_sizes: dict[str, int] | None = None
) -> list[TrainingSet]:
    """Every training set of ``spec`` (its phases only), phase by phase, then seed by seed.

    Phase 0: ``baseline``; ``real_{100 f}`` per fraction of ``spec.real_fractions``; with
    ``spec.synthetic_only``, ``synthetic_only_{gan}`` per generator replicate. Phase k >= 1:
    every control arm, then every generator per replicate, each adding ``k * batch_size``
    malignant examples to the real training part: batches 1..k of a generator replicate,
    copies (``oversample``) or augmented copies (``augment``) of real malignant tiles, or,
    for ``class_weight``, nothing but a malignant weight of (n_mal + added) / n_mal.
    ``synthetic_sizes`` (group -> size) checks the size of every generator batch used.

    The order (phase, seed, arm, replicate) makes the training sets of a subset of phases
    (or of one phase and seed) a contiguous run of the full list: gathered part files of a
    split classify stage equal the unsplit stage's files.
    """
    sets = []
    for phase in spec.phases_run():
        for seed in spec.seeds_run():
            if phase == 0:
                sets += _phase_zero(spec, train, seed, synthetic_sizes)
            else:
                sets += _phase_k(spec, train.y, phase, seed, synthetic_sizes)
    return sets


def _phase_zero(
    spec: ClassifyDesign, train: Group, seed: int, synthetic_sizes: dict[str, int] | None
) -> list[TrainingSet]:
    y = np.asarray(train.y)
    benign, malignant = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    n_mal = len(malignant)
    sets = [TrainingSet(0, BASELINE, seed, [("train", np.arange(len(y)))], n_real_malignant=n_mal)]
    for f in spec.real_fractions:
        kept = real_fraction(train, f, seed)
        sets.append(
            TrainingSet(
                0,
                real_fraction_arm(f),
                seed,
                [("train", benign), ("train", kept)],
                n_real_malignant=len(kept),
            )
        )
    if spec.synthetic_only:
        for gan in spec.gans:
            for r in range(1, spec.replicates + 1):
                parts = [("train", benign)] + _synthetic_tiles(spec, gan, r, n_mal, synthetic_sizes)
                sets.append(
                    TrainingSet(
                        0, f"{SYNTHETIC_ONLY}{gan}", seed, parts, n_added=n_mal, replicate=r
                    )
                )
    return sets


def _synthetic_tiles(
    spec: ClassifyDesign, gan: str, replicate: int, n: int, synthetic_sizes: dict[str, int] | None
) -> list[tuple[str, np.ndarray]]:
    """The first ``n`` synthetic tiles of a generator replicate, from batches 1.. in order."""
    held = spec.batches * spec.batch_size
    if held < n:
        raise ValueError(
            f"arms_synthetic_only: {SYNTHETIC_ONLY}{gan} needs {n} synthetic "
            f"tiles (as many as the real malignant train tiles) but replicate "
            f"{replicate} holds {held} (synthesis.batches {spec.batches} x "
            f"batch_size {spec.batch_size}); raise them or set "
            "arms_synthetic_only: false"
        )
    parts = []
    for b in range(1, spec.batches + 1):
        if n <= 0:
            break
        name = _checked_batch(gan, replicate, b, spec.batch_size, synthetic_sizes)
        parts.append((name, np.arange(min(n, spec.batch_size))))
        n -= spec.batch_size
    return parts


def _phase_k(
    spec: ClassifyDesign,
    train_y: np.ndarray,
    k: int,
    seed: int,
    synthetic_sizes: dict[str, int] | None,
) -> list[TrainingSet]:
    n_train = len(train_y)
    n_mal = int(np.sum(train_y == 1))
    all_train = np.arange(n_train)
    n_add = k * spec.batch_size
    copies = malignant_copies(train_y, seed, spec.batches * spec.batch_size)
    sets = []
    for arm in list(spec.arms) + list(spec.gans):
        ts = TrainingSet(
            k, arm, seed, [("train", all_train)], n_added=n_add, n_real_malignant=n_mal
        )
        if arm == "oversample":
            ts.parts.append(("train", copies[:n_add]))
        elif arm == "augment":
            ts.parts.append((f"augment/seed{seed}", np.arange(n_add)))
        elif arm == "class_weight":
            ts.malignant_weight = (n_mal + n_add) / n_mal
        else:
            sets += [
                _generator_set(ts, k, r, spec.batch_size, synthetic_sizes)
                for r in range(1, spec.replicates + 1)
            ]
            continue
        sets.append(ts)
    return sets


def _checked_batch(
    gan: str, replicate: int, b: int, batch_size: int, synthetic_sizes: dict[str, int] | None
) -> str:
    name = f"{gan}/rep{replicate}/batch{b}"
    size = (synthetic_sizes or {}).get(name, batch_size)
    if size != batch_size:
        raise ValueError(
            f"synthetic batch {name} holds {size} images, "
            f"expected synthesis.batch_size = {batch_size}"
        )
    return name


def _generator_set(
    control: TrainingSet,
    k: int,
    replicate: int,
    batch_size: int,
    synthetic_sizes: dict[str, int] | None,
) -> TrainingSet:
    """Phase k of a generator arm, replicate ``replicate``: its batches 1..k added."""
    ts = TrainingSet(
        control.phase,
        control.arm,
        control.seed,
        list(control.parts),
        n_added=control.n_added,
        replicate=replicate,
        n_real_malignant=control.n_real_malignant,
    )
    for b in range(1, k + 1):
        ts.parts.append(
            (
                _checked_batch(control.arm, replicate, b, batch_size, synthetic_sizes),
                np.arange(batch_size),
            )
        )
    return ts


def load_features(features: str | Path, index: str | Path) -> tuple[dict[str, Group], str]:
    """The cached backbone features (rule ``backbone_features``) as image groups (real ones
    with their patients), and the backbone's weights label."""
    x = np.load(features)
    table = pd.read_csv(
        index, dtype={"group": str, "isic_id": str, "patient_id": str}, keep_default_na=False
    )
    if len(table) != len(x):
        raise ValueError(
            f"{index} has {len(table)} rows but {features} holds {len(x)} feature rows"
        )
    groups = {}
    for name, rows in table.groupby("group", sort=False):
        idx = rows.index.to_numpy()
        patients = rows["patient_id"].tolist() if "patient_id" in rows else []
        groups[name] = Group(
            x[idx],
            rows["target"].to_numpy(np.int64),
            rows["isic_id"].tolist(),
            patients if all(patients) else [],
        )
    return groups, str(table["weights"].iloc[0])
