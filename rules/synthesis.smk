# Stage: synthesis. Batch k of each generator replicate: synthesis.batch_size synthetic malignant PNGs with
# fixed names, FID-gated against the real train malignant tiles, with their quality (JSON) and
# a figure (real beside synthetic, closest train pairs). Runs on the CPU: same config, same bytes.


rule synthesize:
    input:
        unpack(synthesize_input),
    output:
        batch=directory("results/synthetic/{gan}/rep{rep}/batch{k}"),
        quality="results/synthetic/{gan}/rep{rep}/batch{k}.json",
        figure=report(
            "results/figures/quality/{gan}_rep{rep}_batch{k}.png",
            caption="../report/quality_batch.rst",
            category="Synthetic quality",
            subcategory="{gan}",
        ),
    params:
        code=code_digest("synthesize.py", "gan"),
        spec=synthesis_spec,
    log:
        "logs/synthesis/{gan}_rep{rep}_batch{k}.log",
    benchmark:
        "benchmarks/synthesis/{gan}_rep{rep}_batch{k}.tsv"
    threads: 1
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/synthesize.py"
