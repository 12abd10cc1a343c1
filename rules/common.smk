# Helpers shared by the stage files (input functions) and the target lists of the all target.
# Functions live here only: snakemake --lint wants rule files free of them.

import os
import re
from dataclasses import asdict
from functools import lru_cache

from isicgan.data import IngestSpec, locate_raw, splits_of
from isicgan.specs import GanRun, SynthesisSpec

#: the splits of this run: train, val, test, source, and external with data.external_test
SPLITS = splits_of(config["data"])


#: wildcard -> the model family whose module a job imports by name at run time
MODEL_WILDCARDS = {"gan": "generators", "clf": "classifiers", "backbone": "classifiers"}


@lru_cache(maxsize=None)
def _code_digest(script, extra_modules):
    from isicgan.provenance import code_digest as digest

    return digest(f"{workflow.basedir}/scripts/{script}", workflow.basedir, extra_modules)


def code_digest(script, model_wildcard=None):
    """The param `code` of a rule: a digest of the isicgan modules its script runs.

    Snakemake reruns a job whose params changed, so editing a package module reruns exactly
    the rules whose scripts reach it (isicgan/provenance.py); a rule with a model wildcard
    also covers that model's module, which is imported by name. Comments and docstrings do
    not count.
    """
    if model_wildcard is None:
        return _code_digest(script, ())

    def digest(wildcards):
        family = MODEL_WILDCARDS[model_wildcard]
        model_module = registry.spec(family, wildcards[model_wildcard]).module
        return _code_digest(script, (model_module,))

    return digest


def batch_numbers():
    """1..synthesis.batches: the phases that add synthetic batches."""
    return list(range(1, config["synthesis"]["batches"] + 1))


def raw_dir():
    """Where ingest reads the Kaggle layout: the generated demo set or data.raw_dir."""
    if config["data"]["source"] == "demo":
        return "resources/demo"
    return config["data"]["raw_dir"]


def ingest_input(wildcards):
    """The metadata CSV and image store ingest reads (HDF5 first); a clear error when absent."""
    if config["data"]["source"] == "demo":
        return {
            "metadata": f"{raw_dir()}/train-metadata.csv",
            "images": f"{raw_dir()}/train-image.hdf5",
        }
    return locate_raw(raw_dir())


def ingest_spec():
    """The ingest rule's settings (isicgan.data.IngestSpec) as a plain dict param."""
    return asdict(IngestSpec.from_config(config["data"]))


def weight_input(name):
    """The configured weight file as a list (a DAG input), or [] when null.

    A file already there (fetched, or placed by hand offline) is checked against its
    checksums now, so a wrong or damaged weight stops the run before any job starts;
    a missing one is made by the fetch_weights rule. Cheap after the first check.
    """
    path = config["weights"][name]
    if path and os.path.isfile(path):
        from isicgan.weights import REGISTRY, verify

        verify(path, REGISTRY[name])
    return [path] if path else []


def weight_targets():
    """Every configured weight file: `snakemake weights` fetches them all once."""
    return [path for path in config["weights"].values() if path]


def weight_file_pattern():
    """The weight file names the fetch_weights rule knows how to download."""
    from isicgan.weights import FILENAMES

    return "|".join(re.escape(name) for name in sorted(FILENAMES))


def data_targets():
    """Manifest, counts and institutions tables, the class-folder directories of every
    split, and the figure of tiles per institution."""
    return [
        "results/data/manifest.csv",
        "results/data/counts.csv",
        "results/data/institutions.csv",
        "results/figures/data/institutions.png",
    ] + expand("results/data/{split}", split=SPLITS)


def replicates():
    """1..gan.replicates: the independent training runs of every generator."""
    return list(range(1, config["gan"]["replicates"] + 1))


def train_gan_priority(wildcards):
    """Start order of the generator trainings when cores are few: earlier in ``gans``, sooner
    (list the costliest first). Every training ranks below every synthesize job
    (:func:`synthesize_priority`); on a cluster, where every job starts at once, it is moot."""
    return len(config["gans"]) - config["gans"].index(wildcards.gan)


def synthesize_priority(wildcards):
    """A finished generator's batches before any further training: they are short, and the
    classify stage waits for all of them, so none is left to run alone at the end."""
    return len(config["gans"]) + 1


def gan_targets():
    return expand(
        [
            "results/gan/{gan}/rep{rep}/final.pt",
            "results/gan/{gan}/rep{rep}/history.csv",
            "results/figures/gan/{gan}_rep{rep}_losses.png",
            "results/figures/gan/{gan}_rep{rep}_samples",
        ],
        gan=config["gans"],
        rep=replicates(),
    )


def gan_run(wildcards):
    """The settings of one generator replicate (isicgan.specs.GanRun, as a plain dict): its
    config section with replicate r's seed (seed + 1000 (r - 1)), the image size, the device
    and the quality keys of the per-epoch evaluation.

    A changed setting reruns only that generator; adding replicates reruns no existing one.
    """
    run = GanRun.of(
        config,
        wildcards.gan,
        int(wildcards.rep),
        checkpoint_dir=f"results/gan/{wildcards.gan}/rep{wildcards.rep}/checkpoints",
    )
    return asdict(run)


def train_gan_input(wildcards):
    """The train split, the quality-over-training references, and one named input
    ``weight_<key>`` per weight file the generator declares in ``optional_weights`` and its
    settings switch on (WGAN-GP: weights.vgg19 when perceptual_weight > 0). With the weight
    null, torchvision downloads it inside the job (online only; the job log says so)."""
    settings = config["gan"][wildcards.gan]
    inputs = {
        "train": "results/data/train",
        "val": "results/data/val",
        "encoder": "results/quality/encoder.pt",
        "classifier": "results/quality/reference_classifier.json",
    }
    for key, setting in GENERATORS[wildcards.gan]["optional_weights"].items():
        if settings.get(setting, 0) > 0:
            inputs.update({f"weight_{key}": path for path in weight_input(key)})
    return inputs


def synthetic_batches(pattern="results/synthetic/{gan}/rep{rep}/batch{k}"):
    """Every synthetic batch (folder, or with a suffix its JSON): generators x replicates x k."""
    return expand(pattern, gan=config["gans"], rep=replicates(), k=batch_numbers())


def synthesis_targets():
    return synthetic_batches("results/synthetic/{gan}/rep{rep}/batch{k}.json")


def quality_targets():
    return [
        "results/tables/synthesis_quality.csv",
        "results/figures/quality/quality_across_batches.png",
    ] + synthetic_batches("results/figures/quality/{gan}_rep{rep}_batch{k}.png")


def inception_configured():
    """True when weights.fid_inception names a file: Inception FID/KID are then computed."""
    return bool(config["weights"]["fid_inception"])


def quality_spaces():
    """Feature spaces with cached real reference features: in-domain, plus Inception if set."""
    return ["indomain", "inception"] if inception_configured() else ["indomain"]


def quality_reference_files():
    """The cached real malignant feature files: results/quality/reference/{space}_{split}.npz."""
    return expand(
        "results/quality/reference/{space}_{split}.npz",
        space=quality_spaces(),
        split=["train", "val"],
    )


def quality_reference_input(wildcards):
    """Real train/val tiles and the networks of every feature space (never the test split)."""
    return {
        "train": "results/data/train",
        "val": "results/data/val",
        "encoder": "results/quality/encoder.pt",
        "inception": weight_input("fid_inception"),
    }


def synthesize_input(wildcards):
    """What batch k of a GAN is made from and measured against (never the test split)."""
    inputs = {
        "checkpoint": f"results/gan/{wildcards.gan}/rep{wildcards.rep}/final.pt",
        "train": "results/data/train",
        "val": "results/data/val",
        "encoder": "results/quality/encoder.pt",
        "real": "results/quality/reference/real.json",
        "classifier": "results/quality/reference_classifier.json",
        "inception": weight_input("fid_inception"),
    }
    for space in quality_spaces():
        inputs[f"reference_{space}"] = [
            f"results/quality/reference/{space}_{split}.npz" for split in ("train", "val")
        ]
    if GENERATORS[wildcards.gan]["translates"]:
        inputs["source"] = "results/data/source"
    return inputs


def encoder_params():
    """The encoder's own settings: another quality key leaves the encoder (and so the GANs,
    which are evaluated in its feature space) alone."""
    return {k: config["quality"][k] for k in ("encoder_epochs", "encoder_dim")}


def synthesis_spec(wildcards):
    """The settings of one generator replicate's synthesis (isicgan.specs.SynthesisSpec,
    as a plain dict): the synthesis keys (not `generator`, which picks the phases' GAN) and
    the quality section."""
    return asdict(SynthesisSpec.of(config, wildcards.gan, int(wildcards.rep)))


def quality_json_inputs():
    return synthesis_targets()


def synthetic_batch_dirs():
    """Every synthetic batch folder a classifier may train on: generators x replicates x k."""
    return synthetic_batches()


def classify_priority(wildcards):
    """Start order of the classify jobs when cores are few: later in ``classifiers.names``,
    sooner (the thesis lists them from the cheapest to fit, logistic regression, to the
    costliest, the networks), so the long jobs do not start last. Below every
    ``backbone_features`` job (:func:`backbone_features_priority`)."""
    names = config["classifiers"]["names"]
    return 1 + names.index(wildcards.clf)


def backbone_features_priority(wildcards):
    """A backbone's features first: two head jobs wait for them."""
    return 2 + len(config["classifiers"]["names"])


def backbone_weight_input(wildcards):
    """The Keras ImageNet weight file of a backbone as a DAG input, or [] for random init."""
    return weight_input(CLASSIFIERS[wildcards.backbone]["weights"]["key"])


def backbone_params(wildcards):
    """What a backbone's features depend on (not its head's settings: those stay in classify)."""
    weights = config["weights"][CLASSIFIERS[wildcards.backbone]["weights"]["key"]]
    settings = config["classifiers"][wildcards.backbone]
    return {
        "backbone": wildcards.backbone,
        "input_size": settings["input_size"],
        "weights": weights,
        "seeds": config["seeds"],
        "n_augment": config["synthesis"]["batches"] * config["synthesis"]["batch_size"],
        "init_seed": settings["init_seed"],
    }


def classify_input(wildcards):
    """Pixel classifiers read the images; backbone heads read their cached features."""
    if wildcards.clf in BACKBONES:
        return {
            "features": f"results/features/{wildcards.clf}/features.npy",
            "index": f"results/features/{wildcards.clf}/index.csv",
        }
    return {
        "manifest": "results/data/manifest.csv",
        "data": expand("results/data/{split}", split=classify_splits()),
        "synthetic": classify_batches(wildcards),
    }


def classify_batches(wildcards):
    """The synthetic batch folders a classify job trains on: all of them, or for a job of
    phase k batches 1..k (phase 0: those of the synthetic-only arms, if on), so a changed
    batch reruns only the phases that use it."""
    if "part" not in wildcards.keys():
        return synthetic_batch_dirs()
    phase = int(re.match(r"phase(\d+)", wildcards.part).group(1))
    if phase == 0:
        return synthetic_batch_dirs() if config["arms_synthetic_only"] else []
    return expand(
        "results/synthetic/{gan}/rep{rep}/batch{k}",
        gan=config["gans"],
        rep=replicates(),
        k=range(1, phase + 1),
    )


def classify_splits():
    """The class-folder splits a classifier reads: train, val, test, and external if set."""
    external = ["external"] if config["data"].get("external_test") else []
    return ["train", "val", "test"] + external


def classify_parts():
    """The parts of one classifier's design under classifiers.split, one classify job each:
    [] (one job, no parts: `classifier`), phase{k} (`phase`) or phase{k}_seed{s}
    (`phase_seed`), in the order classify_gather concatenates them."""
    split = config["classifiers"]["split"]
    phases = range(config["synthesis"]["batches"] + 1)
    if split == "phase":
        return [f"phase{k}" for k in phases]
    if split == "phase_seed":
        return [f"phase{k}_seed{s}" for k in phases for s in config["seeds"]]
    return []


def classify_job_path(name):
    """Output or log path of a classify job: the classifier's own file (split: classifier) or
    its part's file, which classify_gather concatenates into the classifier's file."""
    if config["classifiers"]["split"] == "classifier":
        if name.startswith("logs/") or name.startswith("benchmarks/"):
            return f"{name}/{{clf}}"
        return f"results/classifiers/{{clf}}/{name}"
    if name.startswith("logs/") or name.startswith("benchmarks/"):
        return f"{name}/{{clf}}_{{part}}"
    return f"results/classifiers/{{clf}}/parts/{{part}}/{name}"


def classify_gather_input(wildcards):
    """The part files of one classifier, in phase (then seed) order."""
    return {
        name: expand(
            "results/classifiers/{clf}/parts/{part}/{name}",
            clf=wildcards.clf,
            part=classify_parts(),
            name=file,
        )
        for name, file in (("runs", "runs.csv"), ("predictions", "predictions.csv.gz"))
    }


def classify_params(wildcards):
    """The ClassifyDesign of a classify job, as a dict (isicgan/classify/study.py rebuilds it):
    one classifier's settings plus the shared design, so a change reruns that classifier only;
    a job of a split stage also names its phase (and seed)."""
    part = {}
    if "part" in wildcards.keys():
        m = re.fullmatch(r"phase(\d+)(?:_seed(-?\d+))?", wildcards.part)
        part["phases"] = [int(m.group(1))]
        if m.group(2) is not None:
            part["seeds_only"] = [int(m.group(2))]
    design = {
        **part,
        "classifier": wildcards.clf,
        "settings": config["classifiers"][wildcards.clf],
        "gans": config["gans"],
        "arms": config["arms"],
        "replicates": config["gan"]["replicates"],
        "batches": config["synthesis"]["batches"],
        "batch_size": config["synthesis"]["batch_size"],
        "seeds": config["seeds"],
        "threshold": config["evaluation"]["threshold"],
        "pauc_min_tpr": config["evaluation"]["pauc_min_tpr"],
        "real_fractions": config["arms_real_fractions"],
        "synthetic_only": config["arms_synthetic_only"],
    }
    # a part job gets only the settings of its phase: a phase-0 arm setting leaves the jobs
    # of phases 1.. alone, a control-arm setting the jobs of phase 0
    if part.get("phases") == [0]:
        del design["arms"]
    elif part:
        del design["real_fractions"], design["synthetic_only"]
    return design


def classifier_runs():
    return expand("results/classifiers/{clf}/runs.csv", clf=config["classifiers"]["names"])


def classifier_predictions():
    return expand(
        "results/classifiers/{clf}/predictions.csv.gz", clf=config["classifiers"]["names"]
    )


def thesis_tables_file():
    """The thesis's published table values, shipped with the workflow (any working directory)."""
    return f"{workflow.basedir}/resources/thesis_tables.csv"


def code_version():
    """git describe of the workflow's checkout (or 'unknown' outside git)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=workflow.basedir,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def classify_targets():
    return classifier_runs() + classifier_predictions()


def placebo_generators():
    """Generators whose registry spec says ``placebo`` (a generator named placebo until the
    registry carries the attribute): a known null, kept apart from "the generators"."""
    out = []
    for name in config["gans"]:
        try:
            flag = registry.spec("generators", name).attrs.get("placebo")
        except (KeyError, ValueError):
            flag = None
        if flag or (flag is None and name == "placebo"):
            out.append(name)
    return out


def tables_spec():
    """The classify_tables settings (isicgan.analysis.tables.TablesSpec) as a plain dict."""
    evaluation = config["evaluation"]
    return {
        "generator": config["synthesis"]["generator"],
        "names": config["classifiers"]["names"],
        "gans": config["gans"],
        "controls": config["arms"],
        "placebos": placebo_generators(),
        "batches": config["synthesis"]["batches"],
        "n_boot": evaluation["bootstrap"],
        "seed": config["seeds"][0],
        "threshold": evaluation["threshold"],
        "pauc_min_tpr": evaluation["pauc_min_tpr"],
        "primary": evaluation["primary"],
        "worth": worth_spec(),
    }


def worth_spec():
    """The worth settings (isicgan.analysis.worth.WorthSpec) as a plain dict: the learning
    curve is real_{round(100 f)} for f in arms_real_fractions, then baseline, at phase 0."""
    worth = config["evaluation"].get("worth", {})
    fractions = sorted(config.get("arms_real_fractions", []))
    return {
        "metrics": config["evaluation"]["primary"]["metrics"],
        "curve_arms": [f"real_{round(100 * f)}" for f in fractions] + ["baseline"],
        "curve_phase": 0,
        "cap_multiple": worth.get("cap_multiple", 10),
        "ci_level": worth.get("ci_level", 0.95),
    }


def figures_spec():
    """The classify_figures settings (isicgan.analysis.figures.FiguresSpec) as a plain dict."""
    return {
        "generator": config["synthesis"]["generator"],
        "threshold": config["evaluation"]["threshold"],
    }


CLASSIFY_FIGURES = ["contrasts", "metrics_by_phase", "arms", "roc_curves", "confusion_matrices"]
WORTH_FIGURES = ["learning_curve", "worth"]  # drawn by classify_tables (they need the resamples)


def report_targets():
    return (
        ["results/tables/baseline.csv"]
        + expand("results/tables/phase{k}.csv", k=batch_numbers())
        + ["results/tables/arms.csv", "results/tables/thesis_comparison.csv"]
        + ["results/tables/contrasts.csv", "results/tables/worth.csv"]
        + expand("results/figures/classify/{name}.png", name=CLASSIFY_FIGURES + WORTH_FIGURES)
        + ["results/report/run_info.html"]
    )


def all_targets():
    """Every final product of the study, stage by stage."""
    return (
        data_targets()
        + gan_targets()
        + synthesis_targets()
        + quality_targets()
        + classify_targets()
        + report_targets()
    )
