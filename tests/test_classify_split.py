"""A classify stage split per phase (x seed) gives the unsplit stage's files, and two runs of
one configuration give identical files (issue 16.8, issue 18.4)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.classify import make_study_data
from isicgan.classify.metrics import METRICS, compute_metrics
from isicgan.classify.study import ClassifyDesign, ClassifyOutputs, gather_parts, run_classifier

SETTINGS = {
    "logreg": {"max_iter": 30},
    "cnn": {"epochs": 1, "batch_size": 8, "learning_rate": 0.001, "filters": [4, 4, 4], "dense": 8},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("split")
    counts = {"train": (12, 6), "val": (6, 3), "test": (6, 6), "external": (4, 4)}
    return make_study_data(
        root, gans=("dcgan",), batches=2, batch_size=4, counts=counts, replicates=2
    ), root


def _run(study, spec, folder):
    data, root = study
    out = ClassifyOutputs(root / folder / "runs.csv", root / folder / "predictions.csv.gz")
    run_classifier({"manifest": data["manifest"], "synthetic": data["synthetic_files"]}, spec, out)
    return out


def _bytes(out):
    return Path(out.runs).read_bytes(), Path(out.predictions).read_bytes()


# the Keras model (a traced graph per job, re-initialised per fit) on the phase split only:
# its parts re-trace the graph, which costs seconds each
@pytest.mark.parametrize("clf,splits", [("logreg", ("phase", "phase_seed")), ("cnn", ("phase",))])
def test_split_stages_and_reruns_give_the_same_files(study, clf, splits):
    seeds = (25, 26) if "phase_seed" in splits else (25,)
    spec = ClassifyDesign(
        clf,
        SETTINGS[clf],
        gans=("dcgan",),
        replicates=2,
        batches=2,
        batch_size=4,
        seeds=seeds,
        real_fractions=(0.5,),
        synthetic_only=True,
    )
    whole = _bytes(_run(study, spec, f"{clf}/whole"))
    assert whole == _bytes(_run(study, spec, f"{clf}/again"))  # a rerun agrees
    parts = {
        "phase": [dict(phases=(k,)) for k in range(3)],
        "phase_seed": [dict(phases=(k,), seeds_only=(s,)) for k in range(3) for s in seeds],
    }
    for split in splits:
        selections = parts[split]
        outs = [
            _run(study, dataclasses.replace(spec, **sel), f"{clf}/{split}/{i}")
            for i, sel in enumerate(selections)
        ]
        gathered = ClassifyOutputs(
            *(study[1] / clf / split / name for name in ("runs.csv", "predictions.csv.gz"))
        )
        gather_parts([o.runs for o in outs], [o.predictions for o in outs], gathered)
        assert _bytes(gathered) == whole, split


def test_the_tables_recompute_from_the_predictions_exactly_what_runs_csv_says(tmp_path):
    """Every test-set metric of runs.csv equals the metric of that fit's rows of
    predictions.csv.gz: the tables resample the predictions, so a score written with less
    precision than it was computed with makes them disagree. A head on a random-init
    backbone's tiny features (as in the demo) scores every tile within 1e-6 of the others:
    rounded to 6 decimals they all tied, and every interval read 0.5."""
    rng = np.random.default_rng(0)
    rows, x = [], []
    for group, n in (("train", 40), ("val", 20), ("test", 20)):
        y = np.arange(n) % 2
        x.append(1e-7 * (rng.normal(size=(n, 8)) + y[:, None]))
        rows += [
            dict(
                group=group,
                isic_id=f"ISIC_{group}{i:03d}",
                patient_id=f"P{group}{i // 2}",
                target=t,
                weights="random init",
            )
            for i, t in enumerate(y)
        ]
    np.save(tmp_path / "features.npy", np.concatenate(x).astype(np.float32))
    pd.DataFrame(rows).to_csv(tmp_path / "index.csv", index=False)
    head = {"dense": 8, "dropout": 0.0, "epochs": 2, "batch_size": 8, "learning_rate": 0.01}
    spec = ClassifyDesign("inception_v3", head, arms=(), batches=0, seeds=(25, 26))
    out = ClassifyOutputs(tmp_path / "runs.csv", tmp_path / "predictions.csv.gz")
    inputs = {"features": tmp_path / "features.npy", "index": tmp_path / "index.csv"}
    run_classifier(inputs, spec, out)
    runs, preds = pd.read_csv(out.runs), pd.read_csv(out.predictions)
    for (seed, test_set), fit in preds.groupby(["seed", "test_set"]):
        assert np.ptp(fit["score"]) < 1e-5  # the case: scores that differ past the 6th decimal
        row = runs[(runs["seed"] == seed) & (runs["split"] == test_set)]
        want = compute_metrics(fit["target"].to_numpy(), fit["score"].to_numpy())
        for m in METRICS:
            assert row[m].iloc[0] == pytest.approx(want[m], abs=1e-6, nan_ok=True), (seed, m)
