"""Gather the per-batch quality JSON files into ``results/tables/synthesis_quality.csv``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from isicgan import registry
from isicgan.io import write_csv

COLUMNS = [
    "gan",
    "placebo",
    "replicate",
    "batch",
    "n",
    "select",
    "selected_epoch",
    "kept_try",
    "tries",
    "gate_on",
    "gate_threshold",
    "gate_passed",
    "fid_indomain_eq",
    "fid_indomain_eq_std",
    "fid_indomain_eq_real",
    "fid_indomain_eq_real_std",
    "fid_inception_eq",
    "fid_inception_eq_std",
    "fid_inception_eq_real",
    "fid_inception_eq_real_std",
    "fid_eq_n",
    "kid_indomain",
    "kid_indomain_real",
    "kid_inception",
    "kid_inception_real",
    "class_fidelity",
    "malignancy_score",
    "class_fidelity_real_malignant",
    "class_fidelity_real_benign",
    "malignancy_score_real_malignant",
    "malignancy_score_real_benign",
    "class_fidelity_ceiling_malignant",
    "class_fidelity_ceiling_benign",
    "source_feature_distance",
    "source_feature_distance_ratio",
    "source_msssim",
    "score_change",
    "share_near_identity",
    "near_identity",
    "fid_inception",
    "fid_indomain",
    "fid_inception_real",
    "fid_indomain_real",
    "precision",
    "recall",
    "density",
    "coverage",
    "msssim",
    "msssim_scales",
    "share_closer_to_train",
    "novelty_auc",
    "copy_threshold",
    "share_below_copy_threshold",
    "share_copies",
    "median_distance_train",
    "median_distance_val",
    "median_distance_val_to_train",
    "memorisation_flag",
    "precision_real",
    "recall_real",
    "density_real",
    "coverage_real",
    "msssim_real",
    "inception_reason",
    "source_wrapped",
]
REAL_KEYS = [
    "fid_inception",
    "kid_inception",
    "fid_indomain",
    "kid_indomain",
    "precision",
    "recall",
    "density",
    "coverage",
]
SOURCE_KEYS = {
    "source_feature_distance": "feature_distance",
    "source_feature_distance_ratio": "feature_distance_ratio",
    "source_msssim": "msssim",
    "score_change": "score_change",
    "share_near_identity": "share_near_identity",
    "near_identity": "near_identity",
}


def row(data: dict, where: str = "") -> dict:
    """One table row from a batch quality JSON (see :mod:`isicgan.synthesis`). The source
    columns are empty for a generator that does not translate source tiles."""
    try:
        q, m, real = data["quality"], data["quality"]["memorisation"], data["real_reference"]
        classifier = data["reference_classifier"]["real_train"]
        ceiling = data["reference_classifier"]["in_sample_ceiling"]
        out = {
            "gan": data["gan"],
            "placebo": bool(registry.spec("generators", data["gan"])["placebo"]),
            "replicate": data["replicate"],
            "batch": data["batch"],
            "n": data["n"],
            "select": data["checkpoint"]["select"],
            "selected_epoch": data["checkpoint"]["epoch"],
            "kept_try": data["kept_try"],
            "tries": len(data["tries"]),
            "gate_on": data["gate"]["on"],
            "gate_threshold": data["gate"]["threshold"],
            "gate_passed": data["gate"]["passed"],
            "source_wrapped": data["source_wrapped"],
            "memorisation_flag": m["flag"],
            "msssim_real": real["msssim"],
            "inception_reason": q["inception_reason"],
        }
        for key in [
            "fid_inception",
            "kid_inception",
            "fid_indomain",
            "kid_indomain",
            "precision",
            "recall",
            "density",
            "coverage",
            "msssim",
            "msssim_scales",
            "fid_indomain_eq",
            "fid_indomain_eq_std",
            "fid_indomain_eq_real",
            "fid_indomain_eq_real_std",
            "fid_inception_eq",
            "fid_inception_eq_std",
            "fid_inception_eq_real",
            "fid_inception_eq_real_std",
            "fid_eq_n",
            "class_fidelity",
            "malignancy_score",
        ]:
            out[key] = q[key]
        for name in ("malignant", "benign"):
            out[f"class_fidelity_real_{name}"] = classifier[name]["class_fidelity"]
            out[f"malignancy_score_real_{name}"] = classifier[name]["malignancy_score"]
            out[f"class_fidelity_ceiling_{name}"] = ceiling[name]["class_fidelity"]
        for column, key in SOURCE_KEYS.items():
            out[column] = q["source"][key] if "source" in q else None
        for key in [
            "share_closer_to_train",
            "novelty_auc",
            "copy_threshold",
            "share_below_copy_threshold",
            "share_copies",
            "median_distance_train",
            "median_distance_val",
            "median_distance_val_to_train",
        ]:
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


#: train on synthetic, test on real: the test metrics of the ``synthetic_only_{gan}`` arms
UTILITY_METRICS = ["roc_auc", "pauc_80"]
UTILITY_COLUMNS = (
    [f"utility_{m}" for m in UTILITY_METRICS]
    + [f"utility_baseline_{m}" for m in UTILITY_METRICS]
    + ["utility_classifiers"]
)


def utility(runs_paths: list[str | Path]) -> pd.DataFrame:
    """Per generator x replicate: its train-on-synthetic arm's test metrics beside the baseline's.

    ``utility_<metric>``: the mean over classifiers and seeds of the ``synthetic_only_{gan}``
    arm (real benign tiles, synthetic malignant tiles only) on the real test split;
    ``utility_baseline_<metric>``: the same classifiers' real-only baseline. A generator whose
    tiles carry what makes a tile malignant comes close to the baseline; one that does not
    falls towards 0.5 (ROC-AUC). Empty where the study ran no such arm.
    """
    frames = []
    for path in runs_paths:
        runs = pd.read_csv(path)
        missing = {"arm", "phase", "split", "replicate", "classifier", *UTILITY_METRICS} - set(runs)
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        frames.append(runs[(runs["split"] == "test") & (runs["phase"] == 0)])
    runs = pd.concat(frames, ignore_index=True)
    baseline = runs[runs["arm"] == "baseline"]
    synthetic = runs[runs["arm"].str.startswith("synthetic_only_")]
    rows = []
    for (arm, rep), g in synthetic.groupby(["arm", "replicate"], sort=True):
        same = baseline[baseline["classifier"].isin(g["classifier"].unique())]
        rows.append(
            {
                "gan": arm.removeprefix("synthetic_only_"),
                "replicate": int(rep),
                **{f"utility_{m}": g[m].mean() for m in UTILITY_METRICS},
                **{f"utility_baseline_{m}": same[m].mean() for m in UTILITY_METRICS},
                "utility_classifiers": g["classifier"].nunique(),
            }
        )
    return pd.DataFrame(rows, columns=["gan", "replicate", *UTILITY_COLUMNS])


def write_quality_table(
    paths: list[str | Path],
    table_path: str | Path,
    figure_path: str | Path | None = None,
    runs_paths: list[str | Path] = (),
) -> pd.DataFrame:
    """The table (one row per generator x replicate x batch, with the train-on-synthetic utility
    of the replicate from ``runs_paths``) and, if asked, the across-batches figure."""
    frame = gather(paths)
    if runs_paths:
        frame = frame.merge(utility(runs_paths), on=["gan", "replicate"], how="left")
    else:
        frame = frame.reindex(columns=[*frame.columns, *UTILITY_COLUMNS])
    write_csv(table_path, frame)
    if figure_path:
        # lazy: matplotlib takes about a second to import; only the figure needs it
        from isicgan.quality.figures import across_figure

        across_figure(figure_path, frame)
    return frame
