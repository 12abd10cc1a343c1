"""Adapter: the classify figures (contrasts, trends, arms, ROC curves, confusion matrices)."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.classify.figures import FIGURES, write_figures  # noqa: E402

out = snakemake.output
write_figures(
    snakemake.input.arms,
    list(snakemake.input.predictions),
    snakemake.input.contrasts,
    generator=snakemake.params.generator,
    threshold=snakemake.params.threshold,
    outs={k: getattr(out, k) for k in FIGURES},
)
