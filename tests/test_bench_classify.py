"""bench/classify.py: the thesis-scale design it projects, and a --quick smoke run."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

from helpers.workflow import REPO
from isicgan.config import load_config

spec = importlib.util.spec_from_file_location("bench_classify", REPO / "bench" / "classify.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_classify"] = bench          # dataclasses look their module up there
spec.loader.exec_module(bench)


def test_the_projected_design_counts_every_fit_at_its_training_size():
    design = bench.Design(image_size=140, n_benign=2100, n_malignant=210, n_eval=1176, batches=5,
                          batch_size=520, seeds=3, controls=["oversample", "augment", "class_weight"],
                          gans=["cyclegan", "wgan_gp", "dcgan"], replicates=3)
    fits = design.fits()
    assert len(fits) == 3 * (1 + 5 * (3 + 3 * 3))                      # 183
    sizes = [n for n, _ in fits]
    assert sizes.count(2310) == 3 + 3 * 5                               # phase 0 + class_weight
    assert sizes.count(4910) == 3 * (2 + 3 * 3)                         # phase 5, copies + GANs
    # each backbone sees every image once: real, 3 GANs x 3 replicates x 2600, 3 seeds x 2600 copies
    assert design.backbone_images() == 2310 + 1176 + 9 * 2600 + 3 * 2600


def test_quick_run_prints_the_projection_table():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "classify.py"), "--quick",
                           "--classifiers", "logreg,rf", "--replicates", "2"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # the design of configs/thesis.yaml: 3 seeds, its generators (config.yaml's gans), 2 replicates
    config = load_config([REPO / "config.yaml", REPO / "configs" / "thesis.yaml"])
    n_seeds, n_gens = len(config["seeds"]), len(config["gans"])
    fits = n_seeds * (1 + 5 * (3 + n_gens * 2))
    assert (f"{n_seeds} seeds x (1 + 5 phases x (3 control arms + {n_gens} GANs x 2 replicates))"
            f" = {fits} fits") in out
    rows = [line for line in out.splitlines() if line.startswith("| logreg |") or line.startswith("| rf |")]
    assert len(rows) == 2 and all(line.count("|") == 5 for line in rows)
    assert "| longest job (jobs side by side) |" in out
