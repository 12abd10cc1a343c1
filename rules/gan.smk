# Stage: gan. Every generator (isicgan/gan/models/: CycleGAN benign -> malignant, the others on
# malignant tiles only), trained gan.replicates times ({rep} = 1.., seeds seed + 1000 * (rep - 1))
# on the train split's class folders. Intermediate checkpoints live in results/gan/{gan}/rep{rep}/checkpoints/
# (not declared, so Snakemake keeps them): a killed job started again resumes from the last one.
# The in-domain encoder, the reference classifier and the val split measure quality over
# training (gan.{gan}.eval_every) and choose the checkpoint (gan.{gan}.select).


rule train_gan:
    input:
        unpack(train_gan_input),
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
    log:
        "logs/gan/{gan}_rep{rep}.log",
    benchmark:
        "benchmarks/gan/{gan}_rep{rep}.tsv"
    priority: train_gan_priority
    conda:
        "../envs/torch.yaml"
    # one thread: two small-conv trainings side by side use 2 cores better than one job on two
    # threads (the demo WGAN-GP used 16 CPU-s in 35 s wall on two); a GPU does the work anyway
    threads: 1
    params:
        code=code_digest("train_gan.py", "gan"),
        run=gan_run,
    script:
        "../scripts/train_gan.py"
