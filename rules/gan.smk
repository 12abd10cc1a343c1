# Stage: gan. CycleGAN (benign -> malignant), WGAN-GP and DCGAN (malignant only), trained on
# the train split's class folders. Intermediate checkpoints live in results/gan/{gan}/checkpoints/
# (not declared, so Snakemake keeps them): a killed job started again resumes from the last one.
# The in-domain encoder, the reference classifier and the val split measure quality over
# training (gan.{gan}.eval_every) and choose the checkpoint (gan.{gan}.select).


rule train_gan:
    input:
        train="results/data/train",
        weights=gan_weight_inputs,
        val="results/data/val",
        encoder="results/quality/encoder.pt",
        classifier="results/quality/reference_classifier.json",
    output:
        final="results/gan/{gan}/final.pt",
        history="results/gan/{gan}/history.csv",
        losses=report(
            "results/figures/gan/{gan}_losses.png",
            caption="../report/gan_losses.rst",
            category="GAN training",
            subcategory="{gan}",
        ),
        samples=report(
            directory("results/figures/gan/{gan}_samples"),
            patterns=["{name}.png"],
            caption="../report/gan_samples.rst",
            category="GAN training",
            subcategory="{gan}",
        ),
    params:
        code=code_digest("train_gan.py", "gan"),
        settings=gan_settings,
        image_size=config["data"]["image_size"],
        quality=training_eval_params(),
        device=config["gan"]["device"],
        checkpoint_dir="results/gan/{gan}/checkpoints",
    log:
        "logs/gan/{gan}.log",
    benchmark:
        "benchmarks/gan/{gan}.tsv"
    threads: 2
    conda:
        "../envs/torch.yaml"
    script:
        "../scripts/train_gan.py"
