"""GAN training on tiny real PNG class folders: losses, checkpoints, generate(), determinism,
DiffAugment on every discriminator input, resume after kill -9 (DCGAN, through the CLI) and
after an interruption (CycleGAN: image pools, learning-rate decay; WGAN-GP: step counter),
the CycleGAN learning-rate schedule, fresh start on a config change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from isicgan.config import load_config
from isicgan.gan import build_model, generate, load_checkpoint
from isicgan.gan.train import GanOutputs, train_gan
from isicgan.io import load_png_folder, save_png
from isicgan.specs import GanRun

REPO = Path(__file__).resolve().parents[1]
SIZE = 16


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def make_class_folders(
    root: Path, n_benign: int = 8, n_malignant: int = 6, size: int = SIZE, seed: int = 0
) -> Path:
    """train/0 (benign) and train/1 (malignant) with smooth random-ish RGB tiles."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for cls, n in (("0", n_benign), ("1", n_malignant)):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = rng.uniform(60, 200, 3) + (40 if cls == "1" else 0)
            blob = np.exp(
                -((yy - rng.uniform(0.3, 0.7)) ** 2 + (xx - rng.uniform(0.3, 0.7)) ** 2) / 0.05
            )
            img = base[None, None, :] * (1 - 0.5 * blob[..., None]) + rng.normal(
                0, 8, (size, size, 3)
            )
            save_png(folder / f"ISIC_{cls}{i:05d}.png", np.clip(img, 0, 255).astype(np.uint8))
    return root


def tiny_config(gan: str, **overrides) -> dict:
    cfg = load_config()["gan"][gan]
    cfg.update(epochs=2, batch_size=4, checkpoint_every=1, sample_epochs=[0, -1], ngf=4, ndf=4)
    if gan == "cyclegan":
        cfg.update(decay_epochs=1, max_images_per_epoch=6, n_blocks=1, pool_size=3)
    else:
        cfg.update(latent_dim=8)
    cfg.update(overrides)
    return cfg


def train(gan: str, cfg: dict, data: Path, out: Path):
    run = GanRun(gan, 1, cfg, SIZE, device="cpu", checkpoint_dir=str(out / "checkpoints"))
    return train_gan(run, data, GanOutputs.in_folder(out), progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_class_folders(tmp_path_factory.mktemp("gan_data") / "train")


@pytest.mark.parametrize("gan", ["cyclegan", "wgan_gp", "dcgan"])
def test_each_gan_trains_two_epochs_and_its_checkpoint_generates_images(gan, data, tmp_path):
    cfg = tiny_config(gan)
    train(gan, cfg, data, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    losses = history.drop(columns=["epoch", "seconds", "images_per_s", "lr"])
    assert len(losses.columns) >= 3 and np.isfinite(losses.to_numpy()).all()
    assert (history["images_per_s"] > 0).all()
    ckpt = torch.load(tmp_path / "final.pt", map_location="cpu", weights_only=True)
    assert ckpt["gan"] == gan and ckpt["epoch"] == 2 and ckpt["config"] == cfg
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch0000.png",
        "epoch0001.png",
    ]
    assert (tmp_path / "losses.png").stat().st_size > 0
    source = load_png_folder(data / "0")[0][:5] if gan == "cyclegan" else None
    images = generate(tmp_path / "final.pt", 5, seed=3, source=source)
    assert images.shape == (5, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert images.min() >= 0 and images.max() <= 255 and images.std() > 0
    # deterministic, and independent of the batch size used to generate
    again = generate(tmp_path / "final.pt", 5, seed=3, source=source, batch_size=2)
    assert np.array_equal(images, again)
    if gan != "cyclegan":
        assert not np.array_equal(images, generate(tmp_path / "final.pt", 5, seed=4))


def test_generate_refuses_mismatched_source(data, tmp_path):
    train("cyclegan", tiny_config("cyclegan", epochs=1, decay_epochs=0), data, tmp_path)
    with pytest.raises(ValueError, match="needs source"):
        generate(tmp_path / "final.pt", 2, seed=0)
    with pytest.raises(ValueError, match=r"uint8 \(n, 16, 16, 3\)"):
        generate(tmp_path / "final.pt", 2, seed=0, source=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_checkpoint(tmp_path / "absent.pt")


def test_two_cpu_runs_give_identical_weights_and_losses(data, tmp_path):
    cfg = tiny_config("wgan_gp", n_critic=1)
    a = train("wgan_gp", cfg, data, tmp_path / "a")
    b = train("wgan_gp", cfg, data, tmp_path / "b")
    for name in a["nets"]:
        for key, value in a["nets"][name].items():
            assert torch.equal(value, b["nets"][name][key]), f"{name}.{key}"
    cols = ["loss_critic", "wasserstein", "gp", "loss_G"]
    ha, hb = pd.read_csv(tmp_path / "a/history.csv"), pd.read_csv(tmp_path / "b/history.csv")
    assert ha[cols].equals(hb[cols])
    assert (tmp_path / "a/samples/epoch0001.png").read_bytes() == (
        tmp_path / "b/samples/epoch0001.png"
    ).read_bytes()


@pytest.mark.parametrize("gan", ["cyclegan", "wgan_gp", "dcgan"])
def test_diffaugment_reaches_every_discriminator_input_real_and_fake(gan, data):
    """With policy 'cutout' every image a discriminator sees has a zeroed half-side square,
    real and fake alike (the gradient-penalty interpolates mix two such images)."""
    cfg = (
        tiny_config(gan, diffaugment="cutout", n_critic=1)
        if gan == "wgan_gp"
        else tiny_config(gan, diffaugment="cutout")
    )
    model = build_model(gan, cfg, SIZE)
    arrays = {
        k: torch.from_numpy(load_png_folder(data / folder)[0][:4])
        for k, folder in model.domains.items()
    }
    seen: dict[str, list[torch.Tensor]] = {}
    for name, net in model.nets.items():
        if name.startswith("D"):
            net.register_forward_pre_hook(
                lambda mod, args, name=name: seen.setdefault(name, []).append(args[0].detach())
            )
    model.set_input(arrays)
    model.optimize_parameters()
    reals = list(model.batch.values())
    for name, inputs in seen.items():
        if gan == "wgan_gp":
            inputs = [inputs[0], inputs[1], inputs[3]]  # [2] is the penalty's interpolates
        kinds = set()
        for x in inputs:
            box = (x == 0).all(dim=1).flatten(1).sum(1)
            assert (box >= (SIZE // 2) ** 2).all(), f"{name} got an un-augmented input"
            is_real = any(x.shape == r.shape and torch.equal(x[x != 0], r[x != 0]) for r in reals)
            kinds.add("real" if is_real else "fake")
        assert kinds == {"real", "fake"}, f"{name} saw only {kinds}"


def test_changed_config_starts_afresh_and_same_config_resumes(data, tmp_path, caplog):
    cfg = tiny_config("dcgan")
    train("dcgan", cfg, data, tmp_path)
    first = pd.read_csv(tmp_path / "history.csv")
    caplog.set_level("INFO")
    train("dcgan", cfg, data, tmp_path)  # same config: nothing to do
    assert "resuming from checkpoint" in caplog.text and "2 of 2 epochs done" in caplog.text
    assert pd.read_csv(tmp_path / "history.csv").equals(first)
    caplog.clear()
    train("dcgan", {**cfg, "lr": 0.001}, data, tmp_path)
    assert "starting afresh: config changed: lr 0.0002 -> 0.001" in caplog.text
    assert load_checkpoint(tmp_path / "final.pt")["config"]["lr"] == 0.001


def _crash_at_epoch(monkeypatch, epoch: int) -> None:
    """Make the next training run die when epoch ``epoch`` starts, as a kill would: the
    epoch loop is real, only the process "dies" (its memory is gone; the checkpoints stay)."""
    import isicgan.gan.train as train_module

    real_run_epoch, calls = train_module.run_epoch, []

    def dying_run_epoch(model, data):
        if len(calls) == epoch:
            raise KeyboardInterrupt(f"killed at the start of epoch {epoch}")
        calls.append(epoch)
        return real_run_epoch(model, data)

    monkeypatch.setattr(train_module, "run_epoch", dying_run_epoch)


def _assert_same_run(resumed: Path, straight: Path) -> None:
    a, b = load_checkpoint(resumed / "final.pt"), load_checkpoint(straight / "final.pt")
    assert a["epoch"] == b["epoch"]
    for net, state in b["nets"].items():
        for key, value in state.items():
            assert torch.equal(a["nets"][net][key], value), f"{net}.{key} differs after resume"
    ha, hb = pd.read_csv(resumed / "history.csv"), pd.read_csv(straight / "history.csv")
    losses = [c for c in hb.columns if c not in ("seconds", "images_per_s")]
    assert ha[losses].equals(hb[losses])
    for grid in sorted((straight / "samples").iterdir()):
        assert (resumed / "samples" / grid.name).read_bytes() == grid.read_bytes(), grid.name


@pytest.mark.parametrize(
    "gan, crash_at, overrides",
    [
        # the image pool (full after one batch, then random swaps) and the decaying learning
        # rate (epochs 2 and 3 of 4) must both carry over the interruption
        ("cyclegan", 2, dict(epochs=4, decay_epochs=2, pool_size=3, batch_size=2)),
        # three batches per epoch, the generator every second: the step counter decides which
        # batches of the resumed epochs step the generator
        ("wgan_gp", 1, dict(epochs=3, n_critic=2, batch_size=2)),
    ],
)
def test_interrupted_run_resumes_to_the_same_weights_as_an_uninterrupted_run(
    gan, crash_at, overrides, data, tmp_path, monkeypatch, caplog
):
    cfg = tiny_config(gan, **overrides)
    with monkeypatch.context() as patch:
        _crash_at_epoch(patch, crash_at)
        with pytest.raises(KeyboardInterrupt):
            train(gan, cfg, data, tmp_path / "resumed")
    ckpt = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == crash_at and not (tmp_path / "resumed" / "final.pt").exists()
    if gan == "cyclegan":
        assert len(ckpt["extra"]["pool_A"]) == len(ckpt["extra"]["pool_B"]) == 3
    else:
        assert ckpt["extra"]["step"] == 3 * crash_at
    caplog.set_level("INFO")
    train(gan, cfg, data, tmp_path / "resumed")
    assert f"{crash_at} of {cfg['epochs']} epochs done" in caplog.text
    train(gan, cfg, data, tmp_path / "straight")
    _assert_same_run(tmp_path / "resumed", tmp_path / "straight")


def test_cyclegan_learning_rate_is_constant_then_falls_linearly_towards_zero(data, tmp_path):
    """epochs 6, decay_epochs 3: lr for 3 epochs, then lr * (1 - j / 4) for j = 1, 2, 3 (the
    reference CycleGAN schedule: the line reaches 0 one epoch after the last), in the
    optimisers and in history.csv."""
    lr = 0.0002
    cfg = tiny_config("cyclegan", epochs=6, decay_epochs=3, lr=lr)
    expected = [lr, lr, lr, lr * 3 / 4, lr * 2 / 4, lr * 1 / 4]
    model = build_model("cyclegan", cfg, SIZE)
    for epoch, want in enumerate(expected):
        assert model.set_lr(epoch) == pytest.approx(want)
        got = [g["lr"] for opt in model.optimizers.values() for g in opt.param_groups]
        assert got == pytest.approx([want] * 2)
    steps = np.diff(expected[2:])
    assert np.allclose(steps, steps[0]) and expected[-1] + steps[0] == pytest.approx(0.0)
    # no decay: constant; decay longer than training: the decay covers every epoch
    assert [
        build_model("cyclegan", {**cfg, "decay_epochs": 0}, SIZE).lr_at(e) for e in range(6)
    ] == [lr] * 6
    longer = build_model("cyclegan", {**cfg, "decay_epochs": 10}, SIZE)
    assert [longer.lr_at(e) for e in range(6)] == pytest.approx(
        [lr * (1 - j / 7) for j in range(1, 7)]
    )
    train(
        "cyclegan",
        tiny_config("cyclegan", epochs=6, decay_epochs=3, lr=lr, sample_epochs=[]),
        data,
        tmp_path,
    )
    assert pd.read_csv(tmp_path / "history.csv")["lr"].tolist() == pytest.approx(expected)


def test_missing_or_wrong_class_folder_is_named(tmp_path):
    make_class_folders(tmp_path / "train", n_malignant=0)
    (tmp_path / "train" / "1").rmdir()
    with pytest.raises(FileNotFoundError, match=r"train/1 \(malignant training tiles\)"):
        train("dcgan", tiny_config("dcgan"), tmp_path / "train", tmp_path / "out")
    make_class_folders(tmp_path / "big", size=24)
    with pytest.raises(ValueError, match=r"big/0 are 24x24, expected 16x16"):
        train("cyclegan", tiny_config("cyclegan"), tmp_path / "big", tmp_path / "out")


@pytest.mark.slow
def test_job_killed_with_sigkill_resumes_from_its_checkpoint(data, tmp_path):
    """The real CLI is killed with kill -9 once a checkpoint exists; the same command then
    resumes (not from epoch 0) and ends with the same weights as an uninterrupted run."""
    epochs = 60
    cfg = tiny_config("dcgan", epochs=epochs, sample_epochs=[0, -1])
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "isicgan.gan.train",
        "--gan",
        "dcgan",
        "--config",
        str(tmp_path / "cfg.yaml"),
        "--train-dir",
        str(data),
        "--out-dir",
        str(out),
        "--image-size",
        str(SIZE),
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(tmp_path / "run1.log", "w") as log1:
        proc = subprocess.Popen(cmd, stderr=log1, stdout=log1, env=env)
        deadline = time.time() + 120
        while not (out / "checkpoints" / "last.pt").exists():
            assert proc.poll() is None, (tmp_path / "run1.log").read_text()
            assert time.time() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = load_checkpoint(out / "checkpoints" / "last.pt")["epoch"]
    assert 1 <= done < epochs and not (out / "final.pt").exists()

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    resumed_at = int(second.stderr.split("resuming from checkpoint")[1].split(":")[1].split()[0])
    assert resumed_at >= done
    assert "epoch 1/" not in second.stderr  # epoch 0 was not retrained
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == list(range(epochs))
    final = torch.load(out / "final.pt", map_location="cpu", weights_only=True)
    assert final["epoch"] == epochs

    straight = train("dcgan", cfg, data, tmp_path / "straight")
    for name in straight["nets"]:
        for key, value in straight["nets"][name].items():
            assert torch.equal(value, final["nets"][name][key]), f"{name}.{key} differs"


def test_wgan_gp_trains_with_perceptual_loss_from_a_local_vgg19_file(data, tmp_path, caplog):
    from isicgan.gan.perceptual import vgg19_features

    torch.manual_seed(0)
    weights = tmp_path / "vgg19_local.pth"
    torch.save({f"features.{k}": v for k, v in vgg19_features().state_dict().items()}, weights)
    cfg = tiny_config("wgan_gp", perceptual_weight=1.0, n_critic=1, epochs=1)
    caplog.set_level("INFO")
    train_gan(
        GanRun("wgan_gp", 1, cfg, SIZE, device="cpu"),
        data,
        GanOutputs.in_folder(tmp_path),
        weights={"vgg19": weights},
        progress=False,
    )
    history = pd.read_csv(tmp_path / "history.csv")
    assert np.isfinite(history["perceptual"]).all() and (history["perceptual"] > 0).all()
    assert f"weights read from {weights}" in caplog.text
