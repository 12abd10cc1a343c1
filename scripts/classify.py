"""Adapter: one classifier over its part of the design -> runs.csv + predictions.csv.gz."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot  # noqa: E402

# claim a free local card before TensorFlow starts (no-op under SLURM or without a GPU)
with gpu_slot(snakemake.resources.get("gpu", 0)):
    import dataclasses  # noqa: E402

    from isicgan.classify.study import ClassifyDesign, ClassifyOutputs, run_classifier  # noqa: E402

    spec = ClassifyDesign.from_dict(snakemake.params.design)
    run_classifier(
        {k: v for k, v in snakemake.input.items()},
        dataclasses.replace(spec, threads=snakemake.threads),
        ClassifyOutputs(snakemake.output.runs, snakemake.output.predictions),
    )
