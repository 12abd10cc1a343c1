"""Synthetic batches from real (tiny, 1-epoch) GANs: fixed names, byte-identical reruns, the
CycleGAN source slices, FID gating with every try recorded, and the quality JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.quality import inception_standin, tiles, write_manifest, write_tiles
from isicgan.config import load_config
from isicgan.gan import replicate_config, train_gan
from isicgan.gan.train import GanOutputs
from isicgan.io import load_png_folder, load_split_tiles
from isicgan.quality.classifier import write_reference_classifier
from isicgan.quality.encoder import train_encoder
from isicgan.quality.evaluate import load_references, write_references
from isicgan.quality.table import write_quality_table
from isicgan.specs import GanRun, SynthesisSpec
from isicgan.synthesis import BatchOutputs, batch_seed, file_names, source_slice, synthesize_batch

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Real class folders, a trained encoder, cached references and two 1-epoch GANs."""
    root = tmp_path_factory.mktemp("study")
    data = root / "data"
    for split, n_ben, n_mal, seed in [
        ("train", 24, 24, 1),
        ("val", 10, 10, 2),
        ("source", 12, 0, 3),
    ]:
        write_tiles(data / split / "0", tiles(n_ben, seed), prefix=f"ISIC_{seed}0")
        if n_mal:
            write_tiles(data / split / "1", tiles(n_mal, seed + 10), prefix=f"ISIC_{seed}1")
    config = load_config([REPO / "config.yaml", REPO / "tests" / "tiny.yaml"])
    quality = config["quality"] | {"kid_subset_size": 6, "kid_subsets": 3, "prdc_k": 2}
    q = root / "quality"
    train_encoder(load_split_tiles(data / "train"), q / "encoder.pt", dim=8, epochs=1, seed=0)
    write_reference_classifier(
        data / "val",
        data / "train",
        write_manifest(data, root / "m.csv"),
        q / "encoder.pt",
        q / "clf.json",
        C=0.1,
    )
    inception = inception_standin(root / "standin.pt", dim=16)
    write_references(
        (data / "train", data / "val"),
        q / "encoder.pt",
        inception,
        [
            q / f"{space}_{split}.npz"
            for space in ("indomain", "inception")
            for split in ("train", "val")
        ],
        q / "real.json",
        quality,
        seed=0,
    )
    gans = {}
    for gan in ("dcgan", "cyclegan"):
        section = (
            config["gan"][gan] | {"epochs": 1, "decay_epochs": 0}
            if gan == "cyclegan"
            else config["gan"][gan] | {"epochs": 1}
        )
        out = root / "gan" / gan
        train_gan(
            GanRun(gan, 1, section, 32, device="cpu"),
            data / "train",
            GanOutputs.in_folder(out),
            progress=False,
        )
        gans[gan] = out / "final.pt"
    features = {
        space: (q / f"{space}_train.npz", q / f"{space}_val.npz")
        for space in ("indomain", "inception")
    }
    refs = load_references(
        q / "encoder.pt",
        {"indomain": features["indomain"]},
        q / "real.json",
        data / "train",
        data / "val",
        q / "clf.json",
    )
    refs_inc = load_references(
        q / "encoder.pt",
        features,
        q / "real.json",
        data / "train",
        data / "val",
        q / "clf.json",
        inception_path=inception,
    )
    synthesis = config["synthesis"] | {"batches": 2, "batch_size": 8}
    return {
        "root": root,
        "data": data,
        "gans": gans,
        "refs": refs,
        "refs_inc": refs_inc,
        "quality": quality,
        "synthesis": synthesis,
    }


def _spec(study, gan, replicate=1, **synthesis) -> SynthesisSpec:
    s = study["synthesis"] | synthesis
    return SynthesisSpec(
        gan,
        replicate,
        s["batches"],
        s["batch_size"],
        s["seed"],
        s["fid_threshold"],
        s["gate_on"],
        s["max_tries"],
        study["quality"],
    )


def _run(study, gan, k, out, **synthesis):
    out.mkdir(parents=True, exist_ok=True)
    return synthesize_batch(
        _spec(study, gan, **synthesis),
        study["gans"][gan],
        k,
        study["refs"],
        BatchOutputs(out / f"batch{k}", out / f"batch{k}.json", out / f"fig{k}.png"),
        source_dir=study["data"] / "source",
    )


def test_same_config_gives_byte_identical_pngs_with_fixed_names(study, tmp_path):
    first = _run(study, "dcgan", 1, tmp_path / "a")
    _run(study, "dcgan", 1, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a" / "batch1").iterdir())
    assert names == file_names("dcgan", 1, 8) == first["files"]
    for name in names:
        assert (tmp_path / "a" / "batch1" / name).read_bytes() == (
            tmp_path / "b" / "batch1" / name
        ).read_bytes()
    assert (tmp_path / "a" / "batch1.json").read_bytes() == (
        tmp_path / "b" / "batch1.json"
    ).read_bytes()
    other = _run(study, "dcgan", 2, tmp_path / "a")
    assert other["seed"] != first["seed"] == batch_seed(study["synthesis"]["seed"], 1, 1)
    a, _ = load_png_folder(tmp_path / "a" / "batch1")
    b, _ = load_png_folder(tmp_path / "a" / "batch2")
    assert not np.array_equal(a, b)


def test_quality_json_has_every_metric_and_null_inception_with_reason(study, tmp_path):
    out = _run(study, "dcgan", 1, tmp_path)
    q = out["quality"]
    assert q["fid_inception"] is None and q["kid_inception"] is None
    assert "weights.fid_inception is null" in q["inception_reason"]
    for key in (
        "fid_indomain",
        "kid_indomain",
        "precision",
        "recall",
        "density",
        "coverage",
        "msssim",
    ):
        assert isinstance(q[key], float), key
    assert q["msssim_scales"] == 2 and out["real_reference"]["msssim"] > 0
    assert 0 <= q["memorisation"]["share_closer_to_train"] <= 1
    assert json.loads((tmp_path / "batch1.json").read_text())["quality"]["n"] == 8
    assert (tmp_path / "fig1.png").stat().st_size > 1000
    table = write_quality_table(
        [tmp_path / "batch1.json"], tmp_path / "t.csv", tmp_path / "across.png"
    )
    assert table.loc[0, "fid_indomain"] == q["fid_indomain"] and pd.isna(
        table.loc[0, "fid_inception"]
    )


def test_quality_table_carries_the_train_on_synthetic_utility_of_each_replicate(study, tmp_path):
    """utility_*: the synthetic_only_{gan} arm's test metrics (mean over classifiers and seeds)
    of that replicate, beside the same classifiers' real-only baseline; val rows, other phases
    and other arms do not count."""
    _run(study, "dcgan", 1, tmp_path)
    rows = []
    for clf, base, synth in (("logreg", 0.80, 0.60), ("svm", 0.90, 0.70)):
        for seed in (25, 26):
            rows += [
                {
                    "classifier": clf,
                    "phase": 0,
                    "arm": "baseline",
                    "replicate": 0,
                    "split": "test",
                    "roc_auc": base,
                    "pauc_80": base / 10,
                },
                {
                    "classifier": clf,
                    "phase": 0,
                    "arm": "synthetic_only_dcgan",
                    "replicate": 1,
                    "split": "test",
                    "roc_auc": synth + (seed - 25) / 100,
                    "pauc_80": synth / 10,
                },
                {
                    "classifier": clf,
                    "phase": 0,
                    "arm": "synthetic_only_dcgan",
                    "replicate": 2,
                    "split": "test",
                    "roc_auc": 0.5,
                    "pauc_80": 0.0,
                },
                {
                    "classifier": clf,
                    "phase": 0,
                    "arm": "synthetic_only_dcgan",
                    "replicate": 1,
                    "split": "val",
                    "roc_auc": 0.0,
                    "pauc_80": 0.0,
                },
                {
                    "classifier": clf,
                    "phase": 1,
                    "arm": "dcgan",
                    "replicate": 1,
                    "split": "test",
                    "roc_auc": 0.0,
                    "pauc_80": 0.0,
                },
            ]
    runs = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(runs, index=False)
    table = write_quality_table([tmp_path / "batch1.json"], tmp_path / "t.csv", runs_paths=[runs])
    row = table.iloc[0]
    assert (row["gan"], row["replicate"]) == ("dcgan", 1)
    assert row["utility_roc_auc"] == pytest.approx(0.655)  # (0.60, 0.61, 0.70, 0.71)
    assert row["utility_pauc_80"] == pytest.approx(0.065)
    assert row["utility_baseline_roc_auc"] == pytest.approx(0.85)
    assert row["utility_classifiers"] == 2
    without = write_quality_table([tmp_path / "batch1.json"], tmp_path / "u.csv")
    assert without["utility_roc_auc"].isna().all()


def test_gate_that_never_passes_records_every_try_and_keeps_the_lowest(study, tmp_path):
    out = _run(study, "dcgan", 1, tmp_path, fid_threshold=1e-9, max_tries=3)
    tries = out["tries"]
    assert [t["try"] for t in tries] == [1, 2, 3] and not any(t["passed"] for t in tries)
    assert len({t["seed"] for t in tries}) == 3
    best = min(tries, key=lambda t: t["fid_indomain"])
    assert out["kept_try"] == best["try"] and out["quality"]["fid_indomain"] == best["fid_indomain"]
    assert out["gate"]["passed"] is False
    easy = _run(study, "dcgan", 1, tmp_path / "easy", fid_threshold=1e9, max_tries=3)
    assert len(easy["tries"]) == 1 and easy["gate"]["passed"] is True


def test_gate_on_inception_uses_the_configured_network_and_refuses_without_it(study, tmp_path):
    with pytest.raises(ValueError, match="Inception FID is unavailable"):
        _run(study, "dcgan", 1, tmp_path, fid_threshold=10.0, gate_on="inception")
    spec = _spec(study, "dcgan", fid_threshold=1e-9, gate_on="inception", max_tries=2)
    out = synthesize_batch(
        spec,
        study["gans"]["dcgan"],
        1,
        study["refs_inc"],
        BatchOutputs(tmp_path / "b1", tmp_path / "b1.json"),
    )
    assert (
        isinstance(out["quality"]["fid_inception"], float)
        and out["quality"]["inception_reason"] is None
    )
    assert len(out["tries"]) == 2 and all(t["fid_inception"] > 0 for t in out["tries"])


def test_cyclegan_batches_translate_their_own_source_slices_and_say_when_they_wrap(study, tmp_path):
    b1 = _run(study, "cyclegan", 1, tmp_path)
    _, ids = load_png_folder(study["data"] / "source" / "0")
    assert b1["source_ids"] == ids[:8] and not b1["source_wrapped"]
    b2 = _run(study, "cyclegan", 2, tmp_path)  # 12 source tiles, slice 8..15 wraps to 0..3
    assert b2["source_ids"] == ids[8:12] + ids[:4] and b2["source_wrapped"]
    assert source_slice(12, 1, 2, batches=2, batch_size=8) == ([4, 5, 6, 7, 8, 9, 10, 11], True)


def test_generator_replicates_have_their_own_seed_weights_and_batches(study, tmp_path):
    config = load_config([REPO / "config.yaml", REPO / "tests" / "tiny.yaml"])
    section = replicate_config(config["gan"]["dcgan"] | {"epochs": 1}, 2)
    assert section["seed"] == config["gan"]["dcgan"]["seed"] + 1000
    out = tmp_path / "rep2"
    train_gan(
        GanRun("dcgan", 2, section, 32, device="cpu"),
        study["data"] / "train",
        GanOutputs.in_folder(out),
        progress=False,
    )
    rep1 = torch.load(study["gans"]["dcgan"], weights_only=True)["nets"]["G"]
    rep2 = torch.load(out / "final.pt", weights_only=True)["nets"]["G"]
    assert any(not torch.equal(rep1[k], rep2[k]) for k in rep1)

    one = synthesize_batch(
        _spec(study, "dcgan", 1),
        study["gans"]["dcgan"],
        1,
        study["refs"],
        BatchOutputs(tmp_path / "b1", tmp_path / "b1.json"),
    )
    two = synthesize_batch(
        _spec(study, "dcgan", 2),
        out / "final.pt",
        1,
        study["refs"],
        BatchOutputs(tmp_path / "b2", tmp_path / "b2.json"),
    )
    assert two["replicate"] == 2 and one["seed"] != two["seed"]
    assert set(one["files"]).isdisjoint(two["files"])  # ids unique across replicates
    a, _ = load_png_folder(tmp_path / "b1")
    b, _ = load_png_folder(tmp_path / "b2")
    assert not np.array_equal(a, b)
