"""Adapter: arms, thesis tables 6.1-6.6, paired contrasts and the thesis comparison."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.classify.tables import write_tables  # noqa: E402

p = snakemake.params
write_tables(
    list(snakemake.input.runs),
    list(snakemake.input.predictions),
    snakemake.input.thesis,
    snakemake.input.manifest,
    generator=p.generator,
    names=p.names,
    gans=p.gans,
    controls=p.controls,
    batches=p.batches,
    n_boot=p.evaluation["bootstrap"],
    seed=p.bootstrap_seed,
    threshold=p.evaluation["threshold"],
    pauc_min_tpr=p.evaluation["pauc_min_tpr"],
    arms_out=snakemake.output.arms,
    baseline_out=snakemake.output.baseline,
    phase_outs=list(snakemake.output.phases),
    comparison_out=snakemake.output.comparison,
    contrasts_out=snakemake.output.contrasts,
    summary_out=snakemake.output.summary,
)
