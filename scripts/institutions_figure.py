"""Rule institutions_figure: a few ingested tiles of every institution, the external one marked."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from pathlib import Path

from isicgan.data.figures import plot_institutions

plot_institutions(snakemake.input.institutions, Path(snakemake.input.institutions).parent,
                  snakemake.output[0], external=snakemake.params.external)
