"""Rule synthesize: batch k of a GAN, gated on FID, with its quality JSON and figure."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

import torch

from isicgan.quality.evaluate import load_references
from isicgan.synthesis import synthesize_batch

torch.set_num_threads(snakemake.threads)
inp = snakemake.input
references = {p.split("/")[-1].split("_")[0]: p for p in inp.references}
refs = load_references(
    encoder_path=inp.encoder, indomain_train=references["indomain"], real_json=inp.real,
    train_dir=inp.train, val_dir=inp.val,
    inception_path=inp.inception[0] if inp.inception else None,
    inception_train=references.get("inception"))
synthesize_batch(
    gan=snakemake.wildcards.gan, replicate=int(snakemake.wildcards.rep),
    checkpoint=inp.checkpoint, k=int(snakemake.wildcards.k),
    synthesis=snakemake.params.synthesis, quality=snakemake.params.quality, refs=refs,
    out_dir=snakemake.output.batch, out_json=snakemake.output.quality,
    out_figure=snakemake.output.figure, source_dir=inp.get("source"), device="cpu")
