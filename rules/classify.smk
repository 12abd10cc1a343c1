# Stage: classify. The six thesis classifiers over phase 0 (baseline) and phases 1..batches
# x arms (oversample, augment, class_weight, every GAN) x seeds.
#
# Job granularity (classifiers.split): one job per classifier (all phases, arms and seeds in
# one process; importing TensorFlow and tracing a Keras graph cost more than fitting one
# configuration on the demo data), or for a cluster one job per classifier x phase (x seed)
# writing part files that classify_gather concatenates into the classifier's runs.csv and
# predictions.csv.gz (the same files as one job's). Plus one feature job per frozen backbone.
# A job's params are its ClassifyDesign (its classifier's config section plus the shared
# design), so changing one classifier's setting reruns only its job(s) (and the tables), and
# a backbone's features are recomputed only when its input size, weights, init seed, the
# images or the augmented copies change, never for a head setting.


rule backbone_features:
    input:
        manifest="results/data/manifest.csv",
        data=expand("results/data/{split}", split=classify_splits()),
        synthetic=synthetic_batch_dirs(),
        weights=backbone_weight_input,
    output:
        features="results/features/{backbone}/features.npy",
        index="results/features/{backbone}/index.csv",
    log:
        "logs/classify/features_{backbone}.log",
    benchmark:
        "benchmarks/classify/features_{backbone}.tsv"
    priority: backbone_features_priority
    conda:
        "../envs/keras.yaml"
    threads: 1
    params:
        code=code_digest("backbone_features.py", "backbone"),
        backbone=backbone_params,
    script:
        "../scripts/backbone_features.py"


rule classify:
    input:
        unpack(classify_input),
    output:
        runs=classify_job_path("runs.csv"),
        predictions=classify_job_path("predictions.csv.gz"),
    log:
        classify_job_path("logs/classify") + ".log",
    benchmark:
        classify_job_path("benchmarks/classify") + ".tsv"
    wildcard_constraints:
        part=r"phase\d+(_seed-?\d+)?",
    priority: classify_priority
    conda:
        "../envs/keras.yaml"
    threads: config["classifiers"]["threads"]
    params:
        code=code_digest("classify.py", "clf"),
        design=classify_params,
    script:
        "../scripts/classify.py"


# Only a split stage has parts to gather: with split: classifier the classify rule writes the
# classifier's files itself, and no second rule may claim them (an input function that stops
# the run, e.g. a wrong weight file, would otherwise read as an ambiguity of two rules).
if config["classifiers"]["split"] != "classifier":

    localrules:
        classify_gather,

    rule classify_gather:
        input:
            unpack(classify_gather_input),
        output:
            runs="results/classifiers/{clf}/runs.csv",
            predictions="results/classifiers/{clf}/predictions.csv.gz",
        log:
            "logs/classify/gather_{clf}.log",
        conda:
            "../envs/report.yaml"
        params:
            code=code_digest("classify_gather.py"),
        script:
            "../scripts/classify_gather.py"
