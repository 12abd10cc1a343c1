"""Rule train_encoder: the in-domain feature encoder, from the real train split only."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

import torch

from isicgan.quality.encoder import train_encoder
from isicgan.quality.evaluate import load_split_tiles

torch.set_num_threads(snakemake.threads)
quality = snakemake.params.quality
train_encoder(
    load_split_tiles(snakemake.input.train),
    snakemake.output[0],
    dim=quality["encoder_dim"],
    epochs=quality["encoder_epochs"],
    seed=snakemake.params.seed,
)
