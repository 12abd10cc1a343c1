"""Tables of the classifier study: arms (everything), thesis tables 6.1-6.6, thesis comparison.

``arms.csv`` holds, per classifier x phase x arm, every test metric's mean and standard
deviation over seeds, and for the threshold metrics and ROC-AUC a stratified bootstrap 95 %
interval of the seed-averaged metric (the same resampled test images for every seed and
every configuration, so intervals are comparable across arms). The phase tables are slices
of it: phase 0 (``baseline.csv``, thesis table 6.1) and phase k with the arm
``synthesis.generator`` (``phase{k}.csv``, thesis tables 6.2-6.6).
"""
from __future__ import annotations

import html
import importlib.metadata
import logging
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from isicgan.io import write_csv, write_text

from .metrics import BOOTSTRAP_METRICS, CLASS_METRICS, METRICS, bootstrap, bootstrap_indices, interval
from .models import DISPLAY_NAMES
from .study import read_runs

log = logging.getLogger(__name__)

PHASE_COLUMNS = ["algorithm"] + CLASS_METRICS
THESIS_METRICS = ["benign_precision", "benign_recall", "malignant_precision", "malignant_recall"]
GROUP_KEYS = ["classifier", "phase", "arm"]


def read_predictions(paths: list[str | Path]) -> pd.DataFrame:
    frames = []
    for p in paths:
        frame = pd.read_csv(p, dtype={"isic_id": str, "arm": str})
        missing = {"classifier", "phase", "arm", "seed", "isic_id", "target", "score"} - set(frame)
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(sorted(missing))}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def arms_table(runs_paths: list[str | Path], predictions_paths: list[str | Path],
               n_boot: int, seed: int, threshold: float = 0.5) -> pd.DataFrame:
    """Per classifier x phase x arm: test metric means, _std over seeds and bootstrap CIs."""
    runs = read_runs(runs_paths)
    test = runs[runs["split"] == "test"]
    preds = read_predictions(predictions_paths)
    y_ref = (preds.drop_duplicates("isic_id").sort_values("isic_id")
             .set_index("isic_id")["target"])
    idx = bootstrap_indices(y_ref.to_numpy(), n_boot, seed)
    pred_groups = {key: g for key, g in preds.groupby(GROUP_KEYS, sort=False)}
    rows = []
    for key, g in test.groupby(GROUP_KEYS, sort=False):
        row: dict[str, Any] = dict(zip(GROUP_KEYS, key))
        row["algorithm"] = g["algorithm"].iloc[0]
        row["n_added"] = int(g["n_added"].iloc[0])
        row["n_train"] = int(g["n_train"].iloc[0])
        row["n_seeds"] = int(g["seed"].nunique())
        row["backbone_weights"] = g["backbone_weights"].iloc[0]
        for m in METRICS:
            row[m] = g[m].mean()
            row[f"{m}_std"] = g[m].std(ddof=1) if len(g) > 1 else 0.0
        p = pred_groups.get(key)
        if p is None:
            raise ValueError(f"no test predictions for {key}")
        runs_of = [c for c in ("seed", "replicate") if c in p.columns]   # one row per run
        scores = p.pivot(index=runs_of, columns="isic_id", values="score")[y_ref.index].to_numpy()
        dist = bootstrap(y_ref.to_numpy(), scores, idx, threshold)
        for m in BOOTSTRAP_METRICS:
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = interval(dist[m])
        rows.append(row)
    table = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(DISPLAY_NAMES)}
    table = table.sort_values(["classifier", "phase", "arm"],
                              key=lambda s: s.map(order) if s.name == "classifier" else s,
                              kind="stable").reset_index(drop=True)
    lead = ["algorithm", "classifier", "phase", "arm", "n_added", "n_train", "n_seeds",
            "backbone_weights"]
    stats = [c for m in METRICS for c in (m, f"{m}_std", f"{m}_ci_low", f"{m}_ci_high")
             if c in table.columns]
    return _round(table[lead + stats])


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(4)
    return out


def phase_table(arms: pd.DataFrame, phase: int, generator: str, names: list[str]) -> pd.DataFrame:
    """Thesis table layout for one phase: six algorithms, class metrics first, then the rest."""
    arm = "baseline" if phase == 0 else generator
    sel = arms[(arms["phase"] == phase) & (arms["arm"] == arm)].set_index("classifier")
    missing = [n for n in names if n not in sel.index]
    if missing:
        raise ValueError(f"no phase {phase} / arm {arm} results for {', '.join(missing)}")
    sel = sel.loc[names].reset_index()
    further = [m for m in METRICS if m not in CLASS_METRICS]
    cols = (PHASE_COLUMNS + further + [f"{m}_std" for m in METRICS]
            + [f"{m}_{b}" for m in BOOTSTRAP_METRICS for b in ("ci_low", "ci_high")]
            + ["phase", "arm", "n_train", "n_added", "n_seeds", "backbone_weights"])
    return sel[cols]


def read_thesis_tables(path: str | Path) -> pd.DataFrame:
    """The thesis's published precision/recall (tables 6.1-6.6); '#' lines are the citation."""
    table = pd.read_csv(path, comment="#")
    need = {"table", "phase", "algorithm", *THESIS_METRICS}
    if need - set(table):
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(need - set(table)))}")
    return table


def thesis_comparison(arms: pd.DataFrame, thesis: pd.DataFrame, generator: str) -> pd.DataFrame:
    """Long table: thesis table, phase, algorithm, metric, thesis value, ours (mean, std, CI)."""
    rows = []
    for _, t in thesis.iterrows():
        arm = "baseline" if t["phase"] == 0 else generator
        ours = arms[(arms["algorithm"] == t["algorithm"]) & (arms["phase"] == t["phase"])
                    & (arms["arm"] == arm)]
        for m in THESIS_METRICS:
            row = {"thesis_table": t["table"], "phase": int(t["phase"]), "algorithm": t["algorithm"],
                   "metric": m, "thesis": float(t[m])}
            if len(ours):
                o = ours.iloc[0]
                row.update(ours=o[m], ours_std=o[f"{m}_std"], ours_ci_low=o[f"{m}_ci_low"],
                           ours_ci_high=o[f"{m}_ci_high"], difference=o[m] - float(t[m]),
                           thesis_inside_ci=bool(o[f"{m}_ci_low"] <= t[m] <= o[f"{m}_ci_high"]),
                           arm=arm, backbone_weights=o["backbone_weights"])
            else:       # a phase or classifier this run did not make (e.g. fewer batches)
                row.update(ours=np.nan, ours_std=np.nan, ours_ci_low=np.nan, ours_ci_high=np.nan,
                           difference=np.nan, thesis_inside_ci=np.nan, arm=arm,
                           backbone_weights="not run")
            rows.append(row)
    return _round(pd.DataFrame(rows))


def write_tables(runs_paths: list[str | Path], predictions_paths: list[str | Path],
                 thesis_path: str | Path, *, generator: str, names: list[str], batches: int,
                 n_boot: int, seed: int, threshold: float, arms_out: str | Path,
                 baseline_out: str | Path, phase_outs: list[str | Path],
                 comparison_out: str | Path) -> None:
    """Every table of the study from the classifier runs (one bootstrap pass)."""
    if len(phase_outs) != batches:
        raise ValueError(f"{len(phase_outs)} phase tables requested for {batches} batches")
    arms = arms_table(runs_paths, predictions_paths, n_boot, seed, threshold)
    write_csv(arms_out, arms)
    write_csv(baseline_out, phase_table(arms, 0, generator, names))
    for k, out in enumerate(phase_outs, start=1):
        write_csv(out, phase_table(arms, k, generator, names))
    write_csv(comparison_out, thesis_comparison(arms, read_thesis_tables(thesis_path), generator))


PACKAGES = ["snakemake", "numpy", "pandas", "scipy", "scikit-learn", "tensorflow", "keras",
            "torch", "torchvision", "clean-fid", "prdc", "matplotlib", "seaborn", "pillow", "h5py"]


def package_versions(names: list[str] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_run_info(out: str | Path, config: dict[str, Any], code_version: str) -> None:
    """A small HTML page for the report: code version, package versions, the run's config."""
    versions = package_versions()
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                   for k, v in {"code version (git describe)": code_version,
                                "python": platform.python_version(),
                                "platform": platform.platform(), **versions}.items())
    config_text = html.escape(yaml.safe_dump(config, sort_keys=False))
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Run information</title>"
            "</head><body><h1>Run information</h1><table border='1'>"
            f"<tr><th>item</th><th>version</th></tr>{rows}</table>"
            f"<h2>Configuration of this run</h2><pre>{config_text}</pre></body></html>\n")
    write_text(out, page)
