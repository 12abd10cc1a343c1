"""Adapter: a split classify stage's part files -> the classifier's runs.csv, predictions."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.classify.study import ClassifyOutputs, gather_parts  # noqa: E402

gather_parts(
    list(snakemake.input.runs),
    list(snakemake.input.predictions),
    ClassifyOutputs(snakemake.output.runs, snakemake.output.predictions),
)
