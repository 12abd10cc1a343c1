"""Adapter: the run's config, code version and package versions as an HTML page for the report."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.analysis.run_info import write_run_info  # noqa: E402

write_run_info(snakemake.output[0], dict(snakemake.params.config), snakemake.params.code_version)
