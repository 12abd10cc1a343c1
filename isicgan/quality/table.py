"""Gather the per-batch quality JSON files into ``results/tables/synthesis_quality.csv``."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from isicgan.io import write_csv

COLUMNS = [
    "gan", "replicate", "batch", "n", "kept_try", "tries", "gate_on", "gate_threshold", "gate_passed",
    "fid_inception", "kid_inception", "fid_indomain", "kid_indomain",
    "precision", "recall", "density", "coverage", "msssim", "msssim_scales",
    "share_closer_to_train", "novelty_auc", "share_closer_than_real_pairs", "median_distance_train",
    "median_distance_val", "median_distance_val_to_train", "memorisation_flag",
    "fid_inception_real", "kid_inception_real", "fid_indomain_real", "kid_indomain_real",
    "precision_real", "recall_real", "density_real", "coverage_real", "msssim_real",
    "inception_reason", "source_wrapped",
]
REAL_KEYS = ["fid_inception", "kid_inception", "fid_indomain", "kid_indomain", "precision",
             "recall", "density", "coverage"]


def row(data: dict, where: str = "") -> dict:
    """One table row from a batch quality JSON (see :mod:`isicgan.synthesis`)."""
    try:
        q, m, real = data["quality"], data["quality"]["memorisation"], data["real_reference"]
        out = {"gan": data["gan"], "replicate": data["replicate"], "batch": data["batch"],
               "n": data["n"],
               "kept_try": data["kept_try"], "tries": len(data["tries"]),
               "gate_on": data["gate"]["on"], "gate_threshold": data["gate"]["threshold"],
               "gate_passed": data["gate"]["passed"], "source_wrapped": data["source_wrapped"],
               "memorisation_flag": m["flag"], "msssim_real": real["msssim"],
               "inception_reason": q["inception_reason"]}
        for key in ["fid_inception", "kid_inception", "fid_indomain", "kid_indomain", "precision",
                    "recall", "density", "coverage", "msssim", "msssim_scales"]:
            out[key] = q[key]
        for key in ["share_closer_to_train", "novelty_auc", "share_closer_than_real_pairs",
                    "median_distance_train", "median_distance_val", "median_distance_val_to_train"]:
            out[key] = m[key]
        for key in REAL_KEYS:
            out[f"{key}_real"] = real.get(key)
    except KeyError as err:
        raise ValueError(f"{where}: batch quality JSON lacks key {err}") from err
    return out


def gather(paths: list[str | Path]) -> pd.DataFrame:
    rows = [row(json.loads(Path(p).read_text()), where=str(p)) for p in paths]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["gan", "replicate", "batch"], kind="stable").reset_index(drop=True)


def write_quality_table(paths: list[str | Path], table_path: str | Path,
                        figure_path: str | Path | None = None) -> pd.DataFrame:
    """The table (one row per generator x replicate x batch) and, if asked, the across-batches figure."""
    frame = gather(paths)
    write_csv(table_path, frame)
    if figure_path:
        from isicgan.quality.figures import across_figure

        across_figure(figure_path, frame)
    return frame
