"""Machinery the classifiers share (the classifiers themselves: :mod:`isicgan.classify.classifiers`).

The thesis's six: ``logreg``, ``svm``, ``rf`` (scikit-learn on flattened RGB pixels in [0, 1]),
``cnn`` (the thesis's Keras CNN on RGB tiles in [0, 1]), ``inception_v3`` and
``efficientnet_b5`` (the thesis head, Dense(relu) -> Dropout -> sigmoid, trained on
frozen-backbone features computed once, :mod:`isicgan.classify.backbones`).

Every model returns a malignancy score in [0, 1]: ``predict_proba`` for logistic regression
and random forest, the logistic of the SVM decision function (so score > 0.5 is exactly
``SVC.predict``), the sigmoid output for the Keras models.

Keras models are trained by :class:`KerasTrainer`: one model and one traced training step per
job, re-initialised for each (phase, arm, seed) from a freshly seeded copy, so a job that
fits a hundred configurations traces its graph once instead of a hundred times.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from isicgan import registry

log = logging.getLogger(__name__)

#: config name -> the thesis's table name, read from the classifier modules
DISPLAY_NAMES = {n: s["display_name"] for n, s in registry.specs("classifiers").items()}


def flatten_pixels(images: np.ndarray) -> np.ndarray:
    """N x H x W x 3 uint8 -> N x (H*W*3) float32 in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def sklearn_scores(estimator, x: np.ndarray) -> np.ndarray:
    """Malignancy scores in [0, 1] of a fitted estimator."""
    from sklearn.svm import SVC

    if isinstance(estimator, SVC):
        return 1.0 / (1.0 + np.exp(-estimator.decision_function(x)))
    return estimator.predict_proba(x)[:, 1]


def configure_tensorflow(threads: int = 1) -> None:
    """Quiet, deterministic TensorFlow on ``threads`` CPU threads; call before any Keras use."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process (tests): keep its setting
        pass
    tf.config.experimental.enable_op_determinism()


def build_head(n_features: int, dense: int = 1024, dropout: float = 0.5):
    """The thesis head on globally average-pooled backbone features."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Dense(dense, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="thesis_head",
    )


class KerasTrainer:
    """Adam + binary cross-entropy training of one architecture, re-initialised per seed.

    ``build`` makes the untrained model; ``fit_predict`` resets everything (weights and dropout
    seeds of a copy built under ``keras.utils.set_random_seed(seed)``, once per seed; optimiser
    state; batch order from numpy) so each fit equals a fresh model's fit, and the result does
    not depend on what the trainer fitted before.
    """

    def __init__(
        self, build: Callable[[], Any], learning_rate: float, epochs: int, batch_size: int
    ):
        import keras
        import tensorflow as tf

        self.build = build
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.model = build()
        self._initial: dict[int, tuple[list[np.ndarray], list[Any]]] = {}
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        self._optimizer_start = [v.numpy() for v in self.optimizer.variables]
        loss_fn = keras.losses.BinaryCrossentropy()
        model, optimizer = self.model, self.optimizer
        x_spec = tf.TensorSpec([None, *self.model.input_shape[1:]], tf.float32)
        v_spec = tf.TensorSpec([None], tf.float32)

        batch = self.batch_size

        @tf.function(
            input_signature=[x_spec, v_spec, v_spec, tf.TensorSpec([None, None], tf.int32)]
        )
        def train(x, y, w, orders):
            # every epoch and batch inside one graph call: no Python overhead per step
            n = tf.shape(orders)[1]
            for epoch in tf.range(tf.shape(orders)[0]):
                for start in tf.range(0, n, batch):
                    idx = orders[epoch, start : start + batch]
                    xb, yb, wb = tf.gather(x, idx), tf.gather(y, idx), tf.gather(w, idx)
                    with tf.GradientTape() as tape:
                        p = model(xb, training=True)
                        loss = loss_fn(yb[:, None], p, sample_weight=wb)
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return n

        @tf.function(input_signature=[x_spec])
        def predict_step(x):
            return model(x, training=False)[:, 0]

        self._train = train
        self._predict_step = predict_step

    def _initial_state(self, seed: int) -> tuple[list[np.ndarray], list[Any]]:
        """The weights and dropout seed states of a model freshly built under ``seed``.

        Built once per seed and cached: ``keras.utils.set_random_seed`` clears TensorFlow's
        eager kernel cache, and re-seeding before every fit made each following training
        call about three times slower (0.05 -> 0.17 s for a demo head on 450 tiles).
        """
        if seed not in self._initial:
            import keras

            keras.utils.set_random_seed(seed)
            fresh = self.build()
            generators = [getattr(layer, "seed_generator", None) for layer in fresh.layers]
            self._initial[seed] = (
                fresh.get_weights(),
                [None if g is None else g.state.value.numpy() for g in generators],
            )
        return self._initial[seed]

    def _reset(self, seed: int) -> None:
        weights, generator_states = self._initial_state(seed)
        self.model.set_weights(weights)
        for layer, state in zip(self.model.layers, generator_states):
            if state is not None:
                layer.seed_generator.state.assign(state)
        for var, start in zip(self.optimizer.variables, self._optimizer_start):
            var.assign(start)

    def fit_predict(
        self,
        seed: int,
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray,
        eval_sets: dict[str, np.ndarray],
    ) -> dict[str, np.ndarray]:
        """Train from scratch for ``seed`` and return sigmoid scores of every eval array."""
        self._reset(seed)
        rng = np.random.default_rng([seed, 3])
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        weight = np.asarray(weight, dtype=np.float32)
        orders = np.stack([rng.permutation(len(x)) for _ in range(self.epochs)]).astype(np.int32)
        self._train(x, y, weight, orders)
        return {k: self.predict(v) for k, v in eval_sets.items()}

    def predict(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return np.concatenate(
            [self._predict_step(x[i : i + batch]).numpy() for i in range(0, len(x), batch)]
        ).astype(np.float64)
