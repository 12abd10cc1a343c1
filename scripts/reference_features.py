"""Rule quality_reference: real malignant train/val features in each space (cached once) and
the real-vs-real reference values computed from them."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

import torch

from isicgan.quality.evaluate import write_references

torch.set_num_threads(snakemake.threads)
inception = snakemake.input.inception
write_references(
    split_dirs=(snakemake.input.train, snakemake.input.val),
    encoder_path=snakemake.input.encoder,
    inception_path=inception[0] if inception else None,
    feature_paths=list(snakemake.output.features),
    real_path=snakemake.output.real,
    quality=snakemake.params.quality,
    seed=snakemake.params.seed,
)
