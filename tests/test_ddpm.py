"""The diffusion generator (ddpm) on tiny real 32 px PNG class folders: two-epoch training,
weights_only checkpoints, sampling from the EMA weights, determinism and batch-size
independence of DDIM sampling, resume after an interruption, clear config errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_gan_training import make_class_folders

from isicgan.config import load_config
from isicgan.gan import build_model, generate, load_checkpoint
from isicgan.gan import train as train_module
from isicgan.gan.train import GanOutputs, train_gan
from isicgan.specs import GanRun

SIZE = 32


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny_ddpm(**overrides) -> dict:
    cfg = load_config()["gan"]["ddpm"]
    cfg.update(
        epochs=2,
        batch_size=4,
        widths=[8, 16],
        attention=[False, True],
        norm_groups=4,
        attention_head_dim=4,
        sampling_steps=3,
        checkpoint_every=1,
        sample_epochs=[0, -1],
    )
    cfg.update(overrides)
    return cfg


def train(cfg: dict, data, out):
    run = GanRun("ddpm", 1, cfg, SIZE, device="cpu", checkpoint_dir=str(out / "checkpoints"))
    return train_gan(run, data, GanOutputs.in_folder(out), progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_class_folders(
        tmp_path_factory.mktemp("ddpm_data") / "train", n_benign=2, n_malignant=9, size=SIZE
    )


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpm_run")
    train(tiny_ddpm(), data, out)
    return out


def test_two_epochs_give_finite_losses_and_a_weights_only_checkpoint(trained):
    history = pd.read_csv(trained / "history.csv")
    assert list(history.columns) == ["epoch", "loss", "seconds", "images_per_s", "lr"]
    assert history["epoch"].tolist() == [0, 1]
    assert np.isfinite(history["loss"]).all() and (history["loss"] > 0).all()
    assert (history["images_per_s"] > 0).all()
    ckpt = torch.load(trained / "final.pt", map_location="cpu", weights_only=True)
    assert ckpt["gan"] == "ddpm" and ckpt["epoch"] == 2 and ckpt["config"] == tiny_ddpm()
    assert set(ckpt["nets"]) == {"unet", "ema"}
    # the EMA moved away from the trained weights (it is a real average, not a copy)
    assert any(not torch.equal(v, ckpt["nets"]["unet"][k]) for k, v in ckpt["nets"]["ema"].items())
    last = load_checkpoint(trained / "checkpoints" / "last.pt")
    assert last["extra"] == {"ema_steps": 4}  # 9 tiles, batch 4: 2 steps per epoch
    assert sorted(p.name for p in (trained / "samples").iterdir()) == [
        "epoch0000.png",
        "epoch0001.png",
    ]


def test_sampling_is_deterministic_for_a_seed_and_independent_of_batch_size(trained):
    images = generate(trained / "final.pt", 5, seed=3)
    assert images.shape == (5, SIZE, SIZE, 3) and images.dtype == np.uint8 and images.std() > 0
    assert np.array_equal(images, generate(trained / "final.pt", 5, seed=3, batch_size=2))
    assert np.array_equal(images[:3], generate(trained / "final.pt", 3, seed=3))
    assert not np.array_equal(images, generate(trained / "final.pt", 5, seed=4))


def test_per_step_noise_with_eta_is_drawn_per_image_from_the_seed(trained):
    ckpt = load_checkpoint(trained / "final.pt")

    def sample(eta: float, seed: int, batch_size: int) -> torch.Tensor:
        model = build_model("ddpm", {**ckpt["config"], "eta": eta}, SIZE, training=False)
        model.nets["ema"].load_state_dict(ckpt["nets"]["ema"])
        return model.generate_eval(
            model.noise(4, torch.Generator().manual_seed(seed)), batch_size=batch_size
        )

    noisy = sample(1.0, 7, 4)
    assert torch.equal(noisy, sample(1.0, 7, 3))  # batch size does not matter
    assert not torch.equal(noisy, sample(0.0, 7, 4))  # the per-step noise is used


def test_samples_come_from_the_ema_weights(trained):
    ckpt = load_checkpoint(trained / "final.pt")
    model = build_model("ddpm", ckpt["config"], SIZE, training=False)
    assert list(model.nets) == ["ema"] and model.generator_net == "ema"
    seeds = model.noise(4, torch.Generator().manual_seed(3))
    model.nets["ema"].load_state_dict(ckpt["nets"]["unet"])
    from_unet = model.generate_eval(seeds)
    model.nets["ema"].load_state_dict(ckpt["nets"]["ema"])
    from_ema = model.generate_eval(seeds)
    expected = ((from_ema + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    assert np.array_equal(generate(trained / "final.pt", 4, seed=3), expected.numpy())
    assert not torch.equal(from_unet, from_ema)


def test_interrupted_training_resumes_bit_for_bit(data, tmp_path, monkeypatch):
    cfg = tiny_ddpm(epochs=4, sample_epochs=[2])
    straight = train(cfg, data, tmp_path / "straight")

    real_save_grid = train_module.save_grid

    def crash(path, *args, **kwargs):  # the job dies at epoch 2, after 2 checkpointed epochs
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(train_module, "save_grid", crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["epoch"] == 2
    assert not (tmp_path / "resumed" / "final.pt").exists()
    monkeypatch.setattr(train_module, "save_grid", real_save_grid)
    resumed = train(cfg, data, tmp_path / "resumed")

    for name in ("unet", "ema"):
        for key, value in straight["nets"][name].items():
            assert torch.equal(value, resumed["nets"][name][key]), f"{name}.{key} differs"
    a = pd.read_csv(tmp_path / "straight" / "history.csv")
    b = pd.read_csv(tmp_path / "resumed" / "history.csv")
    assert a["loss"].tolist() == b["loss"].tolist()
    assert (tmp_path / "straight/samples/epoch0002.png").read_bytes() == (
        tmp_path / "resumed/samples/epoch0002.png"
    ).read_bytes()


def test_config_the_unet_cannot_build_is_named():
    with pytest.raises(
        ValueError, match=r"image size 140 is not divisible by 2\^\(levels - 1\) = 8"
    ):
        build_model("ddpm", tiny_ddpm(widths=[8, 8, 8, 8], attention=[False] * 4), 140)
    with pytest.raises(ValueError, match=r"gan.ddpm.attention has 1 entries"):
        build_model("ddpm", tiny_ddpm(attention=[True]), SIZE)
    with pytest.raises(ValueError, match=r"\[6\] not divisible by gan.ddpm.norm_groups 4"):
        build_model("ddpm", tiny_ddpm(widths=[8, 6]), SIZE)
    # 140 = 4 x 35: three levels build
    build_model(
        "ddpm", tiny_ddpm(widths=[4, 4, 8], attention=[False, False, True]), 140, training=False
    )
