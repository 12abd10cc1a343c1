"""Rule quality_table: every batch's quality in one table, and the across-batches figure."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.quality.table import write_quality_table

write_quality_table(
    list(snakemake.input.batches),
    snakemake.output.table,
    snakemake.output.figure,
    list(snakemake.input.runs),
)
