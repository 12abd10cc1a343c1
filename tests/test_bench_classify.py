"""bench/classify.py: the thesis-scale design it projects, and a --quick smoke run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from helpers.workflow import REPO
from isicgan.config import load_config

spec = importlib.util.spec_from_file_location("bench_classify", REPO / "bench" / "classify.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_classify"] = bench  # dataclasses look their module up there
spec.loader.exec_module(bench)


def test_the_projected_design_counts_every_fit_at_its_training_size():
    design = bench.Design(
        image_size=140,
        n_benign=2100,
        n_malignant=210,
        n_eval=1176,
        batches=5,
        batch_size=520,
        seeds=3,
        controls=["oversample", "augment", "class_weight"],
        gans=["cyclegan", "wgan_gp", "dcgan"],
        replicates=3,
    )
    fits = design.fits()
    assert len(fits) == 3 * (1 + 5 * (3 + 3 * 3))  # 183
    sizes = [n for n, _ in fits]
    assert sizes.count(2310) == 3 + 3 * 5  # phase 0 + class_weight
    assert sizes.count(4910) == 3 * (2 + 3 * 3)  # phase 5, copies + GANs
    # each backbone sees every image once: real, 3 GANs x 3 replicates x 2600, 3 seeds x 2600 copies
    assert design.backbone_images() == 2310 + 1176 + 9 * 2600 + 3 * 2600


def test_quick_run_prints_the_projection_table():
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "classify.py"),
            "--quick",
            "--classifiers",
            "logreg,rf",
            "--replicates",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # the design of configs/thesis.yaml: 3 seeds, its generators (config.yaml's gans), 2 replicates
    config = load_config([REPO / "config.yaml", REPO / "configs" / "thesis.yaml"])
    n_seeds, n_gens = len(config["seeds"]), len(config["gans"])
    n_real = len(config["arms_real_fractions"])
    fits = n_seeds * (1 + n_real + n_gens * 2 + 5 * (3 + n_gens * 2))
    assert (
        f"{n_seeds} seeds x (phase 0: 1 + {n_real} real fractions + {n_gens} GANs x 2 "
        f"replicates synthetic-only; 5 phases x (3 control arms + {n_gens} GANs x 2 "
        f"replicates)) = {fits} fits"
    ) in out
    rows = [
        line
        for line in out.splitlines()
        if line.startswith("| logreg |") or line.startswith("| rf |")
    ]
    assert len(rows) == 2 and all(line.count("|") == 5 for line in rows)
    assert "| longest job (jobs side by side) |" in out
    # the stage's wall time per classifiers.split on one node and on 20 nodes of 16 cores
    split_rows = {
        line.split("|")[1].strip(): line
        for line in out.splitlines()
        if line.startswith("| phase") or line.startswith("| classifier |")
    }
    assert set(split_rows) == {"classifier", "phase", "phase_seed"}
    assert "| 20 nodes x 16 cores |" in out
    assert split_rows["phase_seed"].split("|")[2].strip() == str(2 * 6 * n_seeds)  # 2 clfs


def test_the_split_design_runs_every_fit_once_and_the_schedule_packs_the_nodes():
    design = bench.Design(
        image_size=140,
        n_benign=2100,
        n_malignant=210,
        n_eval=1176,
        batches=5,
        batch_size=520,
        seeds=3,
        controls=["oversample", "augment", "class_weight"],
        gans=["cyclegan", "dcgan"],
        replicates=2,
        real_fractions=[0.25, 0.5],
        synthetic_only=True,
    )
    fits = design.fits()
    assert len(fits) == 3 * (1 + 2 + 2 * 2 + 5 * (3 + 2 * 2))
    assert (2100 + 53, 53 / 2153) in fits  # floor(0.25 * 210 + 0.5) = 53
    for split, n_jobs in (("classifier", 1), ("phase", 6), ("phase_seed", 18)):
        parts = design.parts(split)
        assert len(parts) == n_jobs and sum(parts, []) == fits
    jobs = [bench.Job(f"j{i}", 10.0, 1) for i in range(4)]
    assert bench.makespan(jobs, nodes=1, cores=2) == 20.0
    assert bench.makespan(jobs, nodes=2, cores=2) == 10.0
    # a job needs its cores on one node; a head waits for its feature job
    assert bench.makespan([bench.Job("a", 10.0, 4), bench.Job("b", 10.0, 4)], 1, 6) == 20.0
    chain = [bench.Job("f", 5.0, 1), bench.Job("h", 1.0, 1, after="f")]
    assert bench.makespan(chain, nodes=4, cores=4) == 6.0
