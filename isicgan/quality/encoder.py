"""The in-domain feature encoder: a small convolutional autoencoder trained on real train tiles.

Inception features come from ImageNet photographs; a space learnt from the study's own dermoscopy
tiles gives an FID that works offline and sees lesion texture and colour. The encoder is trained
once, on the real train split only (both classes; never val, test or source), to reconstruct
tiles resized to ``INPUT_SIZE`` px; its bottleneck (``dim`` numbers) is the feature vector.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from isicgan.io import atomic_path

log = logging.getLogger(__name__)

INPUT_SIZE = 64  # every tile is resized to this before encoding, whatever image_size is


def _modules(dim: int):
    import torch.nn as nn

    encoder = nn.Sequential(
        nn.Conv2d(3, 32, 4, 2, 1), nn.LeakyReLU(0.2),     # 32
        nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),    # 16
        nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),   # 8
        nn.Conv2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),  # 4
        nn.Flatten(), nn.Linear(128 * 4 * 4, dim),
    )
    decoder = nn.Sequential(
        nn.Linear(dim, 128 * 4 * 4), nn.Unflatten(1, (128, 4, 4)), nn.ReLU(),
        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(32, 3, 4, 2, 1), nn.Tanh(),
    )
    return encoder, decoder


def to_input(images: np.ndarray):
    """uint8 N x H x W x 3 -> float tensor N x 3 x 64 x 64 in [-1, 1] (antialiased bilinear)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                          align_corners=False, antialias=True)
    return x


def train_encoder(images: np.ndarray, out_path: str | Path, dim: int, epochs: int,
                  seed: int, batch_size: int = 32, lr: float = 1e-3) -> dict[str, float]:
    """Train the autoencoder on ``images`` (uint8 N x H x W x 3) and save it to ``out_path``.

    Returns the final epoch's mean reconstruction MSE (in [-1, 1] units) and the sample count.
    """
    import torch

    if len(images) < 2:
        raise ValueError(f"the in-domain encoder needs real train tiles, got {len(images)}")
    torch.manual_seed(seed)
    encoder, decoder = _modules(dim)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    data = to_input(images)
    gen = torch.Generator().manual_seed(seed)
    loss_value = float("nan")
    for epoch in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        for start in range(0, len(data), batch_size):
            x = data[order[start:start + batch_size]]
            loss = torch.nn.functional.mse_loss(decoder(encoder(x)), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        loss_value = total / len(data)
        log.info("encoder epoch %d/%d: reconstruction MSE %.4f", epoch + 1, epochs, loss_value)
    with atomic_path(out_path) as tmp:
        torch.save({"dim": dim, "input_size": INPUT_SIZE, "encoder": encoder.state_dict(),
                    "epochs": epochs, "seed": seed, "n_train": len(images),
                    "final_mse": loss_value}, tmp)
    return {"final_mse": loss_value, "n_train": len(images)}


def load_encoder(path: str | Path):
    """The trained encoder network (eval mode) from :func:`train_encoder`'s file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"in-domain encoder file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        encoder, _ = _modules(int(state["dim"]))
        encoder.load_state_dict(state["encoder"])
    except (KeyError, RuntimeError) as err:
        raise ValueError(f"{path} is not an in-domain encoder written by train_encoder: {err}") from err
    return encoder.eval()
