"""Cost of the project's GAN training loop over a bare optimisation step, per GAN, on the CPU.

For each GAN (demo config widths, ``--size`` px tiles), in one process:

- bare:  ``model.optimize_parameters()`` over batches prepared beforehand as float tensors
         (the model's own forward/backward/optimiser steps and nothing else);
- loop:  :func:`isicgan.gan.train.run_epoch`, the loop ``train_gan`` runs each epoch
         (seeded batch draw from the preloaded uint8 tensor, uint8 -> float, set_input,
         optimize_parameters, loss accumulation);
- job:   the whole :func:`isicgan.gan.train.train_gan` (PNG loading, model build, every
         epoch, a sample grid, checkpoint, history, loss figure), images/s over its whole run.

Bare and loop epochs alternate, ``--reps`` times each after one warm-up, and the median is
reported. On the CPU the clock is the process's CPU time (``time.process_time``, with one
torch thread by default), so other processes sharing the cores do not distort the ratio;
on CUDA it is wall time after a device sync. Usage:

    .venv/bin/python bench/gan.py [--size 64] [--threads 1] [--reps 5] [--gans cyclegan,dcgan]
    .venv/bin/python bench/gan.py --device cuda --size 140 --thesis-slice 50   # on a GPU

``--thesis-slice N`` also times N training batches of the thesis CycleGAN (configs/thesis.yaml:
preset thesis, batch 16, 140 px) after a warm-up and projects the wall time of the thesis run:
1000 epochs over 3000 benign tiles (paired with the 300 malignant ones) per epoch.

For ``ddpm`` (in ``--gans``) it also reports sampling: images/s of DDIM with the configured
``sampling_steps`` (demo config, ``--size`` px, EMA network in eval mode), and the seconds of
one synthesis batch (``synthesis.batch_size`` tiles). ``--ddpm-slice N`` times N training
steps of the thesis DDPM preset (configs/thesis.yaml: 140 px, batch 32; bf16 autocast on CUDA)
after a warm-up and projects its training time: epochs x batches per epoch over the
malignant train tiles (pool x (1 - val_fraction)). ``--ddpm-slice-batch B`` times steps of B tiles
instead (scaled per tile: the CPU figure) and ``--ddpm-sample-n`` sets how many images the
sampling figure times. ``--device cuda`` without a GPU prints that it skips the CUDA figures
and exits cleanly.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from isicgan.config import load_config  # noqa: E402
from isicgan.gan import build_model  # noqa: E402
from isicgan.gan.base import to_float  # noqa: E402
from isicgan.gan.train import GanOutputs, run_epoch, train_gan  # noqa: E402
from isicgan.io import save_png  # noqa: E402
from isicgan.specs import GanRun  # noqa: E402

#: the config files of the thesis slices and projections (bench/gpu_check.py adds one in its
#: CPU mode that shrinks the networks)
THESIS = [REPO / "config.yaml", REPO / "configs" / "thesis.yaml"]


def tiles(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def bench_one(
    gan: str,
    cfg: dict,
    arrays: dict[str, np.ndarray],
    size: int,
    reps: int,
    workdir: Path,
    device: str,
) -> dict[str, float]:
    model = build_model(gan, cfg, size, device=device)
    data = {k: torch.from_numpy(v).to(model.device) for k, v in arrays.items()}
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)

    clock = time.perf_counter if model.device.type == "cuda" else time.process_time

    def bare_epoch() -> float:
        batches = [{k: to_float(v) for k, v in b.items()} for b in model.epoch_batches(data)]
        n = sum(len(next(iter(b.values()))) for b in batches)
        sync()
        t0 = clock()
        for b in batches:
            model.batch = b
            model.optimize_parameters()
        sync()
        return n / (clock() - t0)

    def loop_epoch() -> float:
        t0 = clock()
        _, n, _ = run_epoch(model, data)
        return n / (clock() - t0)

    bare_epoch(), loop_epoch()  # warm-up
    bare, loop = [], []
    for _ in range(reps):
        bare.append(bare_epoch())
        loop.append(loop_epoch())

    # the whole job on PNG class folders, reps + 1 epochs
    train_dir = workdir / gan / "train"
    for key, folder in model.domains.items():
        (train_dir / folder).mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(arrays[key]):
            save_png(train_dir / folder / f"ISIC_{i:06d}.png", img)
    job_cfg = {**cfg, "epochs": reps + 1, "checkpoint_every": reps + 1, "sample_epochs": [-1]}
    out = workdir / gan / "out"
    t0 = clock()
    run = GanRun(gan, 1, job_cfg, size, device=device, checkpoint_dir=str(out / "checkpoints"))
    ckpt = train_gan(run, train_dir, GanOutputs.in_folder(out), progress=False)
    spent = clock() - t0
    images = sum(r["images_per_s"] * r["seconds"] for r in ckpt["history"])
    b, lp = statistics.median(bare), statistics.median(loop)
    return {"bare": b, "loop": lp, "overhead": b / lp - 1, "job": images / spent}


def thesis_projection(
    n_batches: int, device: str, size: int = 0, batch: int = 0, amp: bool | None = None
) -> dict[str, float]:
    """Time ``n_batches`` thesis-CycleGAN steps and project the thesis run; returns the figures.

    ``size`` / ``batch``: time at this tile size / batch instead of the thesis's (scaled per
    tile: a quick check, not the thesis figure); ``amp``: force bf16 autocast on or off (default:
    on exactly on CUDA).
    """
    config = load_config(THESIS)
    cfg, thesis_size = config["gan"]["cyclegan"], config["data"]["image_size"]
    size = int(size) or thesis_size
    model = build_model("cyclegan", cfg, size, device=device)
    if amp is not None:
        model.amp = bool(amp) and model.device.type == "cuda"
    bs = int(cfg["batch_size"])
    timed_bs = int(batch) or bs
    rng = np.random.default_rng(1)
    batch = {
        "A": to_float(torch.from_numpy(tiles(timed_bs, size, rng)).to(model.device)),
        "B": to_float(torch.from_numpy(tiles(timed_bs, size, rng)).to(model.device)),
    }
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    for _ in range(3):
        model.batch = batch
        model.optimize_parameters()
    sync()
    t0 = time.perf_counter()
    for _ in range(n_batches):
        model.batch = batch
        model.optimize_parameters()
    sync()
    per_batch = (time.perf_counter() - t0) / n_batches * bs / timed_bs
    epochs, tiles_per_epoch = int(cfg["epochs"]), 3000
    hours = per_batch * -(-tiles_per_epoch // bs) * epochs / 3600
    scaled = (
        f", timed at {size} px, batch {timed_bs}, scaled per tile"
        if (size, timed_bs) != (thesis_size, bs)
        else ""
    )
    print(
        f"thesis CycleGAN ({cfg['preset']}, ngf {cfg['ngf']}, batch {bs}, {thesis_size} px, "
        f"{device}{', bf16 autocast' if model.amp else ''}{scaled}): "
        f"{per_batch * 1000:.1f} ms/batch, {bs / per_batch:.1f} img/s -> {epochs} epochs x "
        f"{tiles_per_epoch} tiles: {hours:.2f} h projected",
        flush=True,
    )
    return {"ms_per_batch": per_batch * 1000, "img_per_s": bs / per_batch, "hours": hours}


def ddpm_sampling(cfg: dict, size: int, n: int, device: str) -> tuple[float, float]:
    """(images/s, seconds) of DDIM sampling ``n`` images, after a one-image warm-up."""
    model = build_model("ddpm", cfg, size, device=device, training=False)
    seeds = model.noise(n, torch.Generator().manual_seed(0))
    model.generate_eval(seeds[:1])
    clock = time.perf_counter if model.device.type == "cuda" else time.process_time
    t0 = clock()
    model.generate_eval(seeds, batch_size=64)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    spent = clock() - t0
    return n / spent, spent


def ddpm_projection(
    n_batches: int, device: str, batch: int = 0, sample_n: int = 0, size: int = 0
) -> dict[str, float]:
    """Time thesis-preset DDPM training steps at the thesis size and project the whole run.

    ``batch``: time steps of this many tiles instead of the preset's batch size and scale per
    tile (a CPU cannot hold a batch of 32 at 140 px in reasonable memory); ``sample_n``: the
    number of images whose DDIM sampling is timed (default: one synthesis batch, at most 64);
    ``size``: time at this tile size instead of the thesis's (a quick check). Returns the figures.
    """
    config = load_config(THESIS)
    cfg, size = config["gan"]["ddpm"], int(size) or config["data"]["image_size"]
    model = build_model("ddpm", cfg, size, device=device)
    bs = int(cfg["batch_size"])
    timed_bs = int(batch) or bs
    real = to_float(
        torch.from_numpy(tiles(timed_bs, size, np.random.default_rng(1))).to(model.device)
    )
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    clock = time.perf_counter if model.device.type == "cuda" else time.process_time
    for _ in range(3 if model.device.type == "cuda" else 1):  # warm-up
        model.batch = {"real": real}
        model.optimize_parameters()
    sync()
    t0 = clock()
    for _ in range(n_batches):
        model.batch = {"real": real}
        model.optimize_parameters()
    sync()
    per_tile = (clock() - t0) / n_batches / timed_bs
    data = config["data"]
    n_train = round(data["counts"]["pool"]["malignant"] * (1 - data["val_fraction"]))
    steps = int(cfg["epochs"]) * -(-n_train // bs)
    hours = per_tile * bs * steps / 3600
    params = sum(p.numel() for p in model.nets["unet"].parameters()) / 1e6
    what = (
        "wall" if model.device.type == "cuda" else f"CPU time, {torch.get_num_threads()} thread(s)"
    )
    scaled = f", timed at batch {timed_bs} and scaled per tile" if timed_bs != bs else ""
    print(
        f"thesis DDPM (widths {cfg['widths']}, {params:.1f} M parameters, {size} px, {device}"
        f"{', bf16 autocast' if model.amp else ''}): {per_tile * bs:.2f} s per step of {bs} "
        f"({what}{scaled}), {1 / per_tile:.1f} img/s -> {cfg['epochs']} epochs x {n_train} "
        f"tiles = {steps} steps: {hours:.1f} h projected",
        flush=True,
    )
    n = int(config["synthesis"]["batch_size"])
    rate, spent = ddpm_sampling(cfg, size, int(sample_n) or min(n, 64), device)
    print(
        f"thesis DDPM sampling ({cfg['sampling_steps']} DDIM steps, {size} px): {rate:.3f} img/s "
        f"-> {n} tiles per synthesis batch: {n / rate:.0f} s",
        flush=True,
    )
    return {
        "s_per_step": per_tile * bs,
        "img_per_s": 1 / per_tile,
        "hours": hours,
        "sampling_img_per_s": rate,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--gans", default="cyclegan,wgan_gp,dcgan,ddpm")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--thesis-slice",
        type=int,
        default=0,
        help="also time this many thesis-CycleGAN batches and project the thesis run",
    )
    p.add_argument(
        "--ddpm-slice",
        type=int,
        default=0,
        help="also time this many thesis-DDPM steps and project its training time",
    )
    p.add_argument(
        "--ddpm-slice-batch",
        type=int,
        default=0,
        help="tiles per timed thesis-DDPM step (default: the preset's batch size)",
    )
    p.add_argument(
        "--ddpm-sample-n",
        type=int,
        default=0,
        help="images whose thesis-DDPM sampling is timed (default: up to 64)",
    )
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            f"bench/gan.py: --device {args.device} but no CUDA device is available: the GPU "
            "figures (AMP step times, thesis projections on a GPU) are skipped"
        )
        return
    torch.set_num_threads(args.threads)
    config = load_config()
    rng = np.random.default_rng(0)
    clock = "wall time" if args.device.startswith("cuda") else "process CPU time"
    print(
        f"GAN loop bench: {args.size} px, {args.device}, torch threads {args.threads}, "
        f"median of {args.reps} alternating epochs, images per second of {clock}; "
        "demo widths from config.yaml"
    )
    print(
        f"{'gan':10s} {'bare img/s':>11s} {'loop img/s':>11s} {'overhead':>9s} {'job img/s':>10s}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for gan in filter(None, args.gans.split(",")):
            cfg = dict(config["gan"][gan])
            if gan == "cyclegan":
                cfg["max_images_per_epoch"] = 64
                arrays = {"A": tiles(96, args.size, rng), "B": tiles(32, args.size, rng)}
            else:
                arrays = {"real": tiles(64, args.size, rng)}
            r = bench_one(gan, cfg, arrays, args.size, args.reps, Path(tmp), args.device)
            print(
                f"{gan:10s} {r['bare']:11.1f} {r['loop']:11.1f} {100 * r['overhead']:8.1f}% "
                f"{r['job']:10.1f}",
                flush=True,
            )
        if "ddpm" in args.gans.split(","):
            cfg, n = config["gan"]["ddpm"], int(config["synthesis"]["batch_size"])
            rate, spent = ddpm_sampling(cfg, args.size, n, args.device)
            print(
                f"ddpm sampling: {cfg['sampling_steps']} DDIM steps, {args.size} px: {rate:.1f} "
                f"img/s ({clock}); one synthesis batch of {n}: {spent:.1f} s",
                flush=True,
            )
    if args.thesis_slice:
        thesis_projection(args.thesis_slice, args.device)
    if args.ddpm_slice:
        ddpm_projection(args.ddpm_slice, args.device, args.ddpm_slice_batch, args.ddpm_sample_n)


if __name__ == "__main__":
    main()
