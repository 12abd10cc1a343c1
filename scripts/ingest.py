"""Rule ingest: raw Kaggle layout -> manifest, counts table and class folders."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.ingest import SPLITS, ingest

ingest(metadata=snakemake.input.metadata, images=snakemake.input.images,
       manifest_path=snakemake.output.manifest, counts_path=snakemake.output.counts,
       split_dirs={split: snakemake.output[split] for split in SPLITS},
       data_config=snakemake.params.data, threads=snakemake.threads)
