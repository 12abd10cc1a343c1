"""Quality of one batch of synthetic malignant tiles against the real malignant train tiles.

Every distribution metric compares the batch with the real *train* malignant tiles (the gate
reads the same numbers; the test split is never read). Real-vs-real values (val malignant vs
train malignant, and MS-SSIM within train malignant) come from one reference file computed once,
so a reader can tell a good number from a bad one at this sample size.

FID depends on the sample sizes, and the batch (``synthesis.batch_size``) and the real val
malignant tiles differ in size, so each batch also gets the *equal-size* FID
(:func:`isicgan.quality.metrics.equal_size_fid`): ``quality.fid_subsets`` draws of ``n`` =
min(batch, val malignant, train malignant) tiles from each side, for the batch vs train and for
real val vs train alike, with the same seed: ``fid_{space}_eq`` beside ``fid_{space}_eq_real``.

Class fidelity (:mod:`isicgan.quality.classifier`) and, for a generator that translates source
tiles, faithfulness to the source (:mod:`isicgan.quality.faithfulness`) complete the batch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isicgan.io import load_split_tiles, write_json
from isicgan.quality import features as qf
from isicgan.quality import memorisation, metrics
from isicgan.quality.classifier import ReferenceClassifier, load_reference_classifier

log = logging.getLogger(__name__)

SPACES = ("indomain", "inception")
EQUAL_SIZE_SEED = 0  # the equal-size FID draws: the same subsets for every batch and the reference


@dataclass
class References:
    """Everything a batch is measured against, loaded once per job."""

    encoder: object
    feats: dict[str, np.ndarray]  # space -> real train malignant features
    val_feats: dict[str, np.ndarray]  # space -> real val malignant features
    classifier: ReferenceClassifier  # class fidelity (fitted on real train tiles)
    train_tiles: np.ndarray  # real train tiles, all classes (memorisation)
    val_tiles: np.ndarray  # real val tiles, all classes (memorisation)
    real: dict  # the real-vs-real reference (real.json)
    inception: object | None = None
    inception_reason: str | None = None
    train_malignant: np.ndarray | None = field(default=None, repr=False)


def load_references(
    encoder_path: str | Path,
    features: dict[str, tuple[str | Path, str | Path]],
    real_json: str | Path,
    train_dir: str | Path,
    val_dir: str | Path,
    classifier_path: str | Path,
    inception_path: str | Path | None = None,
) -> References:
    """Everything a batch is measured against. ``features``: per feature space (``indomain``,
    and ``inception`` when its weights are configured) the real malignant (train, val)
    feature files written by rule quality_reference."""
    if "indomain" not in features:
        raise ValueError("the in-domain reference features (indomain_train/val.npz) are required")
    feats = {"indomain": qf.read_reference(features["indomain"][0])}
    val_feats = {"indomain": qf.read_reference(features["indomain"][1])}
    reason = qf.inception_unavailable(inception_path)
    net = None
    if reason is None:
        if "inception" not in features:
            raise ValueError(
                "inception reference features are required when weights.fid_inception is set"
            )
        net = qf.load_inception(inception_path)
        feats["inception"] = qf.read_reference(features["inception"][0])
        val_feats["inception"] = qf.read_reference(features["inception"][1])
    return References(
        encoder=qf.load_model("indomain", encoder_path),
        feats=feats,
        val_feats=val_feats,
        classifier=load_reference_classifier(classifier_path),
        train_tiles=load_split_tiles(train_dir),
        val_tiles=load_split_tiles(val_dir),
        real=json.loads(Path(real_json).read_text()),
        inception=net,
        inception_reason=reason,
        train_malignant=load_split_tiles(train_dir, ("1",)),
    )


def distribution_metrics(
    fake: np.ndarray, real: np.ndarray, quality: dict, seed: int, space: str
) -> dict:
    """FID, KID (and PRDC in the in-domain space) of feature sets ``fake`` vs ``real``."""
    out = {
        f"fid_{space}": metrics.fid_from_features(fake, real),
        f"kid_{space}": metrics.kernel_distance(
            real, fake, quality["kid_subsets"], quality["kid_subset_size"], seed
        ),
    }
    if space == "indomain":
        out.update(metrics.prdc(real, fake, quality["prdc_k"]))
    return out


def equal_size_fids(fake: np.ndarray, refs: References, space: str, quality: dict) -> dict:
    """Equal-size FID of the batch vs train malignant and of real val vs train malignant: the
    same ``n`` and the same subsets of the train tiles (``EQUAL_SIZE_SEED``) for both, and for
    every batch, so they compare."""
    train, val = refs.feats[space], refs.val_feats[space]
    n = min(len(fake), len(train), len(val))
    seed, subsets = EQUAL_SIZE_SEED, int(quality["fid_subsets"])
    batch = metrics.equal_size_fid(fake, train, n, subsets, seed)
    real = metrics.equal_size_fid(val, train, n, subsets, seed)
    return {
        f"fid_{space}_eq": batch["mean"],
        f"fid_{space}_eq_std": batch["std"],
        f"fid_{space}_eq_real": real["mean"],
        f"fid_{space}_eq_real_std": real["std"],
        "fid_eq_n": n,
        "fid_eq_subsets": subsets,
    }


def batch_quality(images: np.ndarray, refs: References, quality: dict, seed: int) -> dict:
    """The distribution metrics, equal-size FIDs, diversity and class fidelity of one batch
    (uint8 N x H x W x 3). The memorisation audit and source faithfulness are computed by
    :mod:`isicgan.synthesis` for the kept try only."""
    q: dict = {"n": int(len(images))}
    fake = qf.indomain_features(images, refs.encoder)
    q.update(distribution_metrics(fake, refs.feats["indomain"], quality, seed, "indomain"))
    q.update(equal_size_fids(fake, refs, "indomain", quality))
    if refs.inception is not None:
        fake_inc = qf.inception_features(images, refs.inception)
        q.update(
            distribution_metrics(fake_inc, refs.feats["inception"], quality, seed, "inception")
        )
        q.update(equal_size_fids(fake_inc, refs, "inception", quality))
        q["inception_reason"] = None
    else:
        q.update(
            {
                "fid_inception": None,
                "kid_inception": None,
                "fid_inception_eq": None,
                "fid_inception_eq_std": None,
                "fid_inception_eq_real": None,
                "fid_inception_eq_real_std": None,
                "inception_reason": refs.inception_reason,
            }
        )
    q.update(metrics.mean_pairwise_msssim(images, seed=seed))
    q.update(refs.classifier.fidelity(fake))
    q["class_fidelity_threshold"] = refs.classifier.threshold
    return q


def real_reference(
    feats: dict[str, tuple[np.ndarray, np.ndarray]],
    train_malignant: np.ndarray,
    tiles: tuple[np.ndarray, np.ndarray],
    quality: dict,
    seed: int,
    inception_reason: str | None,
) -> dict:
    """Real-vs-real values: val malignant vs train malignant in each space, MS-SSIM of train
    malignant tiles, the closest pair of distinct real train tiles (copy distance) and the copy
    threshold of the memorisation audit (the ``quality.copy_quantile`` quantile of the val
    tiles' nearest-train copy distances: tiles of unseen patients)."""
    out: dict = {"n_train_malignant": int(len(train_malignant))}
    for space in SPACES:
        if space not in feats:
            out.update({f"fid_{space}": None, f"kid_{space}": None})
            continue
        train, val = feats[space]
        out["n_val_malignant"] = int(len(val))
        out.update(distribution_metrics(val, train, quality, seed, space))
    out["inception_reason"] = inception_reason
    out.update(metrics.mean_pairwise_msssim(train_malignant, seed=seed))
    train_all, val_all = tiles  # real train and val tiles, all classes
    out["closest_real_pair"] = memorisation.closest_real_pair(train_all)
    out["copy_threshold"] = memorisation.copy_threshold(
        train_all, val_all, float(quality["copy_quantile"])
    )
    return out


def write_real_reference(
    split_dirs: tuple[str | Path, str | Path],
    indomain: tuple[str, str],
    out_path: str | Path,
    quality: dict,
    seed: int,
    inception: tuple[str, str] | None = None,
    inception_path: str | Path | None = None,
) -> dict:
    """Compute :func:`real_reference` from the cached feature files and write it as JSON."""
    feats = {"indomain": tuple(qf.read_reference(p) for p in indomain)}
    reason = qf.inception_unavailable(inception_path)
    if reason is None and inception:
        feats["inception"] = tuple(qf.read_reference(p) for p in inception)
    train_dir, val_dir = split_dirs
    out = real_reference(
        feats,
        load_split_tiles(train_dir, ("1",)),
        (load_split_tiles(train_dir), load_split_tiles(val_dir)),
        quality,
        seed,
        reason,
    )
    write_json(out_path, out)
    return out


def write_references(
    split_dirs: tuple[str | Path, str | Path],
    encoder_path: str | Path,
    inception_path: str | Path | None,
    feature_paths: list[str | Path],
    real_path: str | Path,
    quality: dict,
    seed: int,
) -> dict:
    """Write every ``{space}_{split}.npz`` of ``feature_paths`` (malignant tiles of the split)
    and the real-vs-real reference JSON: the whole reference stage in one job."""
    train_dir, val_dir = split_dirs
    dirs = {"train": Path(train_dir), "val": Path(val_dir)}
    paths = {Path(p).stem: Path(p) for p in feature_paths}
    models = {"indomain": encoder_path, "inception": inception_path}
    for stem, path in sorted(paths.items()):
        space, split = stem.split("_")
        if space not in models or split not in dirs:
            raise ValueError(
                f"reference file {path}: expected {{indomain,inception}}_{{train,val}}.npz"
            )
        qf.write_reference(dirs[split] / "1", space, models[space], path)
    inception = None
    if "inception_train" in paths and "inception_val" in paths:
        inception = (paths["inception_train"], paths["inception_val"])
    return write_real_reference(
        (train_dir, val_dir),
        (paths["indomain_train"], paths["indomain_val"]),
        real_path,
        quality,
        seed,
        inception=inception,
        inception_path=inception_path,
    )
