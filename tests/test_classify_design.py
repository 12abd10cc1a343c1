"""Training sets of the study: phases, arms, seeds; real data loading; nothing leaks to val/test."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.classify import make_study_data
from isicgan.classify.datasets import (
    Group,
    augmented_group,
    design,
    image_groups,
    load_real,
    load_synthetic,
    malignant_copies,
    synthetic_batch_dirs,
)
from isicgan.classify.study import ClassifyDesign

ARMS = ["oversample", "augment", "class_weight", "cyclegan", "dcgan"]
CONTROLS = ("oversample", "augment", "class_weight")


def spec(
    seeds=(25, 26), replicates=1, batches=2, batch_size=4, gans=("cyclegan", "dcgan"), **kw
) -> ClassifyDesign:
    return ClassifyDesign(
        "logreg",
        gans=tuple(gans),
        arms=CONTROLS,
        replicates=replicates,
        batches=batches,
        batch_size=batch_size,
        seeds=tuple(seeds),
        **kw,
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    return make_study_data(root, batches=2, batch_size=4)


@pytest.fixture(scope="module")
def groups(study):
    return image_groups(study["manifest"], study["synthetic_files"], [25, 26], n_augment=8)


def test_every_arm_adds_k_times_batch_size_malignant_examples_to_train_only(groups):
    sets = design(spec(), groups["train"], {k: len(g.ids) for k, g in groups.items()})
    n_train = len(groups["train"].ids)
    n_mal = int(groups["train"].y.sum())
    assert len(sets) == 2 * (1 + 2 * len(ARMS))
    for ts in sets:
        x, y, w = ts.assemble(groups)
        assert all(name not in ("val", "test") for name, _ in ts.parts)
        if ts.phase == 0:
            assert ts.arm == "baseline" and len(y) == n_train
            continue
        assert ts.n_added == 4 * ts.phase
        if ts.arm == "class_weight":
            assert len(y) == n_train
            assert w[y == 1].sum() == pytest.approx(n_mal + ts.n_added)
        else:
            assert len(y) == n_train + ts.n_added and y[n_train:].all()
            assert (w == 1).all()


def test_phase_k_uses_gan_batches_1_to_k_and_nested_copies(groups):
    sets = {(s.phase, s.arm, s.seed): s for s in design(spec(seeds=[25]), groups["train"])}
    assert [p[0] for p in sets[(2, "dcgan", 25)].parts] == [
        "train",
        "dcgan/rep1/batch1",
        "dcgan/rep1/batch2",
    ]
    one = sets[(1, "oversample", 25)].parts[1][1]
    two = sets[(2, "oversample", 25)].parts[1][1]
    assert np.array_equal(two[: len(one)], one)
    assert (groups["train"].y[two] == 1).all()


def test_copies_and_augmentation_are_seeded(groups):
    train = groups["train"]
    assert np.array_equal(malignant_copies(train.y, 25, 10), malignant_copies(train.y, 25, 10))
    assert not np.array_equal(malignant_copies(train.y, 25, 10), malignant_copies(train.y, 26, 10))
    a, b = augmented_group(train, 25, 8), augmented_group(train, 25, 8)
    assert np.array_equal(a.x, b.x) and a.y.all()
    assert not np.array_equal(a.x, train.x[malignant_copies(train.y, 25, 8)])


class _ReverseSortedScandir:
    """``os.scandir`` whose entries come in reverse name order, whatever the file system's own
    listing order (creation order, hash order, ...): code that keeps the listing order then
    reads the files in the wrong order on every file system."""

    def __init__(self, real, path="."):
        with real(path) as entries:
            self.entries = sorted(entries, key=lambda e: e.name, reverse=True)

    def __iter__(self):
        return iter(self.entries)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass


def test_synthetic_batches_are_read_in_sorted_name_order(study, monkeypatch):
    dirs = synthetic_batch_dirs(study["synthetic_files"])
    assert sorted(dirs) == [
        "cyclegan/rep1/batch1",
        "cyclegan/rep1/batch2",
        "dcgan/rep1/batch1",
        "dcgan/rep1/batch2",
    ]
    folder = dirs["dcgan/rep1/batch1"]
    names = sorted(p.name for p in folder.iterdir())
    real_scandir, real_listdir = os.scandir, os.listdir
    monkeypatch.setattr(os, "scandir", lambda path=".": _ReverseSortedScandir(real_scandir, path))
    monkeypatch.setattr(os, "listdir", lambda path=".": sorted(real_listdir(path), reverse=True))
    assert [p.name for p in folder.glob("*.png")] == names[::-1]  # the listing is reversed
    assert [p.name for p in folder.iterdir()] == names[::-1]
    group = load_synthetic({"x": folder})["x"]
    assert group.ids == [Path(n).stem for n in names]


def test_real_splits_match_the_manifest(study):
    real = load_real(study["manifest"])
    manifest = pd.read_csv(study["manifest"])
    for split in ("train", "val", "test"):
        assert sorted(real[split].ids) == sorted(manifest.loc[manifest.split == split, "isic_id"])
        assert real[split].x.shape[1:] == (32, 32, 3)


def test_an_image_missing_from_its_folder_stops_with_the_folder_named(tmp_path):
    study = make_study_data(tmp_path, gans=("cyclegan",), batches=1)
    victim = sorted((tmp_path / "results/data/val/1").glob("*.png"))[0]
    victim.unlink()
    with pytest.raises(ValueError, match=r"val/1.*missing files"):
        load_real(study["manifest"])


def test_an_unsafe_id_in_the_manifest_is_refused(tmp_path):
    study = make_study_data(tmp_path, gans=("cyclegan",), batches=1)
    frame = pd.read_csv(study["manifest"])
    frame.loc[0, "isic_id"] = "../etc"
    frame.to_csv(study["manifest"], index=False)
    with pytest.raises(ValueError, match="line 2"):
        load_real(study["manifest"])


def test_a_short_synthetic_batch_is_refused(study, tmp_path):
    shutil.copytree(
        study["synthetic_files"][0].replace(".json", ""), tmp_path / "cyclegan" / "batch1"
    )
    groups = load_synthetic({"cyclegan/rep1/batch1": tmp_path / "cyclegan" / "batch1"})
    with pytest.raises(ValueError, match="expected synthesis.batch_size = 5"):
        design(
            spec(seeds=[1], batches=1, batch_size=5, gans=["cyclegan"]),
            Group(np.zeros((3, 1)), np.array([0, 0, 1]), ["a", "b", "c"]),
            {"cyclegan/rep1/batch1": len(groups["cyclegan/rep1/batch1"].ids)},
        )


def test_generator_arms_run_on_every_replicate_and_control_arms_once(groups):
    sets = design(spec(replicates=3), groups["train"])
    runs = {(s.phase, s.arm, s.seed, s.replicate): s for s in sets}
    assert len(runs) == len(sets)  # no configuration twice
    for (phase, arm, _seed, rep), ts in runs.items():
        if arm in ("cyclegan", "dcgan"):
            assert rep in (1, 2, 3)
            assert [p[0] for p in ts.parts[1:]] == [
                f"{arm}/rep{rep}/batch{b}" for b in range(1, phase + 1)
            ]
        else:
            assert rep == 0
    n_control = len(ARMS) - 2
    assert len(sets) == 2 * (1 + 2 * (n_control + 2 * 3))


def _patient_train(seed=0):
    """A train group of 40 benign and 23 malignant tiles on 8 patients of 1..5 malignant tiles."""
    counts = {"P1": 1, "P2": 5, "P3": 2, "P4": 4, "P5": 3, "P6": 5, "P7": 1, "P8": 2}
    y, patients = [0] * 40, [f"P{i % 8 + 1}" for i in range(40)]
    for p, c in counts.items():
        y += [1] * c
        patients += [p] * c
    n = len(y)
    return Group(np.zeros((n, 2)), np.array(y), [f"ISIC_{i:07d}" for i in range(n)], patients)


def test_real_fraction_arms_draw_exact_counts_by_patient_nested_and_seeded():
    from isicgan.classify.datasets import real_fraction

    train = _patient_train()
    patients = np.array(train.patients)
    n_mal = int(train.y.sum())  # 23
    for seed in (25, 26):
        draws = {f: real_fraction(train, f, seed) for f in (0.25, 0.5, 0.75, 1.0)}
        for f, kept in draws.items():
            assert len(kept) == int(np.floor(f * n_mal + 0.5))  # 6, 12, 17, 23
            assert (train.y[kept] == 1).all() and len(set(kept)) == len(kept)
            # by patient: at most one patient is taken in part
            partial = [
                p
                for p in set(patients[kept])
                if (patients[kept] == p).sum() < ((patients == p) & (train.y == 1)).sum()
            ]
            assert len(partial) <= 1, (f, partial)
        assert set(draws[0.25]) <= set(draws[0.5]) <= set(draws[0.75]) <= set(draws[1.0])
    assert np.array_equal(real_fraction(train, 0.5, 25), real_fraction(train, 0.5, 25))
    assert not np.array_equal(real_fraction(train, 0.5, 25), real_fraction(train, 0.5, 26))


def test_phase_zero_holds_the_learning_curve_and_synthetic_only_arms(groups):
    train = groups["train"]
    n_ben, n_mal = int((train.y == 0).sum()), int(train.y.sum())  # 12, 6
    sizes = {k: len(g.ids) for k, g in groups.items()}
    sets = design(spec(replicates=1, real_fractions=(0.5,), synthetic_only=True), train, sizes)
    zero = {(s.arm, s.seed, s.replicate): s for s in sets if s.phase == 0}
    assert sorted({a for a, _, _ in zero}) == [
        "baseline",
        "real_50",
        "synthetic_only_cyclegan",
        "synthetic_only_dcgan",
    ]
    half = zero[("real_50", 25, 0)]
    x, y, w = half.assemble(groups)
    assert (y == 0).sum() == n_ben and (y == 1).sum() == half.n_real_malignant == 3
    assert zero[("baseline", 25, 0)].n_real_malignant == n_mal
    only = zero[("synthetic_only_dcgan", 26, 1)]
    x, y, w = only.assemble(groups)
    # the real benign side, then as many synthetic tiles as real malignant ones: batch 1 (4),
    # then the first 2 of batch 2 (batch_size 4)
    assert [(name, list(idx)) for name, idx in only.parts[1:]] == [
        ("dcgan/rep1/batch1", [0, 1, 2, 3]),
        ("dcgan/rep1/batch2", [0, 1]),
    ]
    assert np.array_equal(only.parts[0][1], np.flatnonzero(train.y == 0))
    assert (y == 1).sum() == n_mal and only.n_real_malignant == 0 and (w == 1).all()
    assert np.array_equal(x[y == 1][:4], groups["dcgan/rep1/batch1"].x)


def test_synthetic_only_with_too_few_synthetic_tiles_is_a_clear_error(groups):
    # 6 real malignant train tiles, 1 batch of 4 synthetic ones
    with pytest.raises(ValueError, match=r"synthetic_only_cyclegan needs 6 synthetic.*holds 4"):
        design(spec(batches=1, synthetic_only=True), groups["train"])


def test_every_fit_is_scored_on_the_external_test_set_too(tmp_path):
    from isicgan.classify.study import ClassifyOutputs, run_classifier

    counts = {"train": (12, 6), "val": (6, 3), "test": (6, 6), "external": (5, 4)}
    study = make_study_data(tmp_path, gans=("dcgan",), batches=2, counts=counts)
    out = ClassifyOutputs(tmp_path / "runs.csv", tmp_path / "predictions.csv.gz")
    runs = run_classifier(
        {"manifest": study["manifest"], "synthetic": study["synthetic_files"]},
        spec(seeds=[25], gans=["dcgan"], real_fractions=(0.5,), synthetic_only=True),
        out,
    )
    n_fits = 1 + 1 + 1 + 2 * (3 + 1)  # baseline, real_50, synthetic_only, phases
    assert len(runs) == 3 * n_fits
    assert runs["split"].tolist()[:3] == ["val", "test", "external"]
    preds = pd.read_csv(out.predictions)
    assert preds.groupby("test_set").size().to_dict() == {
        "external": 9 * n_fits,
        "test": 12 * n_fits,
    }
    manifest = pd.read_csv(study["manifest"])
    external = set(manifest.loc[manifest.split == "external", "isic_id"])
    assert set(preds.loc[preds.test_set == "external", "isic_id"]) == external
    # the val threshold is applied unchanged to both test sets
    per_run = runs.groupby(["phase", "arm", "seed", "replicate"])["val_threshold"].nunique()
    assert (per_run == 1).all()
    real = runs[(runs.arm == "real_50") & (runs.split == "external")].iloc[0]
    assert real["n_real_malignant"] == 3 and real["n_train"] == 12 + 3
