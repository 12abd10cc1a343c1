# Stage: classify. The six thesis classifiers over phase 0 (baseline) and phases 1..batches
# x arms (oversample, augment, class_weight, every GAN) x seeds.
#
# Job granularity: one job per classifier (all phases, arms and seeds in one process), plus one
# feature job per frozen backbone. Importing TensorFlow and tracing a Keras graph cost more
# than fitting one configuration on the demo data; a classifier's params are its own config
# section plus the shared design, so changing one classifier's setting reruns only its job
# (and the tables), and a backbone's features are recomputed only when its input size,
# weights, the images or the augmented copies change, never for a head setting.


rule backbone_features:
    input:
        manifest="results/data/manifest.csv",
        data=expand("results/data/{split}", split=classify_splits()),
        synthetic=synthetic_batch_dirs(),
        weights=backbone_weight_input,
    output:
        features="results/features/{backbone}/features.npy",
        index="results/features/{backbone}/index.csv",
    params:
        code=code_digest("backbone_features.py", "backbone"),
        backbone=backbone_params,
    log:
        "logs/classify/features_{backbone}.log",
    benchmark:
        "benchmarks/classify/features_{backbone}.tsv"
    threads: 1
    conda:
        "../envs/keras.yaml"
    script:
        "../scripts/backbone_features.py"


rule classify:
    input:
        unpack(classify_input),
    output:
        runs="results/classifiers/{clf}/runs.csv",
        predictions="results/classifiers/{clf}/predictions.csv.gz",
    params:
        code=code_digest("classify.py", "clf"),
        design=classify_params,
    log:
        "logs/classify/{clf}.log",
    benchmark:
        "benchmarks/classify/{clf}.tsv"
    threads: config["classifiers"]["threads"]
    conda:
        "../envs/keras.yaml"
    script:
        "../scripts/classify.py"
