"""Rule reference_classifier: logistic head on in-domain features, fitted on the real train
tiles, threshold chosen on val (class fidelity of synthetic batches)."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

import torch

from isicgan.quality.classifier import write_reference_classifier

torch.set_num_threads(snakemake.threads)
write_reference_classifier(
    train_dir=snakemake.input.train, val_dir=snakemake.input.val,
    encoder_path=snakemake.input.encoder, out_path=snakemake.output[0], C=snakemake.params.C)
