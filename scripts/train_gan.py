"""Rule train_gan: train one GAN ({gan}) on the train class folders; resumes after a crash.
Every gan.{gan}.eval_every epochs its quality against the real val malignant tiles goes into
history.csv, and gan.{gan}.select picks the checkpoint written as final.pt."""

from isicgan.io import redirect_log

redirect_log(snakemake.log[0])

from isicgan.devices import gpu_slot
from isicgan.gan.train import GanOutputs, train_gan
from isicgan.quality.training_eval import TrainingEvaluation
from isicgan.specs import GanRun

inp, out = snakemake.input, snakemake.output
run = GanRun.from_dict(snakemake.params.run)
# optional weight files, one named input each: weight_<key of the model's optional_weights>
weights = {
    name.removeprefix("weight_"): path for name, path in inp.items() if name.startswith("weight_")
}
evaluation = TrainingEvaluation.from_files(
    encoder_path=inp.encoder,
    classifier_path=inp.classifier,
    val_dir=inp.val,
    settings=run.settings,
    quality=run.quality,
)
with gpu_slot(snakemake.resources.get("gpu", 0) if run.device != "cpu" else 0):
    train_gan(
        run,
        inp.train,
        GanOutputs(out.final, out.history, out.losses, out.samples),
        weights=weights,
        evaluation=evaluation,
        threads=snakemake.threads,
    )
