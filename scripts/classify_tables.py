"""Adapter: arms, thesis tables 6.1-6.6 and the thesis comparison from the classifier runs."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.classify.tables import write_tables  # noqa: E402

p = snakemake.params
write_tables(
    list(snakemake.input.runs),
    list(snakemake.input.predictions),
    snakemake.input.thesis,
    generator=p.generator,
    names=p.names,
    batches=p.batches,
    n_boot=p.evaluation["bootstrap"],
    seed=p.bootstrap_seed,
    threshold=p.evaluation["threshold"],
    arms_out=snakemake.output.arms,
    baseline_out=snakemake.output.baseline,
    phase_outs=list(snakemake.output.phases),
    comparison_out=snakemake.output.comparison,
)
