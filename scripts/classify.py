"""Adapter: one classifier over every phase x arm x seed -> runs.csv + predictions.csv.gz."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot  # noqa: E402

# claim a free local card before TensorFlow starts (no-op under SLURM or without a GPU)
with gpu_slot(snakemake.resources.get("gpu", 0)):
    from isicgan.classify.study import run_classifier  # noqa: E402

    p = snakemake.params.study
    inputs = snakemake.input
    features = (inputs.features, inputs.index) if "features" in inputs.keys() else None
    run_classifier(
        snakemake.wildcards.clf,
        p["settings"],
        manifest=inputs.get("manifest"),
        synthetic_files=list(inputs.get("synthetic", [])),
        gans=p["gans"],
        replicates=p["replicates"],
        arms=p["arms"],
        batches=p["batches"],
        batch_size=p["batch_size"],
        seeds=p["seeds"],
        evaluation={"threshold": p["threshold"], "pauc_min_tpr": p["pauc_min_tpr"]},
        runs_out=snakemake.output.runs,
        predictions_out=snakemake.output.predictions,
        features=features,
        threads=snakemake.threads,
    )
