"""Rule synthesize: batches 1..synthesis.batches of one generator replicate, each gated on FID,
with its quality JSON and figure."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

import torch

from isicgan.quality.evaluate import load_references
from isicgan.specs import SynthesisSpec
from isicgan.synthesis import BatchOutputs, synthesize_replicate

torch.set_num_threads(snakemake.threads)
inp, out = snakemake.input, snakemake.output
spec = SynthesisSpec.from_dict(snakemake.params.spec)
# the real malignant reference features, one named input per space: reference_<space> = [train, val]
features = {
    name.removeprefix("reference_"): tuple(paths)
    for name, paths in inp.items()
    if name.startswith("reference_")
}
refs = load_references(
    encoder_path=inp.encoder,
    features=features,
    real_json=inp.real,
    train_dir=inp.train,
    val_dir=inp.val,
    classifier_path=inp.classifier,
    inception_path=inp.inception[0] if inp.inception else None,
)
synthesize_replicate(
    spec,
    inp.checkpoint,
    refs,
    [BatchOutputs(*paths) for paths in zip(out.batches, out.quality, out.figures)],
    source_dir=inp.get("source"),
)
