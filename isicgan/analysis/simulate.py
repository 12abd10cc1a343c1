"""Calibration simulations of the contrast intervals, through the package's own functions.

A simulated study has a test set of benign and malignant tiles on patients (tiles of one
patient share part of their difficulty), a control arm (classifier seeds only) and one or more
generator arms (replicates x seeds) whose expected ROC-AUC equals the control's: replicate r
has ROC-AUC ``auc + N(0, replicate_sd)`` (binormal: separation sqrt(2) Phi^-1(AUC)), so the
true method effect is exactly 0 in ROC-AUC. Scores of a run: separation x label + shared
tile difficulty + run noise. Every interval is computed by :mod:`.resampling` and
:mod:`.contrasts` as the stage computes it.

    python -m isicgan.analysis.simulate          # the tables of docs/statistics.md
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from isicgan.classify.metrics import patient_resamples

from .contrasts import difference, step_down_max_t
from .resampling import configuration_units, percentile_intervals, small_sample_factor, two_stage


@dataclass(frozen=True)
class Shape:
    """The size of a simulated study."""

    benign: int = 93
    malignant: int = 93
    patients: int = 120
    replicates: int = 3
    seeds: int = 3
    auc: float = 0.80
    shared: float = 0.7  # share of a tile's score noise common to every run (difficulty)
    patient_share: float = 0.5  # share of that difficulty common to a patient's tiles


THESIS = Shape()
DEMO = Shape(benign=20, malignant=20, patients=30, replicates=2, seeds=2)


class Study:
    """One simulated test set; arms are drawn on it with :meth:`arm`."""

    def __init__(self, shape: Shape, rng: np.random.Generator, n_boot: int, boot_seed: int):
        self.shape, self.rng = shape, rng
        self.y = np.array([0] * shape.benign + [1] * shape.malignant)
        n = len(self.y)
        self.patients = rng.integers(0, shape.patients, n)
        per_patient = rng.normal(size=shape.patients)[self.patients]
        self.difficulty = np.sqrt(shape.patient_share) * per_patient + np.sqrt(
            1 - shape.patient_share
        ) * rng.normal(size=n)
        self.weights = np.vstack(
            [np.ones((1, n)), patient_resamples(self.patients, self.y, n_boot, boot_seed)]
        )
        self.n_patients = len(np.unique(self.patients))
        self.small_sample = small_sample_factor(self.patients, self.y)

    def arm(self, replicate_sd: float | None):
        """Units of an arm: a generator arm (``replicate_sd`` a number) or a control arm."""
        s = self.shape
        reps = s.replicates if replicate_sd is not None else 1
        aucs = s.auc + (self.rng.normal(0, replicate_sd, reps) if replicate_sd else np.zeros(reps))
        scores, rows = [], []
        for r, auc in enumerate(np.clip(aucs, 0.51, 0.99)):
            separation = np.sqrt(2) * norm.ppf(auc)
            for seed in range(s.seeds):
                noise = self.rng.normal(size=len(self.y))
                scores.append(
                    separation * self.y
                    + np.sqrt(s.shared) * self.difficulty
                    + np.sqrt(1 - s.shared) * noise
                )
                rows.append({"seed": seed, "replicate": r + 1 if replicate_sd is not None else 0})
        return configuration_units(
            self.y, np.array(scores), pd.DataFrame(rows), self.weights, {"": 0.0}, 0.8
        )


def coverage(
    shape: Shape,
    replicate_sd: float,
    studies: int = 200,
    n_boot: int = 200,
    seed: int = 0,
    metric: str = "roc_auc",
) -> dict[str, float]:
    """Share of 95 % intervals of generator minus control that hold 0 (the true effect):
    the stage's method, and the landed patient-only percentile interval."""
    rng = np.random.default_rng(seed)
    method, landed = [], []
    for i in range(studies):
        study = Study(shape, rng, n_boot, boot_seed=i)
        gen, ctrl = study.arm(replicate_sd), study.arm(None)
        a, b = gen.values[metric], ctrl.values[metric]
        stats = difference(a, b, small_sample=study.small_sample, n_patients=study.n_patients)
        method.append(stats["ci_low"] <= 0 <= stats["ci_high"])
        lo, hi = percentile_intervals((a.mean(axis=0) - b.mean(axis=0))[1:])
        landed.append(lo[0] <= 0 <= hi[0])
    return {"method": float(np.mean(method)), "landed": float(np.mean(landed))}


def family_error(
    shape: Shape,
    replicate_sd: float,
    generators: int = 3,
    controls: int = 3,
    metrics: tuple[str, ...] = ("roc_auc", "pauc_80"),
    studies: int = 200,
    n_boot: int = 200,
    seed: int = 0,
) -> float:
    """Share of studies under the global null where the step-down max-T calls any contrast
    of the family (generators x controls x metrics) better or worse at 5 %."""
    rng = np.random.default_rng(seed)
    errors = 0
    for i in range(studies):
        study = Study(shape, rng, n_boot, boot_seed=i)
        gens = [study.arm(replicate_sd) for _ in range(generators)]
        ctrls = [study.arm(None) for _ in range(controls)]
        draws = np.random.default_rng([seed, i])
        p, joint, df = [], [], []
        for m in metrics:
            gd = [two_stage(g.values[m], draws) for g in gens]
            cd = [two_stage(c.values[m], draws) for c in ctrls]
            for g, gdist in zip(gens, gd):
                for c, cdist in zip(ctrls, cd):
                    stats = difference(
                        g.values[m],
                        c.values[m],
                        small_sample=study.small_sample,
                        n_patients=study.n_patients,
                    )
                    p.append(stats["p_value"])
                    df.append(stats["df"])
                    joint.append(gdist[1:] - cdist[1:] - stats["difference"])
        adjusted, _ = step_down_max_t(np.array(p), np.stack(joint))
        errors += bool((adjusted < 0.05).any())
    return errors / studies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--boot", type=int, default=200)
    args = parser.parse_args()
    for name, shape in (("thesis", THESIS), ("demo", DEMO)):
        for sd in (0.018, 0.036):
            c = coverage(shape, sd, args.studies, args.boot)
            print(
                f"{name} ({shape.replicates} replicates x {shape.seeds} seeds, "
                f"{shape.benign}+{shape.malignant} tiles), replicate SD {sd}: coverage "
                f"{c['method']:.3f} (patient-only percentile: {c['landed']:.3f})",
                flush=True,
            )
    for name, shape in (("thesis", THESIS), ("demo", DEMO)):
        fwer = family_error(shape, 0.018, studies=args.studies // 2, n_boot=args.boot)
        print(
            f"{name}: family-wise false-positive rate {fwer:.3f} "
            "(3 generators x 3 controls x 2 metrics, global null)",
            flush=True,
        )


if __name__ == "__main__":
    main()
