"""Adapter: arms, thesis tables 6.1-6.6, contrasts with the primary verdicts, the comparison,
worth in real tiles with its two figures."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.analysis.tables import TablesSpec, write_tables  # noqa: E402

inp, out = snakemake.input, snakemake.output
write_tables(
    {
        "runs": list(inp.runs),
        "predictions": list(inp.predictions),
        "thesis": inp.thesis,
        "manifest": inp.manifest,
    },
    TablesSpec.from_dict(snakemake.params.spec),
    {
        "arms": out.arms,
        "baseline": out.baseline,
        "phases": list(out.phases),
        "comparison": out.comparison,
        "contrasts": out.contrasts,
        "summary": out.summary,
        "worth": out.worth,
        "learning_curve": out.learning_curve,
        "worth_figure": out.worth_figure,
    },
)
