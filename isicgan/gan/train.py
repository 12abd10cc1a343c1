"""The generic training loop of every GAN: per epoch, per batch, optimise, log, snapshot.

Behaviour (rule ``train_gan``):
- the class folders the GAN needs are read once into a uint8 tensor on the device;
- per epoch: learning rate set, batches drawn from the model's seeded generator,
  ``set_input`` + ``optimize_parameters``; losses averaged on the device and read once
  per epoch; one history row (epoch, every loss, seconds, images_per_s, lr);
- sample grids at ``sample_epochs`` (-1: the last epoch) and a resumable checkpoint every
  ``checkpoint_every`` epochs and after the last, in ``checkpoint_dir`` (written atomically);
- started again after a crash or ``kill -9``, the job resumes from the last checkpoint
  when it was made with the same GAN config, image size and training images, and starts
  afresh (saying why in the log) otherwise. Keys that do not change the training
  trajectory (``checkpoint_every``, ``sample_epochs``) are left out of that comparison;
- the declared outputs (final checkpoint, history.csv, loss figure, grid folder) are
  written at the end, each atomically.

Settings travel as one :class:`GanRun` (built by the rule from the config and wildcards, passed
as a plain dict and rebuilt with :meth:`GanRun.from_dict`); the outputs as one :class:`GanOutputs`.
:func:`train_gan` is these three named steps: :func:`resume_point` (find, validate, load the
checkpoint), :func:`train_epochs` (the epoch loop) and :func:`write_outputs`.

Also a command line for use outside Snakemake: ``python -m isicgan.gan.train --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from isicgan import registry
from isicgan.gan import build_model, load_checkpoint, resolve_device
from isicgan.gan.base import GANModel, TrainingHook, plain_config
from isicgan.gan.plots import plot_losses, save_grid
from isicgan.io import atomic_path, load_split_tiles, remove_stale_temporaries, write_csv
from isicgan.specs import GanRun

log = logging.getLogger(__name__)

CLASS_NAMES = {"0": "benign", "1": "malignant"}
# settings that change when or what is saved, not the weights: a change keeps the checkpoint
NON_TRAINING_KEYS = ("checkpoint_every", "sample_epochs", "eval_every", "select")


@dataclass(frozen=True)
class GanOutputs:
    """The declared outputs of rule train_gan."""

    final: str | Path
    history: str | Path
    losses_png: str | Path
    samples_dir: str | Path

    @classmethod
    def in_folder(cls, folder: str | Path) -> GanOutputs:
        """final.pt, history.csv, losses.png and samples/ in one folder (command line, tests)."""
        folder = Path(folder)
        return cls(
            folder / "final.pt", folder / "history.csv", folder / "losses.png", folder / "samples"
        )


@dataclass(frozen=True)
class Checkpoints:
    """Where a run keeps its resumable checkpoint and sample grids, and its data's hash."""

    last: Path
    grid_dir: Path
    data_hash: str


def load_training_data(
    train_dir: str | Path, domains: dict[str, str], image_size: int
) -> dict[str, np.ndarray]:
    """Read the class folders a GAN trains on as uint8 (N, H, W, 3) arrays."""
    out = {}
    for key, folder in domains.items():
        path = Path(train_dir) / folder
        if not path.is_dir():
            raise FileNotFoundError(
                f"class folder {path} ({CLASS_NAMES[folder]} training tiles) not found"
            )
        try:
            images = load_split_tiles(train_dir, (folder,))
        except ValueError:
            raise ValueError(f"class folder {path} holds no .png tiles") from None
        if images.shape[1:] != (image_size, image_size, 3):
            raise ValueError(
                f"tiles in {path} are {images.shape[1]}x{images.shape[2]}, expected "
                f"{image_size}x{image_size} (config data.image_size)"
            )
        out[key] = images
    return out


def data_fingerprint(data: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(data):
        h.update(f"{key}:{data[key].shape}".encode())
        h.update(np.ascontiguousarray(data[key]).tobytes())
    return h.hexdigest()


def _training_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in NON_TRAINING_KEYS}


def _resume_mismatch(ckpt: dict[str, Any], model: GANModel, data_hash: str) -> list[str]:
    reasons = []
    if ckpt.get("gan") != model.name:
        reasons.append(f"it is a {ckpt.get('gan')} checkpoint")
    old, new = _training_config(ckpt.get("config", {})), _training_config(model.config)
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        reasons.append(
            "config changed: " + ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
        )
    if ckpt.get("image_size") != model.image_size:
        reasons.append(f"image_size {ckpt.get('image_size')} -> {model.image_size}")
    if ckpt.get("data_hash") != data_hash:
        reasons.append("the training images changed")
    return reasons


def sample_epoch_set(sample_epochs: list[int], epochs: int) -> set[int]:
    return {epochs - 1 if e == -1 else e for e in sample_epochs if e < epochs}


def run_epoch(
    model: GANModel, data: dict[str, torch.Tensor]
) -> tuple[dict[str, float], int, float]:
    """One pass: returns the mean of each loss, the images seen and the seconds taken."""
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    n_images = 0
    for batch in model.epoch_batches(data):
        model.set_input(batch)
        losses = model.optimize_parameters()
        n_images += model.images_in(batch)
        for k, v in losses.items():
            sums[k] = sums[k] + v if k in sums else v.float().clone()
            counts[k] = counts.get(k, 0) + 1
    means = {k: float(sums[k]) / counts[k] for k in sums}  # one device sync per loss
    sync()
    return means, n_images, time.perf_counter() - t0


def resume_point(
    model: GANModel, last_path: Path, data_hash: str, epochs: int
) -> tuple[int, list[dict[str, float]]]:
    """The resume step: load ``last_path`` into ``model`` when it was made with the same GAN,
    training config, image size and training images; returns (epochs done, history rows),
    (0, []) for a fresh start (the log says why)."""
    remove_stale_temporaries(last_path)  # left by a kill during a save
    if not last_path.exists():
        return 0, []
    try:
        ckpt = load_checkpoint(last_path)
        reasons = _resume_mismatch(ckpt, model, data_hash)
    except (ValueError, KeyError) as exc:
        ckpt, reasons = None, [f"it cannot be read ({exc})"]
    if reasons:
        log.warning("not resuming from %s, starting afresh: %s", last_path, "; ".join(reasons))
        return 0, []
    model.load_state_dict(ckpt)
    start = int(ckpt["epoch"])
    log.info("resuming from checkpoint %s: %d of %d epochs done", last_path, start, epochs)
    return start, list(ckpt["history"])


def train_epochs(
    model: GANModel,
    data: dict[str, torch.Tensor],
    start: int,
    rows: list[dict[str, float]],
    ckpts: Checkpoints,
    progress: bool = True,
    evaluation: TrainingHook | None = None,
) -> list[dict[str, float]]:
    """The epoch loop from ``start``: learning rate, one pass, a history row (appended to
    ``rows``, which is returned), sample grids and resumable checkpoints as configured;
    ``evaluation`` (quality over training) adds its columns to the evaluated epochs' rows."""
    config, gan = model.config, model.name
    last_path, grid_dir, data_hash = ckpts.last, ckpts.grid_dir, ckpts.data_hash
    epochs = int(config["epochs"])
    fixed = model.fixed_inputs(data)
    if evaluation is not None:
        evaluation.start(model, data, last_path.parent, start)
    grid_epochs = sample_epoch_set(config["sample_epochs"], epochs)
    every = int(config["checkpoint_every"])
    bar = tqdm(
        total=epochs,
        initial=start,
        desc=gan,
        unit="epoch",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=False,
        ncols=100,
    )
    for epoch in range(start, epochs):
        lr = model.set_lr(epoch)
        means, n_images, seconds = run_epoch(model, data)
        bad = [k for k, v in means.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(f"{gan} epoch {epoch}: non-finite loss {', '.join(bad)}")
        row = {
            "epoch": epoch,
            **{k: means.get(k, float("nan")) for k in model.loss_names},
            "seconds": seconds,
            "images_per_s": n_images / max(seconds, 1e-9),
            "lr": lr,
        }
        rows.append(row)
        if evaluation is not None:
            row.update(evaluation.after_epoch(model, epoch, epochs, rows, data_hash))
        log.info(
            "epoch %d/%d: %s",
            epoch + 1,
            epochs,
            "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch" and v == v),
        )
        if epoch in grid_epochs:
            images, ncol = model.sample_images(fixed)
            save_grid(
                grid_dir / f"epoch{epoch:04d}.png",
                images,
                ncol,
                f"{gan} epoch {epoch}",
                model.sample_rows,
            )
        if (epoch + 1) % every == 0 or epoch == epochs - 1:
            model.save(last_path, epoch + 1, rows, data_hash, full=True)
            if evaluation is not None:
                evaluation.prune(rows)
        bar.set_postfix({k: f"{means[k]:.3g}" for k in list(means)[:3]})
        bar.update(1)
    bar.close()
    return rows


def write_outputs(
    model: GANModel,
    rows: list[dict[str, float]],
    ckpts: Checkpoints,
    outputs: GanOutputs,
    evaluation: TrainingHook | None = None,
) -> None:
    """The declared outputs, each atomically: final checkpoint (weights only; with
    ``evaluation``, the checkpoint its ``select`` picks), history.csv, the loss figure (and the
    quality over training) and the folder of sample grids."""
    epochs = int(model.config["epochs"])
    data_hash, grid_dir = ckpts.data_hash, ckpts.grid_dir
    final, history = Path(outputs.final), outputs.history
    losses_png, samples_dir = outputs.losses_png, outputs.samples_dir
    quality = tuple(evaluation.columns) if evaluation is not None else ()
    if evaluation is not None:
        evaluation.write_final(model, final, epochs, rows, data_hash)
    else:
        model.save(final, epochs, rows, data_hash, full=False)
    frame = pd.DataFrame(
        rows, columns=["epoch", *model.loss_names, "seconds", "images_per_s", "lr", *quality]
    )
    write_csv(history, frame.dropna(axis=1, how="all"))
    plot_losses(
        rows,
        [*model.loss_names, *quality],
        losses_png,
        f"{model.name} training losses" + (" and val quality" if quality else ""),
        evaluation.references if evaluation is not None else None,
    )
    with atomic_path(samples_dir) as tmp:
        tmp.mkdir()
        for png in sorted(grid_dir.glob("epoch*.png")):
            shutil.copy2(png, tmp / png.name)
    log.info("wrote %s, %s, %s, %s", final, history, losses_png, samples_dir)


def train_gan(
    run: GanRun,
    train_dir: str | Path,
    outputs: GanOutputs,
    weights: dict[str, str | Path] | None = None,
    evaluation: TrainingHook | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``run.gan`` on ``train_dir``'s class folders; write the four ``outputs``. Returns
    the final checkpoint dict. ``weights``: local weight files by key of the model's
    ``optional_weights`` (e.g. ``{"vgg19": path}``). ``evaluation``: the quality-over-training
    hook (:class:`isicgan.quality.training_eval.TrainingEvaluation`), which also picks the
    final checkpoint; None: no evaluation, the last epoch."""
    if threads:
        torch.set_num_threads(int(threads))
    config = plain_config(run.settings)
    device = resolve_device(run.device)
    final = Path(outputs.final)
    checkpoint_dir = (
        Path(run.checkpoint_dir) if run.checkpoint_dir else final.parent / "checkpoints"
    )
    grid_dir = checkpoint_dir / "samples"
    last_path = checkpoint_dir / "last.pt"
    epochs = int(config["epochs"])

    model = build_model(
        run.gan, config, run.image_size, device=device, training=True, weights=weights
    )
    arrays = load_training_data(train_dir, model.domains, run.image_size)
    data_hash = data_fingerprint(arrays)
    data = {k: torch.from_numpy(v).to(model.device) for k, v in arrays.items()}
    log.info(
        "%s on %s%s: %s, image_size %d, %d epochs",
        run.gan,
        device,
        " (bf16 autocast, channels_last)" if model.amp else "",
        ", ".join(f"{k}: {len(v)} tiles" for k, v in arrays.items()),
        run.image_size,
        epochs,
    )

    start, rows = resume_point(model, last_path, data_hash, epochs)
    if start == 0:
        shutil.rmtree(grid_dir, ignore_errors=True)
    grid_dir.mkdir(parents=True, exist_ok=True)
    rows = train_epochs(
        model, data, start, rows, Checkpoints(last_path, grid_dir, data_hash), progress, evaluation
    )
    write_outputs(model, rows, Checkpoints(last_path, grid_dir, data_hash), outputs, evaluation)
    return load_checkpoint(final)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Train one GAN of the study (rule train_gan).")
    p.add_argument("--gan", required=True, choices=registry.names("generators"))
    p.add_argument("--config", required=True, help="JSON or YAML file: the gan.<name> section")
    p.add_argument("--train-dir", required=True, help="folder with 0/ and 1/ class folders")
    p.add_argument(
        "--out-dir",
        required=True,
        help="writes final.pt, history.csv, losses.png, samples/, checkpoints/",
    )
    p.add_argument("--image-size", type=int, required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--vgg19", default=None, help="local VGG19 weight file")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import yaml  # lazy: only the command line reads a YAML file

    config = yaml.safe_load(Path(args.config).read_text())
    out = Path(args.out_dir)
    run = GanRun(
        gan=args.gan,
        replicate=1,
        settings=config,
        image_size=args.image_size,
        device=args.device,
        checkpoint_dir=str(out / "checkpoints"),
    )
    train_gan(
        run,
        args.train_dir,
        GanOutputs.in_folder(out),
        weights={"vgg19": args.vgg19} if args.vgg19 else None,
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
