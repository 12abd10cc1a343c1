# Stage: weights. Pretrained networks as DAG inputs: a rule that needs one declares
# weight_input("<config key>") as input, so a missing file is settled (fetched, or a clear
# error naming the file) before any training starts. Offline: copy the file to
# resources/weights/ by hand; the code that loads it calls isicgan.weights.verify().


# Downloads run where the workflow runs (e.g. a SLURM login node): compute nodes are often offline.
localrules:
    fetch_weights,
    weights,


rule weights:
    input:
        weight_targets(),


rule fetch_weights:
    output:
        "resources/weights/{weight_file}",
    log:
        "logs/weights/{weight_file}.log",
    wildcard_constraints:
        weight_file=weight_file_pattern(),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/fetch_weights.py"
