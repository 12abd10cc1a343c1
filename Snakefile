"""GAN data augmentation for skin-cancer classification on ISIC 2024.

Reads top to bottom as the study:
  data       raw Kaggle files (or the synthetic demo set) -> manifest + class folders
  weights    pretrained networks, fetched once or placed by hand
  gan        CycleGAN / WGAN-GP / DCGAN checkpoints, histories, sample grids
  synthesis  fixed batches of synthetic malignant tiles and their quality
  classify   six classifiers x phases x control arms x seeds
  report     thesis tables 6.1-6.6, arms table, figures
"""

import sys

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


# The package with the real code: importable here from the repository root and,
# in every job (per-rule conda envs and cluster nodes included), through the
# scripts/isicgan symlink, since Snakemake puts a script's own folder on sys.path.
sys.path.insert(0, workflow.basedir)

from isicgan import registry
from isicgan.config import validate_config

validate_config(config)

# Generators and classifiers are found by looking (one module each, isicgan/registry.py):
# no list of their names is written here or anywhere else in the workflow.
GENERATORS = registry.specs("generators")
CLASSIFIERS = registry.specs("classifiers")
BACKBONES = [name for name, spec in CLASSIFIERS.items() if spec["uses_features"]]


wildcard_constraints:
    gan="|".join(config["gans"]),
    k=r"[1-9][0-9]*",
    rep=r"[1-9][0-9]*",
    split="train|val|test|source",
    clf="|".join(config["classifiers"]["names"]),
    backbone="|".join(BACKBONES),


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/weights.smk"
include: "rules/gan.smk"
include: "rules/synthesis.smk"
include: "rules/quality.smk"
include: "rules/classify.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
