# Stage: report. The headline: the primary verdicts (every generator minus each reference arm,
# evaluation.primary) and every exploratory contrast (isicgan/analysis, docs/statistics.md);
# thesis tables 6.1-6.6 (baseline.csv, phase{k}.csv), the arms table, the thesis comparison,
# the classify figures, worth in real tiles (worth.csv, the learning curve and worth figures,
# docs/worth.md) and the run information, all in `snakemake --report`.
# One job makes every table from one bootstrap pass of test patients (patient ids from the
# manifest) and a replicate/seed stage per configuration; the figures read its tables. The report lists categories alphabetically, so the
# headline's category starts with "1.".


rule classify_tables:
    input:
        runs=classifier_runs(),
        predictions=classifier_predictions(),
        thesis=thesis_tables_file(),
        manifest="results/data/manifest.csv",
    output:
        contrasts=report(
            "results/tables/contrasts.csv",
            caption="../report/contrasts_table.rst",
            category="1. Headline",
        ),
        summary="results/tables/contrasts_summary.rst",
        arms=report(
            "results/tables/arms.csv",
            caption="../report/arms_table.rst",
            category="Classifiers",
            subcategory="Tables",
        ),
        baseline=report(
            "results/tables/baseline.csv",
            caption="../report/baseline_table.rst",
            category="Classifiers",
            subcategory="Tables",
        ),
        phases=report(
            expand("results/tables/phase{k}.csv", k=batch_numbers()),
            caption="../report/phase_table.rst",
            category="Classifiers",
            subcategory="Tables",
        ),
        comparison=report(
            "results/tables/thesis_comparison.csv",
            caption="../report/thesis_comparison.rst",
            category="Classifiers",
            subcategory="Tables",
        ),
        worth=report(
            "results/tables/worth.csv",
            caption="../report/worth_table.rst",
            category="Worth in real tiles",
        ),
        learning_curve=report(
            "results/figures/classify/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Worth in real tiles",
        ),
        worth_figure=report(
            "results/figures/classify/worth.png",
            caption="../report/worth_figure.rst",
            category="Worth in real tiles",
        ),
    log:
        "logs/report/classify_tables.log",
    benchmark:
        "benchmarks/report/classify_tables.tsv"
    conda:
        "../envs/report.yaml"
    params:
        code=code_digest("classify_tables.py"),
        spec=tables_spec(),
    script:
        "../scripts/classify_tables.py"


rule classify_figures:
    input:
        arms="results/tables/arms.csv",
        predictions=classifier_predictions(),
        contrasts="results/tables/contrasts.csv",
        summary="results/tables/contrasts_summary.rst",
    output:
        contrasts=report(
            "results/figures/classify/contrasts.png",
            caption="../report/contrasts_figure.rst",
            category="1. Headline",
        ),
        metrics_by_phase=report(
            "results/figures/classify/metrics_by_phase.png",
            caption="../report/metrics_by_phase.rst",
            category="Classifiers",
            subcategory="Figures",
        ),
        arms=report(
            "results/figures/classify/arms.png",
            caption="../report/arms_figure.rst",
            category="Classifiers",
            subcategory="Figures",
        ),
        roc_curves=report(
            "results/figures/classify/roc_curves.png",
            caption="../report/roc_curves.rst",
            category="Classifiers",
            subcategory="Figures",
        ),
        confusion_matrices=report(
            "results/figures/classify/confusion_matrices.png",
            caption="../report/confusion_matrices.rst",
            category="Classifiers",
            subcategory="Figures",
        ),
    log:
        "logs/report/classify_figures.log",
    conda:
        "../envs/report.yaml"
    params:
        code=code_digest("classify_figures.py"),
        spec=figures_spec(),
    script:
        "../scripts/classify_figures.py"


rule run_info:
    output:
        report(
            "results/report/run_info.html",
            caption="../report/run_info.rst",
            category="Run information",
        ),
    log:
        "logs/report/run_info.log",
    conda:
        "../envs/report.yaml"
    params:
        code=code_digest("run_info.py"),
        config=config,
        code_version=code_version(),
    script:
        "../scripts/run_info.py"
