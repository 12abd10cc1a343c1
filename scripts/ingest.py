"""Rule ingest: raw Kaggle layout -> manifest, counts, institutions, class folders, figure."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.data import IngestSpec
from isicgan.data.stage import IngestOutputs, ingest

spec = IngestSpec.from_dict(snakemake.params.spec)
outputs = IngestOutputs(
    manifest=snakemake.output.manifest,
    counts=snakemake.output.counts,
    institutions=snakemake.output.institutions,
    split_dirs={split: snakemake.output[split] for split in spec.splits},
    figure=snakemake.output.figure,
)
ingest(snakemake.input.metadata, snakemake.input.images, outputs, spec, threads=snakemake.threads)
