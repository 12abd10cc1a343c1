"""Rule train_gan: train one GAN ({gan}) on the train class folders; resumes after a crash.
Every gan.{gan}.eval_every epochs its quality against the real val malignant tiles goes into
history.csv, and gan.{gan}.select picks the checkpoint written as final.pt."""
from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot
from isicgan.gan.train import train_gan
from isicgan.quality.training_eval import TrainingEvaluation

inp = snakemake.input
evaluation = TrainingEvaluation.from_files(
    encoder_path=inp.encoder, classifier_path=inp.classifier, val_dir=inp.val,
    settings=snakemake.params.settings, quality=snakemake.params.quality)
with gpu_slot(snakemake.resources.get("gpu", 0) if snakemake.params.device != "cpu" else 0):
    train_gan(
        gan=snakemake.wildcards.gan, config=snakemake.params.settings,
        train_dir=inp.train, final=snakemake.output.final,
        history=snakemake.output.history, losses_png=snakemake.output.losses,
        samples_dir=snakemake.output.samples, image_size=snakemake.params.image_size,
        device=snakemake.params.device,
        vgg19_weights=inp.weights[0] if inp.weights else None,
        checkpoint_dir=snakemake.params.checkpoint_dir, threads=snakemake.threads,
        evaluation=evaluation)
