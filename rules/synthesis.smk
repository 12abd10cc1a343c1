# Stage: synthesis. One job per generator replicate writes its batches 1..synthesis.batches:
# each synthesis.batch_size synthetic malignant PNGs with fixed names, FID-gated against the real
# train malignant tiles, with its quality (JSON) and a figure (real beside synthetic, closest
# train pairs). One job, not one per batch: a job spends most of its time importing torch,
# scikit-learn and matplotlib, and every batch's bytes are the same either way (each batch has
# its own seeds). Runs on the CPU: same config, same bytes.


rule synthesize:
    input:
        unpack(synthesize_input),
    output:
        batches=directory(
            expand("results/synthetic/{{gan}}/rep{{rep}}/batch{k}", k=batch_numbers())
        ),
        quality=expand("results/synthetic/{{gan}}/rep{{rep}}/batch{k}.json", k=batch_numbers()),
        figures=report(
            expand("results/figures/quality/{{gan}}_rep{{rep}}_batch{k}.png", k=batch_numbers()),
            caption="../report/quality_batch.rst",
            category="Synthetic quality",
            subcategory="{gan}",
        ),
    log:
        "logs/synthesis/{gan}_rep{rep}.log",
    benchmark:
        "benchmarks/synthesis/{gan}_rep{rep}.tsv"
    priority: synthesize_priority
    conda:
        "../envs/torch.yaml"
    threads: 1
    params:
        code=code_digest("synthesize.py", "gan"),
        spec=synthesis_spec,
    script:
        "../scripts/synthesize.py"
