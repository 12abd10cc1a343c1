"""Adapter: the classify figures (primary verdicts, trends, arms, ROC, confusion matrices)."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.analysis.figures import FIGURES, FiguresSpec, write_figures  # noqa: E402

inp, out = snakemake.input, snakemake.output
write_figures(
    {"arms": inp.arms, "predictions": list(inp.predictions), "contrasts": inp.contrasts},
    FiguresSpec.from_dict(snakemake.params.spec),
    {k: getattr(out, k) for k in FIGURES},
)
