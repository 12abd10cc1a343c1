"""A classify stage split per phase (x seed) gives the unsplit stage's files, and two runs of
one configuration give identical files (issue 16.8, issue 18.4)."""

import dataclasses
from pathlib import Path

import pytest

from helpers.classify import make_study_data
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
