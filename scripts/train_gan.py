"""Rule train_gan: train one GAN ({gan}) on the train class folders; resumes after a crash."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot
from isicgan.gan.train import train_gan

with gpu_slot(snakemake.resources.get("gpu", 0) if snakemake.params.device != "cpu" else 0):
    train_gan(
        gan=snakemake.wildcards.gan, config=snakemake.params.settings,
        train_dir=snakemake.input.train, final=snakemake.output.final,
        history=snakemake.output.history, losses_png=snakemake.output.losses,
        samples_dir=snakemake.output.samples, image_size=snakemake.params.image_size,
        device=snakemake.params.device,
        vgg19_weights=snakemake.input.weights[0] if snakemake.input.weights else None,
        checkpoint_dir=snakemake.params.checkpoint_dir, threads=snakemake.threads)
