"""The in-domain feature encoder: a small convolutional autoencoder trained on real train tiles.

Inception features come from ImageNet photographs; a space learnt from the study's own dermoscopy
tiles gives an FID that works offline and sees lesion texture and colour. The encoder is trained
once, on the real train split only (both classes; never val, test or source), to reconstruct
tiles resized to ``input_size(image_size)`` px (32 for tiles up to 32 px, else 64); its
bottleneck (``dim`` numbers) is the feature vector.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from isicgan.io import atomic_path

log = logging.getLogger(__name__)

WIDTHS = (16, 32, 64, 128)


def input_size(image_size: int) -> int:
    """The side tiles are resized to before encoding: 32 for tiles up to 32 px, else 64."""
    return 32 if image_size <= 32 else 64


def _modules(dim: int, size: int):
    n_down = {32: 3, 64: 4}[size]  # stride-2 convs down to 4 x 4
    widths = WIDTHS[:n_down]
    enc, dec = [], []
    for c_in, c_out in zip((3,) + widths[:-1], widths):
        enc += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
    for c_in, c_out in zip(widths[::-1], widths[::-1][1:] + (3,)):
        dec += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.ReLU() if c_out != 3 else nn.Tanh()]
    last = widths[-1]
    encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(last * 16, dim))
    decoder = nn.Sequential(
        nn.Linear(dim, last * 16), nn.Unflatten(1, (last, 4, 4)), nn.ReLU(), *dec
    )
    encoder.input_size = size
    return encoder, decoder


def to_input(images: np.ndarray, size: int):
    """uint8 N x H x W x 3 -> float tensor N x 3 x size x size in [-1, 1] (antialiased bilinear)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return x


def train_encoder(
    images: np.ndarray,
    out_path: str | Path,
    dim: int,
    epochs: int,
    seed: int,
    batch_size: int = 32,
    lr: float = 1e-3,
) -> dict[str, float]:
    """Train the autoencoder on ``images`` (uint8 N x H x W x 3) and save it to ``out_path``.

    Returns the final epoch's mean reconstruction MSE (in [-1, 1] units) and the sample count.
    """
    if len(images) < 2:
        raise ValueError(f"the in-domain encoder needs real train tiles, got {len(images)}")
    torch.manual_seed(seed)
    size = input_size(images.shape[1])
    encoder, decoder = _modules(dim, size)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    data = to_input(images, size)
    gen = torch.Generator().manual_seed(seed)
    loss_value = float("nan")
    for epoch in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        for start in range(0, len(data), batch_size):
            x = data[order[start : start + batch_size]]
            loss = torch.nn.functional.mse_loss(decoder(encoder(x)), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        loss_value = total / len(data)
        log.info("encoder epoch %d/%d: reconstruction MSE %.4f", epoch + 1, epochs, loss_value)
    with atomic_path(out_path) as tmp:
        torch.save(
            {
                "dim": dim,
                "input_size": size,
                "encoder": encoder.state_dict(),
                "epochs": epochs,
                "seed": seed,
                "n_train": len(images),
                "final_mse": loss_value,
            },
            tmp,
        )
    return {"final_mse": loss_value, "n_train": len(images)}


def load_encoder(path: str | Path):
    """The trained encoder network (eval mode) from :func:`train_encoder`'s file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"in-domain encoder file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        encoder, _ = _modules(int(state["dim"]), int(state["input_size"]))
        encoder.load_state_dict(state["encoder"])
    except (KeyError, RuntimeError) as err:
        raise ValueError(
            f"{path} is not an in-domain encoder written by train_encoder: {err}"
        ) from err
    return encoder.eval()
