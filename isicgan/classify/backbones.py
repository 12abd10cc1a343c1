"""Frozen ImageNet backbones: every image goes through each backbone once.

The thesis trained its InceptionV3 / EfficientNetB5 heads on a frozen base for 10 epochs,
pushing every training image through the base in every epoch of every phase. With the base
frozen and no augmentation, the base's output for an image never changes, so this module
computes the globally average-pooled features of each image once (real train/val/test, every
synthetic batch, the augmented copies of the ``augment`` arm) and caches them as a DAG file;
the heads then train on the cached features (the same maths, a fraction of the work).

Inputs are RGB (never BGR), resized to ``input_size`` and scaled by each model's own
``preprocess_input``: InceptionV3 to [-1, 1], EfficientNet takes 0-255 (its rescaling and
normalisation are layers of the model).

Weights: a local Keras ``*_notop.h5`` file (what ``keras.applications`` downloads; the
``fetch_weights`` rule fetches it for online users) or ``None`` for a random initialisation,
which every output then says (:func:`weights_label`). The random initialisation is seeded
(``classifiers.<backbone>.init_seed``, through ``keras.utils.set_random_seed``), so two runs
give the same features.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from isicgan.io import atomic_path, write_csv

from .datasets import image_groups

log = logging.getLogger(__name__)

RANDOM_INIT = "random init (no ImageNet weights)"


def weights_label(weights: str | Path | None) -> str:
    """How a backbone was initialised, as written into every table row."""
    return f"ImageNet ({Path(weights).name})" if weights else RANDOM_INIT


@dataclass(frozen=True)
class FeatureSpec:
    """What a backbone's features depend on (not its head's settings: those stay in classify).

    Built in ``rules/common.smk`` (``backbone_params``) as a dict; :meth:`from_dict` rebuilds it.
    ``threads`` is not a param (it does not change the features).
    """

    backbone: str
    input_size: int
    weights: str | None = None
    seeds: tuple[int, ...] = (25,)
    n_augment: int = 0
    init_seed: int = 25
    threads: int = 1

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FeatureSpec:
        return cls(**{k: (tuple(v) if k == "seeds" else v) for k, v in values.items()})


def build_backbone(
    name: str, input_size: int, weights: str | Path | None = None, init_seed: int = 25
):
    """The frozen base of backbone classifier ``name`` with global average pooling, its
    random initialisation seeded by ``init_seed`` (then overwritten by ``weights``, if any)."""
    import keras

    from .classifiers import classifier_class

    cls = classifier_class(name)
    if not cls.uses_features:
        raise ValueError(f"classifier '{name}' is not a frozen-backbone classifier")
    if input_size < cls.min_input:
        raise ValueError(
            f"config key 'classifiers.{name}.input_size': {input_size} is below "
            f"the smallest input {name} accepts ({cls.min_input})"
        )
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(
            f"weight file for {name} not found: {weights} (set config "
            f"weights.{cls.weights['key']} to null for a random "
            "initialisation, or run the fetch_weights rule online)"
        )
    keras.utils.set_random_seed(init_seed)
    model = cls.application(
        include_top=False,
        weights=str(weights) if weights else None,
        input_shape=(input_size, input_size, 3),
        pooling="avg",
    )
    cls.after_load(model, weights)
    model.trainable = False
    return model


def preprocess(name: str, images: np.ndarray, input_size: int) -> np.ndarray:
    """uint8 RGB tiles -> the backbone's input: resized (bilinear) and its ``preprocess_input``."""
    import tensorflow as tf

    from .classifiers import classifier_class

    x = tf.image.resize(
        tf.convert_to_tensor(images, tf.float32), (input_size, input_size), method="bilinear"
    )
    return classifier_class(name).preprocess_input(x.numpy())


def make_extractor(
    name: str,
    input_size: int,
    weights: str | Path | None = None,
    batch: int = 64,
    init_seed: int = 25,
) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping uint8 RGB tiles to pooled features (N x D float32), traced once."""
    import tensorflow as tf

    model = build_backbone(name, input_size, weights, init_seed)
    forward = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)],
    )

    def extract(images: np.ndarray) -> np.ndarray:
        if not len(images):
            return np.zeros((0, model.output_shape[-1]), np.float32)
        out = [
            forward(tf.constant(preprocess(name, images[i : i + batch], input_size))).numpy()
            for i in range(0, len(images), batch)
        ]
        return np.concatenate(out).astype(np.float32)

    return extract


def compute_features(
    inputs: dict[str, Any], spec: FeatureSpec, outputs: dict[str, str | Path]
) -> None:
    """Write ``features.npy`` (N x D) and ``index.csv`` (group, isic_id, target, patient_id,
    weights; patient_id empty for synthetic and augmented tiles).

    ``inputs``: ``manifest`` and ``synthetic`` (batch files); ``outputs``: ``features``,
    ``index``. Every real split is included (external too, when the manifest has it).
    """
    from .models import configure_tensorflow

    name, weights = spec.backbone, spec.weights
    configure_tensorflow(spec.threads)
    if weights:
        from isicgan.weights import FILENAMES, verify

        if Path(weights).name in FILENAMES:
            verify(weights)
        else:
            log.warning(
                "%s is not a registered Keras weight file name: loaded without a checksum check",
                weights,
            )
    groups = image_groups(
        inputs["manifest"], list(inputs.get("synthetic", [])), list(spec.seeds), spec.n_augment
    )
    extract = make_extractor(name, spec.input_size, weights, init_seed=spec.init_seed)
    log.info(
        "%s (%s), input %d px: %d images in %d groups",
        name,
        weights_label(weights),
        spec.input_size,
        sum(len(g.ids) for g in groups.values()),
        len(groups),
    )
    features, rows = [], []
    for group_name in sorted(groups):
        group = groups[group_name]
        features.append(extract(group.x))
        patients = group.patients or [""] * len(group.ids)
        rows += [(group_name, i, int(t), p) for i, t, p in zip(group.ids, group.y, patients)]
        log.info("  %s: %d images", group_name, len(group.ids))
    index = pd.DataFrame(rows, columns=["group", "isic_id", "target", "patient_id"])
    index["weights"] = weights_label(weights)
    with atomic_path(outputs["features"]) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(features))
    write_csv(outputs["index"], index)
