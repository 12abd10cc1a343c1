"""What every classifier shares: a malignancy score in [0, 1] per image after one fit.

Subclass families:

- :class:`SklearnClassifier`: scikit-learn on flattened RGB pixels in [0, 1]; implement ``make``;
- :class:`KerasClassifier`: a Keras model trained by :class:`~isicgan.classify.models.KerasTrainer`
  (Adam, binary cross-entropy, re-seeded per fit); implement ``build``;
- :class:`KerasBackbone`: the thesis head on the cached features of a frozen ImageNet base
  (:mod:`isicgan.classify.backbones`); implement ``application`` and ``preprocess_input``.

Class attributes named in :data:`isicgan.registry.STATIC` are read from the source by the
workflow, so they must be literals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from isicgan.classify.models import (
    KerasTrainer,
    build_head,
    configure_tensorflow,
    flatten_pixels,
    sklearn_scores,
)


class Classifier:
    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""  # the thesis's name, used in every table
    uses_features: ClassVar[bool] = False  # trains on cached backbone features
    weights: ClassVar[dict | None] = (
        None  # a backbone's ImageNet file: key, filename, url, md5, note
    )
    config_schema: ClassVar[str] = ""  # YAML: JSON schema of classifiers.<name>
    rank: ClassVar[int] = 100  # order in tables and figures, then the name

    def __init__(self, params: dict[str, Any], threads: int = 1):
        self.params = dict(params)
        self.threads = int(threads)

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Images (uint8 N x H x W x 3) or features -> this model's input."""
        return x

    def fit_predict(
        self,
        seed: int,
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray,
        eval_sets: dict[str, np.ndarray],
    ) -> dict[str, np.ndarray]:
        """Fit from scratch for ``seed`` (per-example ``weight``) and score every eval array."""
        raise NotImplementedError


class SklearnClassifier(Classifier):
    def make(self, seed: int):
        """A fresh, unfitted scikit-learn estimator."""
        raise NotImplementedError

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return flatten_pixels(x)

    def fit_predict(self, seed, x, y, weight, eval_sets):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        estimator = self.make(seed)
        with warnings.catch_warnings():
            # the thesis ran logistic regression with scikit-learn's default iterations as well
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit_kwargs = {} if np.all(weight == 1) else {"sample_weight": weight}
            estimator.fit(x, y, **fit_kwargs)
        return {k: sklearn_scores(estimator, v) for k, v in eval_sets.items()}


class KerasClassifier(Classifier):
    """One Keras model and one traced training step per job, re-initialised for every fit."""

    def build(self, input_shape: tuple[int, ...]):
        """The untrained Keras model for inputs of ``input_shape`` (without the batch axis)."""
        raise NotImplementedError

    def fit_predict(self, seed, x, y, weight, eval_sets):
        shape = tuple(x.shape[1:])
        trainer = getattr(self, "_trainer", None)
        if trainer is None or self._shape != shape:
            configure_tensorflow(self.threads)
            p = self.params
            trainer = KerasTrainer(
                lambda: self.build(shape), p["learning_rate"], p["epochs"], p["batch_size"]
            )
            self._trainer, self._shape = trainer, shape
        return trainer.fit_predict(seed, x, y, weight, eval_sets)


class KerasBackbone(KerasClassifier):
    """The thesis head (Dense relu -> Dropout -> sigmoid) on a frozen ImageNet base's pooled
    features; the base runs once per image in rule ``backbone_features``."""

    uses_features = True
    min_input: ClassVar[int] = 32  # the smallest input side the base accepts

    def build(self, input_shape):
        return build_head(input_shape[0], self.params["dense"], self.params["dropout"])

    @classmethod
    def application(cls, **kwargs):
        """The ``keras.applications`` constructor called with ``include_top=False`` etc."""
        raise NotImplementedError

    @classmethod
    def preprocess_input(cls, x: np.ndarray) -> np.ndarray:
        """RGB float 0-255 -> the base's input scaling."""
        raise NotImplementedError

    @classmethod
    def after_load(cls, model, weights: str | Path | None) -> None:
        """Adjust a built base after its weights are loaded (default: nothing)."""
