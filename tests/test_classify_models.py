"""Classifiers and frozen backbones: seeded Keras fits, weight files through the real loader."""

import math

import h5py
import numpy as np
import pandas as pd
import pytest

from isicgan.classify.backbones import (
    RANDOM_INIT,
    build_backbone,
    make_extractor,
    preprocess,
    weights_label,
)
from isicgan.classify.classifiers import make_classifier
from isicgan.classify.classifiers.cnn import build_cnn
from isicgan.classify.classifiers.efficientnet_b5 import IMAGENET_STDDEV_RGB
from isicgan.classify.datasets import Group, design
from isicgan.classify.models import KerasTrainer, build_head, configure_tensorflow, sklearn_scores
from isicgan.classify.study import ClassifyDesign


@pytest.fixture(scope="module", autouse=True)
def tensorflow_one_thread():
    configure_tensorflow(1)


def _data(n=40, d=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    x = rng.normal(size=(n, d)).astype(np.float32) + y[:, None] * 0.8
    return x, y


def _save_legacy_h5(model, path):
    """Write weights in the legacy Keras HDF5 layout of the published *_notop.h5 files."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def test_svm_score_above_half_is_exactly_svc_predict():
    x, y = _data()
    svm = make_classifier("svm", {"C": 1.0}).make(seed=25).fit(x, y)
    assert np.array_equal(sklearn_scores(svm, x) > 0.5, svm.predict(x) == 1)


def _weighted_arms():
    """Baseline and class_weight training sets of phase 1 from the study's real design
    (30 benign, 10 malignant; 10 added, so the malignant weight is (10 + 10) / 10 = 2),
    assembled as study.run_classifier assembles them, plus a held-out set to score."""
    rng = np.random.default_rng(3)
    y = np.array([0] * 30 + [1] * 10)
    x = (rng.normal(size=(40, 12)) + y[:, None] * 0.6).astype(np.float32)
    groups = {"train": Group(x, y, [f"ISIC_{i:07d}" for i in range(40)])}
    spec = ClassifyDesign("logreg", arms=("class_weight",), batches=1, batch_size=10, seeds=(25,))
    sets = {ts.arm: ts for ts in design(spec, groups["train"])}
    assert set(sets) == {"baseline", "class_weight"}
    held_out = (rng.normal(size=(30, 12)) + 0.3).astype(np.float32)
    return {arm: ts.assemble(groups) for arm, ts in sets.items()}, held_out


def _fit_both_arms(model, arms, held_out):
    """Scores on ``held_out`` after fitting each arm the way study.run_classifier does."""
    return [
        model.fit_predict(25, *arms[arm], {"t": held_out})["t"]
        for arm in ("baseline", "class_weight")
    ]


def test_class_weight_arm_changes_the_sklearn_fit_towards_malignant():
    arms, held_out = _weighted_arms()
    (xb, yb, wb), (xc, yc, wc) = arms["baseline"], arms["class_weight"]
    assert np.array_equal(xb, xc) and np.array_equal(yb, yc)  # same examples, other weights
    assert (wb == 1).all() and np.allclose(wc[yc == 1], 2.0) and (wc[yc == 0] == 1).all()
    for name, params in (
        ("logreg", {"max_iter": 200}),
        ("svm", {"C": 1.0}),
        ("rf", {"n_estimators": 20}),
    ):
        base, weighted = _fit_both_arms(make_classifier(name, params), arms, held_out)
        assert base.shape == weighted.shape == (30,)
        assert ((0 <= weighted) & (weighted <= 1)).all()
        assert not np.allclose(base, weighted), f"{name}: the class weight did not change the fit"
        # a heavier malignant class pulls the scores towards malignant
        assert weighted.mean() > base.mean(), name


def test_class_weight_arm_changes_the_keras_fit_towards_malignant():
    arms, held_out = _weighted_arms()
    head = make_classifier(
        "inception_v3",
        {"dense": 8, "dropout": 0.0, "epochs": 3, "batch_size": 8, "learning_rate": 1e-2},
    )
    base, weighted = _fit_both_arms(head, arms, held_out)
    assert not np.allclose(base, weighted)
    assert weighted.mean() > base.mean()


def test_keras_fit_depends_on_its_seed_only_not_on_earlier_fits():
    x, y = _data()
    w = np.ones(len(y), np.float32)

    def trainer():
        return KerasTrainer(
            lambda: build_head(12, dense=8, dropout=0.5), 1e-2, epochs=3, batch_size=8
        )

    reused = trainer()
    first = reused.fit_predict(25, x, y, w, {"t": x})["t"]
    other = reused.fit_predict(26, x, y, w, {"t": x})["t"]
    again = reused.fit_predict(25, x, y, w, {"t": x})["t"]
    fresh = trainer().fit_predict(25, x, y, w, {"t": x})["t"]
    assert np.array_equal(first, again)
    assert np.array_equal(fresh, again)  # the cached start state is a fresh model's
    assert not np.array_equal(first, other)
    assert first[y == 1].mean() > first[y == 0].mean()  # it learned the signal


def test_thesis_cnn_shape_and_small_demo_variant_train():
    model = build_cnn((32, 32, 3))
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [64, 128, 224]
    rng = np.random.default_rng(0)
    x = rng.random((16, 32, 32, 3), dtype=np.float32)
    y = np.array([0, 1] * 8)
    trainer = KerasTrainer(lambda: build_cnn((32, 32, 3), (4, 4, 4), 8), 1e-3, 1, 8)
    scores = trainer.fit_predict(1, x, y, np.ones(16, np.float32), {"t": x})["t"]
    assert scores.shape == (16,)


def test_backbone_inputs_are_rgb_in_each_models_own_scale():
    red = np.zeros((1, 8, 8, 3), np.uint8)
    red[..., 0] = 255
    inc = preprocess("inception_v3", red, 16)
    assert inc.shape == (1, 16, 16, 3)
    assert np.allclose(inc[..., 0], 1.0) and np.allclose(inc[..., 1:], -1.0)  # RGB, [-1, 1]
    eff = preprocess("efficientnet_b5", red, 8)
    assert np.allclose(eff[..., 0], 255.0) and np.allclose(eff[..., 1:], 0.0)  # RGB, 0-255


def test_random_init_is_said_and_a_missing_weight_file_is_a_clear_error(tmp_path):
    assert weights_label(None) == RANDOM_INIT == "random init (no ImageNet weights)"
    with pytest.raises(FileNotFoundError, match="weights.keras_inception_v3"):
        build_backbone("inception_v3", 75, tmp_path / "absent_notop.h5")
    with pytest.raises(ValueError, match="input_size"):
        build_backbone("inception_v3", 40)


def test_inception_weight_file_is_loaded_through_the_real_loader(tmp_path):
    import keras

    keras.utils.set_random_seed(7)
    source = keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(75, 75, 3), pooling="avg"
    )
    path = tmp_path / "test_inception_notop.h5"
    _save_legacy_h5(source, path)
    keras.utils.set_random_seed(8)
    loaded = build_backbone("inception_v3", 75, path)
    assert not loaded.trainable
    for a, b in zip(source.weights, loaded.weights):
        assert np.array_equal(a.numpy(), b.numpy())
    assert weights_label(path) == "ImageNet (test_inception_notop.h5)"
    tiles = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    features = make_extractor("inception_v3", 75, path)(tiles)
    assert features.shape == (3, 2048) and np.isfinite(features).all()


@pytest.mark.slow
def test_efficientnet_local_weights_get_keras_imagenet_input_scaling(tmp_path):
    """keras.applications adds a 1/sqrt(std) rescaling only for its own download: we fold it
    into the stem kernel, and every other weight is the file's."""
    import keras

    keras.utils.set_random_seed(3)
    source = keras.applications.EfficientNetB5(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    path = tmp_path / "test_efficientnet_notop.h5"
    _save_legacy_h5(source, path)
    loaded = build_backbone("efficientnet_b5", 32, path)
    stem_src = source.get_layer("stem_conv").kernel.numpy()
    stem = loaded.get_layer("stem_conv").kernel.numpy()
    factors = np.array([1 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB], np.float32)
    assert np.allclose(stem, stem_src * factors[None, None, :, None])
    others = [(a, b) for a, b in zip(source.weights, loaded.weights) if "stem_conv" not in a.path]
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in others)


@pytest.mark.parametrize("backbone,size", [("inception_v3", 75), ("efficientnet_b5", 32)])
def test_random_init_backbone_features_are_the_same_in_two_runs(backbone, size, tmp_path):
    """issue 16.8: the frozen base without ImageNet weights is seeded (init_seed), through the
    rule's own function; a different init_seed gives other features."""
    from helpers.classify import make_study_data
    from isicgan.classify.backbones import FeatureSpec, compute_features

    counts = {"train": (4, 3), "val": (2, 2), "test": (2, 2), "external": (2, 1)}
    study = make_study_data(tmp_path, gans=("dcgan",), batches=1, batch_size=2, counts=counts)
    inputs = {"manifest": study["manifest"], "synthetic": study["synthetic_files"]}
    features = {}
    for run, seed in (("a", 25), ("b", 25), ("other", 26)):
        spec = FeatureSpec(backbone, size, None, seeds=(25,), n_augment=2, init_seed=seed)
        out = {"features": tmp_path / run / "f.npy", "index": tmp_path / run / "index.csv"}
        compute_features(inputs, spec, out)
        features[run] = np.load(out["features"])
    assert features["a"].std() > 0
    assert np.array_equal(features["a"], features["b"])
    assert not np.allclose(features["a"], features["other"])
    index = pd.read_csv(tmp_path / "a" / "index.csv", keep_default_na=False)
    assert set(index["group"]) == {
        "train",
        "val",
        "test",
        "external",
        "augment/seed25",
        "dcgan/rep1/batch1",
    }
    real = index["group"].isin(["train", "val", "test", "external"])
    assert (index.loc[real, "patient_id"] != "").all()
    assert (index.loc[~real, "patient_id"] == "").all()
