# Stage: gan. Every generator (isicgan/gan/models/: CycleGAN benign -> malignant, the others on
# malignant tiles only), trained gan.replicates times ({rep} = 1.., seeds seed + 1000 * (rep - 1))
# on the train split's class folders. Intermediate checkpoints live in results/gan/{gan}/rep{rep}/checkpoints/
# (not declared, so Snakemake keeps them): a killed job started again resumes from the last one.


rule train_gan:
    input:
        train="results/data/train",
        weights=gan_weight_inputs,
    output:
        final="results/gan/{gan}/rep{rep}/final.pt",
        history="results/gan/{gan}/rep{rep}/history.csv",
        losses=report(
            "results/figures/gan/{gan}_rep{rep}_losses.png",
            caption="../report/gan_losses.rst",
            category="GAN training",
            subcategory="{gan}",
        ),
        samples=report(
            directory("results/figures/gan/{gan}_rep{rep}_samples"),
            patterns=["{name}.png"],
            caption="../report/gan_samples.rst",
            category="GAN training",
            subcategory="{gan}",
        ),
    params:
        code=code_digest("train_gan.py", "gan"),
        settings=gan_settings,
        image_size=config["data"]["image_size"],
        device=config["gan"]["device"],
        checkpoint_dir="results/gan/{gan}/rep{rep}/checkpoints",
    log:
        "logs/gan/{gan}_rep{rep}.log",
    benchmark:
        "benchmarks/gan/{gan}_rep{rep}.tsv"
    threads: 2
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_gan.py"
