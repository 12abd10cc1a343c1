# Stage: data. Raw Kaggle ISIC 2024 files (or the synthetic demo data drawn here) ->
# results/data/manifest.csv, counts.csv, institutions.csv and the class folders
# results/data/{split}/{0,1}/ of every split in SPLITS (external only with data.external_test),
# and the figure of tiles per institution.


rule demo_data:
    output:
        metadata="resources/demo/train-metadata.csv",
        hdf5="resources/demo/train-image.hdf5",
        jpegs=directory("resources/demo/train-image"),
    log:
        "logs/data/demo_data.log",
    benchmark:
        "benchmarks/data/demo_data.tsv"
    conda:
        "../envs/data.yaml"
    params:
        code=code_digest("make_demo_data.py"),
        demo=config["data"]["demo"],
    script:
        "../scripts/make_demo_data.py"


rule ingest:
    input:
        unpack(ingest_input),
    output:
        **{split: directory(f"results/data/{split}") for split in SPLITS},
        manifest="results/data/manifest.csv",
        counts=report(
            "results/data/counts.csv",
            caption="../report/data_counts.rst",
            category="Data",
        ),
        institutions="results/data/institutions.csv",
        figure=report(
            "results/figures/data/institutions.png",
            caption="../report/data_institutions.rst",
            category="Data",
        ),
    log:
        "logs/data/ingest.log",
    benchmark:
        "benchmarks/data/ingest.tsv"
    conda:
        "../envs/data.yaml"
    threads: 4
    params:
        code=code_digest("ingest.py"),
        spec=ingest_spec(),
    script:
        "../scripts/ingest.py"


rule data:
    input:
        data_targets(),


# Optional, named only: `snakemake download --configfile config.yaml configs/thesis.yaml`
# fetches train-metadata.csv and train-image.hdf5 into data.raw_dir (Kaggle credentials and
# the accepted competition rules needed). Nothing else depends on it.
rule download:
    output:
        record="resources/download/isic2024.json",
    log:
        "logs/data/download.log",
    conda:
        "../envs/download.yaml"
    params:
        raw_dir=config["data"]["raw_dir"],
        competition="isic-2024-challenge",
    script:
        "../scripts/download_kaggle.py"
