"""Adapter: frozen-backbone features of every image the classifier study uses."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot  # noqa: E402

# claim a free local card before TensorFlow starts (no-op under SLURM or without a GPU)
with gpu_slot(snakemake.resources.get("gpu", 0)):
    from isicgan.classify.backbones import compute_features  # noqa: E402

    p = snakemake.params.backbone
    compute_features(
        snakemake.wildcards.backbone,
        manifest=snakemake.input.manifest,
        synthetic_files=list(snakemake.input.synthetic),
        seeds=p["seeds"],
        n_augment=p["n_augment"],
        input_size=p["input_size"],
        weights=p["weights"],
        out_features=snakemake.output.features,
        out_index=snakemake.output.index,
        threads=snakemake.threads,
    )
