"""Rule reference_classifier: logistic head on in-domain features, fitted on the real val
tiles (threshold by cross-validation grouped by patient), scoring the real train tiles for the
out-of-sample reference figures of class fidelity."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

import torch

from isicgan.quality.classifier import write_reference_classifier

torch.set_num_threads(snakemake.threads)
write_reference_classifier(
    fit_dir=snakemake.input.fit,
    scored_dir=snakemake.input.scored,
    manifest=snakemake.input.manifest,
    encoder_path=snakemake.input.encoder,
    out_path=snakemake.output[0],
    C=snakemake.params.C,
)
