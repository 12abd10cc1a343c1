"""Bench: one fit of each thesis classifier at the thesis shape, and the whole classify stage
of ``configs/thesis.yaml`` projected from it, on this machine.

Thesis shape (from the configs): 140 px tiles; a real training part of 2,310 tiles
(2,100 benign + 210 malignant) to which phase k adds k x 520 malignant examples (4,910 at
phase 5); val 990 and test 186 tiles scored after every fit. The tiles are generated
(smooth random colour fields, malignant ones with a dark blob): the cost of a fit depends on
the shapes and the class mix, not on what the pixels show. The Keras backbones are built
without ImageNet weights (random init) at their thesis input size; the cost is the same.

What is timed (CPU seconds of this process, ``--threads`` threads, after a warm-up):

* scikit-learn classifiers (``logreg``, ``svm``, ``rf``): the classifier's own ``fit_predict``
  (fit + scoring the 1,176 val/test tiles; an iterative solver is scaled to ``max_iter``
  iterations, as on real tiles) on stratified subsets of two thesis training sets, phase 0
  (2,310 tiles, 9 % malignant) and phase 5 (4,910, 57 % malignant), at two fractions
  (``--fractions``, default 1/8 and 1/4). Per training set a power law t = a n^b through the
  two points gives the full-size fit; a fit of another size and mix is interpolated
  log-linearly between the phase-0 and phase-5 figures.
* Keras models on tiles (``cnn``): the package's :class:`KerasTrainer` with the classifier's
  model: one epoch over ``--cnn-images`` and over half as many tiles (the difference is the
  cost per image; the rest is the per-fit re-initialisation), and scoring; a fit is linear
  in images x epochs.
* ``inception_v3``, ``efficientnet_b5``: the frozen backbone's feature extraction per image
  (:func:`isicgan.classify.backbones.make_extractor`, ``--backbone-images`` tiles) and one
  epoch of the thesis head on 4,910 cached feature vectors.

The projection sums every fit of the design: seeds x (phase 0 + batches x (control arms +
GANs x generator replicates)), each at its own training-set size, plus, for the backbones,
one pass over every image (real, every synthetic batch of every replicate, the augmented
copies). The stage runs one job per classifier, so the longest classifier bounds its wall
time when the jobs run side by side.

    .venv/bin/python bench/classify.py                      # a few minutes on 2 cores
    .venv/bin/python bench/classify.py --quick              # tiny sizes: a smoke test
    .venv/bin/python bench/classify.py --extra-gans ddpm --replicates 3 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Design:
    """The classify design of a config: sizes and the number of fits."""

    image_size: int
    n_benign: int  # real train benign
    n_malignant: int  # real train malignant
    n_eval: int  # val + test tiles scored after every fit
    batches: int
    batch_size: int
    seeds: int
    controls: list[str]
    gans: list[str]
    replicates: int
    real_fractions: list[float] = field(default_factory=list)  # phase-0 learning curve
    synthetic_only: bool = False  # phase-0 train-on-synthetic

    def tagged_fits(self) -> list[tuple[int, int, int, float]]:
        """(phase, seed index, training-set size, malignant share) of every fit of one
        classifier, in the order of the classify stage (phase, then seed)."""
        out = []
        for phase in range(self.batches + 1):
            for seed in range(self.seeds):
                out += [(phase, seed, n, share) for n, share in self._fits_of(phase)]
        return out

    def _fits_of(self, phase: int) -> list[tuple[int, float]]:
        base = self.n_benign + self.n_malignant
        if phase == 0:
            out = [(base, self.n_malignant / base)]
            for f in self.real_fractions:
                m = math.floor(f * self.n_malignant + 0.5)
                out.append((self.n_benign + m, m / (self.n_benign + m)))
            if self.synthetic_only:
                out += [(base, self.n_malignant / base)] * (len(self.gans) * self.replicates)
            return out
        added = phase * self.batch_size
        grown = (base + added, (self.n_malignant + added) / (base + added))
        out = [
            (base, self.n_malignant / base) if arm == "class_weight" else grown
            for arm in self.controls
        ]
        return out + [grown] * (len(self.gans) * self.replicates)

    def fits(self) -> list[tuple[int, float]]:
        """(training-set size, malignant share) of every fit of one classifier."""
        return [(n, share) for _, _, n, share in self.tagged_fits()]

    def parts(self, split: str) -> list[list[tuple[int, float]]]:
        """The fits of each classify job of one classifier under ``classifiers.split``."""
        key = {
            "classifier": lambda p, s: 0,
            "phase": lambda p, s: p,
            "phase_seed": lambda p, s: (p, s),
        }[split]
        jobs: dict = {}
        for phase, seed, n, share in self.tagged_fits():
            jobs.setdefault(key(phase, seed), []).append((n, share))
        return list(jobs.values())

    def backbone_images(self) -> int:
        """Images each frozen backbone sees once: real splits, synthetic batches, augmented copies."""
        n_aug = self.batches * self.batch_size
        return (
            self.n_benign
            + self.n_malignant
            + self.n_eval
            + len(self.gans) * self.replicates * n_aug
            + self.seeds * n_aug
        )


def thesis_design(extra_gans: list[str], replicates: int | None) -> tuple[Design, dict]:
    from isicgan.config import load_config
    from isicgan.data import SplitCounts

    cfg = load_config([REPO / "config.yaml", REPO / "configs" / "thesis.yaml"])
    data = cfg["data"]
    needs = SplitCounts.from_config(data["counts"], data["val_fraction"])
    reps = replicates or int(cfg.get("gan", {}).get("replicates", 3))
    gans = list(cfg["gans"]) + [g for g in extra_gans if g not in cfg["gans"]]
    design = Design(
        image_size=int(data["image_size"]),
        n_benign=needs.train_benign,
        n_malignant=needs.train_malignant,
        n_eval=(needs.val_benign + needs.val_malignant + needs.test_benign + needs.test_malignant),
        batches=int(cfg["synthesis"]["batches"]),
        batch_size=int(cfg["synthesis"]["batch_size"]),
        seeds=len(cfg["seeds"]),
        controls=list(cfg["arms"]),
        gans=gans,
        replicates=reps,
        real_fractions=list(cfg["arms_real_fractions"]),
        synthetic_only=bool(cfg["arms_synthetic_only"]),
    )
    return design, cfg["classifiers"]


def tiles(n: int, malignant: int, size: int, seed: int):
    """``n`` uint8 RGB tiles and labels (the last ``malignant`` are 1). A dark blob marks 75 % of
    the malignant and 25 % of the benign tiles: the classes overlap as real ones do, so fits
    run as long as on real data (no early convergence, pure leaves or few support vectors)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cells = rng.integers(120, 230, (n, 8, 8, 3), dtype=np.uint8)
    rep = -(-size // 8)
    x = np.repeat(np.repeat(cells, rep, axis=1), rep, axis=2)[:, :size, :size]
    x = np.clip(x.astype(np.int16) + rng.integers(-12, 13, x.shape, dtype=np.int16), 0, 255)
    yy, xx = np.mgrid[:size, :size]
    blob = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 5) ** 2
    y = np.zeros(n, np.int64)
    y[n - malignant :] = 1
    marked = rng.random(n) < np.where(y == 1, 0.75, 0.25)
    x[np.ix_(marked, blob.any(1), blob.any(0))] //= 2
    return x.astype(np.uint8), y


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def time_sklearn(
    name: str, params: dict, design: Design, fractions: list[float], threads: int
) -> dict[str, float]:
    """Projected seconds of one full-size fit at phase 0 and at the last phase (power law)."""
    import numpy as np

    from isicgan.classify.classifiers import make_classifier

    model = make_classifier(name, params, threads)
    ev, ey = tiles(design.n_eval, design.n_eval // 2, design.image_size, seed=1)
    eval_sets = {"eval": model.prepare(ev)}
    base = design.n_benign + design.n_malignant
    added = design.batches * design.batch_size
    anchors = {
        "phase0": (base, design.n_malignant),
        "last": (base + added, design.n_malignant + added),
    }
    out = {}
    for key, (n, mal) in anchors.items():
        points = []
        for f in fractions:
            m = max(4, int(round(n * f)))
            k = max(2, int(round(mal * f)))
            x, y = tiles(m, k, design.image_size, seed=2)
            x = model.prepare(x)
            s = cpu_seconds(
                lambda x=x, y=y, m=m: model.fit_predict(25, x, y, np.ones(m, np.float32), eval_sets)
            )
            note = ""
            est = model.make(25)
            if getattr(est, "max_iter", -1) > 0 and hasattr(est, "tol"):
                # an iterative solver: real tiles run it to max_iter (the thesis saw the warning)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the ConvergenceWarning is the point
                    est.fit(x, y)
                scale = max(1.0, est.max_iter / max(1, int(np.max(est.n_iter_))))
                s *= scale
                note = f" (scaled x{scale:.1f}: {int(np.max(est.n_iter_))} of {est.max_iter} iterations)"

            points.append((m, s))
            print(
                f"  {name}: {m} tiles ({k} malignant) fit + score {len(ev)}: {s:.1f} s{note}",
                flush=True,
            )
        (n1, s1), (n2, s2) = points[0], points[-1]
        b = math.log(s2 / s1) / math.log(n2 / n1) if n2 != n1 and s1 > 0 and s2 > 0 else 1.0
        b = min(max(b, 1.0), 3.0)  # at least linear, at most cubic: noise guard
        out[key] = s2 * (n / n2) ** b
        out[f"{key}_exponent"] = b
    out["n_phase0"], out["n_last"] = base, base + added
    return out


def sklearn_cost(fit: dict[str, float]) -> Callable[[int], float]:
    """Seconds of one fit of ``n`` tiles: log-linear interpolation in log n between the two
    anchors (phase 0 and the last phase)."""
    l0, l1 = math.log(fit["n_phase0"]), math.log(fit["n_last"])
    t0, t1 = math.log(fit["phase0"]), math.log(fit["last"])

    def cost(n: int) -> float:
        w = (math.log(n) - l0) / (l1 - l0) if l1 > l0 else 0.0
        return math.exp(t0 + w * (t1 - t0))

    return cost


def project_sklearn(fit: dict[str, float], design: Design) -> float:
    """Sum over the design of :func:`sklearn_cost`."""
    cost = sklearn_cost(fit)
    return sum(cost(n) for n, _ in design.fits())


def time_keras(name: str, params: dict, design: Design, n_images: int) -> dict[str, float]:
    """CPU seconds per image of one training epoch and of scoring, a Keras model on tiles."""
    import numpy as np

    from isicgan.classify.classifiers import make_classifier
    from isicgan.classify.models import KerasTrainer

    size = design.image_size
    model = make_classifier(name, params)
    trainer = KerasTrainer(
        lambda: model.build((size, size, 3)), params["learning_rate"], 1, params["batch_size"]
    )
    x, y = tiles(n_images, n_images // 2, size, seed=3)
    x = model.prepare(x)
    w = np.ones(n_images, np.float32)
    trainer.fit_predict(
        25, x[: params["batch_size"]], y[: params["batch_size"]], w[: params["batch_size"]], {}
    )  # warm-up: trace the graph
    trainer.predict(x[:8])
    half = n_images // 2
    # two sizes: the slope is the cost per image, free of the per-fit re-initialisation
    t_half = cpu_seconds(lambda: trainer.fit_predict(25, x[:half], y[:half], w[:half], {}))
    t_full = cpu_seconds(lambda: trainer.fit_predict(25, x, y, w, {}))
    per_image = max(t_full - t_half, 1e-9) / (n_images - half)
    setup = max(0.0, t_full - per_image * n_images)
    score = cpu_seconds(lambda: trainer.predict(x))
    print(
        f"  {name}: one epoch over {half} / {n_images} tiles {t_half:.1f} / {t_full:.1f} s "
        f"({per_image * 1000:.0f} ms per image-epoch, {setup:.1f} s per fit to re-initialise); "
        f"scoring {n_images}: {score:.1f} s",
        flush=True,
    )
    return {"train_per_image_epoch": per_image, "setup": setup, "score_per_image": score / n_images}


def keras_cost(t: dict[str, float], params: dict, design: Design) -> Callable[[int], float]:
    """Seconds of one fit of ``n`` tiles: epochs over them, scoring val + test, re-initialising."""
    return lambda n: (
        n * int(params["epochs"]) * t["train_per_image_epoch"]
        + design.n_eval * t["score_per_image"]
        + t["setup"]
    )


def project_keras(t: dict[str, float], params: dict, design: Design) -> float:
    cost = keras_cost(t, params, design)
    return sum(cost(n) for n, _ in design.fits())


def time_backbone(name: str, params: dict, design: Design, n_images: int) -> dict[str, float]:
    """CPU seconds per image through the frozen backbone, and per example-epoch of its head."""
    import numpy as np

    from isicgan.classify.backbones import make_extractor
    from isicgan.classify.classifiers import make_classifier
    from isicgan.classify.models import KerasTrainer

    size = int(params["input_size"])
    extract = make_extractor(name, size, None, batch=min(64, n_images))
    x, _ = tiles(n_images, n_images // 2, design.image_size, seed=4)
    feats = extract(x[:4])  # warm-up: trace
    per_image = cpu_seconds(lambda: extract(x)) / n_images
    dim = feats.shape[1]
    n = design.n_benign + design.n_malignant + design.batches * design.batch_size
    rng = np.random.default_rng(5)
    fx = rng.normal(size=(n, dim)).astype(np.float32)
    fy = (rng.random(n) < 0.5).astype(np.int64)
    head = make_classifier(name, params)
    trainer = KerasTrainer(
        lambda: head.build((dim,)), params["learning_rate"], 1, params["batch_size"]
    )
    trainer.fit_predict(25, fx[:64], fy[:64], np.ones(64, np.float32), {})
    half = n // 2
    t_half = cpu_seconds(
        lambda: trainer.fit_predict(25, fx[:half], fy[:half], np.ones(half, np.float32), {})
    )
    t_full = cpu_seconds(
        lambda: trainer.fit_predict(
            25, fx, fy, np.ones(n, np.float32), {"eval": fx[: design.n_eval]}
        )
    )
    per_example = max(t_full - t_half, 1e-9) / (n - half)
    print(
        f"  {name}: {size} px input, {dim} features: {per_image * 1000:.0f} ms per image; "
        f"head, one epoch over {half} / {n} (+ scoring {design.n_eval}): {t_half:.1f} / {t_full:.1f} s",
        flush=True,
    )
    return {
        "per_image": per_image,
        "head_per_example_epoch": per_example,
        "head_fixed": max(0.0, t_full - per_example * n),
    }


def head_cost(t: dict[str, float], params: dict) -> Callable[[int], float]:
    """Seconds of one head fit on ``n`` cached feature vectors."""
    return lambda n: n * int(params["epochs"]) * t["head_per_example_epoch"] + t["head_fixed"]


def project_backbone(t: dict[str, float], params: dict, design: Design) -> tuple[float, float]:
    """(feature job seconds, classify job seconds)."""
    cost = head_cost(t, params)
    return design.backbone_images() * t["per_image"], sum(cost(n) for n, _ in design.fits())


def job_startup() -> dict[str, float]:
    """Wall seconds a classify job spends before its first fit: starting Python with the
    stage's imports (scikit-learn, or TensorFlow and Keras), measured in fresh processes, and
    decoding one PNG tile (per image it loads), measured here."""
    import numpy as np

    from isicgan.io import load_png_folder, save_png

    out = {}
    for family, code in (
        ("sklearn", "import pandas, sklearn.svm, sklearn.ensemble, scipy"),
        ("keras", "import pandas, sklearn.metrics, tensorflow, keras"),
    ):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        out[family] = time.perf_counter() - start
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        for i in range(64):
            save_png(Path(tmp) / f"t{i:03d}.png", rng.integers(0, 255, (140, 140, 3), np.uint8))
        start = time.perf_counter()
        load_png_folder(tmp)
        out["per_png"] = (time.perf_counter() - start) / 64
    return out


@dataclass
class Job:
    name: str
    seconds: float  # wall seconds on ``cores`` cores
    cores: int
    after: str = ""  # a job that must finish first (a head's feature job)


def makespan(jobs: list[Job], nodes: int, cores: int) -> float:
    """Wall seconds of ``jobs`` on ``nodes`` nodes of ``cores`` cores: list scheduling, longest
    job first, each on the node where it can finish first (a job needs its cores on one
    node; a head job starts after its feature job)."""
    free = [[0.0] * cores for _ in range(nodes)]  # when each core of each node is free
    done: dict[str, float] = {}
    order = sorted(jobs, key=lambda j: (bool(j.after), -j.seconds))
    for job in order:
        need = min(job.cores, cores)
        ready = done.get(job.after, 0.0)
        best = None
        for node in free:
            node.sort()
            start = max(ready, node[need - 1])
            if best is None or start < best[0]:
                best = (start, node)
        start, node = best
        for i in range(need):
            node[i] = start + job.seconds
        done[job.name] = start + job.seconds
    return max(done.values(), default=0.0)


def stage_jobs(
    costs: dict[str, dict], design: Design, split: str, threads: int, startup: dict[str, float]
) -> list[Job]:
    """Every job of the classify stage under ``split``; a job on ``threads`` cores runs
    ``threads`` times faster where the classifier uses threads (Random Forest, Keras) and no
    faster where it does not (the SVM's and logistic regression's solvers)."""
    jobs = []
    for name, c in costs.items():
        cores = threads if c["threaded"] else 1
        if c.get("features"):
            jobs.append(Job(f"{name}/features", (c["features"] + startup["keras"]) / cores, cores))
        for i, part in enumerate(design.parts(split)):
            fit = sum(c["cost"](n) for n, _ in part) / cores
            load = startup["per_png"] * design.backbone_images() if not c.get("features") else 0
            jobs.append(
                Job(
                    f"{name}/{i}",
                    fit + load + startup[c["family"]],
                    cores,
                    f"{name}/features" if c.get("features") else "",
                )
            )
    return jobs


def hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def print_cluster_table(costs: dict[str, dict], design: Design, args, params: dict) -> None:
    """The classify stage's wall time per ``classifiers.split`` on one node and on a cluster."""
    threads = args.job_threads or int(params.get("threads", 1))
    startup = job_startup()
    nodes, cores = args.nodes, args.cores_per_node
    print()
    print(
        f"Classify stage wall time by classifiers.split (as configured; jobs of Random Forest "
        f"and the Keras models on {threads} cores, assumed to scale perfectly; SVM and "
        f"logistic regression on 1; per job {startup['sklearn']:.1f} s (scikit-learn) / "
        f"{startup['keras']:.1f} s (TensorFlow) start-up and {startup['per_png'] * 1000:.1f} "
        f"ms per tile it decodes, measured here; list scheduling, longest job first):"
    )
    print()
    print(
        f"| split | jobs | longest job | 1 node x {cores} cores | {nodes} nodes x {cores} cores |"
    )
    print("|---|---:|---:|---:|---:|")
    for split in ("classifier", "phase", "phase_seed"):
        jobs = stage_jobs(costs, design, split, threads, startup)
        print(
            f"| {split} | {len(jobs)} | {hours(max(j.seconds for j in jobs))} | "
            f"{hours(makespan(jobs, 1, cores))} | {hours(makespan(jobs, nodes, cores))} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--classifiers", help="comma-separated (default: classifiers.names of the thesis config)"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="threads per fit (the classify rule uses 1)"
    )
    ap.add_argument(
        "--replicates", type=int, help="generator replicates (default: gan.replicates, else 3)"
    )
    ap.add_argument(
        "--extra-gans",
        default="ddpm",
        help="generator arms to add to the config's gans in a second projection ('' for none)",
    )
    ap.add_argument(
        "--fractions", default="0.125,0.25", help="subset fractions for the scikit-learn fits"
    )
    ap.add_argument("--cnn-images", type=int, default=128)
    ap.add_argument("--backbone-images", type=int, default=64)
    ap.add_argument("--nodes", type=int, default=20, help="cluster nodes of the projection")
    ap.add_argument("--cores-per-node", type=int, default=16, help="cores of each node")
    ap.add_argument(
        "--job-threads",
        type=int,
        help="threads of a classify job (default: classifiers.threads of the config)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 32 px, tiny subsets (the projection is then meaningless)",
    )
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(REPO))

    from isicgan.classify.models import configure_tensorflow

    extra = [g for g in args.extra_gans.split(",") if g]
    design, params = thesis_design([], args.replicates)
    design_extra, _ = thesis_design(extra, args.replicates)
    fractions = [float(f) for f in args.fractions.split(",")]
    names = (
        [c for c in args.classifiers.split(",") if c] if args.classifiers else list(params["names"])
    )
    if args.quick:
        params = {
            **params,
            "inception_v3": {**params["inception_v3"], "input_size": 75},
            "efficientnet_b5": {**params["efficientnet_b5"], "input_size": 32},
            "cnn": {**params["cnn"], "filters": [4, 4, 4], "dense": 8},
            "rf": {**params["rf"], "n_estimators": 5},
        }
        for d in (design, design_extra):
            d.image_size = 32
        fractions = [0.01, 0.02]
        args.cnn_images, args.backbone_images = 16, 4
    phase0 = f"1 + {len(design.real_fractions)} real fractions" + (
        f" + {len(design.gans)} GANs x {design.replicates} replicates synthetic-only"
        if design.synthetic_only
        else ""
    )
    print(
        f"design: {design.seeds} seeds x (phase 0: {phase0}; {design.batches} phases x "
        f"({len(design.controls)} control arms + {len(design.gans)} GANs x "
        f"{design.replicates} replicates)) = "
        f"{len(design.fits())} fits per classifier ({len(design_extra.fits())} with "
        f"{', '.join(extra) or 'nothing'} added); {design.image_size} px, real train "
        f"{design.n_benign}+{design.n_malignant}, {design.n_eval} val+test tiles scored per fit; "
        f"{args.threads} thread(s)",
        flush=True,
    )
    from isicgan.classify.classifiers import classifier_class
    from isicgan.classify.classifiers.base import KerasClassifier, SklearnClassifier

    if any(not issubclass(classifier_class(n), SklearnClassifier) for n in names):
        configure_tensorflow(args.threads)
    rows, costs = [], {}
    for name in names:
        p = params[name]
        family = classifier_class(name)
        threaded = name == "rf" or issubclass(family, KerasClassifier)
        if issubclass(family, SklearnClassifier):
            t = time_sklearn(name, p, design, fractions, args.threads)
            costs[name] = {"cost": sklearn_cost(t), "family": "sklearn"}
            one = (
                f"{t['last']:.0f} s at {t['n_last']} tiles (n^{t['last_exponent']:.2f}), "
                f"{t['phase0']:.0f} s at {t['n_phase0']}"
            )
            stage = [project_sklearn(t, d) for d in (design, design_extra)]
        elif issubclass(family, KerasClassifier) and not family.uses_features:
            t = time_keras(name, p, design, args.cnn_images)
            costs[name] = {"cost": keras_cost(t, p, design), "family": "keras"}
            n_last = design.n_benign + design.n_malignant + design.batches * design.batch_size
            seconds = (
                n_last * int(p["epochs"]) * t["train_per_image_epoch"]
                + design.n_eval * t["score_per_image"]
                + t["setup"]
            )
            one = f"{seconds:.0f} s at {n_last} tiles x {p['epochs']} epochs"
            stage = [project_keras(t, p, d) for d in (design, design_extra)]
        else:
            t = time_backbone(name, p, design, args.backbone_images)
            feats = [project_backbone(t, p, d) for d in (design, design_extra)]
            costs[name] = {"cost": head_cost(t, p), "family": "keras", "features": feats[0][0]}
            n_last = design.n_benign + design.n_malignant + design.batches * design.batch_size
            head_fit = n_last * int(p["epochs"]) * t["head_per_example_epoch"] + t["head_fixed"]
            one = (
                f"features {t['per_image'] * 1000:.0f} ms/image x {design.backbone_images()} images "
                f"= {hours(feats[0][0])} once; head {head_fit:.0f} s at {n_last} x {p['epochs']} epochs"
            )
            stage = [sum(f) for f in feats]
        costs[name]["threaded"] = threaded
        rows.append((name, one, stage[0], stage[1]))
    extra_label = f"+ {', '.join(extra)}" if extra else "(same)"
    print()
    print(
        f"| classifier | one fit at thesis shape (this machine, {args.threads} thread) | "
        f"stage, as configured ({len(design.fits())} fits) | stage {extra_label} ({len(design_extra.fits())} fits) |"
    )
    print("|---|---|---:|---:|")
    for name, one, a, b in rows:
        flag = " **> 1 h**" if a > 3600 else ""
        print(f"| {name} | {one} | {hours(a)}{flag} | {hours(b)} |")
    tot = [sum(r[2] for r in rows), sum(r[3] for r in rows)]
    longest = [max(r[2] for r in rows), max(r[3] for r in rows)]
    print(f"| all, one job after another | | {hours(tot[0])} | {hours(tot[1])} |")
    print(f"| longest job (jobs side by side) | | {hours(longest[0])} | {hours(longest[1])} |")
    print_cluster_table(costs, design, args, params)
    if args.quick:
        print("(--quick: tiny sizes, the figures above are not the thesis projection)")


if __name__ == "__main__":
    main()
