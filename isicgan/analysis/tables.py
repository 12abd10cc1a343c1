"""Tables of the classifier study: arms, thesis tables 6.1-6.6, contrasts; the stage function.

``arms.csv`` holds, per test set x classifier x phase x arm, every test metric's mean over the
runs (seeds x generator replicates), its standard deviation where the runs differ, and a
95 % interval of the arm mean that covers test patients, generator replicates and classifier
seeds (:mod:`.contrasts`, :func:`~.contrasts.difference` against nothing). Thresholded metrics
come at ``evaluation.threshold`` (unsuffixed) and at the threshold chosen per run on val
(suffix ``_valthr``). The phase tables are slices of ``arms.csv`` (test set ``test``): phase 0
(``baseline.csv``, thesis table 6.1) and phase k with the arm ``synthesis.generator``
(``phase{k}.csv``, thesis tables 6.2-6.6). ``contrasts.csv``: :mod:`.contrasts`. ``worth.csv``
and its two figures (the real-data learning curve, worth per arm): :mod:`.worth`, from the same
resamples (docs/worth.md).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from isicgan.classify.datasets import read_manifest
from isicgan.classify.metrics import ALL_METRICS, CLASS_METRICS, RANKING_METRICS, VAL_SUFFIX
from isicgan.classify.models import DISPLAY_NAMES
from isicgan.classify.study import read_runs
from isicgan.io import write_csv, write_text

from .contrasts import ContrastDesign, PrimarySpec, contrasts_table, difference
from .headline import METRIC_LABELS, headline
from .render import contrasts_summary, round_floats
from .resampling import (
    CONFIG_KEYS,
    RESAMPLED,
    Resampled,
    configuration_distributions,
    n_real_malignant,
    patients_of_tiles,
    read_predictions,
    resample_configurations,
    test_set_order,
    with_test_set,
)
from .thesis_audit import read_thesis_tables, thesis_comparison
from .worth import WorthSpec, front_page_line, worth_table
from .worth_figures import learning_curve_figure, worth_figure

log = logging.getLogger(__name__)

PHASE_COLUMNS = ["algorithm"] + CLASS_METRICS


@dataclass(frozen=True)
class TablesSpec:
    """Settings of the classify_tables stage (built in rules/common.smk: ``tables_spec``)."""

    generator: str
    names: tuple[str, ...]
    gans: tuple[str, ...]
    controls: tuple[str, ...]
    batches: int
    n_boot: int
    seed: int
    threshold: float
    pauc_min_tpr: float
    placebos: tuple[str, ...] = ()
    primary: PrimarySpec = PrimarySpec()
    worth: WorthSpec = WorthSpec()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TablesSpec:
        d = dict(d)
        for k in ("names", "gans", "controls", "placebos"):
            d[k] = tuple(d.get(k) or ())
        d["primary"] = PrimarySpec.from_dict(d.get("primary") or {})
        d["worth"] = WorthSpec.from_dict(d.get("worth") or {})
        return cls(**d)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def design(self) -> ContrastDesign:
        return ContrastDesign(
            gans=self.gans,
            controls=self.controls,
            placebos=self.placebos,
            primary=self.primary,
            last_phase=self.batches,
            threshold=self.threshold,
        )


def _spread(g: pd.DataFrame, info: dict[str, Any], metrics: list[str]) -> tuple[str, np.ndarray]:
    """Standard deviations over the runs that differ, and what they are over.

    Deterministic configurations (identical scores for every seed) have no seed spread: their
    std is over generator replicates when there are several, else empty (not 0).
    """
    if info["deterministic"]:
        if info["n_replicates"] > 1:
            per_rep = g.groupby("replicate")[metrics].mean().to_numpy()
            return "replicates", per_rep.std(axis=0, ddof=1)
        return "none (deterministic)", np.full(len(metrics), np.nan)
    if len(g) < 2:
        return "none (one run)", np.full(len(metrics), np.nan)
    over = "seeds x replicates" if info["n_replicates"] > 1 else "seeds"
    return over, g[metrics].to_numpy(dtype=float).std(axis=0, ddof=1)


def arms_table(
    runs: pd.DataFrame,
    res: Resampled,
    threshold: float,
    real_malignant: Mapping[tuple, float] | None = None,
) -> pd.DataFrame:
    """Per test set x classifier x phase x arm: metric means, _std, 95 % intervals."""
    runs = with_test_set(runs)
    rows = []
    for key, g in runs[runs["test_set"].isin({k[0] for k in res.units})].groupby(
        CONFIG_KEYS, sort=False
    ):
        if key not in res.units:
            raise ValueError(f"no predictions for {key}")
        units = res.units[key]
        info = {"deterministic": units.deterministic, "n_replicates": units.n_replicates}
        row: dict[str, Any] = dict(zip(CONFIG_KEYS, key))
        row["algorithm"] = g["algorithm"].iloc[0]
        row["n_added"] = int(g["n_added"].iloc[0])
        row["n_train"] = int(g["n_train"].iloc[0])
        row["n_real_malignant"] = (real_malignant or {}).get(key, np.nan)
        row["n_seeds"] = units.n_seeds
        row["n_replicates"] = units.n_replicates
        row["deterministic"] = units.deterministic
        row["one_class"] = units.one_class[""]
        row["one_class_valthr"] = units.one_class[VAL_SUFFIX]
        row["backbone_weights"] = g["backbone_weights"].iloc[0]
        row["spread_over"], stds = _spread(g, info, ALL_METRICS)
        row["threshold"] = threshold
        row["val_threshold"] = g["val_threshold"].mean()
        row["val_threshold_min"] = g["val_threshold"].min()
        row["val_threshold_max"] = g["val_threshold"].max()
        row["ci_resampled"] = RESAMPLED
        row["n_test_patients"] = res.n_patients[key[0]]
        row["n_boot"] = res.n_boot
        means = g[ALL_METRICS].to_numpy(dtype=float).mean(axis=0)
        nothing = np.zeros((1, res.n_boot + 1))
        for i, m in enumerate(ALL_METRICS):
            ci = difference(
                units.values[m],
                nothing,
                small_sample=res.small_sample[key[0]],
                n_patients=res.n_patients[key[0]],
            )
            row[m], row[f"{m}_std"] = means[i], stds[i]
            if ci["se"] == 0:  # nothing varies: the interval is the point
                ci["ci_low"] = ci["ci_high"] = ci["difference"]
            # a t interval on few degrees of freedom can pass the metric's own range (every
            # metric here is a share or an area in [0, 1]): clipped to it
            row[f"{m}_ci_low"] = max(ci["ci_low"], 0.0)
            row[f"{m}_ci_high"] = min(ci["ci_high"], 1.0)
        rows.append(row)
    table = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(DISPLAY_NAMES)}
    sets = {t: i for i, t in enumerate(test_set_order(table["test_set"]))}
    table = table.sort_values(
        ["test_set", "classifier", "phase", "arm"],
        kind="stable",
        key=lambda s: (
            s.map(order) if s.name == "classifier" else s.map(sets) if s.name == "test_set" else s
        ),
    ).reset_index(drop=True)
    lead = [
        "test_set",
        "algorithm",
        "classifier",
        "phase",
        "arm",
        "n_added",
        "n_train",
        "n_real_malignant",
        "n_seeds",
        "n_replicates",
        "deterministic",
        "one_class",
        "one_class_valthr",
        "spread_over",
        "backbone_weights",
    ]
    stats = [c for m in ALL_METRICS for c in (m, f"{m}_std", f"{m}_ci_low", f"{m}_ci_high")]
    tail = [
        "threshold",
        "val_threshold",
        "val_threshold_min",
        "val_threshold_max",
        "ci_resampled",
        "n_test_patients",
        "n_boot",
    ]
    return round_floats(table[lead + stats + tail])


def phase_table(arms: pd.DataFrame, phase: int, generator: str, names: list[str]) -> pd.DataFrame:
    """Thesis table layout for one phase: the algorithms in config order, class metrics first,
    then the rest; one block of rows per test set (``test`` first, then ``external``)."""
    arm = "baseline" if phase == 0 else generator
    blocks = []
    for test_set in test_set_order(arms["test_set"]):
        sel = arms[
            (arms["phase"] == phase) & (arms["arm"] == arm) & (arms["test_set"] == test_set)
        ].set_index("classifier")
        missing = [n for n in names if n not in sel.index]
        if missing:
            raise ValueError(
                f"no phase {phase} / arm {arm} results on {test_set} for {', '.join(missing)}"
            )
        blocks.append(sel.loc[names].reset_index())
    sel = pd.concat(blocks, ignore_index=True)
    further = [m for m in ALL_METRICS if m not in CLASS_METRICS]
    cols = (
        PHASE_COLUMNS
        + further
        + [f"{m}_std" for m in ALL_METRICS]
        + [f"{m}_{b}" for m in ALL_METRICS for b in ("ci_low", "ci_high")]
        + [
            "test_set",
            "phase",
            "arm",
            "n_train",
            "n_added",
            "n_real_malignant",
            "n_seeds",
            "n_replicates",
            "deterministic",
            "one_class",
            "one_class_valthr",
            "spread_over",
            "threshold",
            "val_threshold",
            "val_threshold_min",
            "val_threshold_max",
            "ci_resampled",
            "n_test_patients",
            "n_boot",
            "backbone_weights",
        ]
    )
    return sel[cols]


def train_malignant(manifest_path: str | Path) -> int:
    """Real malignant train tiles of the manifest (runs.csv without ``n_real_malignant``)."""
    manifest = read_manifest(manifest_path)
    return int(((manifest["split"] == "train") & (manifest["target"].astype(int) == 1)).sum())


def resample_study(inputs: Mapping[str, Any], spec: TablesSpec) -> tuple[pd.DataFrame, Resampled]:
    """runs.csv rows of the test sets and every configuration's units (one bootstrap pass)."""
    runs = with_test_set(read_runs(list(inputs["runs"])))
    preds = read_predictions(list(inputs["predictions"]))
    runs = runs[runs["test_set"].isin(set(preds["test_set"]))]
    patients = {}
    for test_set in test_set_order(preds["test_set"]):
        ids = sorted(preds.loc[preds["test_set"] == test_set, "isic_id"].unique())
        patients[test_set] = patients_of_tiles(inputs["manifest"], ids, split=test_set)
    res = resample_configurations(
        preds,
        runs,
        patients,
        n_boot=spec.n_boot,
        seed=spec.seed,
        threshold=spec.threshold,
        pauc_min_tpr=spec.pauc_min_tpr,
    )
    return runs, res


def worth_spec_of_run(spec: WorthSpec, arms: pd.DataFrame) -> tuple[WorthSpec, list[str]]:
    """The worth settings with the curve arms this run has (every test set and classifier),
    and the curve arms it lacks (not run: the classify branch or ``arms_real_fractions``)."""
    at = arms[arms["phase"] == spec.curve_phase]
    pairs = at.groupby(["test_set", "classifier"], sort=False)["arm"].agg(set)
    present = [a for a in spec.curve_arms if len(pairs) and all(a in s for s in pairs)]
    missing = [a for a in spec.curve_arms if a not in present]
    if not present:  # no baseline either: nothing to value against, said in each row
        present = list(spec.curve_arms[-1:])
    return dataclasses.replace(spec, curve_arms=tuple(present)), missing


def worth_study(
    dists: Mapping[tuple, Mapping[str, np.ndarray]], arms: pd.DataFrame, spec: WorthSpec
) -> tuple[pd.DataFrame, WorthSpec]:
    """worth.csv from the arms table's counts and the resampled distributions; rows without a
    learning curve say which curve arms were not run. Returns the table and the settings used."""
    run_spec, missing = worth_spec_of_run(spec, arms)
    counts = arms[
        ["test_set", "classifier", "algorithm", "phase", "arm", "n_real_malignant", "n_added"]
    ]
    if not {
        k
        for k in counts[CONFIG_KEYS].itertuples(index=False, name=None)
        if k[3] in run_spec.curve_arms and k[2] == run_spec.curve_phase
    }:
        counts = counts.iloc[:0]  # no curve arm at all: nothing can be valued
    table = worth_table(dists, counts, run_spec)
    if missing:
        why = table["reason"].str.startswith("no learning curve")
        table.loc[why, "reason"] += f" (not run: {', '.join(missing)}; arms_real_fractions)"
    return round_floats(table), run_spec


def worth_paragraph(table: pd.DataFrame, spec: TablesSpec) -> str:
    """The front page's worth sentence: the generator arm at the primary phase, first primary
    metric and primary test set, every classifier in table order."""
    metric = spec.primary.metrics[0]
    phase = spec.batches if spec.primary.phase is None else spec.primary.phase
    head = "**What is a synthetic tile worth in real ones?** "
    sel = table[
        (table["arm"] == spec.generator)
        & (table["metric"] == metric)
        & (table["phase"] == phase)
        & (table["test_set"] == spec.primary.test_set)
    ]
    reasons = sel["reason"].fillna("").astype(str)
    if len(sel) and reasons.str.startswith("no learning curve").all():  # said once, not per row
        return (
            f"{head}Phase {phase}, {spec.generator}, {METRIC_LABELS.get(metric, metric)}, "
            f"{spec.primary.test_set} set: not valued, {reasons.iloc[0]}.\n"
        )
    try:
        line = front_page_line(
            table,
            arm=spec.generator,
            metric=metric,
            phase=phase,
            test_set=spec.primary.test_set,
            labels=METRIC_LABELS,
        )
    except ValueError as err:
        line = f"Not valued in this run ({err})."
    return head + line + " Every arm and phase: ``results/tables/worth.csv``.\n"


def write_tables(inputs: Mapping[str, Any], spec: TablesSpec, outputs: Mapping[str, Any]) -> None:
    """Every table of the study from the classifier runs (one bootstrap pass).

    ``inputs``: runs, predictions (lists of paths), thesis, manifest. ``outputs``: arms,
    baseline, phases (one per batch), comparison, contrasts, summary, worth, and the figures
    learning_curve and worth_figure (they need the resamples, so they are drawn here).
    """
    phase_outs = list(outputs["phases"])
    if len(phase_outs) != spec.batches:
        raise ValueError(f"{len(phase_outs)} phase tables requested for {spec.batches} batches")
    runs, res = resample_study(inputs, spec)
    real = n_real_malignant(runs, train_malignant(inputs["manifest"]))
    arms = arms_table(runs, res, spec.threshold, real)
    write_csv(outputs["arms"], arms)
    write_csv(outputs["baseline"], phase_table(arms, 0, spec.generator, list(spec.names)))
    for k, out in enumerate(phase_outs, start=1):
        write_csv(out, phase_table(arms, k, spec.generator, list(spec.names)))
    write_csv(
        outputs["comparison"],
        thesis_comparison(
            arms[arms["test_set"] == "test"], read_thesis_tables(inputs["thesis"]), spec.generator
        ),
    )
    labels = {
        c: (g["algorithm"].iloc[0], g["backbone_weights"].iloc[0])
        for c, g in runs.groupby("classifier")
    }
    metrics = sorted(set(RANKING_METRICS) | set(spec.worth.metrics))
    dists = configuration_distributions(res, metrics)  # the family and worth
    contrasts = round_floats(contrasts_table(res, dists, labels, spec.design()))
    write_csv(outputs["contrasts"], contrasts)
    worth, worth_spec = worth_study(dists, arms, spec.worth)
    write_csv(outputs["worth"], worth)
    summary = contrasts_summary(contrasts).rstrip("\n")
    write_text(outputs["summary"], summary + "\n\n" + worth_paragraph(worth, spec))
    curve = arms if len(worth_spec.curve_arms) > 1 else arms.iloc[:0]  # a curve: 2 points
    learning_curve_figure(dists, curve, worth_spec, outputs["learning_curve"])
    worth_figure(worth, outputs["worth_figure"], metric=spec.worth.metrics[0])
    log.info("%s", headline(contrasts))
