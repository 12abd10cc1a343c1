"""Adapter: frozen-backbone features of every image the classifier study uses."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot  # noqa: E402

# claim a free local card before TensorFlow starts (no-op under SLURM or without a GPU)
with gpu_slot(snakemake.resources.get("gpu", 0)):
    import dataclasses  # noqa: E402

    from isicgan.classify.backbones import FeatureSpec, compute_features  # noqa: E402

    spec = FeatureSpec.from_dict(snakemake.params.backbone)
    compute_features(
        {"manifest": snakemake.input.manifest, "synthetic": list(snakemake.input.synthetic)},
        dataclasses.replace(spec, threads=snakemake.threads),
        {"features": snakemake.output.features, "index": snakemake.output.index},
    )
