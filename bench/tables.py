"""Bench: the classify_tables job (patient bootstrap, arms, thesis tables, contrasts) at scale.

Writes, in a temporary folder, a manifest, runs.csv and predictions.csv.gz per classifier in
the layout the classify stage writes, with generated scores (a weak signal plus noise;
Random Forest-like scores rounded to 0.01, so ties are exercised), then times
``isicgan.analysis.tables.write_tables`` in-process, single-threaded BLAS as in a job:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/tables.py --scale thesis
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/tables.py --scale demo

thesis: 93 + 93 test tiles from 120 patients, 6 classifiers, 5 phases, 3 control arms and
4 generators x 3 replicates, 3 seeds, 1000 resamples (1,368 runs). demo: 20 + 20 test tiles
from 30 patients, 3 generators x 2 replicates, otherwise the same.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from isicgan.analysis.tables import TablesSpec, write_tables  # noqa: E402
from isicgan.classify.metrics import THRESHOLD_METRICS, choose_threshold, compute_metrics  # noqa: E402
from isicgan.classify.models import DISPLAY_NAMES  # noqa: E402
from isicgan.classify.study import RUN_KEYS, RUN_METRICS  # noqa: E402

SCALES = {
    "thesis": {
        "benign": 93,
        "malignant": 93,
        "patients": 120,
        "gans": ["cyclegan", "wgan_gp", "dcgan", "ddpm"],
        "replicates": 3,
    },
    "demo": {
        "benign": 20,
        "malignant": 20,
        "patients": 30,
        "gans": ["cyclegan", "wgan_gp", "dcgan"],
        "replicates": 2,
    },
}
CONTROLS = ["oversample", "augment", "class_weight"]
SEEDS = [25, 26, 27]
BATCHES = 5


def make_inputs(root: Path, scale: dict, seed: int = 0) -> tuple[list[Path], list[Path], Path]:
    rng = np.random.default_rng(seed)
    n_ben, n_mal = scale["benign"], scale["malignant"]
    y = np.array([0] * n_ben + [1] * n_mal)
    ids = [f"ISIC_{i:07d}" for i in range(len(y))]
    patients = [f"IP_{i:07d}" for i in rng.integers(0, scale["patients"], len(y))]
    val_y = np.array([0] * 60 + [1] * 30)
    pd.DataFrame({"isic_id": ids, "patient_id": patients, "target": y, "split": "test"}).to_csv(
        root / "manifest.csv", index=False
    )
    runs_paths, pred_paths = [], []
    for clf in DISPLAY_NAMES:
        rows, preds = [], []
        configs = [(0, "baseline", 0)]
        configs += [(k, arm, 0) for k in range(1, BATCHES + 1) for arm in CONTROLS]
        configs += [
            (k, g, r)
            for k in range(1, BATCHES + 1)
            for g in scale["gans"]
            for r in range(1, scale["replicates"] + 1)
        ]
        for phase, arm, rep in configs:
            for s in SEEDS:
                score = np.clip(0.15 * y + rng.normal(0.4, 0.2, len(y)), 0, 1)
                val = np.clip(0.15 * val_y + rng.normal(0.4, 0.2, len(val_y)), 0, 1)
                if clf == "rf":
                    score, val = np.round(score, 2), np.round(val, 2)
                t = choose_threshold(val_y, val)
                m = compute_metrics(y, score)
                mv = compute_metrics(y, score, t)
                rows.append(
                    {
                        "classifier": clf,
                        "algorithm": DISPLAY_NAMES[clf],
                        "phase": phase,
                        "arm": arm,
                        "seed": s,
                        "replicate": rep,
                        "split": "test",
                        "n_train": 2000,
                        "n_added": 520 * phase,
                        "malignant_weight": 1.0,
                        "backbone_weights": "n/a",
                        **m,
                        "val_threshold": t,
                        **{f"{k}_valthr": mv[k] for k in THRESHOLD_METRICS},
                    }
                )
                preds.append(
                    pd.DataFrame(
                        {
                            "classifier": clf,
                            "phase": phase,
                            "arm": arm,
                            "seed": s,
                            "replicate": rep,
                            "isic_id": ids,
                            "target": y,
                            "score": np.round(score, 6),
                        }
                    )
                )
        (root / clf).mkdir()
        pd.DataFrame(rows)[RUN_KEYS + RUN_METRICS].to_csv(root / clf / "runs.csv", index=False)
        pd.concat(preds).to_csv(root / clf / "predictions.csv.gz", index=False)
        runs_paths.append(root / clf / "runs.csv")
        pred_paths.append(root / clf / "predictions.csv.gz")
    return runs_paths, pred_paths, root / "manifest.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="thesis")
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()
    scale = SCALES[args.scale]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs, preds, manifest = make_inputs(root, scale)
        n_runs = sum(len(pd.read_csv(p)) for p in runs)
        out = root / "tables"
        start = time.time()
        spec = TablesSpec.from_dict(
            {
                "generator": "cyclegan",
                "names": list(DISPLAY_NAMES),
                "gans": scale["gans"],
                "controls": CONTROLS,
                "batches": BATCHES,
                "n_boot": args.boot,
                "seed": 25,
                "threshold": 0.5,
                "pauc_min_tpr": 0.8,
                "primary": {},
            }
        )
        write_tables(
            {
                "runs": runs,
                "predictions": preds,
                "manifest": manifest,
                "thesis": REPO / "resources" / "thesis_tables.csv",
            },
            spec,
            {
                "arms": out / "arms.csv",
                "baseline": out / "baseline.csv",
                "phases": [out / f"phase{k}.csv" for k in range(1, BATCHES + 1)],
                "comparison": out / "thesis_comparison.csv",
                "contrasts": out / "contrasts.csv",
                "summary": out / "summary.rst",
                "worth": out / "worth.csv",
                "learning_curve": out / "learning_curve.png",
                "worth_figure": out / "worth.png",
            },
        )
        seconds = time.time() - start
        n_contrasts = len(pd.read_csv(out / "contrasts.csv"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.scale}: {n_runs} runs x {scale['benign'] + scale['malignant']} test tiles, "
        f"{args.boot} resamples, {n_contrasts} contrasts: write_tables {seconds:.1f} s, "
        f"peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
