# Stage: quality. The in-domain encoder (trained once on the real train split), the reference
# classifier of class fidelity (fitted once on the real val split, threshold by cross-validation
# grouped by patient within it, real reference figures from the train split: out of sample),
# the real malignant reference features (one file per space and split, computed once in one job
# with the real-vs-real reference values), and the gathered quality table and figure. Per-batch
# quality is computed by rule synthesize, which gates on it; quality over training by train_gan.


rule train_encoder:
    input:
        train="results/data/train",
    output:
        "results/quality/encoder.pt",
    log:
        "logs/quality/train_encoder.log",
    benchmark:
        "benchmarks/quality/train_encoder.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    params:
        code=code_digest("train_encoder.py"),
        quality=encoder_params(),
        seed=config["data"]["seed"],
    script:
        "../scripts/train_encoder.py"


rule reference_classifier:
    input:
        fit="results/data/val",
        scored="results/data/train",
        manifest="results/data/manifest.csv",
        encoder="results/quality/encoder.pt",
    output:
        "results/quality/reference_classifier.json",
    log:
        "logs/quality/reference_classifier.log",
    benchmark:
        "benchmarks/quality/reference_classifier.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    params:
        code=code_digest("reference_classifier.py"),
        C=config["quality"]["classifier_C"],
    script:
        "../scripts/reference_classifier.py"


rule quality_reference:
    input:
        unpack(quality_reference_input),
    output:
        features=quality_reference_files(),
        real="results/quality/reference/real.json",
    log:
        "logs/quality/quality_reference.log",
    benchmark:
        "benchmarks/quality/quality_reference.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    params:
        code=code_digest("reference_features.py"),
        quality=config["quality"],
        seed=config["synthesis"]["seed"],
    script:
        "../scripts/reference_features.py"


rule quality_table:
    input:
        batches=quality_json_inputs(),
        runs=classifier_runs(),
    output:
        table=report(
            "results/tables/synthesis_quality.csv",
            caption="../report/quality_table.rst",
            category="Synthetic quality",
        ),
        figure=report(
            "results/figures/quality/quality_across_batches.png",
            caption="../report/quality_across_batches.rst",
            category="Synthetic quality",
        ),
    log:
        "logs/quality/quality_table.log",
    conda:
        "../envs/report.yaml"
    params:
        code=code_digest("quality_table.py"),
    script:
        "../scripts/quality_table.py"
