"""Quality over training: val FID/KID and class fidelity in history.csv at the evaluated epochs,
best_val picking the epoch with the lowest val KID (and exactly that epoch's weights), the
evaluation leaving the training trajectory alone, and a crash between evaluations resuming to
the same selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.quality import tiles, write_manifest, write_tiles
from isicgan.config import load_config
from isicgan.gan import generate, load_checkpoint
from isicgan.gan.train import GanOutputs, train_gan
from isicgan.io import load_split_tiles
from isicgan.quality.classifier import write_reference_classifier
from isicgan.quality.encoder import train_encoder
from isicgan.quality.training_eval import COLUMNS, TrainingEvaluation, best_epoch
from isicgan.specs import GanRun

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 6
torch.set_num_threads(1)  # module fixtures train too: one thread for all, so weights compare


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("training_eval")
    data = root / "data"
    for split, n_ben, n_mal, seed in [("train", 24, 16, 1), ("val", 12, 10, 2)]:
        write_tiles(data / split / "0", tiles(n_ben, seed), prefix=f"ISIC_{seed}0")
        write_tiles(data / split / "1", tiles(n_mal, seed + 10), prefix=f"ISIC_{seed}1")
    train_encoder(load_split_tiles(data / "train"), root / "encoder.pt", dim=8, epochs=2, seed=0)
    write_reference_classifier(
        data / "val",
        data / "train",
        write_manifest(data, root / "m.csv"),
        root / "encoder.pt",
        root / "classifier.json",
        C=0.1,
    )
    config = load_config([REPO / "config.yaml", REPO / "tests" / "tiny.yaml"])
    section = config["gan"]["dcgan"] | {
        "epochs": EPOCHS,
        "eval_every": 1,
        "select": "best_val",
        "checkpoint_every": 2,
        "sample_epochs": [-1],
    }
    quality = config["quality"] | {"eval_samples": 16, "kid_subset_size": 8, "kid_subsets": 4}
    return {"root": root, "data": data, "section": section, "quality": quality}


def _evaluation(setup, **settings) -> TrainingEvaluation:
    r = setup["root"]
    return TrainingEvaluation.from_files(
        r / "encoder.pt",
        r / "classifier.json",
        setup["data"] / "val",
        setup["section"] | settings,
        setup["quality"],
    )


def _train(setup, out: Path, evaluation=None, **settings):
    run = GanRun(
        "dcgan",
        1,
        setup["section"] | settings,
        32,
        device="cpu",
        checkpoint_dir=str(out / "checkpoints"),
    )
    return train_gan(
        run,
        setup["data"] / "train",
        GanOutputs.in_folder(out),
        evaluation=evaluation,
        progress=False,
    )


@pytest.fixture(scope="module")
def best_run(setup, tmp_path_factory):
    out = tmp_path_factory.mktemp("best")
    final = _train(setup, out, _evaluation(setup))
    return out, final


def test_history_holds_val_quality_at_each_evaluated_epoch_only(setup, tmp_path):
    _train(
        setup,
        tmp_path,
        _evaluation(setup, eval_every=4, select="last"),
        eval_every=4,
        select="last",
    )
    history = pd.read_csv(tmp_path / "history.csv")
    evaluated = history.dropna(subset=["kid_indomain_val"])
    assert list(evaluated["epoch"]) == [3, EPOCHS - 1]  # every 4th epoch, and the last
    for column in COLUMNS:
        assert evaluated[column].notna().all(), column
    assert evaluated["class_fidelity"].between(0, 1).all()
    final = load_checkpoint(tmp_path / "final.pt")
    assert final["selection"]["select"] == "last" and final["selection"]["epoch"] == EPOCHS - 1
    assert final["epoch"] == EPOCHS


def test_best_val_takes_the_epoch_with_the_lowest_val_kid_and_its_weights(
    setup, best_run, tmp_path
):
    out, final = best_run
    history = pd.read_csv(out / "history.csv")
    assert history["kid_indomain_val"].notna().all()  # eval_every 1
    best = int(history.loc[history["kid_indomain_val"].idxmin(), "epoch"])
    assert best < EPOCHS - 1, "the fixture run must have a best epoch before the last"
    assert final["selection"] == {
        "select": "best_val",
        "epoch": best,
        "epochs_trained": EPOCHS,
        "kid_indomain_val": pytest.approx(history["kid_indomain_val"].min()),
    }
    assert final["epoch"] == best + 1 and len(final["history"]) == EPOCHS
    # the same GAN trained for best + 1 epochs without any evaluation has the same weights:
    # best_val hands over that epoch, and evaluating does not perturb training
    short = _train(setup, tmp_path, None, epochs=best + 1)
    for name, tensor in short["nets"]["G"].items():
        assert torch.equal(tensor, final["nets"]["G"][name]), name
    a = generate(out / "final.pt", 8, seed=3)
    assert np.array_equal(a, generate(tmp_path / "final.pt", 8, seed=3))
    # only the selected epoch's snapshot stays on disk
    assert [p.name for p in (out / "checkpoints" / "best_val").iterdir()] == [f"epoch{best:04d}.pt"]


def test_a_crash_after_an_evaluation_resumes_to_the_same_selection(setup, best_run, tmp_path):
    class Crash(Exception):
        pass

    class CrashAt(TrainingEvaluation):
        def after_epoch(self, model, epoch, epochs, rows, data_hash):
            out = super().after_epoch(model, epoch, epochs, rows, data_hash)
            if epoch == 4:  # evaluated and maybe snapshotted, after last.pt at 4 epochs
                raise Crash()
            return out

    first = _evaluation(setup)
    crashing = CrashAt(
        first.encoder,
        first.classifier,
        load_split_tiles(setup["data"] / "val", ("1",)),
        1,
        "best_val",
        setup["quality"]["eval_samples"],
        setup["quality"],
    )
    with pytest.raises(Crash):
        _train(setup, tmp_path, crashing)
    final = _train(setup, tmp_path, _evaluation(setup))
    _, uninterrupted = best_run
    assert final["selection"] == uninterrupted["selection"]
    for name, tensor in uninterrupted["nets"]["G"].items():
        assert torch.equal(tensor, final["nets"]["G"][name]), name


def test_best_val_needs_evaluated_epochs(setup):
    with pytest.raises(ValueError, match="best_val needs .eval_every. >= 1"):
        _evaluation(setup, eval_every=0, select="best_val")
    assert best_epoch(
        [
            {"epoch": 0},
            {"epoch": 1, "kid_indomain_val": 0.2},
            {"epoch": 2, "kid_indomain_val": 0.1},
            {"epoch": 3, "kid_indomain_val": 0.1},
        ]
    ) == (2, 0.1)
