"""Class fidelity and source faithfulness: the reference classifier (fitted on real train tiles,
threshold on val) tells real malignant demo tiles from benign ones; an identity CycleGAN is
flagged near-identity through the real synthesis path; equal-size FID does not depend on the
sample sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.quality import write_manifest, write_tiles
from isicgan.config import load_config
from isicgan.demo import SKIN_TONES, make_tile
from isicgan.gan import train_gan
from isicgan.gan.models.cyclegan import CycleGAN
from isicgan.gan.train import GanOutputs
from isicgan.io import load_split_tiles
from isicgan.quality import metrics
from isicgan.quality.classifier import (
    LabelledFeatures,
    ReferenceClassifier,
    balanced_accuracy_threshold,
    fit_reference_classifier,
    load_reference_classifier,
    write_reference_classifier,
)
from isicgan.quality.encoder import train_encoder
from isicgan.quality.evaluate import load_references, write_references
from isicgan.quality.faithfulness import source_faithfulness
from isicgan.quality.features import indomain_features
from isicgan.specs import GanRun, SynthesisSpec
from isicgan.synthesis import BatchOutputs, synthesize_batch

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def demo_tiles(n: int, malignant: bool, seed: int) -> np.ndarray:
    """Tiles of the demo data generator (isicgan.demo) drawn at 128 px and resized to 32 px
    with LANCZOS as ingest does, mixed skin tones."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            np.asarray(
                Image.fromarray(
                    make_tile(rng, malignant, SKIN_TONES[i % len(SKIN_TONES)], 128)[0]
                ).resize((32, 32), Image.LANCZOS)
            )
            for i in range(n)
        ]
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """train/val/source class folders of demo tiles, the encoder and the reference classifier."""
    root = tmp_path_factory.mktemp("fidelity")
    data = root / "data"
    for split, n_ben, n_mal, seed in [
        ("train", 120, 60, 1),
        ("val", 40, 40, 2),
        ("source", 16, 0, 3),
    ]:
        write_tiles(data / split / "0", demo_tiles(n_ben, False, seed), prefix=f"ISIC_{seed}0")
        if n_mal:
            write_tiles(
                data / split / "1", demo_tiles(n_mal, True, seed + 10), prefix=f"ISIC_{seed}1"
            )
    q = root / "quality"
    train_encoder(load_split_tiles(data / "train"), q / "encoder.pt", dim=64, epochs=15, seed=0)
    manifest = write_manifest(data, root / "manifest.csv")
    fitted = write_reference_classifier(
        data / "val", data / "train", manifest, q / "encoder.pt", q / "classifier.json", C=0.1
    )
    return {"root": root, "data": data, "q": q, "fitted": fitted}


def test_reference_classifier_calls_real_malignant_train_tiles_malignant_out_of_sample(demo):
    fitted = demo["fitted"]
    real = fitted["real_train"]  # scored, never fitted on
    assert real["malignant"]["n"] == 60 and real["benign"]["n"] == 120
    assert fitted["n_fitted"] == {"benign": 40, "malignant": 40} and fitted["cv_folds"] == 5
    assert real["malignant"]["class_fidelity"] >= 0.6, real
    assert real["benign"]["class_fidelity"] <= 0.4, real  # demo classes overlap
    assert real["malignant"]["malignancy_score"] > real["benign"]["malignancy_score"] + 0.15
    clf = load_reference_classifier(demo["q"] / "classifier.json")
    assert clf.threshold == fitted["threshold"] and clf.real == real
    assert clf.ceiling == fitted["in_sample_ceiling"]


def _patients(n_patients: int, tiles_each: int, malignant: bool, rng, dim: int = 24) -> tuple:
    """Features of a patient-clustered set: each patient a centre, its tiles near it."""
    centres = rng.normal(0.3 if malignant else -0.3, 1.0, (n_patients, dim))
    feats = np.repeat(centres, tiles_each, axis=0) + rng.normal(
        0, 0.3, (n_patients * tiles_each, dim)
    )
    return feats, np.arange(n_patients).repeat(tiles_each)


def _set(n_patients: int, rng, tag: str) -> LabelledFeatures:
    (xm, pm), (xb, pb) = (_patients(n_patients, 4, True, rng), _patients(n_patients, 4, False, rng))
    return LabelledFeatures(
        np.concatenate([xm, xb]),
        np.r_[np.ones(len(xm)), np.zeros(len(xb))],
        np.r_[[f"{tag}m{p}" for p in pm], [f"{tag}b{p}" for p in pb]],
    )


def test_class_fidelity_of_copies_of_the_training_tiles_reads_as_real_unseen_tiles_do():
    """Fitted on val patients (threshold by grouped cross-validation), the reference figure
    comes from the train tiles the generators learn from: a batch of copies of them reads
    exactly as that figure, and that figure as tiles of patients nobody saw (within sampling
    error). Fitted on the train tiles (the old rule), copies read more malignant than real."""
    rng = np.random.default_rng(0)
    val, train, unseen = _set(12, rng, "v"), _set(25, rng, "t"), _set(60, rng, "u")
    out = fit_reference_classifier(val, train, C=1.0)
    clf = ReferenceClassifier(
        np.asarray(out["mean"]),
        np.asarray(out["scale"]),
        np.asarray(out["coef"]),
        out["intercept"],
        out["threshold"],
        out["real_train"],
    )
    copies = clf.fidelity(train.feats[train.labels == 1])
    assert copies["class_fidelity"] == out["real_train"]["malignant"]["class_fidelity"]
    fresh = clf.fidelity(unseen.feats[unseen.labels == 1])
    assert abs(fresh["class_fidelity"] - copies["class_fidelity"]) < 0.12, (fresh, copies)
    assert abs(fresh["malignancy_score"] - copies["malignancy_score"]) < 0.08
    # the fit never reads the scored tiles; the in-sample figure is a ceiling
    other = fit_reference_classifier(val, unseen, C=1.0)
    assert other["coef"] == out["coef"] and other["threshold"] == out["threshold"]
    assert (
        out["in_sample_ceiling"]["malignant"]["malignancy_score"]
        > out["real_train"]["malignant"]["malignancy_score"]
    )


def test_threshold_maximises_balanced_accuracy_and_needs_both_classes():
    scores = np.array([0.1, 0.2, 0.35, 0.4, 0.6, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert balanced_accuracy_threshold(scores, labels) == (0.4, 1.0)
    with pytest.raises(ValueError, match="both classes"):
        balanced_accuracy_threshold(scores, np.ones(6))


def test_a_relabelled_source_is_near_identity_and_a_real_change_is_not(demo):
    from isicgan.quality.encoder import load_encoder

    encoder = load_encoder(demo["q"] / "encoder.pt")
    clf = load_reference_classifier(demo["q"] / "classifier.json")
    benign = load_split_tiles(demo["data"] / "val", ("0",))[:20]
    malignant = load_split_tiles(demo["data"] / "val", ("1",))[:20]
    same = source_faithfulness(benign, benign, encoder, clf, delta=0.05)
    assert same["near_identity"] and same["share_near_identity"] == 1.0
    assert same["feature_distance"] == 0.0 and same["msssim"] == pytest.approx(1.0)
    moved = source_faithfulness(malignant, benign, encoder, clf, delta=0.05)
    assert not moved["near_identity"] and moved["share_near_identity"] < 0.5
    assert moved["score_change"] > 0.2 and moved["msssim"] < 0.9
    assert moved["feature_distance"] > 0 and moved["feature_distance_ratio"] > 0


def test_identity_cyclegan_batch_is_flagged_near_identity(demo, tmp_path, monkeypatch):
    """A real CycleGAN checkpoint whose generator is replaced by the identity, through
    synthesize_batch: every tile equals its source, and the batch JSON says so."""
    config = load_config([REPO / "config.yaml", REPO / "tests" / "tiny.yaml"])
    data, q = demo["data"], demo["q"]
    out = tmp_path / "cyclegan"
    run = GanRun(
        "cyclegan",
        1,
        config["gan"]["cyclegan"] | {"epochs": 1, "decay_epochs": 0},
        32,
        device="cpu",
    )
    train_gan(run, data / "train", GanOutputs.in_folder(out), progress=False)
    quality = config["quality"]
    write_references(
        (data / "train", data / "val"),
        q / "encoder.pt",
        None,
        [q / "indomain_train.npz", q / "indomain_val.npz"],
        q / "real.json",
        quality,
        seed=0,
    )
    refs = load_references(
        q / "encoder.pt",
        {"indomain": (q / "indomain_train.npz", q / "indomain_val.npz")},
        q / "real.json",
        data / "train",
        data / "val",
        q / "classifier.json",
    )
    monkeypatch.setattr(CycleGAN, "generate_batch", lambda self, x: x)
    spec = SynthesisSpec.of(
        config | {"synthesis": config["synthesis"] | {"batches": 2, "batch_size": 8}}, "cyclegan", 1
    )
    result = synthesize_batch(
        spec,
        out / "final.pt",
        1,
        refs,
        BatchOutputs(tmp_path / "batch1", tmp_path / "batch1.json", tmp_path / "fig.png"),
        source_dir=data / "source",
    )
    src = result["quality"]["source"]
    assert src["near_identity"] and src["share_near_identity"] == 1.0 and src["score_change"] == 0.0
    assert src["msssim"] == pytest.approx(1.0)
    assert result["checkpoint"]["select"] == "last" and result["checkpoint"]["epoch"] == 0
    saved = json.loads((tmp_path / "batch1.json").read_text())
    assert saved["quality"]["source"]["near_identity"] is True
    sources = load_split_tiles(data / "source", ("0",))[:8]  # batch 1: the first 8, sorted
    assert (
        saved["quality"]["class_fidelity"]
        == refs.classifier.fidelity(indomain_features(sources, refs.encoder))["class_fidelity"]
    )
    assert (tmp_path / "fig.png").stat().st_size > 10_000


def test_equal_size_fid_of_one_distribution_is_near_zero_whatever_the_sizes():
    rng = np.random.default_rng(0)
    draw = lambda n, shift=0.0: rng.normal(shift, 1.0, (n, 8))  # noqa: E731
    small, large, other_large = draw(60), draw(600), draw(600)
    shifted = draw(600, shift=1.0)
    eq = {
        sizes: metrics.equal_size_fid(a, b, 60, 20, seed=1)["mean"]
        for sizes, (a, b) in {
            "60 vs 600": (small, large),
            "600 vs 600": (other_large, large),
            "600 vs 60": (large, small),
        }.items()
    }
    plain = {
        "60 vs 600": metrics.fid_from_features(small, large),
        "600 vs 600": metrics.fid_from_features(other_large, large),
    }
    far = metrics.equal_size_fid(shifted, large, 60, 20, seed=1)["mean"]  # about 8 = 8 x 1^2
    assert far > 6
    for value in eq.values():
        assert value < 0.15 * far
    assert max(eq.values()) < 1.6 * min(eq.values())  # the same bias at every size pair
    assert plain["60 vs 600"] > 3 * plain["600 vs 600"]  # plain FID is not
    with pytest.raises(ValueError, match="n=61"):
        metrics.equal_size_fid(small, large, 61, 2, seed=0)


def test_threshold_scores_come_from_heads_fitted_without_the_tiles_patient():
    """Patients whose tiles are near-duplicates and whose class has nothing to do with their
    features: a head that saw a patient's other tiles would score them almost perfectly; grouped
    by patient, the out-of-fold scores are at chance, and so is the threshold's accuracy."""
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 1, (40, 64))
    feats = np.repeat(centres, 4, axis=0) + rng.normal(0, 0.05, (160, 64))
    labels = np.repeat(rng.permutation(np.r_[np.ones(20), np.zeros(20)]), 4)
    data = LabelledFeatures(feats, labels, np.repeat(np.arange(40), 4))
    out = fit_reference_classifier(data, data, C=100.0)
    assert out["cv_roc_auc"] < 0.7 and out["cv_balanced_accuracy"] < 0.7, out["cv_roc_auc"]
    assert out["in_sample_ceiling"]["malignant"]["malignancy_score"] > 0.9  # what in-sample reads
