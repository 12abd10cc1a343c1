"""Rules reference_features (real malignant features of one split in one space, cached once)
and real_reference (real-vs-real values from those cached features)."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from pathlib import Path

import torch

torch.set_num_threads(snakemake.threads)

if snakemake.rule == "reference_features":
    from isicgan.quality.features import write_reference

    write_reference(Path(snakemake.input.split) / "1", snakemake.wildcards.space,
                    snakemake.input.model, snakemake.output[0])
else:
    from isicgan.quality.evaluate import write_real_reference

    feats = {Path(p).stem: p for p in snakemake.input.features}
    inception = snakemake.input.inception
    write_real_reference(
        snakemake.input.train, (feats["indomain_train"], feats["indomain_val"]),
        snakemake.output[0], snakemake.params.quality, snakemake.params.seed,
        inception=(feats["inception_train"], feats["inception_val"]) if inception else None,
        inception_path=inception[0] if inception else None)
