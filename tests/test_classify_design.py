"""Training sets of the study: phases, arms, seeds; real data loading; nothing leaks to val/test."""
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from classify_fixtures import make_study_data

from isicgan.classify.datasets import (Group, augmented_group, design, image_groups, load_real,
                                       load_synthetic, malignant_copies, synthetic_batch_dirs)
from isicgan.classify.study import ClassifyDesign

ARMS = ["oversample", "augment", "class_weight", "cyclegan", "dcgan"]
CONTROLS = ("oversample", "augment", "class_weight")


def spec(seeds=(25, 26), replicates=1, batches=2, batch_size=4, gans=("cyclegan", "dcgan"),
         **kw) -> ClassifyDesign:
    return ClassifyDesign("logreg", gans=tuple(gans), arms=CONTROLS, replicates=replicates,
                          batches=batches, batch_size=batch_size, seeds=tuple(seeds), **kw)


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
        "train", "dcgan/rep1/batch1", "dcgan/rep1/batch2"]
    one = sets[(1, "oversample", 25)].parts[1][1]
    two = sets[(2, "oversample", 25)].parts[1][1]
    assert np.array_equal(two[:len(one)], one)
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
    assert sorted(dirs) == ["cyclegan/rep1/batch1", "cyclegan/rep1/batch2", "dcgan/rep1/batch1",
                            "dcgan/rep1/batch2"]
    folder = dirs["dcgan/rep1/batch1"]
    names = sorted(p.name for p in folder.iterdir())
    real_scandir, real_listdir = os.scandir, os.listdir
    monkeypatch.setattr(os, "scandir", lambda path=".": _ReverseSortedScandir(real_scandir, path))
    monkeypatch.setattr(os, "listdir", lambda path=".": sorted(real_listdir(path), reverse=True))
    assert [p.name for p in folder.glob("*.png")] == names[::-1]     # the listing is reversed
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
    shutil.copytree(study["synthetic_files"][0].replace(".json", ""), tmp_path / "cyclegan" / "batch1")
    groups = load_synthetic({"cyclegan/rep1/batch1": tmp_path / "cyclegan" / "batch1"})
    with pytest.raises(ValueError, match="expected synthesis.batch_size = 5"):
        design(spec(seeds=[1], batches=1, batch_size=5, gans=["cyclegan"]),
               Group(np.zeros((3, 1)), np.array([0, 0, 1]), ["a", "b", "c"]),
               {"cyclegan/rep1/batch1": len(groups["cyclegan/rep1/batch1"].ids)})


def test_generator_arms_run_on_every_replicate_and_control_arms_once(groups):
    sets = design(spec(replicates=3), groups["train"])
    runs = {(s.phase, s.arm, s.seed, s.replicate): s for s in sets}
    assert len(runs) == len(sets)                       # no configuration twice
    for (phase, arm, seed, rep), ts in runs.items():
        if arm in ("cyclegan", "dcgan"):
            assert rep in (1, 2, 3)
            assert [p[0] for p in ts.parts[1:]] == [f"{arm}/rep{rep}/batch{b}"
                                                     for b in range(1, phase + 1)]
        else:
            assert rep == 0
    n_control = len(ARMS) - 2
    assert len(sets) == 2 * (1 + 2 * (n_control + 2 * 3))
